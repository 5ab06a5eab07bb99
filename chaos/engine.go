// Package chaos is shoplab's fault injection engine: an in-process
// toxiproxy on every network edge, process faults through the env's unit
// control, a database/sql driver hook for storage faults and gRPC/HTTP
// interceptors for L7 faults. It implements the Wiring that sim/cloud plugs
// into the units, serves toxiproxy's own HTTP API (so toxiproxy-cli and its
// Go client work) and a JSON control API.
//
// Every random decision the engine makes is drawn from a stream derived
// from the engine's seed and the fault's name; see README.md for what
// toxiproxy itself leaves unseeded.
//
// # One store for network faults
//
// The embedded toxiproxy server's proxies and toxics are the only record
// of network faults: a latency/bandwidth/... fault is a toxic, a down fault
// is a disabled proxy, whichever API made it. Active (the control API's
// GET /faults, `shoplab chaos list`, the console) reads toxiproxy's
// collection when it is called, so a toxic added with toxiproxy-cli is
// listed (id "<proxy>/<toxic>", Source "toxiproxy"), a toggled-off proxy is
// a down fault (id "<proxy>"), and a fault applied through the engine is a
// toxic "chaos-<id>-<stream>" in toxiproxy's GET /proxies. The engine keeps
// only what toxiproxy cannot (a fault's name, start time and expiry timer),
// and those notes never decide whether a fault exists. Either API removes
// either kind, and either reset (toxiproxy's POST /reset, the control
// API's reset) removes everything. Changes through toxiproxy's API are
// serialised with the engine's own. Nothing is copied between two lists,
// so nothing polls. Faults with no toxiproxy form (kill, pause, storage,
// L7, AWS) live in the engine alone. Details in store.go.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
)

// DefaultAPIAddr is where the toxiproxy-compatible API listens by default:
// toxiproxy's own port, so its CLI works without flags.
const DefaultAPIAddr = "127.0.0.1:8474"

// Processes stops and starts units; *cloud.Cloud implements it.
type Processes interface {
	Kill(name string) error
	Start(ctx context.Context, name string) error
}

type options struct {
	seed    int64
	clock   Clock
	procs   Processes
	apiAddr string
	log     *slog.Logger
}

// Option configures New.
type Option func(*options)

// WithSeed seeds every random decision of the engine (default 1).
func WithSeed(seed int64) Option { return func(o *options) { o.seed = seed } }

// WithClock sets the clock for start/end times and fault expiry.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithNow sets only the source of start and end times, for an env that
// injects a Now func; expiry timers stay on the wall clock.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.clock = nowClock{now: now} }
}

// WithProcesses lets the engine kill, restart and start units.
func WithProcesses(p Processes) Option { return func(o *options) { o.procs = p } }

// WithAPIAddr sets the address of the toxiproxy-compatible API ("" disables
// it; ":0" style addresses pick a free port).
func WithAPIAddr(addr string) Option { return func(o *options) { o.apiAddr = addr } }

// WithLogger sets the engine's logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Engine injects and removes faults. It is safe for concurrent use.
type Engine struct {
	seed     int64
	clock    Clock
	log      *slog.Logger
	tp       *toxiproxy.ApiServer
	apiLn    net.Listener // nil when the toxiproxy API is disabled
	apiSrv   *http.Server
	driverID int64

	life     context.Context // ends on Close; used by expiry timers
	stopLife context.CancelFunc
	running  atomic.Bool

	// applyMu serialises changes to faults (Apply, Remove, Reset) so that
	// reference counts and undo steps see a consistent history. Edge and
	// the data-path hooks never take it: Processes.Start calls back into
	// Edge while applyMu is held.
	applyMu sync.Mutex

	mu        sync.Mutex
	procs     Processes
	seq       int
	faults    map[string]*activeFault
	edges     map[string][2]string // wired edges: "from->to" -> from, to
	grpcEdges map[string]bool      // edges whose client interceptors were asked for
	grpcUnits map[string]bool      // units whose server interceptors were asked for
	httpUnits map[string]bool      // units whose HTTP middleware was asked for
	drivers   map[string]string    // unit -> registered SQL driver name
	awsEdges  map[string]bool      // "unit->aws" edges whose HTTP client was asked for (aws.go)
	pgUnits   map[string]bool      // units whose PostgreSQL tracer was asked for (pg.go)
	killRefs  map[string]int       // unit -> active kill faults
	closed    bool

	rules atomic.Pointer[ruleSet] // what the data-path hooks read, lock-free
}

// activeFault is an applied fault and what undoing it takes.
type activeFault struct {
	id    string
	seq   int
	plan  *plan
	start time.Time
	end   time.Time // zero: until removed
	timer Timer
	dec   *decider
	// installed is set once install returned: from then on a toxic or
	// down fault exists only while toxiproxy still holds its toxics or
	// keeps its proxy disabled (see store.go).
	installed bool
	toxics    []toxicRef // installed toxiproxy toxics
	// planned are the edges a pause freezes when it is installed: those
	// wired when it was registered. Edge freezes the ones wired later, so
	// no edge is frozen twice.
	planned []string
}

type toxicRef struct {
	proxy *toxiproxy.Proxy
	edge  string
	name  string
}

// ActiveFault is an applied fault as reported by Active and the control API.
type ActiveFault struct {
	ID        string    `json:"id"`
	Fault     Fault     `json:"fault"`               // normalised: defaults filled in
	StartedAt time.Time `json:"started_at,omitzero"` // zero: not known (made through toxiproxy's API)
	EndsAt    time.Time `json:"ends_at,omitzero"`    // zero: until removed
	Scope     []string  `json:"scope,omitempty"`     // the edges or units it acts on now
	// Source is "toxiproxy" for a toxic or a disabled proxy made through
	// toxiproxy's own API (toxiproxy-cli, its Go client), "" for faults
	// applied through the engine.
	Source string `json:"source,omitempty"`
}

// SourceToxiproxy marks faults made through toxiproxy's API.
const SourceToxiproxy = "toxiproxy"

// driverSeq numbers engines for SQL driver names: sql.Register is
// process-global and refuses (panics on) a name it has seen.
var driverSeq atomic.Int64

// New returns an engine. With an API address (the default is
// DefaultAPIAddr) it binds it now, so a port in use is an error here and
// not a crash later; Run serves it.
func New(opts ...Option) (*Engine, error) {
	o := options{seed: 1, clock: realClock{}, apiAddr: DefaultAPIAddr, log: logx.Discard()}
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine{
		seed:      o.seed,
		clock:     o.clock,
		log:       o.log,
		procs:     o.procs,
		driverID:  driverSeq.Add(1),
		faults:    map[string]*activeFault{},
		edges:     map[string][2]string{},
		grpcEdges: map[string]bool{},
		grpcUnits: map[string]bool{},
		httpUnits: map[string]bool{},
		drivers:   map[string]string{},
		killRefs:  map[string]int{},
	}
	setToxiproxyVersion()
	e.life, e.stopLife = context.WithCancel(context.Background())
	e.rules.Store(&ruleSet{})
	// toxiproxy logs through zerolog; its messages are per connection and
	// would drown the env's logs, so they are dropped.
	e.tp = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	if o.apiAddr != "" {
		ln, err := net.Listen("tcp", o.apiAddr)
		if err != nil {
			e.stopLife()
			return nil, fmt.Errorf("chaos: toxiproxy API on %s: %w (choose another address, or none)", o.apiAddr, err)
		}
		e.apiLn = ln
		e.apiSrv = &http.Server{
			Handler:           e.apiRouter(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      90 * time.Second, // a kill or restart waits for the unit
		}
	}
	return e, nil
}

// SetProcesses sets the unit control after New, for when the env that
// implements it needs the engine (its Wiring) to be built first.
func (e *Engine) SetProcesses(p Processes) {
	e.mu.Lock()
	e.procs = p
	e.mu.Unlock()
}

// Seed is the engine's seed.
func (e *Engine) Seed() int64 { return e.seed }

// APIAddr is the address of the toxiproxy-compatible API, "" if disabled.
func (e *Engine) APIAddr() string {
	if e.apiLn == nil {
		return ""
	}
	return e.apiLn.Addr().String()
}

// Apply injects f and returns its id. Faults with a Duration are removed
// automatically when it has passed. A restart acts at once and is not
// listed as active afterwards.
func (e *Engine) Apply(ctx context.Context, f Fault) (string, error) {
	af, err := e.apply(ctx, f)
	return af.ID, err
}

func (e *Engine) apply(ctx context.Context, f Fault) (ActiveFault, error) {
	pl, err := f.plan()
	if err != nil {
		return ActiveFault{}, err
	}
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.pruneStale()

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ActiveFault{}, errs.E(errs.FailedPrecondition, "the chaos engine is closed")
	}
	if err := e.checkReachable(pl); err != nil {
		e.mu.Unlock()
		return ActiveFault{}, err
	}
	e.seq++
	af := &activeFault{id: fmt.Sprintf("f%d", e.seq), seq: e.seq, plan: pl, start: e.clock.Now()}
	if pl.fault.Name == "" {
		pl.fault.Name = af.id
	}
	af.dec = newDecider(e.seed, pl.fault.Name)
	if pl.fault.Duration > 0 {
		af.end = af.start.Add(pl.fault.Duration)
	}
	procs := e.procs
	if pl.spec.class == classPause {
		af.planned = e.edgesOf(pl.unit)
	}
	if pl.spec.class != classRestart {
		// Registered before it is installed, so that an edge wired
		// meanwhile (a unit starting) is frozen by a pause too.
		e.faults[af.id] = af
		e.publishRules()
	}
	e.mu.Unlock()

	if err := e.install(ctx, af, procs); err != nil {
		e.mu.Lock()
		delete(e.faults, af.id)
		e.publishRules()
		e.mu.Unlock()
		if uerr := e.uninstall(ctx, af, procs, true); uerr != nil {
			e.log.Warn("chaos: undoing a partly applied fault failed", "fault", af.id, "error", uerr)
		}
		return ActiveFault{}, err
	}
	e.log.Info("chaos: fault applied", "fault", af.id, "name", pl.fault.Name, "type", pl.fault.Type, "target", pl.fault.Target, "duration", pl.fault.Duration)

	e.mu.Lock()
	defer e.mu.Unlock()
	af.installed = true
	if pl.spec.class == classRestart {
		af.end = e.clock.Now()
		return e.report(af), nil
	}
	if d := pl.fault.Duration; d > 0 && !e.closed {
		id := af.id
		af.timer = e.clock.AfterFunc(d, func() { e.expire(id) })
	}
	return e.report(af), nil
}

// checkReachable reports whether the engine can act where pl points. It
// runs with e.mu held.
func (e *Engine) checkReachable(pl *plan) error {
	target := pl.fault.Target
	switch pl.spec.class {
	case classToxic, classDown:
		if _, ok := e.edges[target]; !ok {
			return errs.InvalidField("target", "no proxy for edge %s (wired edges: %s)", target, e.listOrNone(e.edges))
		}
	case classPause:
		if len(e.edgesOf(pl.unit)) == 0 {
			return errs.InvalidField("target", "no wired edge leads into or out of %s", pl.unit)
		}
	case classKill, classRestart:
		if e.procs == nil {
			return errs.E(errs.FailedPrecondition, "%s needs unit control, and this engine has none (WithProcesses/SetProcesses)", pl.spec.name)
		}
	case classAWS:
		if !e.awsEdges[target] {
			return errs.InvalidField("target", "no AWS client of %s goes through this engine (hooked: %s)", target, e.listOrNone(e.awsEdges))
		}
	case classStorage:
		if e.pgUnits[pl.unit] {
			return checkPGStorage(pl)
		}
		if _, ok := e.drivers[pl.unit]; !ok {
			return errs.InvalidField("target", "%s opens no store through this engine (stores: %s)", pl.unit, e.listOrNone(e.drivers))
		}
	case classGRPC:
		if pl.unit != "" && !e.grpcUnits[pl.unit] {
			return errs.InvalidField("target", "%s's gRPC server has no chaos interceptor (hooked: %s)", pl.unit, e.listOrNone(e.grpcUnits))
		}
		if pl.unit == "" && !e.grpcEdges[target] {
			return errs.InvalidField("target", "the gRPC client of edge %s has no chaos interceptor (hooked: %s)", target, e.listOrNone(e.grpcEdges))
		}
	case classHTTP:
		if !e.httpUnits[pl.unit] {
			return errs.InvalidField("target", "%s's HTTP API has no chaos middleware", pl.unit)
		}
	}
	return nil
}

func (e *Engine) listOrNone(m any) string {
	var keys []string
	switch m := m.(type) {
	case map[string][2]string:
		for k := range m {
			keys = append(keys, k)
		}
	case map[string]string:
		for k := range m {
			keys = append(keys, k)
		}
	case map[string]bool:
		for k := range m {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "none"
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// edgesOf lists the wired edges into or out of unit, with e.mu held. A
// paused process neither answers nor calls anyone, so both count.
func (e *Engine) edgesOf(unit string) []string {
	var out []string
	for name, ft := range e.edges {
		if ft[0] == unit || ft[1] == unit {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// install makes af take effect. Network and process steps run without
// e.mu: they may block on live connections or on a unit starting.
func (e *Engine) install(ctx context.Context, af *activeFault, procs Processes) error {
	pl := af.plan
	switch pl.spec.class {
	case classToxic:
		p, err := e.tp.Collection.Get(pl.fault.Target)
		if err != nil {
			return errs.InvalidField("target", "no proxy for edge %s", pl.fault.Target)
		}
		attrs := toxicAttributes(pl)
		for _, stream := range streams(pl.fault.Direction) {
			name := toxicName(af.id, stream)
			if err := addToxic(p, name, pl.spec.toxic, stream, pl.fault.Toxicity, attrs); err != nil {
				return errs.Wrap(errs.FailedPrecondition, err, "add %s toxic to %s: %v", pl.spec.toxic, pl.fault.Target, err)
			}
			e.mu.Lock()
			af.toxics = append(af.toxics, toxicRef{proxy: p, edge: pl.fault.Target, name: name})
			e.mu.Unlock()
		}
	case classPause:
		for _, edge := range af.planned {
			p, err := e.tp.Collection.Get(edge)
			if err != nil {
				continue // removed through toxiproxy's API meanwhile
			}
			if err := e.pauseProxy(af, p, edge, false); err != nil {
				return err
			}
		}
	case classDown:
		e.mu.Lock()
		defer e.mu.Unlock()
		p, err := e.tp.Collection.Get(pl.fault.Target)
		if err != nil {
			return errs.InvalidField("target", "no proxy for edge %s", pl.fault.Target)
		}
		p.Stop()
	case classKill:
		e.mu.Lock()
		e.killRefs[pl.unit]++
		first := e.killRefs[pl.unit] == 1
		e.mu.Unlock()
		if first {
			if err := procs.Kill(pl.unit); err != nil {
				return errs.Wrap(errs.FailedPrecondition, err, "kill %s: %v", pl.unit, err)
			}
		}
	case classRestart:
		if err := procs.Kill(pl.unit); err != nil {
			return errs.Wrap(errs.FailedPrecondition, err, "restart %s: kill: %v", pl.unit, err)
		}
		if err := procs.Start(ctx, pl.unit); err != nil {
			return errs.Wrap(errs.Unavailable, err, "restart %s: start: %v", pl.unit, err)
		}
	}
	// Storage and L7 faults took effect when publishRules ran.
	return nil
}

// pauseProxy freezes one proxy for a pause fault: a timeout toxic with no
// timeout on each stream drops every byte, the way a stopped process
// neither reads nor answers. locked says whether e.mu is held.
func (e *Engine) pauseProxy(af *activeFault, p *toxiproxy.Proxy, edge string, locked bool) error {
	for _, stream := range []string{"upstream", "downstream"} {
		name := toxicName(af.id, stream)
		if err := addToxic(p, name, "timeout", stream, 1, map[string]any{"timeout": 0}); err != nil {
			return errs.Wrap(errs.FailedPrecondition, err, "pause %s: freeze %s: %v", af.plan.unit, edge, err)
		}
		if !locked {
			e.mu.Lock()
		}
		af.toxics = append(af.toxics, toxicRef{proxy: p, edge: edge, name: name})
		if !locked {
			e.mu.Unlock()
		}
	}
	return nil
}

// uninstall undoes af. It keeps going after an error so that one stuck
// step does not leave the rest of the fault in place. partial says af was
// never fully installed, so reference counts it did not take are not
// given back.
func (e *Engine) uninstall(ctx context.Context, af *activeFault, procs Processes, partial bool) error {
	pl := af.plan
	e.mu.Lock()
	refs := append([]toxicRef(nil), af.toxics...)
	af.toxics = nil
	e.mu.Unlock()
	var errList []error
	for _, r := range refs {
		if err := r.proxy.Toxics.RemoveToxic(ctx, r.name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			errList = append(errList, fmt.Errorf("remove toxic %s from %s: %w", r.name, r.edge, err))
		}
	}
	switch pl.spec.class {
	case classDown:
		if partial {
			break
		}
		// The edge comes back when no other down fault holds it. af is
		// already forgotten, so it does not count itself.
		e.mu.Lock()
		if !e.downHeldLocked(pl.fault.Target) {
			if p, err := e.tp.Collection.Get(pl.fault.Target); err == nil {
				if err := startProxy(p); err != nil {
					errList = append(errList, fmt.Errorf("re-enable %s: %w", pl.fault.Target, err))
				}
			}
		}
		e.mu.Unlock()
	case classKill:
		e.mu.Lock()
		e.killRefs[pl.unit]--
		last := e.killRefs[pl.unit] <= 0
		if last {
			delete(e.killRefs, pl.unit)
		}
		e.mu.Unlock()
		if last && !partial && procs != nil {
			if err := procs.Start(ctx, pl.unit); err != nil {
				errList = append(errList, fmt.Errorf("start %s again: %w", pl.unit, err))
			}
		}
	}
	if err := errors.Join(errList...); err != nil {
		return errs.Wrap(errs.FailedPrecondition, err, "remove fault %s: %v", af.id, err)
	}
	return nil
}

// startProxy enables a proxy again on its former address. The port was
// free a moment ago, but a restart may still race another process for it:
// a failure is reported, never fatal.
func startProxy(p *toxiproxy.Proxy) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		err = p.Start()
		if err == nil || errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return err
}

// Remove undoes the fault id: toxics removed, a downed edge enabled, a
// killed unit started again, hooks switched off. id may also name a fault
// made through toxiproxy's API ("<proxy>/<toxic>" or a disabled "<proxy>").
func (e *Engine) Remove(ctx context.Context, id string) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.pruneStale()
	e.mu.Lock()
	af, ok := e.faults[id]
	if !ok {
		e.mu.Unlock()
		return e.removeExternal(ctx, id)
	}
	e.forgetLocked(af)
	e.publishRules()
	procs := e.procs
	e.mu.Unlock()
	err := e.uninstall(ctx, af, procs, false)
	e.log.Info("chaos: fault removed", "fault", id, "error", err)
	return err
}

func (e *Engine) forgetLocked(af *activeFault) {
	delete(e.faults, af.id)
	if af.timer != nil {
		af.timer.Stop()
	}
}

// expire ends a fault whose Duration has passed.
func (e *Engine) expire(id string) {
	err := e.Remove(e.life, id)
	if err != nil && !errs.Is(err, errs.NotFound) {
		e.log.Error("chaos: ending an expired fault failed", "fault", id, "error", err)
	}
}

// Reset removes every fault, and also what was injected through
// toxiproxy's API: all toxics go, every proxy is enabled again, killed
// units are started, storage and L7 hooks are switched off.
func (e *Engine) Reset(ctx context.Context) error {
	_, err := e.reset(ctx)
	return err
}

// reset is Reset that also says how many faults it removed, of either
// source.
func (e *Engine) reset(ctx context.Context) (int, error) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.pruneStale()
	listed := len(e.Active())
	e.mu.Lock()
	list := make([]*activeFault, 0, len(e.faults))
	for _, af := range e.faults {
		list = append(list, af)
	}
	for _, af := range list {
		e.forgetLocked(af)
	}
	e.publishRules()
	procs := e.procs
	e.mu.Unlock()
	// Undo the newest first, as a stack, so overlapping faults unwind in order.
	sort.Slice(list, func(i, j int) bool { return list[i].seq > list[j].seq })
	var errList []error
	for _, af := range list {
		if err := e.uninstall(ctx, af, procs, false); err != nil {
			errList = append(errList, err)
		}
	}
	for name, p := range e.tp.Collection.Proxies() {
		p.Toxics.ResetToxics(ctx)
		if err := startProxy(p); err != nil {
			errList = append(errList, fmt.Errorf("re-enable %s: %w", name, err))
		}
	}
	e.log.Info("chaos: reset", "removed", listed)
	return listed, errors.Join(errList...)
}

// report describes af, with e.mu held.
func (e *Engine) report(af *activeFault) ActiveFault {
	f := af.plan.fault
	if f.Attributes != nil {
		attrs := make(map[string]any, len(f.Attributes))
		for k, v := range f.Attributes {
			attrs[k] = v
		}
		f.Attributes = attrs
	}
	out := ActiveFault{ID: af.id, Fault: f, StartedAt: af.start, EndsAt: af.end}
	switch af.plan.spec.class {
	case classToxic, classPause:
		seen := map[string]bool{}
		for _, r := range af.toxics {
			if !seen[r.edge] {
				seen[r.edge] = true
				out.Scope = append(out.Scope, r.edge)
			}
		}
		sort.Strings(out.Scope)
	case classDown, classGRPC:
		out.Scope = []string{f.Target}
	default:
		out.Scope = []string{af.plan.unit}
	}
	return out
}

// Run serves the toxiproxy-compatible API (and the control API on the same
// listener) until ctx ends, then removes every fault, so an interrupted run
// leaves nothing broken. Call it once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("chaos: Run called twice")
	}
	var serveErr error
	if e.apiSrv != nil {
		errc := make(chan error, 1)
		go func() { errc <- e.apiSrv.Serve(e.apiLn) }()
		select {
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				serveErr = fmt.Errorf("chaos: toxiproxy API: %w", err)
			}
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = e.apiSrv.Shutdown(sctx)
			cancel()
		}
	} else {
		<-ctx.Done()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
	defer cancel()
	return errors.Join(serveErr, e.Reset(rctx))
}

// Close stops the API and every proxy, cancels pending expiries and
// switches the hooks off. It does not start units a kill fault stopped:
// Reset (or the end of Run) does that. Safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for _, af := range e.faults {
		if af.timer != nil {
			af.timer.Stop()
		}
	}
	e.faults = map[string]*activeFault{}
	e.rules.Store(&ruleSet{})
	e.mu.Unlock()
	e.stopLife()
	var err error
	if e.apiSrv != nil {
		err = e.apiSrv.Close()
		_ = e.apiLn.Close()
	}
	_ = e.tp.Collection.Clear()
	return err
}
