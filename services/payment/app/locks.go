package app

import (
	"context"
	"fmt"
	"sync"
)

// orderLocks serialises the work on one order inside this process, so that
// concurrent calls for an order make one processor call between them and
// the rest read its result. Across processes the store's UNIQUE order id
// and the processor's idempotency key keep the at-most-once guarantee;
// this lock only spares the processor duplicate calls.
type orderLocks struct {
	mu    sync.Mutex
	locks map[string]*orderLock
}

type orderLock struct {
	held chan struct{} // a one-slot semaphore, so waiting can honour ctx
	refs int           // holders and waiters; the entry goes when it drops to 0
}

func newOrderLocks() *orderLocks { return &orderLocks{locks: map[string]*orderLock{}} }

// lock waits until the order is free or ctx ends, and returns the unlock.
func (o *orderLocks) lock(ctx context.Context, orderID string) (func(), error) {
	o.mu.Lock()
	l := o.locks[orderID]
	if l == nil {
		l = &orderLock{held: make(chan struct{}, 1)}
		o.locks[orderID] = l
	}
	l.refs++
	o.mu.Unlock()
	select {
	case l.held <- struct{}{}:
		return func() {
			<-l.held
			o.release(orderID, l)
		}, nil
	case <-ctx.Done():
		o.release(orderID, l)
		return nil, fmt.Errorf("wait for another call on order %s: %w", orderID, ctx.Err())
	}
}

func (o *orderLocks) release(orderID string, l *orderLock) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(o.locks, orderID)
	}
}

// size is the number of orders with holders or waiters, for tests.
func (o *orderLocks) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.locks)
}
