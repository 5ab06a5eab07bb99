package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// DefaultRecoveryInterval is how often RunRecovery looks for PENDING orders.
const DefaultRecoveryInterval = 2 * time.Second

// RecoverOnce settles the PENDING orders older than the recovery grace,
// oldest first, and returns how many it settled. Orders a request in this
// process is still working on are skipped. A pass stops early when a
// dependency is down: the other orders would only wait for the same
// timeouts, and the next pass comes soon.
func (s *Service) RecoverOnce(ctx context.Context) (int, error) {
	sctx, cancel := context.WithTimeout(ctx, storeTimeout)
	now := s.now()
	lease := s.recoveryLease()
	pending, err := s.store.ClaimPending(sctx, now.Add(-s.grace), Claim{Owner: s.owner, Now: now, Lease: lease, Limit: s.batch})
	cancel()
	if err != nil {
		return 0, fmt.Errorf("find pending orders: %w", err)
	}
	settled := 0
	for _, p := range pending {
		if ctx.Err() != nil {
			return settled, ctx.Err()
		}
		// Start an order only while the lease still covers a whole
		// workflow: after it ends another replica may claim the order.
		if s.now().Add(s.workflow).After(now.Add(lease)) {
			return settled, nil
		}
		unlock, ok := s.locks.tryLock(p.ID)
		if !ok {
			continue
		}
		o, err := s.recoverOne(ctx, p.ID)
		unlock()
		s.m.Recovery.WithLabelValues(statusOutcome(o, err)).Inc()
		if o.Status != order.StatusPending {
			settled++
			s.log.InfoContext(ctx, "recovered pending order", "order_id", o.ID, "status", o.Status, "failure_code", o.FailureCode)
			continue
		}
		if errs.Is(err, errs.Unavailable) || errs.Is(err, errs.DeadlineExceeded) {
			return settled, err
		}
		if err != nil {
			s.log.ErrorContext(ctx, "recover pending order", "order_id", p.ID, "error", err)
		}
	}
	return settled, nil
}

// recoveryLease is how long a recovery claim keeps other replicas off the
// claimed orders. The batch is settled one order at a time, each bounded by
// the workflow timeout, and RecoverOnce starts none it could not finish in
// the lease; a crash holds its orders back for one lease at most.
func (s *Service) recoveryLease() time.Duration { return 4 * s.workflow }

// newOwner returns a lease owner name unique to this process and call.
func newOwner(role string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return role + "-" + hex.EncodeToString(b)
}

// recoverOne settles one order, re-read under its lock because a request
// may have settled it since the scan.
func (s *Service) recoverOne(ctx context.Context, id string) (order.Order, error) {
	ctx, cancel := context.WithTimeout(ctx, s.workflow)
	defer cancel()
	o, err := s.store.Get(ctx, id)
	if err != nil || o.Status != order.StatusPending {
		return o, err
	}
	return s.settle(ctx, o, order.FailureDependencyUnavailable, nil)
}

// RunRecovery runs RecoverOnce every interval until ctx ends. The first
// pass runs at once, so orders a crash left behind are settled on restart.
func (s *Service) RunRecovery(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultRecoveryInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.RecoverOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "recovery pass ended early", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
