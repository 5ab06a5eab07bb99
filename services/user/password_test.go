package user_test

import (
	"bytes"
	"crypto/rand"
	"regexp"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/user"
)

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=8192,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashAndVerify(t *testing.T) {
	h, err := user.HashPassword(user.LightArgon2, rand.Reader, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not PHC argon2id with the light parameters", h)
	}
	if ok, err := user.VerifyPassword(h, "correct horse"); err != nil || !ok {
		t.Fatalf("Verify(right) = %v, %v", ok, err)
	}
	if ok, err := user.VerifyPassword(h, "correct horsE"); err != nil || ok {
		t.Fatalf("Verify(wrong) = %v, %v", ok, err)
	}
	h2, err := user.HashPassword(user.LightArgon2, rand.Reader, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyUsesStoredParameters(t *testing.T) {
	// A hash made with other parameters still verifies: the PHC string carries them.
	p := user.LightArgon2
	p.Iterations, p.Parallelism, p.MemoryKiB = 2, 2, 16*1024
	h, err := user.HashPassword(p, rand.Reader, "old password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=16384,t=2,p=2$") {
		t.Fatalf("hash %q does not record its parameters", h)
	}
	if ok, err := user.VerifyPassword(h, "old password"); err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func TestHashIsDeterministicGivenSalt(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 32)
	a, err := user.HashPassword(user.LightArgon2, bytes.NewReader(salt), "pw123456")
	if err != nil {
		t.Fatal(err)
	}
	b, err := user.HashPassword(user.LightArgon2, bytes.NewReader(salt), "pw123456")
	if err != nil || a != b {
		t.Fatalf("same salt gave %q and %q (%v)", a, b, err)
	}
}

func TestHashFailsWithoutRandomness(t *testing.T) {
	if _, err := user.HashPassword(user.LightArgon2, bytes.NewReader(nil), "pw123456"); err == nil {
		t.Fatal("HashPassword with an empty salt source succeeded")
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	good, err := user.HashPassword(user.LightArgon2, rand.Reader, "pw123456")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	bad := map[string]string{
		"empty":            "",
		"bcrypt":           "$2a$10$abcdefghijklmnopqrstuv",
		"argon2i":          strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":      strings.Replace(good, "v=19", "v=16", 1),
		"trailing garbage": strings.Replace(good, "p=1$", "p=1x$", 1),
		"huge memory":      strings.Replace(good, "m=8192", "m=4294967295", 1),
		"zero iterations":  strings.Replace(good, "t=1", "t=0", 1),
		"zero parallelism": strings.Replace(good, "p=1", "p=0", 1),
		"bad salt":         strings.Join([]string{"", parts[1], parts[2], parts[3], "!!!", parts[5]}, "$"),
		"short key":        strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"missing part":     strings.Join(parts[:5], "$"),
	}
	for name, h := range bad {
		t.Run(name, func(t *testing.T) {
			if ok, err := user.VerifyPassword(h, "pw123456"); err == nil || ok {
				t.Fatalf("Verify(%q) = %v, %v; want an error", h, ok, err)
			}
		})
	}
}

func TestParamsValidate(t *testing.T) {
	if err := user.DefaultArgon2.Validate(); err != nil {
		t.Fatalf("DefaultArgon2: %v", err)
	}
	if err := user.LightArgon2.Validate(); err != nil {
		t.Fatalf("LightArgon2: %v", err)
	}
	p := user.LightArgon2
	p.MemoryKiB = 4 // below 8*p: argon2 itself would misbehave
	if err := p.Validate(); err == nil {
		t.Fatal("tiny memory accepted")
	}
	if _, err := user.HashPassword(user.Argon2Params{}, rand.Reader, "pw123456"); err == nil {
		t.Fatal("zero parameters accepted: argon2 would panic")
	}
}
