// Package user holds the rules of customer accounts: what a valid email,
// password and name are, and how passwords are hashed. It does no I/O.
package user

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Limits on account fields. 254 is the longest address SMTP can carry
// (RFC 5321 path limit minus the angle brackets), counted in characters
// like every length at the REST edge (JSON Schema's maxLength counts
// characters, so a byte limit would refuse addresses the OpenAPI file
// allows); 72 keeps passwords portable to bcrypt should a store ever need it.
const (
	MaxEmailLen    = 254
	MinPasswordLen = 8
	MaxPasswordLen = 72
	MaxNameLen     = 100
)

// User is a customer account. IDs are UUIDv7 strings without a prefix: they
// sort by creation time, index well, and every other unit already treats ids
// as opaque strings.
type User struct {
	ID           string
	Email        string // normalized: trimmed and lower-cased
	Name         string
	PasswordHash string // PHC-encoded argon2id, see HashPassword
	CreatedAt    time.Time
}

// Registration is a validated request to open an account.
type Registration struct {
	Email    string
	Password string
	Name     string
}

// NewRegistration validates and normalizes the fields of a new account,
// reporting the first field at fault in request order.
func NewRegistration(email, password, name string) (Registration, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return Registration{}, err
	}
	if err := CheckPassword(password); err != nil {
		return Registration{}, err
	}
	n, err := NormalizeName(name)
	if err != nil {
		return Registration{}, err
	}
	return Registration{Email: e, Password: password, Name: n}, nil
}

// NormalizeEmail trims and lower-cases an email address and checks that it
// is a bare RFC 5322 address. Lower-casing the local part is stricter than
// the RFC but is what makes "uniqueness, case-insensitive" enforceable with
// a plain UNIQUE index in every store.
func NormalizeEmail(raw string) (string, error) {
	trimmed := strings.TrimSpace(raw)
	switch {
	case trimmed == "":
		return "", errs.InvalidField("email", "email is required")
	case !utf8.ValidString(trimmed):
		return "", errs.InvalidField("email", "email must be valid UTF-8")
	case utf8.RuneCountInString(trimmed) > MaxEmailLen:
		// Counted before lower-casing, which can lengthen a few letters
		// (U+0130): the limit is on what the client sent.
		return "", errs.InvalidField("email", "email must be at most %d characters", MaxEmailLen)
	}
	e := strings.ToLower(trimmed)
	addr, err := mail.ParseAddress(e)
	// ParseAddress also accepts `Name <a@b>`; only a bare address is an email.
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", errs.InvalidField("email", "email is not a valid address")
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return "", errs.InvalidField("email", "email is not a valid address")
	}
	return e, nil
}

// CheckPassword checks a password's length in characters. It is not
// trimmed: spaces are legitimate password characters.
func CheckPassword(pw string) error {
	if !utf8.ValidString(pw) {
		return errs.InvalidField("password", "password must be valid UTF-8")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen || n > MaxPasswordLen {
		return errs.InvalidField("password", "password must be %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// NormalizeName trims a display name and checks its length and that it has
// no control characters, which would corrupt emails and logs.
func NormalizeName(raw string) (string, error) {
	n := strings.TrimSpace(raw)
	if !utf8.ValidString(n) {
		return "", errs.InvalidField("name", "name must be valid UTF-8")
	}
	if c := utf8.RuneCountInString(n); c < 1 || c > MaxNameLen {
		return "", errs.InvalidField("name", "name must be 1 to %d characters", MaxNameLen)
	}
	if strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return "", errs.InvalidField("name", "name must not contain control characters")
	}
	return n, nil
}
