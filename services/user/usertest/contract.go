// Package usertest is the contract every app.Store adapter of the user unit
// must meet. Each adapter's tests call RunStoreContract with a constructor
// of fresh, empty stores.
package usertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/user"
	"github.com/shoplab/shoplab/services/user/app"
)

// RunStoreContract runs the Store contract against stores made by newStore;
// each call must return a fresh, empty store that newStore cleans up itself.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) app.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s app.Store)
	}{
		{"CreateThenReadBack", testCreateThenReadBack},
		{"UnknownIsNotFound", testUnknownIsNotFound},
		{"DuplicateEmailConflicts", testDuplicateEmailConflicts},
		{"DuplicateIDConflicts", testDuplicateIDConflicts},
		{"ConcurrentSameEmailOneWins", testConcurrentSameEmail},
		{"CanceledContextFails", testCanceledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// NewUser returns a valid user with a fresh id, the given email, and a
// creation time at microsecond precision in UTC, as the app writes them.
func NewUser(email string) user.User {
	return user.User{
		ID:           uuid.Must(uuid.NewV7()).String(),
		Email:        email,
		Name:         "Ada Lovelace",
		PasswordHash: "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		CreatedAt:    time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testCreateThenReadBack(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	u := NewUser("ada@example.com")
	if err := s.Create(ctx, u); err != nil {
		t.Fatalf("Create: %v", err)
	}
	byID, err := s.ByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("ByID: %v", err)
	}
	assertSame(t, "ByID", byID, u)
	byEmail, err := s.ByEmail(ctx, u.Email)
	if err != nil {
		t.Fatalf("ByEmail: %v", err)
	}
	assertSame(t, "ByEmail", byEmail, u)
}

func testUnknownIsNotFound(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	if err := s.Create(ctx, NewUser("known@example.com")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := s.ByID(ctx, uuid.Must(uuid.NewV7()).String()); !errs.Is(err, errs.NotFound) {
		t.Errorf("ByID(unknown) = %v, want NotFound", err)
	}
	if _, err := s.ByEmail(ctx, "nobody@example.com"); !errs.Is(err, errs.NotFound) {
		t.Errorf("ByEmail(unknown) = %v, want NotFound", err)
	}
}

func testDuplicateEmailConflicts(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	first := NewUser("dup@example.com")
	if err := s.Create(ctx, first); err != nil {
		t.Fatalf("Create: %v", err)
	}
	second := NewUser("dup@example.com")
	second.Name = "Someone Else"
	if err := s.Create(ctx, second); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second Create with the same email = %v, want Conflict", err)
	}
	got, err := s.ByEmail(ctx, "dup@example.com")
	if err != nil {
		t.Fatalf("ByEmail: %v", err)
	}
	assertSame(t, "after duplicate", got, first)
	if _, err := s.ByID(ctx, second.ID); !errs.Is(err, errs.NotFound) {
		t.Errorf("the refused user was stored: ByID = %v", err)
	}
}

func testDuplicateIDConflicts(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	first := NewUser("one@example.com")
	if err := s.Create(ctx, first); err != nil {
		t.Fatalf("Create: %v", err)
	}
	second := NewUser("two@example.com")
	second.ID = first.ID
	if err := s.Create(ctx, second); !errs.Is(err, errs.Conflict) {
		t.Fatalf("Create with a taken id = %v, want Conflict", err)
	}
}

func testConcurrentSameEmail(t *testing.T, s app.Store) {
	ctx := ctxT(t)
	const n = 16
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() {
			u := NewUser("race@example.com")
			u.Name = fmt.Sprintf("racer %d", i)
			results[i] = s.Create(ctx, u)
		})
	}
	wg.Wait()
	created := 0
	for i, err := range results {
		switch {
		case err == nil:
			created++
		case !errs.Is(err, errs.Conflict):
			t.Errorf("racer %d: %v, want nil or Conflict", i, err)
		}
	}
	if created != 1 {
		t.Fatalf("%d concurrent creates of one email succeeded, want exactly 1", created)
	}
}

func testCanceledContext(t *testing.T, s app.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	u := NewUser("late@example.com")
	if err := s.Create(ctx, u); err == nil {
		t.Fatal("Create with a canceled context succeeded")
	}
	if _, err := s.ByID(ctxT(t), u.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a create with a canceled context left a user: %v", err)
	}
}

func assertSame(t *testing.T, what string, got, want user.User) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name || got.PasswordHash != want.PasswordHash || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}
