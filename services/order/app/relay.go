package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Relay defaults.
const (
	DefaultOutboxPollInterval = 500 * time.Millisecond
	DefaultOutboxBatch        = 100
	DefaultRelayMinBackoff    = 100 * time.Millisecond
	DefaultRelayMaxBackoff    = 2 * time.Second
	// DefaultOutboxLease outlasts the longest a publish can take (kafkax:
	// 3 retries of a 5 s produce timeout), so no other relay gets a batch
	// while its publish may still be in flight.
	DefaultOutboxLease = 30 * time.Second
	// storeTimeout bounds one store call of the background loops, which
	// have no request deadline to inherit.
	storeTimeout = 5 * time.Second
)

// RelayOptions tune an OutboxRelay; zero values mean the defaults.
type RelayOptions struct {
	Log          *slog.Logger
	Metrics      *Metrics
	Now          func() time.Time
	Batch        int
	PollInterval time.Duration // fallback when no commit wakes the relay
	MinBackoff   time.Duration // first wait after a failed publish
	MaxBackoff   time.Duration // the wait doubles up to this during an outage
	// Owner names this relay's outbox leases; "" means a random id. Lease
	// is how long a claimed batch stays this relay's (DefaultOutboxLease).
	Owner string
	Lease time.Duration
}

// OutboxRelay publishes the outbox, in id order, and marks rows published
// only once the broker acked them. It is the only publisher: the request
// path just commits rows. Delivery is at least once; consumers deduplicate
// by event id.
type OutboxRelay struct {
	store Store
	pub   Publisher
	wake  <-chan struct{}

	log        *slog.Logger
	m          *Metrics
	now        func() time.Time
	batch      int
	poll       time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	owner      string
	lease      time.Duration
}

// NewOutboxRelay returns a relay from store to pub that also wakes on wake
// (Service.Committed), so a fresh row goes out without waiting for a poll.
func NewOutboxRelay(store Store, pub Publisher, wake <-chan struct{}, o RelayOptions) *OutboxRelay {
	r := &OutboxRelay{store: store, pub: pub, wake: wake, log: o.Log, m: o.Metrics, now: o.Now,
		batch: o.Batch, poll: o.PollInterval, minBackoff: o.MinBackoff, maxBackoff: o.MaxBackoff,
		owner: o.Owner, lease: o.Lease}
	if r.owner == "" {
		r.owner = newOwner("relay")
	}
	if r.lease <= 0 {
		r.lease = DefaultOutboxLease
	}
	if r.log == nil {
		r.log = logx.Discard()
	}
	if r.m == nil {
		r.m = NewMetrics(metrics.New("order", false))
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.batch <= 0 {
		r.batch = DefaultOutboxBatch
	}
	if r.poll <= 0 {
		r.poll = DefaultOutboxPollInterval
	}
	if r.minBackoff <= 0 {
		r.minBackoff = DefaultRelayMinBackoff
	}
	if r.maxBackoff < r.minBackoff {
		r.maxBackoff = max(DefaultRelayMaxBackoff, r.minBackoff)
	}
	return r
}

// DrainOnce claims one batch of unpublished rows (a lease, so that relays
// of other replicas skip them), publishes it and returns how many the
// broker acked. Acked rows are marked published even if ctx ends
// meanwhile, so a stopping relay does not send them again on restart.
func (r *OutboxRelay) DrainOnce(ctx context.Context) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, storeTimeout)
	claimed := r.now()
	recs, err := r.store.ClaimOutbox(fctx, Claim{Owner: r.owner, Now: claimed, Lease: r.lease, Limit: r.batch})
	cancel()
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	acked, perr := r.pub.Publish(ctx, recs)
	if took := r.now().Sub(claimed); took > r.lease {
		// Another relay may have claimed and sent the batch meanwhile:
		// duplicates, which consumers drop by event id, never a loss.
		r.log.WarnContext(ctx, "outbox publish outlasted its lease", "took", took, "lease", r.lease)
	}
	if len(acked) > 0 {
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		err := r.store.MarkPublished(mctx, acked, r.now().UTC())
		cancel()
		if err != nil {
			// The rows will be sent again: a duplicate, never a loss.
			return 0, err
		}
		r.m.Published.Add(float64(len(acked)))
	}
	if perr != nil {
		r.m.ProduceErrors.Add(float64(len(recs) - len(acked)))
		return len(acked), perr
	}
	return len(acked), nil
}

// Run relays until ctx ends. It finishes the batch in hand before
// returning; rows not acked by then stay in the outbox for the next start.
// During a broker outage it keeps the backlog and retries with a doubling
// wait capped at the max backoff, so it drains soon after the broker returns.
func (r *OutboxRelay) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		n, err := r.DrainOnce(ctx)
		wait, wake := r.poll, r.wake
		switch {
		case err != nil:
			failures++
			wait, wake = r.backoff(failures), nil // a commit must not cut an outage's backoff short
			if failures == 1 || failures%10 == 0 {
				r.log.WarnContext(ctx, "outbox relay cannot publish; keeping the backlog", "failures", failures, "retry_in", wait, "error", err)
			}
		case n == r.batch:
			failures = 0
			continue // more rows are waiting
		default:
			if failures > 0 {
				r.log.InfoContext(ctx, "outbox relay publishing again", "after_failures", failures)
			}
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

// backoff is the wait after n consecutive failures. It has no jitter: one
// relay per unit talks to the broker, so there is no herd to spread.
func (r *OutboxRelay) backoff(n int) time.Duration {
	d := r.minBackoff
	for i := 1; i < n && d < r.maxBackoff; i++ {
		d *= 2
	}
	return min(d, r.maxBackoff)
}
