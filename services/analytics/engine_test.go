package analytics

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// t0 is aligned to every window size the tests use.
var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus a duration written like "14.999s".
func at(tb testing.TB, offset string) time.Time {
	tb.Helper()
	d, err := time.ParseDuration(offset)
	if err != nil {
		tb.Fatal(err)
	}
	return t0.Add(d)
}

func order(id string, ts time.Time, user string, items ...events.LineItem) events.OrderPlaced {
	var total int64
	for _, it := range items {
		total += int64(it.Quantity) * it.UnitPriceCents
	}
	return events.OrderPlaced{
		SchemaVersion: events.SchemaVersion, EventID: "ev-" + id, Type: events.TypeOrderPlaced,
		OccurredAt: ts, OrderID: "ord-" + id, UserID: user, Items: items, TotalCents: total, Currency: "USD",
	}
}

func item(product string, qty int32) events.LineItem {
	return events.LineItem{ProductID: product, Quantity: qty, UnitPriceCents: 100, Category: "c"}
}

func mustEngine(tb testing.TB, opts ...Option) *WindowEngine {
	tb.Helper()
	base := []Option{WithWindow(10 * time.Second), WithOutOfOrderness(5 * time.Second), WithIdleTimeout(10 * time.Second)}
	e, err := NewWindowEngine(append(base, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// step is one call on the engine: Track of the partitions in track, an
// event arriving at `at` on partition, or else an Advance to `at`.
type step struct {
	at        string
	track     []int32
	partition int32
	ev        *events.OrderPlaced
	want      Outcome // for events; 0 means don't check
}

func evStep(tb testing.TB, arrival string, p int32, id, ts string, want Outcome) step {
	o := order(id, at(tb, ts), "u-"+id, item("p1", 1))
	return step{at: arrival, partition: p, ev: &o, want: want}
}

// run plays steps, advancing after each, and returns every window closed.
func run(tb testing.TB, e *WindowEngine, steps []step) []Window {
	tb.Helper()
	var out []Window
	for i, s := range steps {
		now := at(tb, s.at)
		for _, p := range s.track {
			e.Track(now, p)
		}
		if s.ev != nil {
			v := e.Add(now, s.partition, *s.ev)
			if s.want != 0 && v.Outcome != s.want {
				tb.Fatalf("step %d (%s at %s): outcome %v, want %v", i, s.ev.EventID, s.at, v.Outcome, s.want)
			}
		}
		out = append(out, e.Advance(now)...)
	}
	return out
}

// summary renders windows as "start-end:count[+late]" in seconds after t0.
func summary(ws []Window) []string {
	s := make([]string, 0, len(ws))
	for _, w := range ws {
		x := fmt.Sprintf("%g-%g:%d", w.Start.Sub(t0).Seconds(), w.End.Sub(t0).Seconds(), w.OrderCount)
		if w.LateEvents > 0 {
			x += fmt.Sprintf("+%dlate", w.LateEvents)
		}
		s = append(s, x)
	}
	return s
}

func TestEngineRules(t *testing.T) {
	tests := []struct {
		name  string
		opts  []Option
		steps func(testing.TB) []step
		want  []string
	}{
		{
			name: "event exactly at a window end belongs to the next window",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "0s", Counted),
					evStep(tb, "1s", 0, "b", "9.999s", Counted),
					evStep(tb, "2s", 0, "c", "10s", Counted),
					evStep(tb, "3s", 0, "d", "30s", Counted), // wm 25s closes both
				}
			},
			want: []string{"0-10:2", "10-20:1"},
		},
		{
			name: "watermark one millisecond short of end-1ms keeps the window open",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					evStep(tb, "1s", 0, "b", "14.998s", Counted), // wm 9.998s
				}
			},
			want: nil,
		},
		{
			name: "watermark exactly at end-1ms closes the window",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					evStep(tb, "1s", 0, "b", "14.999s", Counted), // wm 9.999s = end - 1 ms
				}
			},
			want: []string{"0-10:1"},
		},
		{
			name: "out-of-order event within the bound is counted",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "12s", Counted), // wm 7s
					evStep(tb, "1s", 0, "b", "9.999s", Counted),
					evStep(tb, "2s", 0, "c", "14.999s", Counted), // wm 9.999s
				}
			},
			want: []string{"0-10:1"},
		},
		{
			name: "late events are dropped and reported by the next window to close",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					evStep(tb, "1s", 0, "b", "16s", Counted), // wm 11s closes [0,10)
					evStep(tb, "2s", 0, "c", "9.999s", Late),
					evStep(tb, "3s", 0, "d", "0s", Late),
					evStep(tb, "4s", 0, "e", "10s", Counted), // wm still 11s: [10,20) open
					evStep(tb, "5s", 0, "f", "40s", Counted), // wm 35s closes [10,20), [20,30) is empty
				}
			},
			want: []string{"0-10:1", "10-20:2+2late"},
		},
		{
			name: "a duplicate is counted once, even when its copy falls in another window",
			steps: func(tb testing.TB) []step {
				dup := order("a", at(tb, "25s"), "u-a", item("p1", 1)) // same id, other time
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					evStep(tb, "1s", 0, "a", "1s", Duplicate),
					{at: "2s", ev: &dup, want: Duplicate},
					evStep(tb, "3s", 0, "b", "40s", Counted),
				}
			},
			want: []string{"0-10:1"},
		},
		{
			name: "a duplicate still moves its partition's watermark, as Flink's source does before dedup",
			steps: func(tb testing.TB) []step {
				moved := order("a", at(tb, "15s"), "u-a", item("p1", 1))
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					{at: "1s", ev: &moved, want: Duplicate}, // wm 10s closes [0,10)
				}
			},
			want: []string{"0-10:1"},
		},
		{
			name: "a duplicate of a counted event after its window closed is a duplicate, not late",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					evStep(tb, "1s", 0, "b", "16s", Counted),
					evStep(tb, "2s", 0, "a", "1s", Duplicate),
					evStep(tb, "3s", 0, "c", "40s", Counted),
				}
			},
			want: []string{"0-10:1", "10-20:1"},
		},
		{
			name: "a duplicate of a late event is reported late once",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 0, "a", "1s", Counted),
					evStep(tb, "1s", 0, "b", "16s", Counted),
					evStep(tb, "2s", 0, "c", "2s", Late),
					evStep(tb, "3s", 0, "c", "2s", Duplicate),
					evStep(tb, "4s", 0, "d", "40s", Counted),
				}
			},
			want: []string{"0-10:1", "10-20:1+1late"},
		},
		{
			name: "an idle source closes windows with processing time minus out-of-orderness",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "3s", 0, "a", "3s", Counted),
					{at: "12.999s"}, // not idle yet: 9.999s since the last record
					{at: "13s"},     // idle: wm = 13s - 5s = 8s, [0,10) still open
					{at: "14.998s"}, // wm 9.998s
					{at: "14.999s"}, // wm 9.999s closes [0,10)
				}
			},
			want: []string{"0-10:1"},
		},
		{
			name: "idleness is applied at a record's arrival, before the record, with or without a tick",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "1s", 0, "a", "1s", Counted),
					evStep(tb, "30s", 0, "b", "8s", Late), // quiet 29 s: wm 25s first
				}
			},
			want: []string{"0-10:1"},
		},
		{
			name: "records of another partition keep the source active",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "3s", 0, "a", "3s", Counted),
					evStep(tb, "8s", 1, "b", "4s", Counted),
					{at: "14.999s"}, // p0 idle, p1 active with wm -1s: nothing closes
					{at: "17.999s"}, // p1 not idle yet
					{at: "18s"},     // both idle: wm 13s
				}
			},
			want: []string{"0-10:2"},
		},
		{
			name: "idleness disabled: only events move the watermark",
			opts: []Option{WithIdleTimeout(0)},
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "3s", 0, "a", "3s", Counted),
					{at: "1h"},
				}
			},
			want: nil,
		},
		{
			name: "the watermark is the minimum over active partitions",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 1, "b", "2s", Counted),        // p1 wm -3s
					evStep(tb, "0.1s", 0, "a", "20s", Counted),     // p0 wm 15s: global stays -3s
					evStep(tb, "0.2s", 1, "c", "8s", Counted),      // on time thanks to p1
					evStep(tb, "0.3s", 1, "d", "14.999s", Counted), // p1 wm 9.999s closes [0,10)
				}
			},
			want: []string{"0-10:2"},
		},
		{
			name: "an idle partition stops holding the watermark; when it resumes behind, its events are late",
			steps: func(tb testing.TB) []step {
				return []step{
					evStep(tb, "0s", 1, "a", "1s", Counted),     // p1 wm -4s
					evStep(tb, "0.5s", 0, "b", "2s", Counted),   // p0
					evStep(tb, "9s", 0, "c", "10s", Counted),    // p1 still active (9 s quiet)
					evStep(tb, "10.5s", 0, "d", "16s", Counted), // p1 idle since 10s: wm = 11s
					evStep(tb, "11s", 1, "e", "5s", Late),       // p1 resumes behind: no regress
					evStep(tb, "12s", 0, "f", "30s", Counted),   // p1 wm 0s, p0 25s: min 0 < 11, stays
					evStep(tb, "13s", 1, "g", "26s", Counted),   // p1 wm 21s: closes [10,20)
				}
			},
			want: []string{"0-10:2", "10-20:2+1late"},
		},
		{
			name: "a tracked partition without records holds the watermark until idle",
			steps: func(tb testing.TB) []step {
				return []step{
					{at: "0s", track: []int32{2}},
					evStep(tb, "1s", 0, "a", "1s", Counted),
					evStep(tb, "2s", 0, "b", "30s", Counted), // p2 unknown watermark: nothing closes
					{at: "9.999s"},
					{at: "10s"}, // p2 idle: wm from p0 = 25s
				}
			},
			want: []string{"0-10:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEngine(t, tt.opts...)
			got := summary(run(t, e, tt.steps(t)))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("closed windows %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEngineAggregates(t *testing.T) {
	e := mustEngine(t)
	now := at(t, "0s")
	add := func(o events.OrderPlaced) {
		if v := e.Add(now, 0, o); v.Outcome != Counted {
			t.Fatalf("%s: %v", o.EventID, v.Outcome)
		}
	}
	add(order("3", at(t, "1s"), "alice", item("p-b", 2), item("p-a", 1)))
	add(order("1", at(t, "2s"), "bob", item("p-a", 1), item("p-c", 5)))
	add(order("2", at(t, "3s"), "alice", item("p-d", 2), item("p-zero", 0)))
	add(order("4", at(t, "4s"), "", item("p-e", 1))) // anonymous: not a distinct user
	ws := e.Flush(at(t, "1s"))
	if len(ws) != 1 {
		t.Fatalf("%d windows, want 1", len(ws))
	}
	w := ws[0]
	r := w.Result()
	if r.OrderCount != 4 || r.ItemsSold != 12 || r.RevenueCents != 1200 || r.DistinctUsers != 2 {
		t.Fatalf("aggregates %+v", r)
	}
	// p-c 5; p-a 2, p-b 2, p-d 2 tie and sort by id; p-zero never counts.
	wantTop := []events.ProductUnits{{ProductID: "p-c", Units: 5}, {ProductID: "p-a", Units: 2}, {ProductID: "p-b", Units: 2}}
	if !slices.Equal(r.TopProducts, wantTop) {
		t.Fatalf("top products %+v, want %+v", r.TopProducts, wantTop)
	}
	if want := []string{"ord-1", "ord-2", "ord-3", "ord-4"}; !slices.Equal(r.OrderIDs, want) {
		t.Fatalf("order ids %q, want %q", r.OrderIDs, want)
	}
	if want := []string{"ev-1", "ev-2", "ev-3", "ev-4"}; !slices.Equal(w.EventIDs, want) {
		t.Fatalf("event ids %q, want %q", w.EventIDs, want)
	}
	if !r.WindowStart.Equal(t0) || !r.WindowEnd.Equal(at(t, "10s")) || !r.ClosedAt.Equal(at(t, "1s")) {
		t.Fatalf("times %s %s %s", r.WindowStart, r.WindowEnd, r.ClosedAt)
	}
}

func TestEngineMillisecondPrecisionAndEpochAlignment(t *testing.T) {
	e := mustEngine(t, WithWindow(7*time.Second))
	// Sub-millisecond digits are dropped as Flink's TIMESTAMP(3) does, so
	// 13.9999999s is 13.999s and stays in [7s,14s) of the epoch-aligned grid.
	ts := time.Unix(13, 999_999_900).UTC()
	if v := e.Add(ts, 0, order("a", ts, "u", item("p", 1))); v.Outcome != Counted || !v.Window.Equal(time.Unix(7, 0).UTC()) {
		t.Fatalf("verdict %+v", v)
	}
	pre := time.Unix(-1, 0).UTC() // before the epoch: [-7s, 0s)
	e2 := mustEngine(t, WithWindow(7*time.Second))
	if v := e2.Add(pre, 0, order("b", pre, "u", item("p", 1))); !v.Window.Equal(time.Unix(-7, 0).UTC()) {
		t.Fatalf("verdict %+v", v)
	}
}

func TestEngineWatermarkNeverRegresses(t *testing.T) {
	e := mustEngine(t)
	e.Add(at(t, "0s"), 0, order("a", at(t, "30s"), "u", item("p", 1)))
	w1, _ := e.Watermark()
	e.Track(at(t, "0s"), 1) // a new partition with an unknown watermark
	e.Add(at(t, "1s"), 1, order("b", at(t, "1s"), "u", item("p", 1)))
	w2, ok := e.Watermark()
	if !ok || w2.Before(w1) || !w1.Equal(at(t, "25s")) {
		t.Fatalf("watermark went %s -> %s", w1, w2)
	}
}

func TestEngineFlushMakesLaterEventsLate(t *testing.T) {
	e := mustEngine(t)
	e.Add(at(t, "0s"), 0, order("a", at(t, "1s"), "u", item("p", 1)))
	e.Add(at(t, "0s"), 0, order("b", at(t, "12s"), "u", item("p", 1)))
	if got := summary(e.Flush(at(t, "1s"))); !slices.Equal(got, []string{"0-10:1", "10-20:1"}) {
		t.Fatalf("flush %q", got)
	}
	if v := e.Add(at(t, "2s"), 0, order("c", at(t, "19s"), "u", item("p", 1))); v.Outcome != Late {
		t.Fatalf("event after flush: %v", v.Outcome)
	}
	if v := e.Add(at(t, "2s"), 0, order("d", at(t, "20s"), "u", item("p", 1))); v.Outcome != Counted {
		t.Fatalf("event after the flushed range: %v", v.Outcome)
	}
}

func TestEngineDedupRetention(t *testing.T) {
	e := mustEngine(t, WithDedupRetention(10*time.Second))
	e.Add(at(t, "0s"), 0, order("a", at(t, "1s"), "u", item("p", 1)))
	e.Add(at(t, "0s"), 0, order("b", at(t, "16s"), "u", item("p", 1))) // wm 11s: [0,10) closed 1s ago
	if v := e.Add(at(t, "0s"), 0, order("a", at(t, "1s"), "u", item("p", 1))); v.Outcome != Duplicate {
		t.Fatalf("within retention: %v", v.Outcome)
	}
	if h, _ := e.DedupHorizon(); !h.Equal(t0) {
		t.Fatalf("horizon %s, want %s", h, t0)
	}
	e.Add(at(t, "0s"), 0, order("c", at(t, "24.999s"), "u", item("p", 1))) // wm 19.999s: [0,10) closed 10s ago
	if _, ok := e.seen["ev-a"]; ok {
		t.Fatal("ev-a still remembered past the retention")
	}
	if _, ok := e.seen["ev-b"]; !ok {
		t.Fatal("ev-b forgotten within the retention")
	}
	// Past the retention a copy is late: reported, never counted twice.
	if v := e.Add(at(t, "0s"), 0, order("a", at(t, "1s"), "u", item("p", 1))); v.Outcome != Late {
		t.Fatalf("past retention: %v", v.Outcome)
	}
}

func TestEngineCheckpointResume(t *testing.T) {
	// The first life: [0,10) is emitted with a and the late x; b is in the
	// open window [10,20) when the process dies.
	e := mustEngine(t)
	e.Add(at(t, "0s"), 0, order("a", at(t, "1s"), "u", item("p", 1)))
	e.Add(at(t, "0s"), 0, order("b", at(t, "16s"), "u", item("p", 1)))
	ws := e.Advance(at(t, "0s"))
	if len(ws) != 1 {
		t.Fatalf("%d windows", len(ws))
	}
	wm, _ := e.Watermark()
	cp := Checkpoint{Watermark: wm}
	for _, id := range ws[0].EventIDs {
		cp.Seen = append(cp.Seen, SeenEvent{EventID: id, Window: ws[0].Start})
	}

	// The second life replays from the committed offset (b's) and beyond.
	e2 := mustEngine(t, WithCheckpoint(cp))
	e2.Track(at(t, "1m"), 0)
	for _, c := range []struct {
		id, ts string
		want   Outcome
	}{
		{"b", "16s", Counted},  // its window was open: counted again, once
		{"a", "1s", Duplicate}, // accounted for by the emitted window
		{"y", "5s", Late},      // a closed window, never accounted: late
		{"z", "30s", Counted},
	} {
		if v := e2.Add(at(t, "1m"), 0, order(c.id, at(t, c.ts), "u", item("p", 1))); v.Outcome != c.want {
			t.Fatalf("%s: %v, want %v", c.id, v.Outcome, c.want)
		}
	}
	if got := summary(e2.Advance(at(t, "1m"))); !slices.Equal(got, []string{"10-20:1+1late"}) {
		t.Fatalf("after resume %q", got)
	}
}

func TestEngineOptionsValidation(t *testing.T) {
	for _, o := range []Option{
		WithWindow(0), WithWindow(1500 * time.Microsecond), WithOutOfOrderness(-time.Second),
		WithIdleTimeout(-1), WithDedupRetention(-time.Second),
	} {
		if _, err := NewWindowEngine(o); !errs.Is(err, errs.Invalid) {
			t.Errorf("want an invalid_argument error, got %v", err)
		}
	}
}

// TestEngineAccountsForEveryEventOnce shuffles duplicated, out-of-order
// events over partitions and checks the invariant the scenario runner
// reconciles: every distinct event id is either counted in exactly one
// window or reported late exactly once, and every other record is a duplicate.
func TestEngineAccountsForEveryEventOnce(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		e := mustEngine(t, WithIdleTimeout(3*time.Second))
		const distinct = 400
		var recs []events.OrderPlaced
		for i := range distinct {
			ts := t0.Add(time.Duration(i)*250*time.Millisecond + time.Duration(rng.Intn(12000)-6000)*time.Millisecond)
			o := order(fmt.Sprint(i), ts, fmt.Sprint("u", rng.Intn(30)), item(fmt.Sprint("p", rng.Intn(8)), int32(1+rng.Intn(3))))
			recs = append(recs, o)
			if rng.Intn(5) == 0 {
				recs = append(recs, o)
			}
		}
		for i := range recs { // local disorder only, like a real stream
			j := min(len(recs)-1, i+rng.Intn(20))
			recs[i], recs[j] = recs[j], recs[i]
		}
		now := t0
		counted, late, dups := map[string]int{}, map[string]int{}, 0
		var windows []Window
		for _, r := range recs {
			now = now.Add(time.Duration(rng.Intn(600)) * time.Millisecond)
			switch e.Add(now, int32(rng.Intn(3)), r).Outcome {
			case Duplicate:
				dups++
			}
			windows = append(windows, e.Advance(now)...)
		}
		windows = append(windows, e.Flush(now)...)
		var lateReported int64
		for i, w := range windows {
			if i > 0 && !w.Start.After(windows[i-1].Start) {
				t.Fatalf("seed %d: windows out of order", seed)
			}
			if int(w.OrderCount) != len(w.EventIDs) || w.LateEvents != int64(len(w.LateEventIDs)) {
				t.Fatalf("seed %d: counts disagree with ids", seed)
			}
			for _, id := range w.EventIDs {
				counted[id]++
			}
			for _, id := range w.LateEventIDs {
				late[id]++
			}
			lateReported += w.LateEvents
		}
		for _, id := range e.pendingLate {
			late[id]++
		}
		if int(lateReported)+len(e.pendingLate) != len(late) || len(late) == 0 || dups == 0 {
			t.Fatalf("seed %d: %d late reported + %d pending, %d late ids, %d duplicates", seed, lateReported, len(e.pendingLate), len(late), dups)
		}
		for i := range distinct {
			id := fmt.Sprint("ev-", i)
			if counted[id]+late[id] != 1 {
				t.Fatalf("seed %d: %s counted %d times, late %d times", seed, id, counted[id], late[id])
			}
		}
		if dups != len(recs)-distinct {
			t.Fatalf("seed %d: %d duplicates, want %d", seed, dups, len(recs)-distinct)
		}
	}
}
