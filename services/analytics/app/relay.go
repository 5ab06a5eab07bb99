package app

import (
	"context"
	"log/slog"
	"time"
)

// relayPage is how many pending windows the relay reads at a time.
const relayPage = 100

// callTimeout bounds every publish and archive call.
const callTimeout = 10 * time.Second

// Relay publishes persisted windows to analytics-results and archives them,
// at least once each: a window leaves the outbox only when both are done.
// Publishing keeps window order (it stops at the first failure) and
// archiving does not wait for publishing, so an object-store outage does not
// hold results back from the topic, nor the other way round.
type Relay struct {
	outbox   Outbox
	pub      Publisher
	arch     Archiver
	log      *slog.Logger
	m        *Metrics
	now      func() time.Time
	interval time.Duration
	wake     chan struct{}
}

// NewRelay returns a relay that retries every interval.
func NewRelay(outbox Outbox, pub Publisher, arch Archiver, log *slog.Logger, m *Metrics, now func() time.Time, interval time.Duration) *Relay {
	return &Relay{outbox: outbox, pub: pub, arch: arch, log: log, m: m, now: now, interval: interval, wake: make(chan struct{}, 1)}
}

// Wake asks the relay to look at the outbox now; it never blocks.
func (r *Relay) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.Flush(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-t.C:
		}
	}
}

// Flush publishes and archives pending windows until the outbox is empty
// or a call fails, and reports whether the outbox is empty.
func (r *Relay) Flush(ctx context.Context) bool {
	for ctx.Err() == nil {
		pending, err := r.outbox.Pending(ctx, relayPage)
		if err != nil {
			r.log.Error("read analytics outbox", "error", err)
			return false
		}
		r.m.OutboxPending.Set(float64(len(pending)))
		if len(pending) == 0 {
			return true
		}
		published := r.publish(ctx, pending)
		archived := r.archive(ctx, pending)
		if !published || !archived {
			return false
		}
	}
	return false
}

func (r *Relay) publish(ctx context.Context, pending []PendingWindow) bool {
	for _, w := range pending {
		if w.Published {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := r.pub.Publish(cctx, w.Start, w.Body)
		cancel()
		if err != nil {
			r.m.ProduceErrors.Inc()
			r.log.Warn("produce window result; will retry", "window_start", w.Start, "error", err)
			return false
		}
		r.m.ResultsProduced.Inc()
		if err := r.outbox.MarkPublished(ctx, w.Start, r.now()); err != nil {
			// Produced but not marked: the next attempt produces it
			// again, which analytics-results consumers absorb by key.
			r.log.Error("mark window published", "window_start", w.Start, "error", err)
			return false
		}
	}
	return true
}

func (r *Relay) archive(ctx context.Context, pending []PendingWindow) bool {
	ok := true
	for _, w := range pending {
		if w.Archived {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := r.arch.Archive(cctx, w.Start, w.Body)
		cancel()
		if err != nil {
			r.m.ArchiveErrors.Inc()
			r.log.Warn("archive window result; will retry", "window_start", w.Start, "error", err)
			// The object store is likely down: don't spend a timeout
			// on every other window this round.
			return false
		}
		r.m.Archived.Inc()
		if err := r.outbox.MarkArchived(ctx, w.Start, r.now()); err != nil {
			r.log.Error("mark window archived", "window_start", w.Start, "error", err)
			ok = false
		}
	}
	return ok
}
