package load

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoplab/shoplab/sim/shopclient"
)

// Runner runs one load: Prepare, then Run once, then Settle. Snapshot and
// Window may be called at any time, from any goroutine.
type Runner struct {
	cfg      Config
	clock    Clock
	hc       *http.Client
	ownHC    bool
	client   *shopclient.Client
	journeys map[string]Journey
	picker   picker
	rec      *recorder
	ledger   ledger
	seed     uint64

	customers []*customer
	catalog   Catalog

	liveWindow     int // seconds
	settle         SettlePolicy
	prepareWorkers int
	catalogPages   int
	onIteration    func(Iteration)

	inFlight atomic.Int64
	// aborted is the run context's Err: once it ends, failures are the
	// abort's, not the system's. Set before the first iteration starts.
	aborted   func() error
	keyPrefix string // makes idempotency keys unique to the run
	sessions  sync.Pool

	mu       sync.Mutex
	state    int
	settling sync.Mutex // one Settle at a time: two would retry the same keys
}

const (
	stateIdle = iota
	stateRunning
	stateDone
)

// Iteration describes a finished iteration, for WithIterationHook.
type Iteration struct {
	Index     int64
	Journey   string
	Scheduled time.Time     // the intended start
	Latency   time.Duration // from Scheduled to the end
	Failed    bool
	Err       error // what the journey returned
}

// Result is a finished run: its totals and the per-second series any time
// range can be aggregated from.
type Result struct {
	Start     time.Time     // the schedule's origin
	Duration  time.Duration // from Start until the last iteration ended
	Scheduled int64         // iterations that came due
	Started   int64
	Dropped   int64 // due while max_in_flight iterations were running
	Total     Stats // the whole run
	rec       *recorder
}

// Window aggregates the part of the run between from and to, offsets from
// Start (a phase of a scenario, say). The range is widened to whole
// seconds, the resolution of the stored series.
func (res *Result) Window(from, to time.Duration) Stats { return res.rec.windows(Range{from, to}) }

// Windows aggregates several ranges as one (a phase that comes back after
// each fault, say); a second the ranges share counts once.
func (res *Result) Windows(rs ...Range) Stats { return res.rec.windows(rs...) }

// Series returns the run second by second.
func (res *Result) Series() []SecondStats { return res.rec.series() }

// New checks cfg and returns a runner. It sends nothing yet.
func New(cfg Config, opts ...Option) (*Runner, error) {
	o := options{liveWindow: 10 * time.Second, prepareWorkers: 4, catalogPages: 50}
	for _, opt := range opts {
		opt(&o)
	}
	known := map[string]Journey{}
	for _, j := range append(BuiltinJourneys(), o.journeys...) {
		if j == nil || j.Name() == "" {
			return nil, errors.New("load: a journey without a name")
		}
		known[j.Name()] = j
	}
	cfg = cfg.withDefaults()
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/") // shopclient appends "/api/..."
	if err := cfg.validate(known); err != nil {
		return nil, fmt.Errorf("load: invalid config: %w", err)
	}
	if o.liveWindow < time.Second || o.prepareWorkers < 1 || o.catalogPages < 1 {
		return nil, errors.New("load: live window must be >= 1s, prepare concurrency and catalog pages >= 1")
	}
	r := &Runner{
		cfg:            cfg,
		clock:          o.clock,
		hc:             o.hc,
		journeys:       known,
		picker:         newPicker(cfg.Journeys, known),
		seed:           uint64(cfg.Seed),
		liveWindow:     int(o.liveWindow / time.Second),
		settle:         o.settle.orDefault(),
		prepareWorkers: o.prepareWorkers,
		catalogPages:   o.catalogPages,
		onIteration:    o.onIteration,
	}
	if r.clock == nil {
		now := cfg.Now
		if now == nil {
			now = time.Now
		}
		r.clock = realClock{now: now}
	}
	if r.hc == nil {
		r.hc, r.ownHC = newHTTPClient(cfg, r.settle.Concurrency), true
	}
	r.client = shopclient.New(cfg.BaseURL, r.hc)
	r.rec = newRecorder(r.clock.Now)
	r.aborted = func() error { return nil } // Run replaces it with its context's
	r.sessions.New = func() any {
		s := &Session{}
		s.Rand = rand.New(&s.pcg)
		return s
	}
	return r, nil
}

// newHTTPClient tunes one client for many short requests to one host: an
// idle pool as large as the concurrency (the default of 2 idle connections
// per host would churn through thousands of TCP connections a second), no
// proxy lookup, no gzip (loopback gains nothing and decompression costs
// CPU), and timeouts on every phase.
func newHTTPClient(cfg Config, extra int) *http.Client {
	conns := cfg.MaxInFlight + extra
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: min(cfg.RequestTimeout, 5*time.Second), KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.RequestTimeout,
		DisableCompression:    true,
		ReadBufferSize:        16 << 10,
		WriteBufferSize:       4 << 10,
	}
	return &http.Client{Transport: tr, Timeout: cfg.RequestTimeout}
}

// Close releases the idle connections of the runner's own HTTP client.
func (r *Runner) Close() error {
	if r.ownHC {
		r.hc.CloseIdleConnections()
	}
	return nil
}

// Prepare registers and logs in the customers (at most
// WithPrepareConcurrency at once) and loads the catalog snapshot. Accounts
// are named after the seed, so a rerun with the same seed against the same
// platform logs the existing accounts in instead of failing on 409.
func (r *Runner) Prepare(ctx context.Context) error {
	r.mu.Lock()
	st := r.state
	r.mu.Unlock()
	if st != stateIdle {
		return errors.New("load: Prepare after Run")
	}
	customers := make([]*customer, r.cfg.Customers)
	for i := range customers {
		customers[i] = &customer{
			email:    fmt.Sprintf("load-%x-%d@shoplab.test", r.seed, i),
			password: fmt.Sprintf("load-%x-secret", r.seed),
		}
	}
	errs := make([]error, len(customers))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(r.prepareWorkers, len(customers)) {
		wg.Go(func() {
			for i := range work {
				errs[i] = r.enrol(ctx, customers[i], i)
			}
		})
	}
feed:
	for i := range customers {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("load: prepare customers: %w", err)
	}

	var products []shopclient.Product
	cursor := ""
	for range r.catalogPages {
		p, err := r.client.ListProducts(ctx, "", "", 100, cursor)
		if err != nil {
			return fmt.Errorf("load: load the catalog: %w", err)
		}
		products = append(products, p.Items...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != stateIdle {
		return errors.New("load: Prepare after Run")
	}
	r.customers, r.catalog = customers, newCatalog(products)
	return nil
}

func (r *Runner) enrol(ctx context.Context, c *customer, i int) error {
	_, err := r.client.Register(ctx, c.email, c.password, fmt.Sprintf("Load Customer %d", i))
	if err != nil && StatusOf(err) != http.StatusConflict {
		return fmt.Errorf("register %s: %w", c.email, err)
	}
	if _, err := r.customerToken(ctx, c, nil); err != nil {
		return fmt.Errorf("log in %s: %w", c.email, err)
	}
	return nil
}

// Run drives the schedule: every iteration starts at its intended time on
// a goroutine of its own (an idle worker, or a new one), unless MaxInFlight
// iterations are running, in which case it is dropped. Run returns when the schedule has ended and the
// running iterations have finished, or when ctx ends (with ctx's error and
// the result so far). A Runner runs once.
func (r *Runner) Run(ctx context.Context) (*Result, error) {
	r.mu.Lock()
	if r.state != stateIdle {
		r.mu.Unlock()
		return nil, errors.New("load: Run called twice")
	}
	r.state = stateRunning
	r.mu.Unlock()

	start := r.clock.Now()
	// The start time keeps keys unique across runs that reuse the seed's
	// accounts; under a fixed clock the keys repeat, as a replay should.
	r.keyPrefix = "ld-" + strconv.FormatUint(r.seed, 36) + "-" + strconv.FormatInt(start.UnixNano(), 36) + "-"
	r.rec.begin(start)
	r.aborted = ctx.Err

	// The journey sequence has its own stream, drawn for dropped iterations
	// too, so iteration i runs the same journey whatever got dropped.
	pick := rand.New(rand.NewPCG(r.seed^0x9e3779b97f4a7c15, 0))
	sched := newSchedule(r.cfg)
	limit := int64(r.cfg.MaxInFlight)
	var (
		wg                 sync.WaitGroup
		scheduled, dropped int64
	)
	idle := make(chan job) // workers between iterations wait here
	for {
		off, ok := sched.next()
		if !ok {
			break
		}
		due := start.Add(off)
		if r.clock.SleepUntil(ctx, due) != nil {
			break
		}
		j := r.picker.pick(pick)
		idx := scheduled
		scheduled++
		if r.inFlight.Load() >= limit {
			dropped++
			r.rec.drop(j.Name(), due)
			continue
		}
		r.inFlight.Add(1)
		jb := job{journey: j, index: idx, due: due}
		select {
		case idle <- jb:
		default:
			wg.Add(1)
			go r.worker(ctx, &wg, idle, jb)
		}
	}
	close(idle)
	wg.Wait()
	end := r.clock.Now()
	r.rec.finish(end)
	r.mu.Lock()
	r.state = stateDone
	r.mu.Unlock()

	res := &Result{Start: start, Duration: end.Sub(start), Scheduled: scheduled, Started: scheduled - dropped, Dropped: dropped, rec: r.rec}
	res.Total = res.Window(0, res.Duration)
	return res, ctx.Err()
}

// job is one iteration handed to a worker.
type job struct {
	journey Journey
	index   int64
	due     time.Time
}

// worker runs jb, then the iterations handed to it while it waits idle,
// until the schedule ends. Reusing goroutines spares each iteration a new
// stack grown again for JSON decoding, a few percent of the CPU at
// thousands of iterations a second; the executor starts a new worker when
// none is idle, so reuse never delays an iteration.
func (r *Runner) worker(ctx context.Context, wg *sync.WaitGroup, idle <-chan job, jb job) {
	defer wg.Done()
	for ok := true; ok; jb, ok = <-idle {
		r.iterate(ctx, jb.journey, jb.index, jb.due)
	}
}

func (r *Runner) iterate(ctx context.Context, j Journey, idx int64, due time.Time) {
	s := r.sessions.Get().(*Session)
	s.pcg.Seed(r.seed, splitmix64(uint64(idx)))
	s.r, s.journey, s.index, s.intended, s.mark = r, j.Name(), idx, due, due
	s.failed, s.cust, s.orders = false, nil, 0

	err := j.Run(ctx, s)
	end := r.clock.Now()
	r.inFlight.Add(-1)
	if r.aborted() == nil {
		failed := s.failed || err != nil
		r.rec.iteration(s.journey, end.Sub(due), failed, end)
		if r.onIteration != nil {
			r.onIteration(Iteration{Index: idx, Journey: s.journey, Scheduled: due, Latency: end.Sub(due), Failed: failed, Err: err})
		}
	}
	s.r, s.cust = nil, nil
	r.sessions.Put(s)
}

// splitmix64 spreads consecutive iteration indexes over the PCG's state
// space, so neighbouring iterations do not draw correlated numbers.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (r *Runner) orderKey(iter int64, n int) string {
	return r.keyPrefix + strconv.FormatInt(iter, 36) + "-" + strconv.Itoa(n)
}

// Snapshot aggregates the last seconds of the run (10 by default, see
// WithLiveWindow), the current partial second included: the live view for
// progress and abort rules. InFlight is the number of running iterations.
func (r *Runner) Snapshot() Stats {
	st := r.rec.recent(r.liveWindow)
	st.InFlight = r.inFlight.Load()
	return st
}

// Window aggregates [from, to) of the run so far; see Result.Window.
func (r *Runner) Window(from, to time.Duration) Stats { return r.rec.windows(Range{from, to}) }

// Catalog returns the snapshot Prepare loaded.
func (r *Runner) Catalog() *Catalog { return &r.catalog }
