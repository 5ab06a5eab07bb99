// Package notificationtest holds the contract suites every adapter of the
// notification unit's ports runs (the local SQLite ones always, the AWS ones
// against moto_server), and the helpers to start moto_server in a test.
package notificationtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Base is the contract's clock: times are passed explicitly, so the suite
// can move past a lease without waiting for it.
var Base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Lease is the claim lease the contract uses.
const Lease = 30 * time.Second

// RunDedupContract runs the DedupStore contract. newStore is called once
// per subtest and may return a shared store: the subtests use distinct
// event ids.
func RunDedupContract(t *testing.T, newStore func(t *testing.T) app.DedupStore) {
	t.Helper()
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		t.Cleanup(cancel)
		return c
	}
	claim := func(t *testing.T, s app.DedupStore, ev, token string, now time.Time) app.ClaimResult {
		t.Helper()
		r, err := s.Claim(ctx(t), ev, "order-"+ev, token, now, Lease)
		if err != nil {
			t.Fatalf("Claim(%s, %s): %v", ev, token, err)
		}
		return r
	}
	want := func(t *testing.T, got, want app.ClaimResult, what string) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: got %v, want %v", what, got, want)
		}
	}

	t.Run("first claim wins, a second holder must wait", func(t *testing.T) {
		s := newStore(t)
		want(t, claim(t, s, "ev-first", "a", Base), app.Claimed, "first claim")
		want(t, claim(t, s, "ev-first", "b", Base.Add(Lease/2)), app.HeldByOther, "claim within the lease")
		want(t, claim(t, s, "ev-first", "a", Base.Add(Lease/2)), app.HeldByOther, "re-claim by the holder within the lease")
	})

	t.Run("sent events stay sent, leases or not", func(t *testing.T) {
		s := newStore(t)
		want(t, claim(t, s, "ev-sent", "a", Base), app.Claimed, "claim")
		if err := s.MarkSent(ctx(t), "ev-sent", Base.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkSent(ctx(t), "ev-sent", Base.Add(2*time.Second)); err != nil {
			t.Fatalf("MarkSent is idempotent, second call: %v", err)
		}
		want(t, claim(t, s, "ev-sent", "b", Base.Add(time.Second)), app.AlreadySent, "claim after sent")
		want(t, claim(t, s, "ev-sent", "c", Base.Add(10*Lease)), app.AlreadySent, "claim after sent and lease")
		if err := s.Release(ctx(t), "ev-sent", "a"); err != nil {
			t.Fatal(err)
		}
		want(t, claim(t, s, "ev-sent", "d", Base.Add(10*Lease)), app.AlreadySent, "release must not undo a sent mark")
	})

	t.Run("mark sent without a claim", func(t *testing.T) {
		s := newStore(t)
		if err := s.MarkSent(ctx(t), "ev-unclaimed", Base); err != nil {
			t.Fatal(err)
		}
		want(t, claim(t, s, "ev-unclaimed", "a", Base), app.AlreadySent, "claim")
	})

	t.Run("an expired lease is taken over", func(t *testing.T) {
		s := newStore(t)
		want(t, claim(t, s, "ev-crash", "crashed", Base), app.Claimed, "claim of the crashed holder")
		want(t, claim(t, s, "ev-crash", "b", Base.Add(Lease-time.Millisecond)), app.HeldByOther, "claim just before the lease ends")
		want(t, claim(t, s, "ev-crash", "b", Base.Add(Lease)), app.Claimed, "claim when the lease ends")
		// The crashed holder wakes up: its release must not free b's claim.
		if err := s.Release(ctx(t), "ev-crash", "crashed"); err != nil {
			t.Fatal(err)
		}
		want(t, claim(t, s, "ev-crash", "c", Base.Add(Lease+time.Second)), app.HeldByOther, "claim after a stale release")
	})

	t.Run("release frees the event at once", func(t *testing.T) {
		s := newStore(t)
		want(t, claim(t, s, "ev-release", "a", Base), app.Claimed, "claim")
		if err := s.Release(ctx(t), "ev-release", "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Release(ctx(t), "ev-release", "a"); err != nil {
			t.Fatalf("second release: %v", err)
		}
		want(t, claim(t, s, "ev-release", "b", Base), app.Claimed, "claim after release")
	})

	t.Run("events are independent", func(t *testing.T) {
		s := newStore(t)
		want(t, claim(t, s, "ev-ind-1", "a", Base), app.Claimed, "claim 1")
		want(t, claim(t, s, "ev-ind-2", "a", Base), app.Claimed, "claim 2")
		if err := s.MarkSent(ctx(t), "ev-ind-1", Base); err != nil {
			t.Fatal(err)
		}
		want(t, claim(t, s, "ev-ind-3", "b", Base), app.Claimed, "claim 3")
		want(t, claim(t, s, "ev-ind-2", "b", Base), app.HeldByOther, "claim 2 again")
	})

	t.Run("concurrent claims elect one sender", func(t *testing.T) {
		s := newStore(t)
		const n = 16
		results := make([]app.ClaimResult, n)
		errc := make([]error, n)
		var wg sync.WaitGroup
		c := ctx(t)
		for i := range n {
			wg.Go(func() {
				results[i], errc[i] = s.Claim(c, "ev-race", "order-race", fmt.Sprintf("tok-%d", i), Base, Lease)
			})
		}
		wg.Wait()
		claimed := 0
		for i := range n {
			if errc[i] != nil {
				t.Fatalf("claim %d: %v", i, errc[i])
			}
			switch results[i] {
			case app.Claimed:
				claimed++
			case app.HeldByOther:
			default:
				t.Fatalf("claim %d: %v", i, results[i])
			}
		}
		if claimed != 1 {
			t.Fatalf("%d of %d concurrent claims won, want exactly 1", claimed, n)
		}
	})

	t.Run("bad input is invalid", func(t *testing.T) {
		s := newStore(t)
		for _, tc := range []struct {
			name          string
			ev, tok       string
			lease         time.Duration
			expectedField string
		}{
			{"no event id", "", "a", Lease, "event_id"},
			{"no token", "ev-bad", "", Lease, "token"},
			{"zero lease", "ev-bad", "a", 0, "lease"},
		} {
			_, err := s.Claim(ctx(t), tc.ev, "o", tc.tok, Base, tc.lease)
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tc.expectedField {
				t.Errorf("%s: Claim error = %v, want invalid_argument on %s", tc.name, err, tc.expectedField)
			}
		}
		if err := s.MarkSent(ctx(t), "", Base); !errs.Is(err, errs.Invalid) {
			t.Errorf("MarkSent(\"\") = %v, want invalid_argument", err)
		}
		if err := s.Release(ctx(t), "", "a"); !errs.Is(err, errs.Invalid) {
			t.Errorf("Release(\"\") = %v, want invalid_argument", err)
		}
	})

	t.Run("a cancelled context fails the call", func(t *testing.T) {
		s := newStore(t)
		c, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Claim(c, "ev-cancel", "o", "a", Base, Lease); err == nil {
			t.Fatal("Claim with a cancelled context succeeded")
		}
		want(t, claim(t, s, "ev-cancel", "b", Base), app.Claimed, "claim after the cancelled one")
	})
}
