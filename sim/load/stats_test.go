package load

import (
	"math"
	"sync"
	"testing"
	"time"
)

// manualClock is a time source the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func near(got, want time.Duration) bool {
	// HDR with 3 significant digits keeps values within 0.1%.
	return math.Abs(float64(got-want)) <= 0.002*float64(want)+float64(time.Microsecond)
}

// fillSeconds records, in each of 5 seconds, 100*(s+1) requests to one
// endpoint with latencies of 1..100 ms scaled by s+1, a few of them errors,
// and iterations and drops of two journeys.
func fillSeconds(t *testing.T) (*recorder, *manualClock, time.Time) {
	t.Helper()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &manualClock{t: t0}
	rec := newRecorder(clk.Now)
	rec.begin(t0)
	for s := range 5 {
		base := t0.Add(time.Duration(s) * time.Second)
		for i := range 100 * (s + 1) {
			at := base.Add(time.Duration(i) * time.Millisecond)
			clk.set(at)
			lat := time.Duration((i%100)+1) * time.Millisecond * time.Duration(s+1)
			k := reqOK
			if i%10 == 0 {
				k = req5xx
			}
			rec.request(EndpointGetProduct, lat, k, at)
			if i%2 == 0 {
				rec.request(EndpointListProducts, time.Millisecond, reqOK, at)
			}
			if i%4 == 0 {
				rec.iteration(JourneyBrowse, lat, k != reqOK, at)
			}
		}
		rec.drop(JourneySearch, base.Add(999*time.Millisecond))
	}
	return rec, clk, t0
}

func TestWindowAggregatesExactlyTheSecondsInRange(t *testing.T) {
	rec, clk, t0 := fillSeconds(t)
	clk.set(t0.Add(5 * time.Second))
	rec.finish(t0.Add(5 * time.Second))

	// Seconds 1 and 2: 200 + 300 product requests, 100 + 150 list requests.
	st := rec.windows(Range{time.Second, 3 * time.Second})
	if st.From != time.Second || st.To != 3*time.Second || st.Seconds != 2 {
		t.Fatalf("range %s..%s covering %vs, want 1s..3s covering 2s", st.From, st.To, st.Seconds)
	}
	ep := st.Endpoints[EndpointGetProduct]
	if ep.Requests != 500 || ep.Errors != 50 || ep.Status5xx != 50 {
		t.Errorf("product endpoint: %+v, want 500 requests, 50 5xx errors", ep)
	}
	if st.Requests != 750 || st.Errors != 50 || st.ErrorRate != 50.0/750 {
		t.Errorf("overall: %d requests, %d errors, rate %v; want 750, 50, %v", st.Requests, st.Errors, st.ErrorRate, 50.0/750)
	}
	if st.Throughput != 375 || ep.Throughput != 250 {
		t.Errorf("throughput %v overall, %v product; want 375 and 250", st.Throughput, ep.Throughput)
	}
	if j := st.Journeys[JourneyBrowse]; j.Iterations != 125 || j.Failures != 25 {
		t.Errorf("browse: %+v, want 125 iterations, 25 failures (every 20th request)", j)
	}
	if st.Dropped != 2 || st.Journeys[JourneySearch].Dropped != 2 {
		t.Errorf("dropped %d (search %d), want 2", st.Dropped, st.Journeys[JourneySearch].Dropped)
	}
	// The product latencies of seconds 1 and 2: 2..200ms step 2 (200
	// samples) and 3..300ms step 3 (300 samples). Their merged median is
	// the 250th of 500 samples: 150ms in the 3ms series, by counting.
	var all []time.Duration
	for i := range 200 {
		all = append(all, time.Duration((i%100)+1)*2*time.Millisecond)
	}
	for i := range 300 {
		all = append(all, time.Duration((i%100)+1)*3*time.Millisecond)
	}
	wantP50, wantP99 := exactPercentile(all, 50), exactPercentile(all, 99)
	if !near(ep.P50, wantP50) || !near(ep.P99, wantP99) || !near(ep.Max, 300*time.Millisecond) {
		t.Errorf("product latency p50 %s p99 %s max %s, want %s, %s, 300ms", ep.P50, ep.P99, ep.Max, wantP50, wantP99)
	}

	// A range inside a second widens to the whole second.
	if st := rec.windows(Range{4200 * time.Millisecond, 4300 * time.Millisecond}); st.Endpoints[EndpointGetProduct].Requests != 500 {
		t.Errorf("window in second 4: %d product requests, want 500", st.Endpoints[EndpointGetProduct].Requests)
	}
	// The whole run is the sum of its seconds; past the end there is nothing.
	whole := rec.windows(Range{0, time.Hour})
	if whole.Endpoints[EndpointGetProduct].Requests != 1500 || whole.Seconds != 5 || whole.Dropped != 5 {
		t.Errorf("whole run: %d product requests over %vs, %d dropped; want 1500 over 5s, 5", whole.Endpoints[EndpointGetProduct].Requests, whole.Seconds, whole.Dropped)
	}
	if st := rec.windows(Range{6 * time.Second, 9 * time.Second}); st.Requests != 0 || st.Throughput != 0 {
		t.Errorf("after the end: %+v", st)
	}
	if st := rec.windows(Range{3 * time.Second, time.Second}); st.Requests != 0 {
		t.Errorf("reversed range counted %d requests", st.Requests)
	}
}

func TestWindowsAggregateSeveralRangesOnce(t *testing.T) {
	rec, clk, t0 := fillSeconds(t)
	clk.set(t0.Add(5 * time.Second))
	rec.finish(t0.Add(5 * time.Second))
	// Seconds 0 and 2: 100 + 300 product requests over 2s.
	st := rec.windows(Range{0, time.Second}, Range{2 * time.Second, 3 * time.Second})
	if st.Endpoints[EndpointGetProduct].Requests != 400 || st.Seconds != 2 || st.From != 0 || st.To != 3*time.Second || st.Dropped != 2 {
		t.Errorf("seconds 0 and 2: %d product requests over %vs (%s..%s), %d dropped; want 400 over 2s",
			st.Endpoints[EndpointGetProduct].Requests, st.Seconds, st.From, st.To, st.Dropped)
	}
	// Overlapping ranges count each second once, in any order.
	a := rec.windows(Range{time.Second, 3 * time.Second}, Range{0, 2 * time.Second})
	b := rec.windows(Range{0, 3 * time.Second})
	if a.Requests != b.Requests || a.Seconds != b.Seconds || a.P99 != b.P99 || a.Requests != 900 {
		t.Errorf("overlapping ranges: %d requests over %vs, p99 %s; one range: %d over %vs, p99 %s",
			a.Requests, a.Seconds, a.P99, b.Requests, b.Seconds, b.P99)
	}
	if st := rec.windows(); st.Requests != 0 || st.Seconds != 0 {
		t.Errorf("no range: %+v", st)
	}
}

func exactPercentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	idx := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(idx, 0)]
}

func TestSeriesHasOneEntryPerSecond(t *testing.T) {
	rec, clk, t0 := fillSeconds(t)
	clk.set(t0.Add(4500 * time.Millisecond))
	// While running, the live second is part of the series.
	live := rec.series()
	if len(live) != 5 || live[4].Requests != 750 {
		t.Fatalf("live series: %d seconds, last with %d requests; want 5, 750", len(live), live[len(live)-1].Requests)
	}
	rec.finish(t0.Add(5 * time.Second))
	ser := rec.series()
	if len(ser) != 5 {
		t.Fatalf("%d seconds, want 5", len(ser))
	}
	for s, ss := range ser {
		n := int64(100 * (s + 1))
		if ss.At != time.Duration(s)*time.Second || ss.Requests != n+n/2 || ss.Errors != n/10 || ss.Dropped != 1 || ss.Iterations != n/4 {
			t.Errorf("second %d: %+v", s, ss)
		}
		// The product latencies dominate: 1..100ms times s+1, with half as
		// many 1ms list requests mixed in.
		if ss.P99 != ss.Max && !near(ss.P99, time.Duration(99*(s+1))*time.Millisecond) {
			t.Errorf("second %d: p99 %s", s, ss.P99)
		}
		if b := ss.Journeys[JourneyBrowse]; b.Iterations != n/4 || b.Failures != n/20 {
			t.Errorf("second %d browse: %+v", s, b)
		}
	}
}

func TestRecentCoversTheLastSeconds(t *testing.T) {
	rec, clk, t0 := fillSeconds(t)
	// Half way through second 4: the last 2 seconds are second 3 (400
	// product requests) and the half of second 4 recorded so far (500).
	clk.set(t0.Add(4500 * time.Millisecond))
	st := rec.recent(2)
	if st.Endpoints[EndpointGetProduct].Requests != 900 || st.Seconds != 1.5 {
		t.Fatalf("last 2s: %d product requests over %vs, want 900 over 1.5s", st.Endpoints[EndpointGetProduct].Requests, st.Seconds)
	}
	if want := float64(900+450) / 1.5; st.Throughput != want {
		t.Errorf("throughput %v, want %v", st.Throughput, want)
	}
	// Samples before begin (Prepare's) are not recorded.
	fresh := newRecorder(clk.Now)
	fresh.request(EndpointLogin, time.Millisecond, reqOK, clk.Now())
	if st := fresh.recent(10); st.Requests != 0 {
		t.Errorf("a sample before begin was recorded: %+v", st)
	}
}

func TestLatencyIsClampedToTheHistogramRange(t *testing.T) {
	t0 := time.Unix(0, 0)
	rec := newRecorder(func() time.Time { return t0 })
	rec.begin(t0)
	rec.request("x", 2*time.Minute, reqTimeout, t0)
	rec.request("x", 0, reqOK, t0)
	st := rec.windows(Range{0, time.Second})
	if st.Requests != 2 || st.Timeouts != 1 || !near(st.Max, 60*time.Second) {
		t.Errorf("%d requests, %d timeouts, max %s; want 2, 1, 60s", st.Requests, st.Timeouts, st.Max)
	}
}
