package user_test

import (
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/user"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada.Lovelace@Example.COM \t", "ada.lovelace@example.com", true},
		{"a+tag@sub.example.org", "a+tag@sub.example.org", true},
		{"", "", false},
		{"   ", "", false},
		{"no-at-sign", "", false},
		{"@example.com", "", false},
		{"ada@", "", false},
		{"Ada <ada@example.com>", "", false},
		{"<ada@example.com>", "", false},
		{"ada@exa mple.com", "", false},
		{"a@b@c.com", "", false},
		{strings.Repeat("a", 243) + "@example.com", "", false}, // 255 bytes
		{strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", true}, // 254 bytes
		// Lengths are characters, as the OpenAPI file's maxLength counts them:
		// 254 characters are 318 bytes here, and still an address.
		{strings.Repeat("\u00e9", 64) + "@" + strings.Repeat("b", 185) + ".com", strings.Repeat("\u00e9", 64) + "@" + strings.Repeat("b", 185) + ".com", true},
		{strings.Repeat("\u00e9", 65) + "@" + strings.Repeat("b", 185) + ".com", "", false}, // 255 characters
		{"\xff@example.com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := user.NormalizeEmail(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "email" {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want Invalid on field email", tt.in, got, err)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"empty", "", false},
		{"seven", "1234567", false},
		{"eight", "12345678", true},
		{"spaces count", "    pass", true},
		{"seventy-two", strings.Repeat("x", 72), true},
		{"seventy-three", strings.Repeat("x", 73), false},
		{"72 multibyte runes", strings.Repeat("é", 72), true}, // 144 bytes, 72 characters
		{"invalid utf-8", "abcdefg\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := user.CheckPassword(tt.pw)
			if tt.ok != (err == nil) {
				t.Fatalf("CheckPassword = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && errs.FieldOf(err) != "password" {
				t.Fatalf("field = %q, want password", errs.FieldOf(err))
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Ada", "Ada", true},
		{"  Ada Lovelace  ", "Ada Lovelace", true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("n", 100), strings.Repeat("n", 100), true},
		{strings.Repeat("n", 101), "", false},
		{strings.Repeat("ö", 100), strings.Repeat("ö", 100), true},
		{"Ada\nLovelace", "", false},
		{"Ada\x00", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := user.NormalizeName(tt.in)
			if tt.ok != (err == nil) || got != tt.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && errs.FieldOf(err) != "name" {
				t.Fatalf("field = %q, want name", errs.FieldOf(err))
			}
		})
	}
}

func TestNewRegistrationReportsFirstBadField(t *testing.T) {
	tests := []struct {
		email, pw, name, field string
	}{
		{"bad", "short", "", "email"},
		{"ok@example.com", "short", "", "password"},
		{"ok@example.com", "long enough", "", "name"},
	}
	for _, tt := range tests {
		_, err := user.NewRegistration(tt.email, tt.pw, tt.name)
		if f := errs.FieldOf(err); f != tt.field {
			t.Errorf("NewRegistration(%q, %q, %q) field = %q (%v), want %q", tt.email, tt.pw, tt.name, f, err, tt.field)
		}
	}
	r, err := user.NewRegistration(" Ada@Example.com ", "correct horse", " Ada ")
	if err != nil || r.Email != "ada@example.com" || r.Name != "Ada" || r.Password != "correct horse" {
		t.Fatalf("NewRegistration = %+v, %v", r, err)
	}
}
