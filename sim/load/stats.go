package load

import (
	"math"
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: microseconds from 1µs to 60s at 3 significant
// digits, so a 1.234ms and a 1.235ms answer stay apart while a minute-long
// stall still fits.
const (
	histLowest  = 1
	histHighest = int64(60 * time.Second / time.Microsecond)
	histDigits  = 3
)

// Latency holds percentiles of a latency distribution. In JSON the values
// are nanoseconds, as time.Duration encodes.
type Latency struct {
	P50 time.Duration `json:"p50"`
	P95 time.Duration `json:"p95"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Stats aggregates a time range of a run. Requests are the HTTP requests
// the journeys made; a request is an error when it timed out, failed in
// transport, got a 5xx, or got a 4xx its journey did not expect (a 402 in
// declined_checkout, a 409 when racing for stock, or a 401 that makes the
// client log in again are expected; any other 4xx means the simulator or the
// API is wrong, and hiding it would hide that). Requests cut short because
// the run itself was cancelled are not counted at all.
//
// Latency is request latency measured from the request's intended start:
// for the first request of an iteration the iteration's scheduled time, for
// later ones the end of the previous request. Journeys' latency is the
// whole iteration from its scheduled time.
type Stats struct {
	From    time.Duration `json:"from"`    // start of the range, offset from the run start
	To      time.Duration `json:"to"`      // end of the range
	Seconds float64       `json:"seconds"` // run time the range covers

	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	ErrorRate  float64 `json:"error_rate"` // Errors / Requests
	Throughput float64 `json:"throughput"` // requests per second
	Iterations int64   `json:"iterations"` // iterations that finished in the range
	Failures   int64   `json:"failures"`   // iterations that failed
	Dropped    int64   `json:"dropped"`    // iterations dropped at max_in_flight

	Timeouts        int64 `json:"timeouts"`
	TransportErrors int64 `json:"transport_errors"`
	Status5xx       int64 `json:"status_5xx"`
	Unexpected4xx   int64 `json:"unexpected_4xx"`

	Latency // of every request

	// InFlight is the number of iterations running now; only Snapshot sets it.
	InFlight int64 `json:"in_flight,omitempty"`

	Journeys  map[string]JourneyStats  `json:"journeys"`
	Endpoints map[string]EndpointStats `json:"endpoints"`
}

// JourneyStats aggregates one journey's iterations.
type JourneyStats struct {
	Iterations int64 `json:"iterations"`
	Failures   int64 `json:"failures"`
	Dropped    int64 `json:"dropped"`
	Latency          // of whole iterations, from their scheduled start
}

// EndpointStats aggregates the requests to one route template, such as
// "GET /api/v1/products/{id}".
type EndpointStats struct {
	Requests        int64   `json:"requests"`
	Errors          int64   `json:"errors"`
	ErrorRate       float64 `json:"error_rate"`
	Throughput      float64 `json:"throughput"`
	Timeouts        int64   `json:"timeouts"`
	TransportErrors int64   `json:"transport_errors"`
	Status5xx       int64   `json:"status_5xx"`
	Unexpected4xx   int64   `json:"unexpected_4xx"`
	Latency
}

// SecondStats is one second of a run's time series.
type SecondStats struct {
	At         time.Duration           `json:"at"` // offset of the second from the run start
	Requests   int64                   `json:"requests"`
	Errors     int64                   `json:"errors"`
	Iterations int64                   `json:"iterations"`
	Dropped    int64                   `json:"dropped"`
	Latency                            // of every request that finished in this second
	Journeys   map[string]JourneyStats `json:"journeys"`
}

// reqKind is how the stats count one request.
type reqKind uint8

const (
	reqOK reqKind = iota // 2xx, or a 4xx the journey expected
	reqUnexpected4xx
	req5xx
	reqTimeout
	reqTransport
)

// tally counts one key's events during some time: requests for endpoints and
// the overall cell, iterations for journeys.
type tally struct {
	count, errors, dropped                    int64
	timeouts, transport, status5xx, status4xx int64
}

func (t *tally) add(o *tally) {
	t.count += o.count
	t.errors += o.errors
	t.dropped += o.dropped
	t.timeouts += o.timeouts
	t.transport += o.transport
	t.status5xx += o.status5xx
	t.status4xx += o.status4xx
}

func (t *tally) countRequest(k reqKind) {
	t.count++
	switch k {
	case reqOK:
		return
	case reqUnexpected4xx:
		t.status4xx++
	case req5xx:
		t.status5xx++
	case reqTimeout:
		t.timeouts++
	case reqTransport:
		t.transport++
	}
	t.errors++
}

// liveCell records the current second into a dense histogram: recording is
// an index computation and an increment, which the hot path needs.
type liveCell struct {
	tally
	h *hdr.Histogram
}

// packedCell is a finished second: its histogram keeps only the populated
// buckets, a few KB instead of the dense ~140KB, so a long run can keep
// every second of every key.
type packedCell struct {
	tally
	h *hdr.PackedHistogram // nil when nothing was recorded
}

type second struct {
	overall   packedCell
	journeys  map[string]*packedCell
	endpoints map[string]*packedCell
}

// recorder owns a run's measurements. One mutex guards everything: it is
// taken a few thousand times a second for a few hundred nanoseconds, far
// from contended, and it keeps rollover and queries trivially consistent.
type recorder struct {
	mu      sync.Mutex
	now     func() time.Time
	running bool
	start   time.Time
	end     time.Duration // set by finish; the run is over when ended
	ended   bool
	cur     int // index of the live second
	past    []second

	overall   liveCell
	journeys  map[string]*liveCell
	endpoints map[string]*liveCell

	scratch map[string]*scratchHist // dense merge buffers, reused by queries
	gen     uint64
}

type scratchHist struct {
	h   *hdr.Histogram
	gen uint64
}

func newRecorder(now func() time.Time) *recorder {
	return &recorder{
		now:       now,
		overall:   liveCell{h: newHist()},
		journeys:  map[string]*liveCell{},
		endpoints: map[string]*liveCell{},
		scratch:   map[string]*scratchHist{},
	}
}

func newHist() *hdr.Histogram { return hdr.New(histLowest, histHighest, histDigits) }

// begin sets the origin of the time series; samples before it are ignored.
func (r *recorder) begin(start time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.start, r.running = start, true
}

// finish closes the run at t: later queries cover no time past it.
func (r *recorder) finish(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.advance(t)
	r.end, r.ended = max(t.Sub(r.start), 0), true
}

func micros(d time.Duration) int64 {
	return min(max(int64(d/time.Microsecond), histLowest), histHighest)
}

// request records one request to endpoint that finished at `at`.
func (r *recorder) request(endpoint string, lat time.Duration, k reqKind, at time.Time) {
	v := micros(lat)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return
	}
	r.advance(at)
	r.overall.countRequest(k)
	_ = r.overall.h.RecordValue(v)
	c := cellOf(r.endpoints, endpoint)
	c.countRequest(k)
	_ = c.h.RecordValue(v)
}

// iteration records one journey iteration that finished at `at`.
func (r *recorder) iteration(journey string, lat time.Duration, failed bool, at time.Time) {
	v := micros(lat)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return
	}
	r.advance(at)
	c := cellOf(r.journeys, journey)
	c.count++
	if failed {
		c.errors++
	}
	_ = c.h.RecordValue(v)
}

// drop records an iteration of journey dropped at `at`.
func (r *recorder) drop(journey string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return
	}
	r.advance(at)
	cellOf(r.journeys, journey).dropped++
}

func cellOf(m map[string]*liveCell, key string) *liveCell {
	c, ok := m[key]
	if !ok {
		c = &liveCell{h: newHist()}
		m[key] = c
	}
	return c
}

// advance moves the live second up to the one holding t, packing the
// seconds it leaves. A sample computed just before a second boundary but
// recorded after it lands in the new second; the skew is microseconds.
func (r *recorder) advance(t time.Time) {
	idx := int(t.Sub(r.start) / time.Second)
	if idx <= r.cur || r.ended {
		return
	}
	r.past = append(r.past, r.pack())
	for len(r.past) < idx {
		r.past = append(r.past, second{})
	}
	r.cur = idx
}

func (r *recorder) pack() second {
	var s second
	s.overall = packCell(&r.overall)
	for name, c := range r.journeys {
		if c.tally != (tally{}) {
			if s.journeys == nil {
				s.journeys = map[string]*packedCell{}
			}
			p := packCell(c)
			s.journeys[name] = &p
		}
	}
	for name, c := range r.endpoints {
		if c.tally != (tally{}) {
			if s.endpoints == nil {
				s.endpoints = map[string]*packedCell{}
			}
			p := packCell(c)
			s.endpoints[name] = &p
		}
	}
	return s
}

func packCell(c *liveCell) packedCell {
	p := packedCell{tally: c.tally}
	if c.h.TotalCount() > 0 {
		p.h = hdr.NewPacked(histLowest, histHighest, histDigits)
		p.h.MergeFrom(c.h)
		c.h.Reset()
	}
	c.tally = tally{}
	return p
}

// span is a half-open range of whole seconds [from, to).
type span struct{ from, to int }

// spansOf turns ranges into sorted, disjoint spans of whole seconds, each
// range widened outwards to the seconds it touches.
func spansOf(rs []Range) []span {
	var out []span
	for _, rg := range rs {
		from := int(max(rg.From, 0) / time.Second)
		to := int((max(rg.To, 0) + time.Second - 1) / time.Second)
		if to > from {
			out = append(out, span{from, to})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].from < out[j].from })
	merged := out[:0]
	for _, sp := range out {
		if n := len(merged); n > 0 && sp.from <= merged[n-1].to {
			merged[n-1].to = max(merged[n-1].to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// window aggregates the seconds of spans (sorted and disjoint). Call with
// mu held.
func (r *recorder) window(spans []span) Stats {
	var st Stats
	if len(spans) > 0 {
		st.From, st.To = time.Duration(spans[0].from)*time.Second, time.Duration(spans[len(spans)-1].to)*time.Second
	}
	if !r.running || len(spans) == 0 {
		return st
	}
	var elapsed time.Duration
	if r.ended {
		elapsed = r.end
	} else {
		now := r.now()
		r.advance(now)
		elapsed = max(now.Sub(r.start), 0)
	}
	for _, sp := range spans {
		from, to := time.Duration(sp.from)*time.Second, time.Duration(sp.to)*time.Second
		st.Seconds += (min(to, elapsed) - min(from, elapsed)).Seconds()
	}

	r.gen++
	var all tally
	allH := r.scratchFor("")
	journeys := map[string]*tally{}
	endpoints := map[string]*tally{}
	addPacked := func(m map[string]*tally, prefix, name string, c *packedCell) {
		t, ok := m[name]
		if !ok {
			t = &tally{}
			m[name] = t
		}
		t.add(&c.tally)
		if c.h != nil {
			c.h.MergeInto(r.scratchFor(prefix + name))
		}
	}
	addLive := func(m map[string]*tally, prefix, name string, c *liveCell) {
		if c.tally == (tally{}) {
			return
		}
		t, ok := m[name]
		if !ok {
			t = &tally{}
			m[name] = t
		}
		t.add(&c.tally)
		r.scratchFor(prefix + name).Merge(c.h)
	}
	for _, sp := range spans {
		for i := sp.from; i < sp.to && i < len(r.past); i++ {
			s := &r.past[i]
			all.add(&s.overall.tally)
			if s.overall.h != nil {
				s.overall.h.MergeInto(allH)
			}
			for name, c := range s.journeys {
				addPacked(journeys, "j ", name, c)
			}
			for name, c := range s.endpoints {
				addPacked(endpoints, "e ", name, c)
			}
		}
		if r.cur >= sp.from && r.cur < sp.to {
			all.add(&r.overall.tally)
			allH.Merge(r.overall.h)
			for name, c := range r.journeys {
				addLive(journeys, "j ", name, c)
			}
			for name, c := range r.endpoints {
				addLive(endpoints, "e ", name, c)
			}
		}
	}

	st.Requests, st.Errors = all.count, all.errors
	st.ErrorRate = ratio(all.errors, all.count)
	st.Throughput = rate(all.count, st.Seconds)
	st.Timeouts, st.TransportErrors, st.Status5xx, st.Unexpected4xx = all.timeouts, all.transport, all.status5xx, all.status4xx
	st.Latency = latencyOf(allH)
	st.Journeys = make(map[string]JourneyStats, len(journeys))
	for name, t := range journeys {
		st.Iterations += t.count
		st.Failures += t.errors
		st.Dropped += t.dropped
		st.Journeys[name] = JourneyStats{Iterations: t.count, Failures: t.errors, Dropped: t.dropped, Latency: latencyOf(r.scratchFor("j " + name))}
	}
	st.Endpoints = make(map[string]EndpointStats, len(endpoints))
	for name, t := range endpoints {
		st.Endpoints[name] = EndpointStats{
			Requests: t.count, Errors: t.errors, ErrorRate: ratio(t.errors, t.count), Throughput: rate(t.count, st.Seconds),
			Timeouts: t.timeouts, TransportErrors: t.transport, Status5xx: t.status5xx, Unexpected4xx: t.status4xx,
			Latency: latencyOf(r.scratchFor("e " + name)),
		}
	}
	return st
}

// scratchFor returns key's dense merge buffer, emptied once per query.
func (r *recorder) scratchFor(key string) *hdr.Histogram {
	s, ok := r.scratch[key]
	if !ok {
		s = &scratchHist{h: newHist(), gen: r.gen}
		r.scratch[key] = s
		return s.h
	}
	if s.gen != r.gen {
		s.h.Reset()
		s.gen = r.gen
	}
	return s.h
}

// Range is a stretch of a run, as offsets from its start.
type Range struct {
	From, To time.Duration
}

// windows aggregates the seconds that the ranges touch, each second once.
func (r *recorder) windows(rs ...Range) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.window(spansOf(rs))
}

// recent aggregates the last n seconds, the current partial one included.
func (r *recorder) recent(n int) Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return Stats{}
	}
	if !r.ended {
		r.advance(r.now())
	}
	last := r.cur
	if r.ended {
		// The run is over: the last second holding data is the one it ended in.
		last = int(max(r.end-1, 0) / time.Second)
	}
	return r.window([]span{{max(last-n+1, 0), last + 1}})
}

// series returns one entry per second from the start of the run to now (or
// to its end), the live second included.
func (r *recorder) series() []SecondStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.running {
		return nil
	}
	if !r.ended {
		r.advance(r.now())
	}
	out := make([]SecondStats, 0, len(r.past)+1)
	for i := range r.past {
		s := &r.past[i]
		ss := SecondStats{At: time.Duration(i) * time.Second, Requests: s.overall.count, Errors: s.overall.errors, Latency: packedLatency(s.overall.h)}
		ss.Journeys = make(map[string]JourneyStats, len(s.journeys))
		for name, c := range s.journeys {
			ss.Iterations += c.count
			ss.Dropped += c.dropped
			ss.Journeys[name] = JourneyStats{Iterations: c.count, Failures: c.errors, Dropped: c.dropped, Latency: packedLatency(c.h)}
		}
		out = append(out, ss)
	}
	if !r.ended || r.end > time.Duration(r.cur)*time.Second {
		ss := SecondStats{At: time.Duration(r.cur) * time.Second, Requests: r.overall.count, Errors: r.overall.errors, Latency: latencyOf(r.overall.h)}
		ss.Journeys = make(map[string]JourneyStats, len(r.journeys))
		for name, c := range r.journeys {
			if c.tally == (tally{}) {
				continue
			}
			ss.Iterations += c.count
			ss.Dropped += c.dropped
			ss.Journeys[name] = JourneyStats{Iterations: c.count, Failures: c.errors, Dropped: c.dropped, Latency: latencyOf(c.h)}
		}
		out = append(out, ss)
	}
	return out
}

var percentiles = []float64{50, 95, 99}

func latencyOf(h *hdr.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	v := h.ValueAtPercentilesSlice(percentiles)
	return Latency{P50: us(v[0]), P95: us(v[1]), P99: us(v[2]), Max: us(h.Max())}
}

func packedLatency(h *hdr.PackedHistogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	v := h.ValueAtPercentilesSlice(percentiles)
	return Latency{P50: us(v[0]), P95: us(v[1]), P99: us(v[2]), Max: us(h.Max())}
}

func us(v int64) time.Duration { return time.Duration(v) * time.Microsecond }

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func rate(n int64, seconds float64) float64 {
	if seconds <= 0 || math.IsNaN(seconds) {
		return 0
	}
	return float64(n) / seconds
}
