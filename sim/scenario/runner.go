// Package scenario runs a scenario file against the platform: it starts
// the env, warms up, drives the load, injects the faults on schedule,
// evaluates probes per phase and abort rules as it goes, removes every
// fault, settles unknown outcomes, reconciles the invariants and writes a
// journal, an HTML report and a JUnit file.
package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/console"
	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/scenario/journal"
	"github.com/shoplab/shoplab/sim/scenario/report"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// ShortFactor is how much --short scales every time in a scenario.
const ShortFactor = 0.25

// DefaultAnalyticsWindow is the window a run uses when the scenario's env
// does not set one: the platform's 1-minute default would make every run
// wait a minute for its last window to close.
const DefaultAnalyticsWindow = 10 * time.Second

// Options configures a run.
type Options struct {
	OutDir   string  // where journal.json, report.html and junit.xml go; "" writes nothing
	Seed     *uint64 // overrides the scenario's seed
	Short    bool    // scale every time by ShortFactor
	Progress io.Writer
	TTY      bool      // Progress is a terminal: redraw one live line
	UnitLog  io.Writer // the units' JSON logs; nil discards
	File     string    // the scenario's path, for the reports
	// Target is the ops API URL of an env that is already running (such
	// as `shoplab up`); empty starts the embedded local env for the run.
	Target string
	// Env is where a run started here puts the parts (nil: the embedded
	// local env); PGPassword is its PostgreSQL password, if any.
	Env        *envs.Env
	PGPassword string
	// Stack is a running stack of unit processes to drive from the
	// outside; nil with an Env whose faults are an external toxiproxy (the
	// compose env) means ComposeStack.
	Stack *Stack
	// DockerHost overrides ComposeStack's Docker API (DOCKER_HOST).
	DockerHost string
	// Parts stops and starts the env's real parts for kill/restart faults
	// on postgres or kafka; nil refuses them.
	Parts cloud.PartControl
	Now   func() time.Time
}

// runState is one run in progress.
type runState struct {
	s  *spec.Scenario
	o  Options
	j  *journal.Journal
	tg target
	lr *load.Runner

	mu     sync.Mutex
	faults []journal.FaultRecord
	active map[string]bool // fault names in force
}

// Run runs s and returns its journal. An error means the run could not be
// carried out at all (the env did not start, say); a failed verdict is not
// an error.
func Run(ctx context.Context, s *spec.Scenario, o Options) (*journal.Journal, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Short {
		s = s.Scale(ShortFactor)
	}
	rateFactor, latencyFactor := 1.0, 1.0
	if o.Env != nil && o.Target == "" {
		s, rateFactor = s.CapRate(o.Env.ScenarioMaxRate)
		s, latencyFactor = s.ScaleLatency(o.Env.ScenarioLatencyFactor)
	}
	seed := s.Seed
	if o.Seed != nil {
		seed = *o.Seed
	}
	started := o.Now()
	j := &journal.Journal{
		Scenario: s.Name, Description: s.Description, File: o.File, Seed: seed, Short: o.Short,
		ScaleFactor: s.ScaleFactor(), Expected: string(s.ExpectedVerdict()), StartedAt: started.UTC(),
		LoadSeconds: seconds(s.TotalDuration()), PhaseStat: map[string]load.Stats{},
		Probes: []journal.ProbeResult{}, Recovery: []journal.RecoveryResult{}, Invariants: []journal.Invariant{}, Faults: []journal.FaultRecord{},
	}
	if rateFactor < 1 {
		j.RateFactor = rateFactor
		fmt.Fprintf(o.Progress, "• %s: rates and throughput bounds ×%.3g: the %s env serves at most %g iterations/s (scenario_max_rate)\n", s.Name, rateFactor, o.Env.Name, o.Env.ScenarioMaxRate)
	}
	if latencyFactor > 1 {
		j.LatencyFactor = latencyFactor
		fmt.Fprintf(o.Progress, "• %s: latency bounds ×%.3g on the %s env (scenario_latency_factor); error budgets and invariants as written\n", s.Name, latencyFactor, o.Env.Name)
	}
	r := &runState{s: s, o: o, j: j, active: map[string]bool{}}
	err := r.run(ctx, seed)
	j.Seconds = seconds(o.Now().Sub(started))
	if err != nil {
		return j, err
	}
	r.verdict()
	if o.OutDir != "" {
		if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
			return j, err
		}
		if err := report.WriteAll(o.OutDir, j); err != nil {
			return j, fmt.Errorf("write reports: %w", err)
		}
	}
	return j, nil
}

func (r *runState) printf(format string, args ...any) {
	if r.o.TTY {
		fmt.Fprint(r.o.Progress, "\r\033[K")
	}
	fmt.Fprintf(r.o.Progress, format, args...)
}

func (r *runState) run(ctx context.Context, seed uint64) error {
	s := r.s
	unitLog := r.o.UnitLog
	if unitLog == nil {
		unitLog = io.Discard
	}
	if err := CheckEnv(s, r.o.File, r.o.Env, r.o.Target); err != nil {
		return err
	}
	var (
		tg  target
		err error
	)
	stack := r.o.Stack
	if stack == nil && r.o.Target == "" && r.o.Env != nil && r.o.Env.Faults == "toxiproxy" {
		st := ComposeStack
		st.Window = r.o.Env.Analytics.Window.Std()
		if r.o.DockerHost != "" {
			st.Docker = r.o.DockerHost
		}
		stack = &st
	}
	if stack != nil && r.o.Target == "" {
		if err := checkStackFaults(s, r.o.File, "stack"); err != nil {
			return err
		}
	}
	if stack != nil && r.o.Target == "" {
		// A running stack keeps its own settings: the window is its own.
		st := *stack
		if st.Window == 0 {
			st.Window = time.Minute
		}
		r.printf("• %s: driving the stack whose gateway is %s\n", s.Name, st.Gateway)
		tg, err = connectStack(ctx, st, s)
	} else if r.o.Target != "" {
		// A running env keeps its own settings; the scenario's env block
		// cannot change them, so the window to wait for is the file's or
		// the platform default.
		window := s.Env.AnalyticsWindow.Std()
		if window == 0 {
			window = time.Minute
		}
		r.printf("• %s: targeting the env whose ops API is %s\n", s.Name, r.o.Target)
		tg, err = connectRemote(ctx, r.o.Target, window)
	} else {
		where := "the local env"
		if r.o.Env != nil {
			where = "the " + r.o.Env.Name + " env"
		}
		r.printf("• %s: starting %s\n", s.Name, where)
		tg, err = startLocal(ctx, s, seed, unitLog, r.o.Env, r.o.PGPassword, r.o.Parts)
	}
	if err != nil {
		return err
	}
	defer tg.Close()
	r.tg = tg
	defer r.snapshotMetrics(context.WithoutCancel(ctx)) // runs before Close
	if ot, ok := tg.(interface{ OpsURL() string }); ok {
		r.printf("  console  %s/console (live while the run lasts)\n", ot.OpsURL())
	}

	lcfg := load.Config{
		BaseURL: tg.GatewayURL(), Executor: string(s.Load.Executor), Rate: s.Load.Rate, StartRate: s.Load.StartRate,
		Duration: s.Load.Duration.Std(), MaxInFlight: s.Load.MaxInFlight, Customers: s.Load.Customers,
		Journeys: map[string]float64{}, Seed: int64(seed),
	}
	for _, st := range s.Load.Stages {
		lcfg.Stages = append(lcfg.Stages, load.Stage{Target: st.Target, Duration: st.Duration.Std()})
	}
	for name, w := range s.Load.Journeys {
		lcfg.Journeys[string(name)] = w
	}
	lr, err := load.New(lcfg)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer lr.Close()
	r.lr = lr
	if js, ok := tg.(interface {
		SetJourneys(func() []console.Journey)
	}); ok {
		js.SetJourneys(func() []console.Journey { return consoleJourneys(lr.Snapshot()) })
		defer js.SetJourneys(nil)
	}
	// Warm-up: registering the customer pool and reading the catalog runs
	// every unit's hot paths once before anything is measured.
	r.printf("• warming up: %d customers, catalog snapshot\n", s.Load.Customers)
	if err := lr.Prepare(ctx); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	res, err := r.drive(ctx)
	if err != nil {
		return err
	}
	r.summarise(res)

	// Every fault goes before settling: the system must get the chance to
	// recover on its own, and the verdict must never depend on a fault left
	// behind.
	if err := tg.Reset(context.WithoutCancel(ctx)); err != nil {
		r.j.Reasons = append(r.j.Reasons, "faults could not all be removed: "+err.Error())
	}
	r.closeFaults()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.printf("• settling unknown order outcomes\n")
	rep, err := lr.Settle(ctx)
	if err == nil {
		r.j.Load.Settled, r.j.Load.Unknown = rep.Resolved, rep.Unresolved
	}
	ledger := lr.Ledger()
	r.j.Load.Orders = len(ledger)
	r.j.Load.Outcomes = map[string]int{}
	for _, seen := range ledger {
		r.j.Load.Outcomes[seen.Outcome]++
	}
	return r.reconcile(ctx, tg.Window())
}

// drive runs the load with the fault timeline, the live progress line and
// the abort rules, and returns the load's result.
func (r *runState) drive(ctx context.Context) (*load.Result, error) {
	s := r.s
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	type outcome struct {
		res *load.Result
		err error
	}
	done := make(chan outcome, 1)
	t0 := r.o.Now()
	go func() {
		res, err := r.lr.Run(loadCtx)
		done <- outcome{res, err}
	}()
	r.printf("• load: %s for %s, %d fault(s)\n", s.Load.Executor, s.TotalDuration(), len(s.Faults))

	var timeline sync.WaitGroup
	for i := range s.Faults {
		f := s.Faults[i]
		timeline.Go(func() { r.scheduleFault(loadCtx, t0, f) })
	}

	breachSince := make([]time.Time, len(s.Abort))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastPlain := time.Time{}
	for {
		select {
		case out := <-done:
			stopLoad()
			timeline.Wait()
			if r.o.TTY {
				fmt.Fprintln(r.o.Progress)
			}
			if out.err != nil && !errors.Is(out.err, context.Canceled) {
				return nil, fmt.Errorf("load: %w", out.err)
			}
			if out.res == nil {
				return nil, errors.New("load: no result")
			}
			return out.res, nil
		case now := <-tick.C:
			el := now.Sub(t0)
			snap := r.lr.Snapshot()
			if r.o.TTY || now.Sub(lastPlain) >= 5*time.Second {
				lastPlain = now
				line := fmt.Sprintf("  %-10s %4.0fs/%.0fs  %6.1f rps  p95 %-8s errors %5.2f%%  dropped %d  faults: %s",
					s.PhaseAt(el, s.AfterGrace()), el.Seconds(), s.TotalDuration().Seconds(), snap.Throughput,
					snap.P95.Round(time.Millisecond), 100*snap.ErrorRate, snap.Dropped, r.activeFaults())
				if r.o.TTY {
					fmt.Fprint(r.o.Progress, "\r\033[K"+line)
				} else {
					fmt.Fprintln(r.o.Progress, line)
				}
			}
			if r.j.Aborted == nil {
				if a := r.checkAbort(now, el, snap, breachSince); a != nil {
					r.j.Aborted = a
					r.printf("! aborted at %.0fs: %s\n", a.At, a.Detail)
					stopLoad()
					_ = r.tg.Reset(context.WithoutCancel(ctx))
				}
			}
		}
	}
}

// checkAbort evaluates the abort rules on the live window; a rule fires
// once its threshold has been broken continuously for its `for`.
func (r *runState) checkAbort(now time.Time, el time.Duration, snap load.Stats, since []time.Time) *journal.Abort {
	for i := range r.s.Abort {
		rule := &r.s.Abort[i]
		v, ok := observe(&rule.Threshold, snap)
		if !ok || rule.Holds(v) {
			since[i] = time.Time{}
			continue
		}
		if since[i].IsZero() {
			since[i] = now
		}
		if now.Sub(since[i]) >= rule.For.Std() {
			shown, unit := display(rule.Metric, v)
			return &journal.Abort{Rule: rule.Name, At: seconds(el), Observed: shown,
				Detail: fmt.Sprintf("%s broke %s (observed %.4g %s) for %s", rule.Name, rule.Condition(), shown, unit, rule.For)}
		}
	}
	return nil
}

// scheduleFault applies f at its time and removes it at its end (the
// engine also expires it on its own, should this goroutine be cut short).
func (r *runState) scheduleFault(ctx context.Context, t0 time.Time, f spec.Fault) {
	if !sleepUntil(ctx, t0.Add(f.Start())) {
		return
	}
	ids := map[string]string{}
	for _, cf := range f.Chaos() {
		rec := journal.FaultRecord{Name: cf.Name, Target: cf.Target, Type: cf.Type, Attributes: cf.Attributes, Start: seconds(r.o.Now().Sub(t0))}
		id, err := r.tg.Apply(context.WithoutCancel(ctx), cf)
		if err != nil {
			rec.Error = err.Error()
			rec.End = rec.Start
		} else {
			ids[cf.Name] = id
			r.mu.Lock()
			r.active[cf.Name] = true
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.faults = append(r.faults, rec)
		r.mu.Unlock()
	}
	if f.Duration == 0 {
		r.endFaults(t0, ids) // a restart is instantaneous
		return
	}
	sleepUntil(ctx, t0.Add(f.End()))
	for _, id := range ids {
		_ = r.tg.Remove(context.WithoutCancel(ctx), id)
	}
	r.endFaults(t0, ids)
}

func (r *runState) endFaults(t0 time.Time, ids map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := seconds(r.o.Now().Sub(t0))
	for name := range ids {
		delete(r.active, name)
		for i := range r.faults {
			if r.faults[i].Name == name && r.faults[i].End == 0 {
				r.faults[i].End = end
			}
		}
	}
}

// closeFaults ends the records of faults a reset removed.
func (r *runState) closeFaults() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.faults {
		if r.faults[i].End == 0 && r.faults[i].Error == "" {
			r.faults[i].End = r.j.LoadSeconds
		}
	}
	r.j.Faults = append(r.j.Faults[:0], r.faults...)
	sort.SliceStable(r.j.Faults, func(a, b int) bool { return r.j.Faults[a].Start < r.j.Faults[b].Start })
}

func (r *runState) activeFaults() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.active) == 0 {
		return "none"
	}
	names := make([]string, 0, len(r.active))
	for n := range r.active {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// summarise evaluates probes per phase and recovery probes on the load's result.
func (r *runState) summarise(res *load.Result) {
	s, j := r.s, r.j
	j.Load = journal.LoadSummary{Executor: string(s.Load.Executor), Scheduled: res.Scheduled, Started: res.Started, Dropped: res.Dropped,
		Seconds: seconds(res.Duration), PeakRate: s.Load.PeakRate()}
	j.Series = res.Series()
	total := s.TotalDuration()
	if j.Aborted != nil {
		total = time.Duration(j.Aborted.At * float64(time.Second))
	}
	grace := s.AfterGrace()
	spans := map[spec.Phase][]load.Range{}
	for _, sp := range s.Phases(grace) {
		if sp.From >= total {
			continue
		}
		if rg, ok := inward(sp.From, min(sp.To, total)); ok {
			spans[sp.Phase] = append(spans[sp.Phase], rg)
		}
		j.Phases = append(j.Phases, journal.Phase{Name: string(sp.Phase), From: seconds(sp.From), To: seconds(min(sp.To, total))})
	}
	spans[spec.PhaseContinuous] = []load.Range{{From: 0, To: total}}
	stats := map[spec.Phase]load.Stats{}
	for ph, rs := range spans {
		stats[ph] = res.Windows(rs...)
		j.PhaseStat[string(ph)] = stats[ph]
	}
	j.PhaseStat["total"] = res.Total
	for i := range s.SteadyState {
		p := &s.SteadyState[i]
		phases := p.Phases
		if len(phases) == 0 {
			phases = []spec.Phase{spec.PhaseContinuous}
		}
		for _, ph := range phases {
			pr := journal.ProbeResult{Name: p.Name, Phase: string(ph), Metric: string(p.Metric), Journey: string(p.Journey), Endpoint: p.Endpoint,
				Condition: p.Condition(), Max: bound(p.Metric, p.Max), Min: bound(p.Metric, p.Min)}
			_, pr.Unit = display(p.Metric, 0)
			st, has := stats[ph]
			v, ok := observe(&p.Threshold, st)
			switch {
			case !has || !ok:
				pr.OK, pr.Skipped, pr.Detail = true, true, "no matching requests in this phase"
			default:
				shown, _ := display(p.Metric, v)
				pr.Observed = &shown
				pr.OK = p.Holds(v)
			}
			j.Probes = append(j.Probes, pr)
		}
	}
	end, hasFaults := s.LastFaultEnd()
	for i := range s.Recovery {
		rp := &s.Recovery[i]
		rr := journal.RecoveryResult{Name: rp.Name, Metric: string(rp.Metric), Journey: string(rp.Journey), Endpoint: rp.Endpoint,
			Condition: rp.Condition(), Within: seconds(rp.Within.Std())}
		if !hasFaults {
			rr.OK, rr.Detail = true, "no faults: nothing to recover from"
			j.Recovery = append(j.Recovery, rr)
			continue
		}
		// Recovered at the first second from which the metric, over a
		// short sliding window, is back inside its bound.
		win := min(5*time.Second, max(rp.Within.Std(), time.Second))
		start, _ := inward(end, end+time.Second) // the first whole second after the fault
		for at := start.From; at+win <= total; at += time.Second {
			v, ok := observe(&rp.Threshold, res.Window(at, at+win))
			if ok && rp.Holds(v) {
				after := seconds(at - end)
				rr.Recovered = &after
				break
			}
		}
		switch {
		case rr.Recovered == nil:
			rr.Detail = fmt.Sprintf("never back within %s before the load ended", rp.Condition())
		case *rr.Recovered <= rr.Within:
			rr.OK, rr.Detail = true, fmt.Sprintf("back within bound %.0fs after the last fault", *rr.Recovered)
		default:
			rr.Detail = fmt.Sprintf("took %.0fs, allowed %.0fs", *rr.Recovered, rr.Within)
		}
		j.Recovery = append(j.Recovery, rr)
	}
}

// inward rounds [from, to) inward to whole seconds, the stats' resolution,
// so a phase never takes in a second that belongs to its neighbour (the
// first second of a fault must not count as "before"). ok is false when no
// whole second is left.
func inward(from, to time.Duration) (load.Range, bool) {
	f, t := from.Truncate(time.Second), to.Truncate(time.Second)
	if f < from {
		f += time.Second
	}
	return load.Range{From: f, To: t}, f < t
}

// reconcile waits until the invariants hold or the settle deadline passes,
// and records the last results.
func (r *runState) reconcile(ctx context.Context, window time.Duration) error {
	names := make([]string, 0, len(r.s.Invariants))
	for _, inv := range r.s.Invariants {
		names = append(names, string(inv))
	}
	if len(names) == 0 {
		return nil
	}
	src, err := r.tg.Reconciler()
	if err != nil {
		return err
	}
	// Emails and windows arrive asynchronously; the last window closes one
	// window plus the idle timeout after the last order.
	deadline := 3*window + 45*time.Second
	r.printf("• reconciling %s (waiting up to %s)\n", strings.Join(names, ", "), deadline)
	wctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	res, st, err := reconcile.WaitFor(wctx, src, r.lr.Ledger(), names, 500*time.Millisecond)
	if err != nil {
		return err
	}
	r.j.Invariants = res
	r.j.Load.Emails, r.j.Load.Windows = len(st.Emails), len(st.Windows)
	return nil
}

// verdict sets the verdict and the reasons for a fail.
func (r *runState) verdict() {
	j := r.j
	if j.Aborted != nil {
		j.Reasons = append(j.Reasons, "aborted: "+j.Aborted.Detail)
	}
	for _, p := range j.Probes {
		if !p.OK {
			obs := "n/a"
			if p.Observed != nil {
				obs = fmt.Sprintf("%.4g %s", *p.Observed, p.Unit)
			}
			j.Reasons = append(j.Reasons, fmt.Sprintf("probe %s [%s]: %s, observed %s", p.Name, p.Phase, p.Condition, obs))
		}
	}
	for _, rr := range j.Recovery {
		if !rr.OK {
			j.Reasons = append(j.Reasons, fmt.Sprintf("recovery %s: %s", rr.Name, rr.Detail))
		}
	}
	for _, inv := range j.Invariants {
		if !inv.OK {
			j.Reasons = append(j.Reasons, fmt.Sprintf("invariant %s: %s", inv.Name, inv.Detail))
		}
	}
	j.Verdict = journal.Pass
	if len(j.Reasons) > 0 || !j.OK() {
		j.Verdict = journal.Fail
	}
}

// Summary writes a short human summary of a journal.
func Summary(w io.Writer, j *journal.Journal) {
	mark := func(ok, skipped bool) string {
		switch {
		case skipped:
			return "skip"
		case ok:
			return "ok  "
		}
		return "FAIL"
	}
	fmt.Fprintf(w, "\n%s: %s (expected %s) in %.1fs\n", j.Scenario, strings.ToUpper(j.Verdict), j.Expected, j.Seconds)
	st := j.PhaseStat["total"]
	fmt.Fprintf(w, "  load     %d iterations (%d dropped), %d requests, %.1f req/s, p50 %s p95 %s p99 %s, error rate %.2f%%\n",
		j.Load.Started, j.Load.Dropped, st.Requests, st.Throughput, st.P50.Round(time.Millisecond), st.P95.Round(time.Millisecond), st.P99.Round(time.Millisecond), 100*st.ErrorRate)
	o := j.Load.Outcomes
	fmt.Fprintf(w, "  orders   %d accepted · %d declined · %d rejected · %d unknown · %d emails · %d analytics windows closed\n",
		o["created"], o["declined"], o["rejected"], o["unknown"], j.Load.Emails, j.Load.Windows)
	for _, f := range j.Faults {
		e := ""
		if f.Error != "" {
			e = " ERROR " + f.Error
		}
		fmt.Fprintf(w, "  fault    %-22s %-16s %-14s %5.1fs..%5.1fs%s\n", f.Name, f.Target, f.Type, f.Start, f.End, e)
	}
	for _, p := range j.Probes {
		obs := "n/a"
		if p.Observed != nil {
			obs = fmt.Sprintf("%.4g %s", *p.Observed, p.Unit)
		}
		fmt.Fprintf(w, "  [%s] probe %-20s %-7s %-45s observed %s\n", mark(p.OK, p.Skipped), p.Name, p.Phase, p.Condition, obs)
	}
	for _, rr := range j.Recovery {
		fmt.Fprintf(w, "  [%s] recovery %-17s %s\n", mark(rr.OK, false), rr.Name, rr.Detail)
	}
	for _, inv := range j.Invariants {
		fmt.Fprintf(w, "  [%s] invariant %-16s %s\n", mark(inv.OK, false), inv.Name, inv.Detail)
	}
	if j.Aborted != nil {
		fmt.Fprintf(w, "  aborted: %s\n", j.Aborted.Detail)
	}
}

// MissedOnTimingOnly reports whether every check that failed in j measured
// time alone: a latency, throughput or dropped-iterations probe, or a
// recovery rule on a latency. Such a miss can be the machine's (a 2 s stall
// of a shared 2-core box shows in every journey at once), so a library run
// may retry it; a failed invariant, error budget, fault or abort is the
// platform's and never is. A journal with no failed check reports false.
func MissedOnTimingOnly(j *journal.Journal) bool {
	if j.Aborted != nil {
		return false
	}
	timing := func(metric string) bool {
		m := spec.Metric(metric)
		return m.IsLatency() || m == spec.Throughput || m == spec.DroppedIterations
	}
	missed := 0
	for _, p := range j.Probes {
		if p.OK || p.Skipped {
			continue
		}
		if !timing(p.Metric) {
			return false
		}
		missed++
	}
	for _, rr := range j.Recovery {
		if rr.OK {
			continue
		}
		if !spec.Metric(rr.Metric).IsLatency() {
			return false
		}
		missed++
	}
	for _, inv := range j.Invariants {
		if !inv.OK {
			return false
		}
	}
	for _, f := range j.Faults {
		if f.Error != "" {
			return false
		}
	}
	return missed > 0
}

// consoleJourneys is the load's live journey table for the console.
func consoleJourneys(st load.Stats) []console.Journey {
	names := make([]string, 0, len(st.Journeys))
	for name := range st.Journeys {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]console.Journey, 0, len(names))
	for _, name := range names {
		j := st.Journeys[name]
		row := console.Journey{
			Name: name, Dropped: j.Dropped,
			P50: ms(j.P50), P95: ms(j.P95), P99: ms(j.P99),
		}
		if st.Seconds > 0 {
			row.RPS = float64(j.Iterations) / st.Seconds
		}
		if j.Iterations > 0 {
			row.FailureRate = float64(j.Failures) / float64(j.Iterations)
		}
		out = append(out, row)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
