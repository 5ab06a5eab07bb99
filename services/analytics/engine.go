// Package analytics is the window engine of the analytics unit: event-time
// tumbling windows over OrderPlaced events with a per-partition bounded
// out-of-orderness watermark, idle partitions, dedup by event id and late
// accounting. It does no I/O and reads no clock: the caller passes the
// processing time of every call, so a run is a pure function of its inputs.
// README.md states the rules precisely; the Flink job is held to the same
// rules through the golden fixtures in testdata/.
package analytics

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Defaults of the engine's options.
const (
	DefaultWindow         = time.Minute
	DefaultOutOfOrderness = 5 * time.Second
	DefaultDedupRetention = 30 * time.Minute
	// TopProductsLimit is how many products a window result lists.
	TopProductsLimit = 3
)

// noTime marks a watermark or maximum timestamp that does not exist yet; it
// is Flink's Long.MIN_VALUE.
const noTime = math.MinInt64

// pendingBucket is the dedup bucket of late events not yet attached to a
// window; it is never pruned.
const pendingBucket = math.MaxInt64

// Outcome is what the engine did with one event.
type Outcome int

// The outcomes of Add.
const (
	// Counted: the event was added to its (open) window.
	Counted Outcome = iota + 1
	// Duplicate: an event with the same id was seen before; nothing changed.
	Duplicate
	// Late: its window had already closed; it is reported in the late_events
	// of the next window to close.
	Late
)

func (o Outcome) String() string {
	switch o {
	case Counted:
		return "counted"
	case Duplicate:
		return "duplicate"
	case Late:
		return "late"
	}
	return "unknown"
}

// Verdict is the result of Add.
type Verdict struct {
	Outcome Outcome
	// Window is the start of the window that counted the event (Counted only).
	Window time.Time
}

// Window is a closed window: the result the engine emits, plus the event ids
// that result accounts for, which the unit persists so a restart never
// counts them again.
type Window struct {
	Start         time.Time
	End           time.Time
	ClosedAt      time.Time // processing time of the call that closed it
	OrderCount    int64
	RevenueCents  int64
	ItemsSold     int64
	DistinctUsers int64
	TopProducts   []events.ProductUnits
	OrderIDs      []string // sorted
	LateEvents    int64
	EventIDs      []string // ids of the counted events, sorted
	LateEventIDs  []string // ids of the late events behind LateEvents, in arrival order
}

// Result is the window as published on analytics-results.
func (w Window) Result() events.WindowResult {
	return events.WindowResult{
		SchemaVersion: events.WindowResultSchemaVersion,
		EventID:       events.WindowEventID(w.Start, w.End),
		WindowStart:   w.Start,
		WindowEnd:     w.End,
		OrderCount:    w.OrderCount,
		RevenueCents:  w.RevenueCents,
		ItemsSold:     w.ItemsSold,
		DistinctUsers: w.DistinctUsers,
		TopProducts:   slices.Clone(w.TopProducts),
		OrderIDs:      slices.Clone(w.OrderIDs),
		LateEvents:    w.LateEvents,
		ClosedAt:      w.ClosedAt,
	}
}

// Checkpoint is what a restarted engine needs so that replayed events of
// windows already emitted are not counted again.
type Checkpoint struct {
	// Watermark is the engine's watermark when the last window was emitted;
	// zero means none.
	Watermark time.Time
	// Seen are the events the emitted windows account for.
	Seen []SeenEvent
}

// SeenEvent is an event id and the start of the window whose result
// accounts for it (its own window when counted, the window that reported it
// when late).
type SeenEvent struct {
	EventID string
	Window  time.Time
}

type settings struct {
	window, delay, idle, retention time.Duration
	idleSet                        bool
	checkpoint                     Checkpoint
}

// Option configures a WindowEngine.
type Option func(*settings)

// WithWindow sets the tumbling window size (default one minute), a whole
// number of milliseconds.
func WithWindow(d time.Duration) Option { return func(s *settings) { s.window = d } }

// WithOutOfOrderness sets how far behind the largest event time of a
// partition its watermark trails (default 5 s).
func WithOutOfOrderness(d time.Duration) Option { return func(s *settings) { s.delay = d } }

// WithIdleTimeout sets how long a partition may go without records before
// it stops holding the watermark back; once every partition is idle,
// processing time drives the watermark. Zero disables idleness. The default
// is the window size, so that a broker or relay outage shorter than a window
// does not turn its backlog into late events.
func WithIdleTimeout(d time.Duration) Option {
	return func(s *settings) { s.idle, s.idleSet = d, true }
}

// WithDedupRetention sets how long, in watermark time after the window that
// accounted for it closed, an event id is remembered (default 30 min). A
// duplicate arriving later is reported as late instead of as a duplicate; it
// is never counted twice.
func WithDedupRetention(d time.Duration) Option { return func(s *settings) { s.retention = d } }

// WithCheckpoint resumes from the state persisted with the last emitted window.
func WithCheckpoint(c Checkpoint) Option { return func(s *settings) { s.checkpoint = c } }

type partitionState struct {
	maxTs       int64     // largest event time seen (ms), or noTime
	lastArrival time.Time // processing time of its last record, or of Track
}

type windowAcc struct {
	start    int64
	orders   int64
	revenue  int64
	items    int64
	users    map[string]struct{}
	units    map[string]int64
	orderIDs []string
	eventIDs []string
}

// WindowEngine computes the analytics windows. It is not safe for
// concurrent use: one goroutine owns it (the unit's processor), which is
// also what makes its output a deterministic function of the call sequence.
type WindowEngine struct {
	size, delay, retention int64 // ms
	idle                   time.Duration

	wm    int64 // combined watermark (ms), monotonic; noTime until known
	parts map[int32]*partitionState

	open       map[int64]*windowAcc
	openStarts []int64 // sorted starts of open windows
	ready      []Window

	seen         map[string]int64 // event id -> dedup bucket (accounting window start)
	buckets      map[int64][]string
	bucketStarts []int64 // sorted; excludes pendingBucket
	pendingLate  []string
}

// NewWindowEngine returns an engine with the given options.
func NewWindowEngine(opts ...Option) (*WindowEngine, error) {
	s := settings{window: DefaultWindow, delay: DefaultOutOfOrderness, retention: DefaultDedupRetention}
	for _, o := range opts {
		o(&s)
	}
	if !s.idleSet {
		s.idle = s.window
	}
	switch {
	case s.window < time.Millisecond || s.window%time.Millisecond != 0:
		return nil, errs.InvalidField("window", "must be a positive whole number of milliseconds, got %s", s.window)
	case s.delay < 0 || s.delay%time.Millisecond != 0:
		return nil, errs.InvalidField("out_of_orderness", "must be a non-negative whole number of milliseconds, got %s", s.delay)
	case s.idle < 0:
		return nil, errs.InvalidField("idle_timeout", "must not be negative, got %s", s.idle)
	case s.retention < 0 || s.retention%time.Millisecond != 0:
		return nil, errs.InvalidField("dedup_retention", "must be a non-negative whole number of milliseconds, got %s", s.retention)
	}
	e := &WindowEngine{
		size:      s.window.Milliseconds(),
		delay:     s.delay.Milliseconds(),
		retention: s.retention.Milliseconds(),
		idle:      s.idle,
		wm:        noTime,
		parts:     map[int32]*partitionState{},
		open:      map[int64]*windowAcc{},
		seen:      map[string]int64{},
		buckets:   map[int64][]string{},
	}
	if !s.checkpoint.Watermark.IsZero() {
		e.wm = s.checkpoint.Watermark.UnixMilli()
	}
	for _, se := range s.checkpoint.Seen {
		if _, dup := e.seen[se.EventID]; !dup {
			e.remember(se.EventID, se.Window.UnixMilli())
		}
	}
	e.prune()
	return e, nil
}

// Track registers partition as assigned at processing time now. Until its
// first record it holds the watermark back (its own watermark is unknown),
// as an unread Kafka split does in Flink, until it has been idle for the
// idle timeout. Tracking a known partition changes nothing.
func (e *WindowEngine) Track(now time.Time, partition int32) {
	if _, ok := e.parts[partition]; !ok {
		e.parts[partition] = &partitionState{maxTs: noTime, lastArrival: now}
	}
}

// Add processes one event read from partition at processing time now. The
// watermark an event is judged against is the one before it: idleness is
// evaluated at now first, then the event is classified, then its timestamp
// advances its partition (duplicates and late events included, since Flink's
// watermark generator sees every record before dedup and windowing).
// Windows this closes are returned by the next Advance.
func (e *WindowEngine) Add(now time.Time, partition int32, ev events.OrderPlaced) Verdict {
	e.progress(now)
	e.Track(now, partition)
	ts := ev.OccurredAt.UnixMilli()
	start := floorDiv(ts, e.size) * e.size

	var v Verdict
	switch _, dup := e.seen[ev.EventID]; {
	case dup:
		v = Verdict{Outcome: Duplicate}
	case e.closed(start):
		e.remember(ev.EventID, pendingBucket)
		e.pendingLate = append(e.pendingLate, ev.EventID)
		v = Verdict{Outcome: Late}
	default:
		e.remember(ev.EventID, start)
		e.count(start, ev)
		v = Verdict{Outcome: Counted, Window: time.UnixMilli(start).UTC()}
	}

	p := e.parts[partition]
	p.lastArrival = now
	if ts > p.maxTs {
		p.maxTs = ts
	}
	e.progress(now)
	return v
}

// Advance applies processing time now (idleness) and returns the windows
// closed since the last call, oldest first.
func (e *WindowEngine) Advance(now time.Time) []Window {
	e.progress(now)
	out := e.ready
	e.ready = nil
	return out
}

// Flush ends the input at processing time now, as a bounded Flink source
// does with its final Long.MAX_VALUE watermark: every open window closes.
// The watermark moves to the last flushed window's end - 1 ms, so an event
// added afterwards for a flushed window is late.
func (e *WindowEngine) Flush(now time.Time) []Window {
	e.progress(now)
	if n := len(e.openStarts); n > 0 {
		e.wm = max(e.wm, e.openStarts[n-1]+e.size-1)
		e.closeReady(now)
	}
	return e.Advance(now)
}

// Watermark is the combined watermark, and false before there is one.
func (e *WindowEngine) Watermark() (time.Time, bool) {
	if e.wm == noTime {
		return time.Time{}, false
	}
	return time.UnixMilli(e.wm).UTC(), true
}

// OpenWindows is the number of windows holding counted events.
func (e *WindowEngine) OpenWindows() int { return len(e.openStarts) }

// PendingLate is the number of late events waiting for the next window to close.
func (e *WindowEngine) PendingLate() int { return len(e.pendingLate) }

// DedupHorizon is the start of the oldest window whose event ids are still
// remembered, and false before there is a watermark. The unit prunes its
// persisted ids with it.
func (e *WindowEngine) DedupHorizon() (time.Time, bool) {
	h, ok := e.horizon()
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMilli(h).UTC(), true
}

// closed reports whether the window starting at start has closed: Flink
// fires a window at its max timestamp end - 1 ms (TimeWindowUtil.isWindowFired).
func (e *WindowEngine) closed(start int64) bool {
	return e.wm != noTime && start+e.size-1 <= e.wm
}

// progress recomputes the combined watermark at processing time now and
// closes the windows it passes. The partition rule is Flink's
// CombinedWatermarkStatus: the minimum over non-idle partitions, never
// moving backwards. When every partition is idle Flink stalls; here
// processing time stands in for event time (now - out-of-orderness), so the
// last windows close when the source goes quiet.
func (e *WindowEngine) progress(now time.Time) {
	if len(e.parts) == 0 {
		return
	}
	candidate := int64(math.MaxInt64)
	active := false
	for _, p := range e.parts {
		if e.idle > 0 && now.Sub(p.lastArrival) >= e.idle {
			continue
		}
		active = true
		w := int64(noTime)
		if p.maxTs != noTime {
			w = p.maxTs - e.delay
		}
		candidate = min(candidate, w)
	}
	if !active {
		candidate = now.UnixMilli() - e.delay
	}
	if candidate > e.wm {
		e.wm = candidate
		e.closeReady(now)
	}
}

// closeReady moves every window the watermark has passed to ready, oldest
// first, and forgets the ids that fell behind the dedup horizon.
func (e *WindowEngine) closeReady(now time.Time) {
	closedAt := now.UTC().Truncate(time.Millisecond)
	for len(e.openStarts) > 0 && e.closed(e.openStarts[0]) {
		start := e.openStarts[0]
		e.openStarts = e.openStarts[1:]
		acc := e.open[start]
		delete(e.open, start)
		w := acc.window(e.size, closedAt)
		// Late events are reported by the first window to close after
		// them, and from then on their ids age with that window.
		if len(e.pendingLate) > 0 {
			w.LateEvents = int64(len(e.pendingLate))
			w.LateEventIDs = e.pendingLate
			e.pendingLate = nil
			for _, id := range w.LateEventIDs {
				e.remember(id, start)
			}
		}
		e.ready = append(e.ready, w)
	}
	e.prune()
}

func (e *WindowEngine) count(start int64, ev events.OrderPlaced) {
	acc, ok := e.open[start]
	if !ok {
		acc = &windowAcc{start: start, users: map[string]struct{}{}, units: map[string]int64{}}
		e.open[start] = acc
		i, _ := slices.BinarySearch(e.openStarts, start)
		e.openStarts = slices.Insert(e.openStarts, i, start)
	}
	acc.orders++
	acc.revenue += ev.TotalCents
	if ev.UserID != "" {
		acc.users[ev.UserID] = struct{}{}
	}
	for _, it := range ev.Items {
		acc.items += int64(it.Quantity)
		acc.units[it.ProductID] += int64(it.Quantity)
	}
	acc.orderIDs = append(acc.orderIDs, ev.OrderID)
	acc.eventIDs = append(acc.eventIDs, ev.EventID)
}

func (a *windowAcc) window(size int64, closedAt time.Time) Window {
	top := make([]events.ProductUnits, 0, len(a.units))
	for id, u := range a.units {
		if u > 0 {
			top = append(top, events.ProductUnits{ProductID: id, Units: u})
		}
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Units != top[j].Units {
			return top[i].Units > top[j].Units
		}
		return top[i].ProductID < top[j].ProductID
	})
	if len(top) > TopProductsLimit {
		top = top[:TopProductsLimit]
	}
	slices.Sort(a.orderIDs)
	slices.Sort(a.eventIDs)
	return Window{
		Start:         time.UnixMilli(a.start).UTC(),
		End:           time.UnixMilli(a.start + size).UTC(),
		ClosedAt:      closedAt,
		OrderCount:    a.orders,
		RevenueCents:  a.revenue,
		ItemsSold:     a.items,
		DistinctUsers: int64(len(a.users)),
		TopProducts:   top,
		OrderIDs:      a.orderIDs,
		EventIDs:      a.eventIDs,
	}
}

// remember records id in dedup bucket b, moving it if it is already known.
func (e *WindowEngine) remember(id string, b int64) {
	if old, ok := e.seen[id]; ok && old == b {
		return
	}
	e.seen[id] = b
	if b == pendingBucket {
		return
	}
	if _, ok := e.buckets[b]; !ok {
		i, _ := slices.BinarySearch(e.bucketStarts, b)
		e.bucketStarts = slices.Insert(e.bucketStarts, i, b)
	}
	e.buckets[b] = append(e.buckets[b], id)
}

// horizon is the start of the window containing watermark - retention +
// 1 ms: every window before it closed at least the retention ago, so an
// event of theirs would be late anyway.
func (e *WindowEngine) horizon() (int64, bool) {
	if e.wm == noTime {
		return 0, false
	}
	return floorDiv(e.wm-e.retention+1, e.size) * e.size, true
}

func (e *WindowEngine) prune() {
	h, ok := e.horizon()
	if !ok {
		return
	}
	for len(e.bucketStarts) > 0 && e.bucketStarts[0] < h {
		b := e.bucketStarts[0]
		e.bucketStarts = e.bucketStarts[1:]
		for _, id := range e.buckets[b] {
			// An id moved to a later bucket stays.
			if e.seen[id] == b {
				delete(e.seen, id)
			}
		}
		delete(e.buckets, b)
	}
}

// floorDiv is a / b rounded towards negative infinity (b > 0), so windows
// stay aligned to the epoch for times before it too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
