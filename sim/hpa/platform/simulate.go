package platform

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/sim/hpa"
	"github.com/shoplab/shoplab/sim/hpa/model"
)

// tick is the step of the load and queue model between two syncs: load
// ramps, pods turning Ready and backlogs move at this resolution, and the
// CPU the controller reads is the average of the ticks in the metric window.
const tick = time.Second

// latencyQuantile is the quantile the timeline reports.
const latencyQuantile = 0.95

// maxStableUtilization caps the M/M/c utilisation at which latency is
// computed; above it the queue is treated as saturated and the backlog
// (fluid) model takes over, so latency stays continuous at the edge.
const maxStableUtilization = 0.99

// maxSimulated bounds a simulation: a week of simulated time.
const maxSimulated = 7 * 24 * time.Hour

// Options tunes a simulation.
type Options struct {
	// Until is the time of the last sync, inclusive, rounded up to a whole
	// sync period; 0 means the end of the load.
	Until time.Duration
	// Startup, when positive, is every new pod's creation-to-Ready time,
	// instead of the profile's per unit.
	Startup time.Duration
	// MetricWindow is metrics-server's window: the CPU a sync reads is the
	// average over the window before it, and a new pod has its first metric
	// this long after it turns Ready. 0 means 15 s, metrics-server's default
	// resolution.
	MetricWindow time.Duration
	// Timeout is how long a request waits in a saturated unit before its
	// caller gives up (the deadline of every gRPC call the platform makes);
	// a backlog never holds more than Timeout of the pods' service, and what
	// would wait longer is dropped. 0 means grpcx.DefaultCallTimeout.
	Timeout time.Duration
	// Controller holds the controller's flags; nil means hpa.DefaultConfig.
	Controller *hpa.Config
	// Scenario and Overlay label the timeline.
	Scenario, Overlay string
}

// Timeline is the result of a simulation: one point per sync for each
// Deployment, and the load that drove them.
type Timeline struct {
	Scenario string `json:"scenario,omitempty"`
	Overlay  string `json:"overlay,omitempty"`
	// ProfileSource is the profile's source: estimated or measured.
	ProfileSource string `json:"profile_source"`
	SyncSeconds   int64  `json:"sync_seconds"`
	// LoadEnd is when the load ended and Until the last sync, in seconds.
	LoadEnd  int64    `json:"load_end"`
	Until    int64    `json:"until"`
	Journeys []string `json:"journeys"`
	// TrafficScale is the factor the workload's rates were multiplied by
	// (Workload.Scale: a scenario's hpa_traffic_scale), 1 if none.
	TrafficScale float64 `json:"traffic_scale"`
	// Load is the arrival rate at each sync, total and per journey (in
	// the order of Journeys), iterations per second, TrafficScale
	// included.
	Load  []LoadPoint     `json:"load"`
	Units []*UnitTimeline `json:"units"`
}

// LoadPoint is the load at one sync.
type LoadPoint struct {
	T          int64     `json:"t"`
	Rate       float64   `json:"rate"`
	PerJourney []float64 `json:"per_journey"`
}

// UnitTimeline is one Deployment's course.
type UnitTimeline struct {
	Name string `json:"name"`
	// HPA is nil for a Deployment scaled by hand.
	HPA *HPAInfo `json:"hpa,omitempty"`
	// FixedReplicas is the count of a Deployment without an HPA.
	FixedReplicas      int32   `json:"fixed_replicas,omitempty"`
	CPURequestMilli    int64   `json:"cpu_request_millicores"`
	CPULimitMilli      int64   `json:"cpu_limit_millicores"`
	MemoryRequestBytes int64   `json:"memory_request_bytes"`
	MemoryLimitBytes   int64   `json:"memory_limit_bytes"`
	StartupSeconds     float64 `json:"startup_seconds"`
	// ServersPerPod is the pod's M/M/c servers (see the package's queue model).
	ServersPerPod int     `json:"servers_per_pod"`
	Summary       Summary `json:"summary"`
	Points        []Point `json:"points"`
}

// HPAInfo is what the timeline shows of an HPA.
type HPAInfo struct {
	Name        string   `json:"name"`
	MinReplicas int32    `json:"min_replicas"`
	MaxReplicas int32    `json:"max_replicas"`
	Targets     []string `json:"targets"` // e.g. "cpu 70%"
	// TargetUtilization is the first Utilization target, percent, for charts.
	TargetUtilization int32  `json:"target_utilization,omitempty"`
	TargetResource    string `json:"target_resource,omitempty"`
}

// Point is one Deployment at one sync.
type Point struct {
	T int64 `json:"t"`
	// Replicas is the scale after the sync; Ready the pods Ready at it.
	Replicas int32 `json:"replicas"`
	Ready    int   `json:"ready"`
	// Desired is the HPA metrics' proposal before windows and limits.
	Desired *int32 `json:"desired,omitempty"`
	// Reason is the controller's ScalingLimited reason, or why it did not
	// read the metrics.
	Reason string `json:"reason,omitempty"`
	// RPS is the requests per second arriving at the unit.
	RPS float64 `json:"rps"`
	// CPUDemand is the millicores the load asks for at the sync, idle
	// included; CPUUsed what the pods used, averaged over the metric window
	// and capped by their CPU limits: what the controller reads.
	CPUDemand float64 `json:"cpu_demand_millicores"`
	CPUUsed   float64 `json:"cpu_used_millicores"`
	// CPUUtilization is CPUUsed over the Ready pods' requests, percent.
	CPUUtilization float64 `json:"cpu_utilization"`
	// MemoryPerPod is each Ready pod's memory; MemoryUtilization its
	// percentage of the request.
	MemoryPerPod      int64   `json:"memory_per_pod_bytes"`
	MemoryUtilization float64 `json:"memory_utilization"`
	// HPAUtilization is what the controller computed per metric (percent
	// of request), before it filled in missing and unready pods.
	HPAUtilization map[string]int32 `json:"hpa_utilization,omitempty"`
	// P95 and Mean are the modelled latency of a call in the unit, in
	// milliseconds, without its downstream calls; nil without traffic or
	// with no pod Ready.
	P95  *float64 `json:"p95_ms"`
	Mean *float64 `json:"mean_ms"`
	// Saturated is set when requests arrive faster than the Ready pods can
	// serve them, or a backlog from such a time is still queued.
	Saturated bool    `json:"saturated,omitempty"`
	Backlog   float64 `json:"backlog,omitempty"`
	// Dropped is the requests per second that waited longer than the
	// timeout and were given up, over the tick before the sync.
	Dropped float64 `json:"dropped,omitempty"`
	// OverMemoryLimit is set when the modelled memory per pod is above the
	// limit: the kubelet would OOM-kill the pods.
	OverMemoryLimit bool `json:"over_memory_limit,omitempty"`
}

// Summary condenses a UnitTimeline.
type Summary struct {
	MinReplicas   int32 `json:"min_replicas"`
	MaxReplicas   int32 `json:"max_replicas"`
	MaxAt         int64 `json:"max_at"`
	FinalReplicas int32 `json:"final_replicas"`
	// Changes counts the syncs that changed the scale.
	Changes int `json:"changes"`
	// FirstScaleUp is the time of the first scale-up, -1 if none.
	FirstScaleUp      int64   `json:"first_scale_up"`
	PeakCPUPercent    float64 `json:"peak_cpu_utilization"`
	PeakMemoryPercent float64 `json:"peak_memory_utilization"`
	// MaxP95 is the worst modelled p95 in milliseconds, nil if no point
	// had one.
	MaxP95 *float64 `json:"max_p95_ms"`
	// SaturatedSeconds is how long the unit was saturated, at tick resolution.
	SaturatedSeconds int64 `json:"saturated_seconds"`
	// Dropped counts the requests given up after the timeout.
	Dropped              float64 `json:"dropped_requests"`
	OverMemoryLimitSyncs int     `json:"over_memory_limit_syncs"`
	// PodSeconds counts pods (Ready or not) over time; CPUReserved is their
	// requests and CPUUsed the CPU they used, in core-seconds.
	PodSeconds          int64   `json:"pod_seconds"`
	CPUReservedCoreSecs float64 `json:"cpu_reserved_core_seconds"`
	CPUUsedCoreSecs     float64 `json:"cpu_used_core_seconds"`
}

// unit is the simulation state of one Deployment.
type unit struct {
	tl   *UnitTimeline
	dep  Deployment
	cost model.UnitCost
	twin *hpa.Twin // nil for a Deployment scaled by hand

	calls []float64 // requests per iteration, per journey
	cpu   []float64 // CPU seconds per iteration, per journey
	down  []edge    // calls to other simulated units

	servers    int     // M/M/c servers per pod
	limitCores float64 // a pod's CPU limit
	idleCores  float64 // a pod's idle CPU

	sCPU    float64 // CPU seconds per request of the current mix (the last one with traffic)
	backlog float64 // requests queued beyond what the pods could serve
	timeout float64 // seconds a queued request waits at most

	window []float64 // CPU used per tick in the metric window, a ring
	wpos   int

	now tickState // the last tick
	// residence is the mean time a call spends in the unit and its callees
	// at the last sync, for the callers' in-flight counts.
	residence float64
	maxP95    float64
	hasP95    bool
}

// edge is the calls from a unit to another, per iteration of each journey.
type edge struct {
	to    *unit
	calls []float64
}

// tickState is the load and service of a unit over one tick.
type tickState struct {
	ready     int
	lambda    float64 // arrivals per second
	serveCap  float64 // what the Ready pods can serve per second
	served    float64 // what they served per second
	dropped   float64 // what timed out in the queue, per second
	cpuUsed   float64 // cores
	cpuDemand float64 // cores the arrivals ask for, uncapped
}

// Simulate runs the Deployments under the workload, costed by the profile,
// from t = 0 (every Deployment at its fixed count or its HPA's minReplicas,
// pods long Ready, no load before) to opts.Until.
func Simulate(deps []Deployment, prof model.Profile, w Workload, opts Options) (*Timeline, error) {
	if err := prof.Validate(); err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := prof.CheckJourneys(w.Journeys); err != nil {
		return nil, err
	}
	if len(deps) == 0 {
		return nil, errs.E(errs.Invalid, "no Deployments to simulate")
	}
	if w.Rates == nil || w.End < 0 {
		return nil, errs.E(errs.Invalid, "the workload needs a rate function and an end at or after 0")
	}
	scale := w.Scale
	if scale == 0 {
		scale = 1
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, errs.InvalidField("workload.scale", "must be a positive factor, got %v", w.Scale)
	}
	cfg := hpa.DefaultConfig()
	if opts.Controller != nil {
		cfg = *opts.Controller
	}
	if cfg.SyncPeriod <= 0 || cfg.SyncPeriod%tick != 0 {
		return nil, errs.InvalidField("controller.syncPeriod", "must be a positive whole number of seconds, got %s", cfg.SyncPeriod)
	}
	if opts.MetricWindow == 0 {
		opts.MetricWindow = 15 * time.Second
	}
	if opts.MetricWindow < tick || opts.MetricWindow%tick != 0 || opts.MetricWindow > time.Hour {
		return nil, errs.InvalidField("metric_window", "must be a whole number of seconds between 1s and 1h, got %s", opts.MetricWindow)
	}
	if opts.Timeout == 0 {
		opts.Timeout = grpcx.DefaultCallTimeout
	}
	if opts.Timeout < 0 || opts.Timeout > time.Hour {
		return nil, errs.InvalidField("timeout", "must be between 0 and 1h, got %s", opts.Timeout)
	}
	if opts.Startup < 0 || opts.Startup > time.Hour {
		return nil, errs.InvalidField("startup", "must be between 0 and 1h, got %s", opts.Startup)
	}
	until := opts.Until
	if until == 0 {
		until = w.End
	}
	until = (until + cfg.SyncPeriod - 1) / cfg.SyncPeriod * cfg.SyncPeriod
	if until < 0 || until > maxSimulated {
		return nil, errs.InvalidField("until", "must be between 0 and %s, got %s", maxSimulated, until)
	}

	tl := &Timeline{
		Scenario: opts.Scenario, Overlay: opts.Overlay, ProfileSource: prof.Source,
		SyncSeconds: int64(cfg.SyncPeriod / time.Second),
		LoadEnd:     int64(w.End / time.Second), Until: int64(until / time.Second),
		Journeys: slices.Clone(w.Journeys), TrafficScale: scale,
	}
	units, err := buildUnits(deps, prof, w.Journeys, opts, cfg)
	if err != nil {
		return nil, err
	}
	order := calleesFirst(units)
	rates := make([]float64, len(w.Journeys))
	ratesAt := func(t time.Duration) {
		w.Rates(t, rates)
		if scale != 1 {
			for i := range rates {
				rates[i] *= scale
			}
		}
	}
	// Before 0 the load holds at what it is just before (nothing, for a
	// scenario): that fills the first metric window and the first point.
	ratesAt(-tick / 2)
	for _, u := range units {
		tl.Units = append(tl.Units, u.tl)
		u.evaluate(u.readyAt(0), rates, 0)
		for i := range u.window {
			u.window[i] = u.now.cpuUsed
		}
	}

	var prev time.Duration
	for at := time.Duration(0); at <= until; at += cfg.SyncPeriod {
		for s := prev + tick; s <= at; s += tick {
			// A tick covers (s-tick, s]: its rate is the one at its middle,
			// which integrates a linear ramp exactly, and its pods those
			// Ready at its start.
			ratesAt(s - tick/2)
			for _, u := range units {
				u.evaluate(u.readyAt(s-tick), rates, tick.Seconds())
				u.account(s - tick)
			}
		}
		prev = at
		// rates still hold the last tick's: every value of a sync's point
		// is that of the second before it.
		lp := LoadPoint{T: int64(at / time.Second), PerJourney: make([]float64, len(rates))}
		for i, r := range rates {
			lp.Rate += r
			lp.PerJourney[i] = round(r, 3)
		}
		lp.Rate = round(lp.Rate, 3)
		tl.Load = append(tl.Load, lp)
		for _, u := range order {
			if err := u.sync(at, rates); err != nil {
				return nil, fmt.Errorf("%s at %s: %w", u.dep.Name, at, err)
			}
		}
	}
	for _, u := range units {
		u.summarise()
	}
	return tl, nil
}

func buildUnits(deps []Deployment, prof model.Profile, journeys []string, opts Options, cfg hpa.Config) ([]*unit, error) {
	byName := map[string]*unit{}
	var units []*unit
	for _, d := range deps {
		cost, ok := prof.Units[d.Name]
		if !ok {
			return nil, errs.E(errs.Invalid, "the profile has no costs for Deployment %s (it has %v)", d.Name, unitNames(prof))
		}
		if d.CPULimitMilli <= 0 || d.CPURequestMilli <= 0 {
			return nil, errs.E(errs.Invalid, "Deployment %s needs a CPU request and limit", d.Name)
		}
		startup := time.Duration(cost.Startup() * float64(time.Second))
		if opts.Startup > 0 {
			startup = opts.Startup
		}
		limitCores := float64(d.CPULimitMilli) / 1000
		u := &unit{
			dep: d, cost: cost,
			calls:      make([]float64, len(journeys)),
			cpu:        make([]float64, len(journeys)),
			limitCores: limitCores,
			// A Go pod runs at most ceil(limit) requests on CPU at once
			// (GOMAXPROCS follows the limit); each of those servers gets an
			// equal share of the limit, so a 500m pod is one server at half
			// speed and a 2-core pod two servers at full speed.
			servers:   max(1, int(math.Ceil(limitCores-1e-9))),
			idleCores: cost.IdleCPUMillicores / 1000,
			timeout:   opts.Timeout.Seconds(),
			window:    make([]float64, opts.MetricWindow/tick),
		}
		u.tl = &UnitTimeline{
			Name: d.Name, CPURequestMilli: d.CPURequestMilli, CPULimitMilli: d.CPULimitMilli,
			MemoryRequestBytes: d.MemoryRequestBytes, MemoryLimitBytes: d.MemoryLimitBytes,
			StartupSeconds: startup.Seconds(), ServersPerPod: u.servers,
		}
		for j, name := range journeys {
			u.cpu[j] = cost.CPUSecondsPerIteration[name]
			for _, c := range prof.Journeys[name] {
				if c.To == d.Name {
					u.calls[j] += c.PerIteration
				}
			}
		}
		if d.HPA != nil {
			pod := hpa.PodProfile{
				CPURequestMilli:    d.CPURequestMilli,
				MemoryRequestBytes: d.MemoryRequestBytes,
				Startup:            startup,
				RunningBeforeReady: min(d.ReadinessPeriod, startup),
				MetricWindow:       opts.MetricWindow,
				Container:          d.Container,
			}
			initial := int32(1)
			if d.HPA.Spec.MinReplicas != nil {
				initial = *d.HPA.Spec.MinReplicas
			}
			twin, err := hpa.NewTwin(&d.HPA.Spec, initial, pod, hpa.WithConfig(cfg))
			if err != nil {
				return nil, fmt.Errorf("HorizontalPodAutoscaler %s: %w", d.HPA.Name, err)
			}
			u.twin = twin
			info := &HPAInfo{Name: d.HPA.Name, MinReplicas: initial, MaxReplicas: d.HPA.Spec.MaxReplicas, Targets: describeHPA(d.HPA)}
			for _, m := range d.HPA.Spec.Metrics {
				if m.Resource != nil && m.Resource.Target.AverageUtilization != nil {
					info.TargetUtilization = *m.Resource.Target.AverageUtilization
					info.TargetResource = string(m.Resource.Name)
					break
				}
			}
			u.tl.HPA = info
		} else {
			u.tl.FixedReplicas = d.Replicas
		}
		byName[d.Name] = u
		units = append(units, u)
	}
	for _, u := range units {
		for j, name := range journeys {
			for _, c := range prof.Journeys[name] {
				if c.From != u.dep.Name {
					continue
				}
				to, ok := byName[c.To]
				if !ok {
					continue // a unit the overlay does not deploy costs nothing here
				}
				k := slices.IndexFunc(u.down, func(e edge) bool { return e.to == to })
				if k < 0 {
					u.down = append(u.down, edge{to: to, calls: make([]float64, len(journeys))})
					k = len(u.down) - 1
				}
				u.down[k].calls[j] += c.PerIteration
			}
		}
	}
	return units, nil
}

func unitNames(p model.Profile) []string {
	var names []string
	for n := range p.Units {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// calleesFirst orders units so that each comes after every unit it calls;
// the profile's call graph has no cycles (model.Profile.Validate).
func calleesFirst(units []*unit) []*unit {
	var out []*unit
	seen := map[*unit]bool{}
	var visit func(u *unit)
	visit = func(u *unit) {
		if seen[u] {
			return
		}
		seen[u] = true
		for _, e := range u.down {
			visit(e.to)
		}
		out = append(out, u)
	}
	for _, u := range units {
		visit(u)
	}
	return out
}

func (u *unit) readyAt(t time.Duration) int {
	if u.twin == nil {
		return int(u.dep.Replicas)
	}
	return u.twin.Ready(t)
}

func (u *unit) replicas() int32 {
	if u.twin == nil {
		return u.dep.Replicas
	}
	return u.twin.Replicas()
}

// evaluate computes the unit's load and service for one tick of dt seconds
// at the given journey rates, and moves the backlog on by dt (nothing when
// dt is 0). The pods serve what arrives plus the backlog, up to what their
// CPU limits allow after their idle use; what they cannot serve queues, as
// a fluid, up to the timeout's worth of their service; the rest is dropped.
func (u *unit) evaluate(ready int, rates []float64, dt float64) {
	var lambda, work float64
	for j, r := range rates {
		lambda += r * u.calls[j]
		work += r * u.cpu[j]
	}
	if lambda > 0 {
		u.sCPU = work / lambda
	}
	idle := float64(ready) * u.idleCores
	serveCap := math.Inf(1)
	if u.sCPU > 0 {
		serveCap = max(0, float64(ready)*u.limitCores-idle) / u.sCPU
	}
	served, dropped := min(lambda, serveCap), 0.0
	if dt > 0 {
		offered := lambda + u.backlog/dt
		served = min(offered, serveCap)
		if offered <= serveCap {
			u.backlog = 0 // exactly, not a rounding residue
		} else {
			u.backlog += (lambda - served) * dt
			if most := serveCap * u.timeout; u.backlog > most {
				dropped = (u.backlog - most) / dt
				u.backlog = most
			}
		}
	}
	u.now = tickState{
		ready: ready, lambda: lambda, serveCap: serveCap, served: served, dropped: dropped,
		cpuUsed:   idle + served*u.sCPU,
		cpuDemand: idle + work,
	}
	if dt > 0 {
		u.window[u.wpos] = u.now.cpuUsed
		u.wpos = (u.wpos + 1) % len(u.window)
	}
}

// account adds one tick starting at t to the summary's totals.
func (u *unit) account(t time.Duration) {
	s := &u.tl.Summary
	n := u.replicas()
	s.PodSeconds += int64(n) * int64(tick/time.Second)
	s.CPUReservedCoreSecs += float64(n) * float64(u.dep.CPURequestMilli) / 1000 * tick.Seconds()
	s.CPUUsedCoreSecs += u.now.cpuUsed * tick.Seconds()
	s.Dropped += u.now.dropped * tick.Seconds()
	if u.saturated() {
		s.SaturatedSeconds += int64(tick / time.Second)
	}
}

func (u *unit) saturated() bool {
	return u.backlog > 0 || (u.now.lambda > 0 && u.now.lambda >= u.now.serveCap)
}

// callTimes is how long a call stays in a unit, without its callees.
type callTimes struct {
	mean, p95 float64
	// working is the part of the mean during which the call holds its
	// memory: its own I/O and its CPU service, not its wait for a CPU.
	working float64
}

// latency returns the times of a call in the unit; ok is false when there
// is no traffic or no pod to serve it.
//
// The unit's CPU is an M/M/c queue: c = Ready pods x servers per pod, each
// serving at the pod's share of its limit, so that c x μ is what the pods
// can serve. A call also spends its service time minus its CPU time (its
// own I/O) off the CPU, a constant. A backlog adds the time to drain it.
func (u *unit) latency() (t callTimes, ok bool) {
	st := u.now
	if st.ready == 0 || (st.lambda == 0 && u.backlog == 0) {
		return t, false
	}
	if u.sCPU == 0 {
		// Calls that cost no CPU do not queue for it: only their own I/O.
		s := u.cost.ServiceSeconds
		return callTimes{mean: s, p95: s, working: s}, true
	}
	c := st.ready * u.servers
	mu := st.serveCap / float64(c)
	if mu <= 0 {
		return t, false
	}
	offCPU := max(0, u.cost.ServiceSeconds-u.sCPU)
	drain := u.backlog / st.serveCap
	q := model.Queue{Servers: c, ServiceRate: mu, ArrivalRate: min(st.lambda, maxStableUtilization*st.serveCap)}
	return callTimes{
		mean:    offCPU + drain + q.MeanResponse(),
		p95:     offCPU + drain + q.ResponseQuantile(latencyQuantile),
		working: offCPU + 1/mu,
	}, true
}

// sync turns the metric window into the controller's view, steps the twin
// and records the point. Callees sync first: a unit's calls in flight
// include the time they wait on their callees.
func (u *unit) sync(at time.Duration, rates []float64) error {
	st := u.now
	lt, ok := u.latency()
	// Little's law: calls in flight = arrival rate x time in the unit. The
	// callers see the whole time, queueing and callees included. Memory
	// counts the calls being worked on or waiting on a callee, with their
	// request decoded and their buffers allocated; a call still waiting for
	// a CPU (M/M/c wait, backlog) holds next to nothing, and counting it
	// would turn every saturation into an OOM kill.
	u.residence = 0
	var working float64
	if ok && st.lambda > 0 {
		wait := 0.0
		for _, e := range u.down {
			for j, r := range rates {
				wait += r * e.calls[j] * e.to.residence
			}
		}
		u.residence = lt.mean + wait/st.lambda
		working = st.served * (lt.working + wait/st.lambda)
	}
	var memPerPod int64
	if st.ready > 0 {
		n := float64(st.ready)
		memPerPod = int64(float64(u.cost.MemoryBaseBytes) + float64(u.cost.MemoryPerInflightBytes)*working/n + float64(u.cost.MemoryPerRPSBytes)*st.served/n)
	}
	cpuUsed := 0.0
	for _, v := range u.window {
		cpuUsed += v
	}
	cpuUsed /= float64(len(u.window))

	p := Point{
		T:            int64(at / time.Second),
		RPS:          round(st.lambda, 3),
		CPUDemand:    round(1000*st.cpuDemand, 1),
		CPUUsed:      round(1000*cpuUsed, 1),
		MemoryPerPod: memPerPod,
		Saturated:    u.saturated(),
		Backlog:      round(u.backlog, 1),
		Dropped:      round(st.dropped, 1),
	}
	if u.twin != nil {
		step, err := u.twin.Step(at, hpa.Demand{CPUMilli: int64(math.Round(1000 * cpuUsed)), MemoryBytesPerPod: memPerPod})
		if err != nil {
			return err
		}
		sum := step.Summary()
		p.Replicas, p.Ready, p.Desired, p.Reason = step.Replicas, step.Ready, sum.Desired, sum.Reason
		p.HPAUtilization = sum.Utilization
	} else {
		p.Replicas, p.Ready = u.dep.Replicas, st.ready
	}
	if p.Ready > 0 {
		p.CPUUtilization = round(100*1000*cpuUsed/(float64(p.Ready)*float64(u.dep.CPURequestMilli)), 1)
		if u.dep.MemoryRequestBytes > 0 {
			p.MemoryUtilization = round(100*float64(memPerPod)/float64(u.dep.MemoryRequestBytes), 1)
		}
		p.OverMemoryLimit = u.dep.MemoryLimitBytes > 0 && memPerPod > u.dep.MemoryLimitBytes
	}
	if ok && !math.IsInf(lt.p95, 0) {
		p95ms, meanms := round(1000*lt.p95, 2), round(1000*lt.mean, 2)
		p.P95, p.Mean = &p95ms, &meanms
		if !u.hasP95 || p95ms > u.maxP95 {
			u.maxP95, u.hasP95 = p95ms, true
		}
	}
	u.tl.Points = append(u.tl.Points, p)
	return nil
}

func (u *unit) summarise() {
	s := &u.tl.Summary
	s.FirstScaleUp = -1
	prev := int32(-1)
	for i, p := range u.tl.Points {
		if i == 0 || p.Replicas < s.MinReplicas {
			s.MinReplicas = p.Replicas
		}
		if p.Replicas > s.MaxReplicas {
			s.MaxReplicas, s.MaxAt = p.Replicas, p.T
		}
		before := prev
		if i == 0 {
			before = u.initialReplicas()
		}
		if p.Replicas != before {
			s.Changes++
			if p.Replicas > before && s.FirstScaleUp < 0 {
				s.FirstScaleUp = p.T
			}
		}
		prev = p.Replicas
		s.PeakCPUPercent = max(s.PeakCPUPercent, p.CPUUtilization)
		s.PeakMemoryPercent = max(s.PeakMemoryPercent, p.MemoryUtilization)
		if p.OverMemoryLimit {
			s.OverMemoryLimitSyncs++
		}
	}
	if n := len(u.tl.Points); n > 0 {
		s.FinalReplicas = u.tl.Points[n-1].Replicas
	}
	if u.hasP95 {
		v := u.maxP95
		s.MaxP95 = &v
	}
	s.CPUReservedCoreSecs = round(s.CPUReservedCoreSecs, 1)
	s.CPUUsedCoreSecs = round(s.CPUUsedCoreSecs, 1)
	s.Dropped = round(s.Dropped, 0)
}

func (u *unit) initialReplicas() int32 {
	if u.tl.HPA != nil {
		return u.tl.HPA.MinReplicas
	}
	return u.dep.Replicas
}

// round rounds to the given decimals, so that the JSON is readable and
// floating-point noise in the last bits never shows in a diff.
func round(v float64, decimals int) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

// Unit returns the timeline of the named Deployment, or nil.
func (tl *Timeline) Unit(name string) *UnitTimeline {
	for _, u := range tl.Units {
		if u.Name == name {
			return u
		}
	}
	return nil
}
