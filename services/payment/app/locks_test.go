package app

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOrderLocks(t *testing.T) {
	l := newOrderLocks()
	unlock, err := l.lock(t.Context(), "o1")
	if err != nil {
		t.Fatal(err)
	}
	// Another order is independent.
	unlock2, err := l.lock(t.Context(), "o2")
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
	// The same order waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "o1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock of o1 = %v, want DeadlineExceeded", err)
	}
	got := make(chan struct{})
	go func() {
		u, err := l.lock(t.Context(), "o1")
		if err == nil {
			u()
		}
		close(got)
	}()
	unlock()
	<-got
	if n := l.size(); n != 0 {
		t.Fatalf("%d lock entries left, want 0: the map would grow with every order", n)
	}
}
