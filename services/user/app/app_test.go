package app_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
	"github.com/shoplab/shoplab/services/user"
	"github.com/shoplab/shoplab/services/user/adapters/sqlite"
	"github.com/shoplab/shoplab/services/user/app"
)

var fixedNow = time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)

func newService(t *testing.T, o app.Options) (*app.Service, *metrics.Registry) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "user.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if o.Argon2 == (user.Argon2Params{}) {
		o.Argon2 = user.LightArgon2
	}
	o.Now = func() time.Time { return fixedNow }
	o.Metrics = metrics.New("user", false)
	svc, err := app.NewService(store, o)
	if err != nil {
		t.Fatal(err)
	}
	return svc, o.Metrics
}

func TestRegisterThenAuthenticate(t *testing.T) {
	ctx := t.Context()
	svc, reg := newService(t, app.Options{})
	u, err := svc.Register(ctx, "  Ada@Example.COM ", "correct horse", " Ada ")
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if u.Email != "ada@example.com" || u.Name != "Ada" || u.ID == "" {
		t.Fatalf("registered %+v", u)
	}
	if want := fixedNow.Truncate(time.Microsecond); !u.CreatedAt.Equal(want) {
		t.Fatalf("CreatedAt = %v, want the injected clock %v", u.CreatedAt, want)
	}
	got, err := svc.Authenticate(ctx, "ADA@example.com", "correct horse")
	if err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	byID, err := svc.GetUser(ctx, u.ID)
	if err != nil || byID.Email != u.Email {
		t.Fatalf("GetUser = %+v, %v", byID, err)
	}
	if v := counter(t, reg, "shoplab_user_registrations_total", "created"); v != 1 {
		t.Errorf("registrations{created} = %v, want 1", v)
	}
	if v := counter(t, reg, "shoplab_user_authentications_total", "ok"); v != 1 {
		t.Errorf("authentications{ok} = %v, want 1", v)
	}
}

func TestRegisterDuplicateEmailCaseInsensitive(t *testing.T) {
	ctx := t.Context()
	svc, reg := newService(t, app.Options{})
	if _, err := svc.Register(ctx, "bob@example.com", "password1", "Bob"); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Register(ctx, "BOB@Example.com", "password2", "Bobby")
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("duplicate Register = %v, want Conflict", err)
	}
	if v := counter(t, reg, "shoplab_user_registrations_total", "duplicate"); v != 1 {
		t.Errorf("registrations{duplicate} = %v, want 1", v)
	}
}

func TestRegisterInvalidNamesField(t *testing.T) {
	svc, _ := newService(t, app.Options{})
	tests := []struct{ email, pw, name, field string }{
		{"not-an-email", "password1", "X", "email"},
		{"x@example.com", "short", "X", "password"},
		{"x@example.com", "password1", "   ", "name"},
	}
	for _, tt := range tests {
		_, err := svc.Register(t.Context(), tt.email, tt.pw, tt.name)
		if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tt.field {
			t.Errorf("Register(%q,%q,%q) = %v, want Invalid on %s", tt.email, tt.pw, tt.name, err, tt.field)
		}
	}
}

func TestAuthenticateDoesNotEnumerate(t *testing.T) {
	ctx := t.Context()
	svc, reg := newService(t, app.Options{})
	if _, err := svc.Register(ctx, "carol@example.com", "password1", "Carol"); err != nil {
		t.Fatal(err)
	}
	_, wrongPw := svc.Authenticate(ctx, "carol@example.com", "password2")
	_, unknown := svc.Authenticate(ctx, "nobody@example.com", "password1")
	_, malformed := svc.Authenticate(ctx, "not an email", "password1")
	for name, err := range map[string]error{"wrong password": wrongPw, "unknown email": unknown, "malformed email": malformed} {
		if !errs.Is(err, errs.Unauthenticated) {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
	}
	if errs.MessageOf(wrongPw) != errs.MessageOf(unknown) || errs.MessageOf(unknown) != errs.MessageOf(malformed) {
		t.Errorf("messages differ: %q / %q / %q", errs.MessageOf(wrongPw), errs.MessageOf(unknown), errs.MessageOf(malformed))
	}
	if v := counter(t, reg, "shoplab_user_authentications_total", "rejected"); v != 3 {
		t.Errorf("authentications{rejected} = %v, want 3", v)
	}
	if _, err := svc.Authenticate(ctx, "", "password1"); errs.FieldOf(err) != "email" {
		t.Errorf("empty email: %v, want Invalid on email", err)
	}
	if _, err := svc.Authenticate(ctx, "carol@example.com", ""); errs.FieldOf(err) != "password" {
		t.Errorf("empty password: %v, want Invalid on password", err)
	}
}

func TestGetUserErrors(t *testing.T) {
	svc, _ := newService(t, app.Options{})
	if _, err := svc.GetUser(t.Context(), ""); errs.FieldOf(err) != "id" {
		t.Errorf("empty id: %v", err)
	}
	if _, err := svc.GetUser(t.Context(), "usr_42"); errs.FieldOf(err) != "id" {
		t.Errorf("malformed id: %v", err)
	}
	if _, err := svc.GetUser(t.Context(), "0190b6c4-8f1e-7a2b-9c3d-4e5f60718293"); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown id: %v, want NotFound", err)
	}
}

// blockingReader holds whoever reads from it until release is closed, which
// lets a test keep the only hashing slot busy.
type blockingReader struct {
	reading chan struct{}
	release chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	close(b.reading)
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

func TestHashingSlotsAreBoundedAndHonourDeadlines(t *testing.T) {
	ctx := t.Context()
	br := &blockingReader{reading: make(chan struct{}), release: make(chan struct{})}
	svc, _ := newService(t, app.Options{HashConcurrency: 1, Rand: br})
	done := make(chan error, 1)
	go func() {
		_, err := svc.Register(ctx, "slow@example.com", "password1", "Slow")
		done <- err
	}()
	<-br.reading // the only slot is now held
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := svc.Authenticate(short, "someone@example.com", "password1")
	if !errors.Is(err, context.DeadlineExceeded) || !errs.Is(err, errs.DeadlineExceeded) {
		t.Fatalf("Authenticate while the slot is busy = %v, want DeadlineExceeded", err)
	}
	close(br.release)
	if err := <-done; err == nil {
		t.Fatal("Register with a failing salt source succeeded")
	}
}
