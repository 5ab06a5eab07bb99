package load

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// iterationLog collects the hook's reports.
type iterationLog struct {
	mu  sync.Mutex
	its []Iteration
}

func (l *iterationLog) hook(it Iteration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.its = append(l.its, it)
}

func (l *iterationLog) sorted() []Iteration {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]Iteration(nil), l.its...)
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out
}

// countingServer answers the product list with an empty page after
// handler's extra work, counting requests and the most seen at once.
type countingServer struct {
	url                 string
	requests, now, peak atomic.Int64
}

func newCountingServer(t *testing.T, handler func(n int64)) *countingServer {
	t.Helper()
	cs := &countingServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cs.requests.Add(1)
		cur := cs.now.Add(1)
		defer cs.now.Add(-1)
		for {
			p := cs.peak.Load()
			if cur <= p || cs.peak.CompareAndSwap(p, cur) {
				break
			}
		}
		if handler != nil {
			handler(n)
		}
		writeJSON(w, 200, map[string]any{"items": []any{}, "next_cursor": ""})
	}))
	t.Cleanup(srv.Close)
	cs.url = srv.URL
	return cs
}

// pingConfig runs the ping journey. The in-flight cap and the timeout are
// far above what the tests need, so that a machine busy with other work
// slows a test down without changing what it counts.
func pingConfig(url string, rate float64, d time.Duration) Config {
	return Config{BaseURL: url, Executor: ConstantArrivalRate, Rate: rate, Duration: d, MaxInFlight: 1000, Journeys: map[string]float64{"ping": 1}, Seed: 1, RequestTimeout: 10 * time.Second}
}

func TestConstantRunStartsEveryIterationOnTime(t *testing.T) {
	cs := newCountingServer(t, nil)
	var log iterationLog
	r := mustRunner(t, pingConfig(cs.url, 200, 500*time.Millisecond), WithJourney(pingJourney()), WithIterationHook(log.hook))
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Scheduled != 100 || res.Started != 100 || res.Dropped != 0 || cs.requests.Load() != 100 {
		t.Fatalf("scheduled %d, started %d, dropped %d, server saw %d; want 100, 100, 0, 100", res.Scheduled, res.Started, res.Dropped, cs.requests.Load())
	}
	if res.Total.Requests != 100 || res.Total.Iterations != 100 || res.Total.Errors != 0 || res.Total.Endpoints[EndpointListProducts].Requests != 100 {
		t.Errorf("totals: %+v", res.Total)
	}
	its := log.sorted()
	if len(its) != 100 {
		t.Fatalf("%d iterations reported, want 100", len(its))
	}
	for i, it := range its {
		if want := res.Start.Add(time.Duration(i) * 5 * time.Millisecond); !it.Scheduled.Equal(want) || it.Index != int64(i) {
			t.Fatalf("iteration %d (index %d) scheduled at +%s, want +%s", i, it.Index, it.Scheduled.Sub(res.Start), want.Sub(res.Start))
		}
		if it.Failed || it.Journey != "ping" {
			t.Errorf("iteration %d: %+v", i, it)
		}
	}
	if res.Duration < 495*time.Millisecond {
		t.Errorf("run took %s for a 500ms schedule", res.Duration)
	}
}

func TestRampingRunStartsTheIntegralOfTheRate(t *testing.T) {
	cs := newCountingServer(t, nil)
	cfg := pingConfig(cs.url, 0, 0)
	cfg.Executor, cfg.StartRate = RampingArrivalRate, 0
	// 0 -> 100/s over 0.5s, hold 0.25s, down to 0 over 0.25s: 25 + 25 + 12.5.
	cfg.Stages = []Stage{{Target: 100, Duration: 500 * time.Millisecond}, {Target: 100, Duration: 250 * time.Millisecond}, {Target: 0, Duration: 250 * time.Millisecond}}
	r := mustRunner(t, cfg, WithJourney(pingJourney()))
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Scheduled != 62 || res.Started != 62 || res.Dropped != 0 || cs.requests.Load() != 62 {
		t.Fatalf("scheduled %d, started %d, server saw %d; want 62 (floor of 62.5)", res.Scheduled, res.Started, cs.requests.Load())
	}
}

func TestIterationsAreDroppedNotQueuedAtMaxInFlight(t *testing.T) {
	cs := newCountingServer(t, func(int64) { time.Sleep(150 * time.Millisecond) })
	cfg := pingConfig(cs.url, 100, 400*time.Millisecond)
	cfg.MaxInFlight = 4
	r := mustRunner(t, cfg, WithJourney(pingJourney()))
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// 40 come due; 4 run at a time for at least 150ms each, so about 12
	// start, and however late the scheduler runs, no more than 4 per 150ms.
	if res.Scheduled != 40 || res.Started+res.Dropped != 40 {
		t.Fatalf("scheduled %d, started %d + dropped %d; want 40 in all", res.Scheduled, res.Started, res.Dropped)
	}
	if most := 4 * (1 + int64(res.Duration/(150*time.Millisecond))); res.Started < 4 || res.Started > most {
		t.Errorf("started %d, dropped %d in %s; want 4 to %d started", res.Started, res.Dropped, res.Duration, most)
	}
	if p := cs.peak.Load(); p > 4 {
		t.Errorf("the server saw %d requests at once with max_in_flight 4", p)
	}
	if cs.requests.Load() != res.Started {
		t.Errorf("the server saw %d requests for %d started iterations: dropped iterations must not be queued", cs.requests.Load(), res.Started)
	}
	if res.Total.Dropped != res.Dropped || res.Total.Journeys["ping"].Dropped != res.Dropped || res.Total.Iterations != res.Started {
		t.Errorf("stats: dropped %d (ping %d), iterations %d; result says dropped %d started %d",
			res.Total.Dropped, res.Total.Journeys["ping"].Dropped, res.Total.Iterations, res.Dropped, res.Started)
	}
}

func TestLatencyIncludesQueueingBehindAStalledServer(t *testing.T) {
	// The server handles one request at a time and the first one stalls for
	// 300ms: requests sent on schedule behind it wait their turn, and their
	// latency must show that wait.
	var mu sync.Mutex
	cs := newCountingServer(t, func(n int64) {
		mu.Lock()
		defer mu.Unlock()
		if n == 1 {
			time.Sleep(300 * time.Millisecond)
		}
	})
	var log iterationLog
	r := mustRunner(t, pingConfig(cs.url, 100, 300*time.Millisecond), WithJourney(pingJourney()), WithIterationHook(log.hook))
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	its := log.sorted()
	if len(its) != 30 {
		t.Fatalf("%d iterations, want 30", len(its))
	}
	for _, it := range its {
		offset := it.Scheduled.Sub(res.Start)
		// Everything sent before the stall ends finishes at about 300ms.
		if want := 300*time.Millisecond - offset - 25*time.Millisecond; offset < 250*time.Millisecond && it.Latency < want {
			t.Errorf("iteration at +%s: latency %s, want at least %s", offset, it.Latency, want)
		}
	}
	ping := res.Total.Journeys["ping"]
	if ping.P50 < 100*time.Millisecond || ping.Max < 280*time.Millisecond {
		t.Errorf("journey p50 %s, max %s: the queueing is missing", ping.P50, ping.Max)
	}
	if ep := res.Total.Endpoints[EndpointListProducts]; ep.P50 < 100*time.Millisecond {
		t.Errorf("endpoint p50 %s: the queueing is missing", ep.P50)
	}
}

// pausingClock freezes the scheduler once, as a GC pause or a starved
// process would: the first sleep that reaches pauseAt only returns at
// resumeAt.
type pausingClock struct {
	realClock
	pauseAt, resumeAt time.Duration
	mu                sync.Mutex
	start             time.Time
	paused            bool
}

func (c *pausingClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	if c.start.IsZero() {
		c.start = t // the first due time is the run's start
	}
	pause := !c.paused && t.Sub(c.start) >= c.pauseAt
	if pause {
		c.paused = true
	}
	c.mu.Unlock()
	if pause {
		if err := c.realClock.SleepUntil(ctx, c.start.Add(c.resumeAt)); err != nil {
			return err
		}
	}
	return c.realClock.SleepUntil(ctx, t)
}

func TestLatencyIsMeasuredFromTheIntendedStart(t *testing.T) {
	cs := newCountingServer(t, nil)
	clk := &pausingClock{realClock: realClock{now: time.Now}, pauseAt: 200 * time.Millisecond, resumeAt: 500 * time.Millisecond}
	var log iterationLog
	r := mustRunner(t, pingConfig(cs.url, 100, 700*time.Millisecond), WithJourney(pingJourney()), WithIterationHook(log.hook), WithClock(clk))
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	its := log.sorted()
	if len(its) != 70 {
		t.Fatalf("%d iterations, want 70: iterations due during the pause must start late, not vanish", len(its))
	}
	for _, it := range its {
		// An iteration due during the pause cannot start before it ends:
		// the delay must be part of its latency.
		offset := it.Scheduled.Sub(res.Start)
		if want := 500*time.Millisecond - offset - 5*time.Millisecond; offset >= 200*time.Millisecond && offset < 450*time.Millisecond && it.Latency < want {
			t.Errorf("iteration due at +%s: latency %s, want at least %s", offset, it.Latency, want)
		}
	}
	if p := res.Total.Endpoints[EndpointListProducts].Max; p < 280*time.Millisecond {
		t.Errorf("endpoint max %s: the scheduling delay is missing", p)
	}
}

func TestSnapshotDuringTheRun(t *testing.T) {
	// Every 4th request fails with a 500.
	var served, failed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1)%4 == 0 {
			failed.Add(1)
			writeErr(w, 500, "internal")
			return
		}
		writeJSON(w, 200, map[string]any{"items": []any{}, "next_cursor": ""})
	}))
	t.Cleanup(srv.Close)
	r := mustRunner(t, pingConfig(srv.URL, 200, 1500*time.Millisecond), WithJourney(pingJourney()))
	if st := r.Snapshot(); st.Requests != 0 || st.Throughput != 0 {
		t.Fatalf("snapshot before the run: %+v", st)
	}
	type runOut struct {
		res *Result
		err error
	}
	done := make(chan runOut, 1)
	t0 := time.Now()
	go func() {
		res, err := r.Run(t.Context())
		done <- runOut{res, err}
	}()

	var st Stats
	var before, after time.Duration
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for st.Requests < 100 {
		select {
		case <-deadline:
			t.Fatalf("no progress in the snapshot: %+v", st)
		case out := <-done:
			t.Fatalf("the run ended (%v) before the snapshot saw 100 requests: %+v", out.err, st)
		case <-tick.C:
			before = time.Since(t0)
			st = r.Snapshot()
			after = time.Since(t0)
		}
	}
	// The window (10s) holds the whole run so far: its rate is the
	// requests seen over the time elapsed.
	if secs := time.Duration(st.Seconds * float64(time.Second)); secs > after || secs < before-50*time.Millisecond {
		t.Errorf("snapshot covers %s, taken between %s and %s into the run", secs, before, after)
	}
	if want := float64(st.Requests) / st.Seconds; math.Abs(st.Throughput-want) > 1e-9 || st.Throughput <= 0 {
		t.Errorf("live throughput %.1f/s, want %d requests / %.3fs", st.Throughput, st.Requests, st.Seconds)
	}
	if st.ErrorRate < 0.15 || st.ErrorRate > 0.35 || st.Status5xx != st.Errors {
		t.Errorf("live error rate %.2f (%d 5xx of %d errors), want about 0.25, all 5xx", st.ErrorRate, st.Status5xx, st.Errors)
	}
	if st.Endpoints[EndpointListProducts].Requests != st.Requests || st.P95 <= 0 || st.InFlight < 0 {
		t.Errorf("live snapshot: %+v", st)
	}
	out := <-done
	if out.err != nil {
		t.Fatal(out.err)
	}
	tot := out.res.Total
	if out.res.Started+out.res.Dropped != 300 || tot.Requests != served.Load() || tot.Errors != failed.Load() || tot.Failures != failed.Load() || tot.Status5xx != failed.Load() {
		t.Errorf("final: %d requests, %d errors, %d failed iterations; the server answered %d with %d 500s", tot.Requests, tot.Errors, tot.Failures, served.Load(), failed.Load())
	}
	// After the run, the snapshot covers its last seconds and nothing runs.
	if after := r.Snapshot(); after.InFlight != 0 || after.Requests == 0 {
		t.Errorf("snapshot after the run: %+v", after)
	}
}

func TestRunStopsWhenTheContextEnds(t *testing.T) {
	cs := newCountingServer(t, func(int64) { time.Sleep(50 * time.Millisecond) })
	r := mustRunner(t, pingConfig(cs.url, 50, time.Minute), WithJourney(pingJourney()))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	res, err := r.Run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the context's error", err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Errorf("Run returned %s after the context ended", d)
	}
	if res == nil || res.Scheduled < 5 || float64(res.Scheduled) > 50*res.Duration.Seconds()+1 || res.Total.Errors != 0 {
		t.Fatalf("partial result: %+v", res)
	}
	if _, err := r.Run(t.Context()); err == nil {
		t.Error("a second Run was accepted")
	}
}

func TestWindowOfARunSplitsItsPhases(t *testing.T) {
	// 2 seconds at 100/s; the server answers the first 100 requests at once
	// and the next 100 after 40ms. The 101st iteration is due at 1s, so no
	// slow request can finish in the first second, and at least half of
	// what finishes later is slow, however busy the machine is.
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 100 {
			time.Sleep(40 * time.Millisecond)
		}
		writeJSON(w, 200, map[string]any{"items": []any{}, "next_cursor": ""})
	}))
	t.Cleanup(srv.Close)
	r := mustRunner(t, pingConfig(srv.URL, 100, 2*time.Second), WithJourney(pingJourney()))
	res, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first, rest := res.Window(0, time.Second), res.Window(time.Second, res.Duration)
	if res.Total.Requests != 200 || first.Requests+rest.Requests != 200 || first.Requests > 100 {
		t.Fatalf("phases hold %d + %d requests of %d", first.Requests, rest.Requests, res.Total.Requests)
	}
	if e1, e2 := first.Endpoints[EndpointListProducts], rest.Endpoints[EndpointListProducts]; e1.Requests+e2.Requests != 200 || first.Iterations+rest.Iterations != 200 {
		t.Errorf("endpoint %d + %d requests, %d + %d iterations", e1.Requests, e2.Requests, first.Iterations, rest.Iterations)
	}
	if rest.P95 < 40*time.Millisecond || rest.Journeys["ping"].P95 < 40*time.Millisecond {
		t.Errorf("p95 %s (journey %s) in the slow phase, want at least 40ms", rest.P95, rest.Journeys["ping"].P95)
	}
	var sum int64
	for _, s := range res.Series() {
		sum += s.Requests
	}
	if sum != 200 {
		t.Errorf("the series counts %d requests, want 200", sum)
	}
}
