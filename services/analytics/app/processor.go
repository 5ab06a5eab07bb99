package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shoplab/shoplab/services/analytics"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// ErrStopped is returned to callers of a processor that is no longer running.
var ErrStopped = errs.E(errs.Unavailable, "analytics processor stopped")

// ProcessorConfig configures a Processor.
type ProcessorConfig struct {
	Engine       []analytics.Option // window, out-of-orderness, idle timeout, retention
	TickInterval time.Duration      // how often processing time is applied (idle closing, commits)
}

// Processor owns the window engine. Its Run goroutine is the only one that
// touches the engine, the offset tracker and the committer; the consumer
// reaches it through Assign, Deliver and Revoke, which pass messages.
type Processor struct {
	cfg    ProcessorConfig
	engine *analytics.WindowEngine
	store  WindowStore
	log    *slog.Logger
	m      *Metrics
	now    func() time.Time
	wake   func()

	in      chan any
	stopped chan struct{}

	offsets   *offsetTracker
	committer Committer
	unsaved   []analytics.Window // closed but not yet persisted (store failure)
}

type assignMsg struct {
	partitions []int32
	committer  Committer
	done       chan struct{}
}

type revokeMsg struct{ done chan struct{} }

// NewProcessor resumes the engine from store's checkpoint. wake is called
// after windows were persisted (the relay's Wake); now is the injected clock.
func NewProcessor(ctx context.Context, cfg ProcessorConfig, store WindowStore, log *slog.Logger, m *Metrics, now func() time.Time, wake func()) (*Processor, error) {
	if cfg.TickInterval <= 0 {
		return nil, errs.InvalidField("tick_interval", "must be positive, got %s", cfg.TickInterval)
	}
	cp, err := store.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("load analytics checkpoint: %w", err)
	}
	e, err := analytics.NewWindowEngine(append(cfg.Engine, analytics.WithCheckpoint(cp))...)
	if err != nil {
		return nil, err
	}
	if wake == nil {
		wake = func() {}
	}
	return &Processor{
		cfg: cfg, engine: e, store: store, log: log, m: m, now: now, wake: wake,
		in: make(chan any, 256), stopped: make(chan struct{}), offsets: newOffsetTracker(),
	}, nil
}

// Assign hands the processor the partitions of a new consumer-group
// session and the committer bound to it. It returns once applied.
func (p *Processor) Assign(ctx context.Context, partitions []int32, c Committer) error {
	done := make(chan struct{})
	if err := p.send(ctx, assignMsg{partitions: partitions, committer: c, done: done}); err != nil {
		return err
	}
	return p.wait(ctx, done)
}

// Deliver queues one record for the engine.
func (p *Processor) Deliver(ctx context.Context, r Record) error { return p.send(ctx, r) }

// Revoke ends the session: it commits what is durable and drops the
// committer. It returns once done.
func (p *Processor) Revoke(ctx context.Context) error {
	done := make(chan struct{})
	if err := p.send(ctx, revokeMsg{done: done}); err != nil {
		return err
	}
	return p.wait(ctx, done)
}

func (p *Processor) send(ctx context.Context, msg any) error {
	// Checked first because p.in has room even after Run returned; a
	// message that still slips in is never processed, and its offset never
	// committed, so it is read again by the next session.
	select {
	case <-p.stopped:
		return ErrStopped
	default:
	}
	select {
	case p.in <- msg:
		return nil
	case <-p.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Processor) wait(ctx context.Context, done chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-p.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run processes records and ticks until ctx ends. It returns an error only
// when continuing could count an event twice.
func (p *Processor) Run(ctx context.Context) error {
	defer close(p.stopped)
	tick := time.NewTicker(p.cfg.TickInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg := <-p.in:
			if err := p.handle(ctx, msg); err != nil {
				return err
			}
		case <-tick.C:
			if err := p.advance(ctx); err != nil {
				return err
			}
			p.commit()
		}
	}
}

func (p *Processor) handle(ctx context.Context, msg any) error {
	switch m := msg.(type) {
	case Record:
		p.record(m)
		return p.advance(ctx)
	case assignMsg:
		now := p.now()
		for _, part := range m.partitions {
			p.engine.Track(now, part)
		}
		p.committer = m.committer
		// The new session starts from the committed offsets, whatever the
		// previous one had committed.
		p.offsets.forgetCommitted()
		close(m.done)
	case revokeMsg:
		err := p.advance(ctx)
		p.commit()
		p.committer = nil
		close(m.done)
		return err
	}
	return nil
}

func (p *Processor) record(r Record) {
	ev, err := events.DecodeOrderPlaced(r.Value)
	if errors.Is(err, events.ErrWatermarkTick) {
		// The Flink engine's ticker wrote it; this engine follows
		// processing time on a quiet source by itself.
		p.m.Ticks.Inc()
		p.offsets.processed(r.Partition, r.Offset, analytics.Verdict{})
		return
	}
	if err != nil {
		// A record no engine can place holds nothing back; Flink's
		// json.ignore-parse-errors skips it the same way.
		p.m.Invalid.Inc()
		p.log.Warn("skipping invalid record on orders", "partition", r.Partition, "offset", r.Offset, "error", err)
		p.offsets.processed(r.Partition, r.Offset, analytics.Verdict{})
		return
	}
	v := p.engine.Add(p.now(), r.Partition, ev)
	p.m.Consumed.Inc()
	switch v.Outcome {
	case analytics.Duplicate:
		p.m.Duplicates.Inc()
	case analytics.Late:
		p.m.Late.Inc()
		p.log.Debug("late event dropped", "event_id", ev.EventID, "occurred_at", ev.OccurredAt, "partition", r.Partition, "offset", r.Offset)
	}
	p.offsets.processed(r.Partition, r.Offset, v)
}

// advance applies processing time and persists whatever closed. A store
// failure keeps the windows for the next attempt; their offsets stay
// uncommitted meanwhile, so a crash replays them instead of losing them.
func (p *Processor) advance(ctx context.Context) error {
	now := p.now()
	closed := p.engine.Advance(now)
	p.m.OpenWindows.Set(float64(p.engine.OpenWindows()))
	wm, ok := p.engine.Watermark()
	if ok {
		p.m.WatermarkLag.Set(now.Sub(wm).Seconds())
	}
	if len(closed) == 0 && len(p.unsaved) == 0 {
		return nil
	}
	batch := append(p.unsaved, closed...)
	horizon, _ := p.engine.DedupHorizon()
	if err := p.store.SaveClosed(ctx, batch, wm, horizon); err != nil {
		if errs.Is(err, errs.Conflict) {
			// A window emitted twice means the checkpoint is broken;
			// carrying on would publish double counts.
			return fmt.Errorf("persist closed windows: %w", err)
		}
		if !errors.Is(err, context.Canceled) {
			p.m.StoreErrors.Inc()
			p.log.Error("persist closed windows; will retry", "windows", len(batch), "error", err)
		}
		p.unsaved = batch
		return nil
	}
	p.unsaved = nil
	p.offsets.persisted(batch)
	p.m.WindowsClosed.Add(float64(len(batch)))
	for _, w := range batch {
		p.log.Info("window closed", "window_start", w.Start, "orders", w.OrderCount, "late_events", w.LateEvents)
	}
	p.wake()
	p.commit()
	return nil
}

func (p *Processor) commit() {
	if p.committer == nil {
		return
	}
	if offs := p.offsets.committable(); len(offs) > 0 {
		p.committer.Commit(offs)
	}
}
