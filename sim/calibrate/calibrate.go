// Package calibrate measures the HPA twin's cost profile (sim/hpa/model) on
// the real services: `shoplab calibrate`.
//
// It runs the whole platform in this process (sim/cloud), where every unit's
// goroutines carry the pprof label unit=<name>, and drives it with the
// customer simulator (sim/load): an idle window, then each journey alone
// at a fixed open-model rate. Over each window it takes a CPU profile of the
// process and sums it by the unit label, and diffs each unit's request
// metrics (shoplab_requests_total and the server and client duration
// histograms). model.Fit turns the windows into CPU costs per iteration,
// idle CPU and service times.
//
// The CPU time itself is the kernel's (getrusage); the profile only says
// how it splits, and its samples are not random: the kernel fires them on
// its scheduler tick, so the load's start times are jittered to keep a
// periodic schedule from hiding some calls from every sample (see
// DefaultProfileHz and jittered).
//
// What one process cannot tell apart is charged by rule (CPU.Apportioned):
// the runtime's own work (GC, scheduler) in proportion to CPU, gRPC's
// client transports in proportion to each unit's outgoing calls. Memory
// cannot be split by unit in one heap at all, so the memory fields are
// carried over from the previous profile and only the process's heap is
// reported.
//
// The profile is linear in the journey rates, and the services are not
// quite: a unit's CPU per request falls as its request rate rises (fewer
// wake-ups and syscalls per request as gRPC and the netpoller batch), most
// visibly in the plain build, where a request costs well under a
// millisecond. Calibrate near the rates the profile will be used at.
package calibrate

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/shoplab/shoplab/sim/hpa/model"
)

// Defaults of Config.
const (
	DefaultRate     = 40.0
	DefaultDuration = 10 * time.Second
	DefaultWarmup   = 2 * time.Second
)

// Config is one calibration: an idle window, then each journey alone.
type Config struct {
	// Rate is the iterations per second of each journey's window; 0 means
	// DefaultRate. Keep it well below saturation: service times are
	// measured too, and they must not be queueing.
	Rate float64
	// Rates overrides Rate for some journeys: calibrate each near the rate
	// it will run at (see the package doc on linearity).
	Rates map[string]float64
	// Duration is each measured window; 0 means DefaultDuration.
	Duration time.Duration
	// Warmup is the unmeasured load before each journey's window; 0 means
	// DefaultWarmup, negative none.
	Warmup time.Duration
	// Idle is the idle window; 0 means Duration.
	Idle time.Duration
	// Journeys are the journeys to measure, one window each; nil means
	// every journey of model.DefaultJourneys.
	Journeys []string
	// Repeats is how many times the idle window and each journey are
	// measured, in rounds; 0 means 1. Fit averages the repeats.
	Repeats int
	// Progress gets a line per window; nil for none.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = DefaultWarmup
	case c.Warmup < 0:
		c.Warmup = 0
	}
	if c.Idle == 0 {
		c.Idle = c.Duration
	}
	if c.Journeys == nil {
		c.Journeys = slices.Sorted(maps.Keys(model.DefaultJourneys()))
	}
	if c.Repeats == 0 {
		c.Repeats = 1
	}
	return c
}

// Validate reports what is wrong with the config, once its zero fields
// have their defaults.
func (c Config) Validate() error { return c.withDefaults().validate() }

func (c Config) validate() error {
	known := model.DefaultJourneys()
	switch {
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("calibrate: rate must be positive, got %g", c.Rate)
	case c.Duration < time.Second || c.Idle < time.Second:
		return fmt.Errorf("calibrate: windows must last at least 1s, got %s (idle %s)", c.Duration, c.Idle)
	case c.Repeats < 1:
		return fmt.Errorf("calibrate: repeats must be at least 1, got %d", c.Repeats)
	case len(c.Journeys) == 0:
		return fmt.Errorf("calibrate: no journey to measure")
	}
	for _, j := range c.Journeys {
		if _, ok := known[j]; !ok {
			return fmt.Errorf("calibrate: unknown journey %q (known: %v)", j, slices.Sorted(maps.Keys(known)))
		}
	}
	for _, j := range slices.Sorted(maps.Keys(c.Rates)) {
		if !slices.Contains(c.Journeys, j) {
			return fmt.Errorf("calibrate: a rate for journey %q, which is not measured", j)
		}
		if r := c.Rates[j]; !(r > 0) || math.IsInf(r, 0) {
			return fmt.Errorf("calibrate: the rate of %s must be positive, got %g", j, r)
		}
	}
	return nil
}

// RateOf is the rate journey j is calibrated at.
func (c Config) RateOf(j string) float64 {
	if r, ok := c.Rates[j]; ok {
		return r
	}
	return c.Rate
}

// Result is a calibration's windows.
type Result struct {
	Config  Config
	Windows []Window
}

// Idle is the name of the idle windows.
const Idle = "idle"

// Calibrate measures b: per round, an idle window, then each journey alone
// at its rate (Config.RateOf).
func Calibrate(ctx context.Context, b *Bench, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	res := &Result{Config: cfg}
	loads := []Load{{Name: Idle, Duration: cfg.Idle}}
	for _, j := range cfg.Journeys {
		loads = append(loads, Load{Name: j, Rate: cfg.RateOf(j), Journeys: map[string]float64{j: 1}, Warmup: cfg.Warmup, Duration: cfg.Duration})
	}
	for round := range cfg.Repeats {
		for _, l := range loads {
			w, err := MeasureSteady(ctx, b, l, func(w Window, retry bool) {
				if cfg.Progress == nil {
					return
				}
				fmt.Fprintf(cfg.Progress, "  round %d/%d  %-18s %5.1f s  %6.1f it/s  %5d iterations  %3d failed  %3d dropped  process CPU %4.0fm",
					round+1, cfg.Repeats, w.Name, w.Seconds, w.TotalRate(), w.Iterations, w.Failures, w.Dropped, 1000*w.CPU.Total()/w.Seconds)
				if retry {
					fmt.Fprint(cfg.Progress, "  saturated: measuring again")
				}
				fmt.Fprintln(cfg.Progress)
			})
			if err != nil {
				return nil, err
			}
			if l.Rate > 0 && !labelled(w.CPU) {
				return nil, fmt.Errorf("calibrate: window %s: no CPU sample carries a %q label; sim/cloud must run each unit under pprof.Do with it", w.Name, UnitLabel)
			}
			res.Windows = append(res.Windows, w)
		}
	}
	return res, nil
}

// labelled tells whether any of the model's units has CPU in c.
func labelled(c CPU) bool {
	for _, u := range model.Units() {
		if c[u] > 0 {
			return true
		}
	}
	return false
}

// SaturationRetries is how many times MeasureSteady measures a saturated
// window again before it gives up.
const SaturationRetries = 2

// MeasureSteady measures l, and measures it again while the window is
// saturated (Window.Saturated), at most SaturationRetries times: a busy
// machine or a stall can make one window time out, and its CPU would be
// that of the timeouts. report, when not nil, sees every window measured,
// with retry set when it is measured again. A window still saturated after
// the retries is an error: the rate is too high for this machine.
func MeasureSteady(ctx context.Context, b *Bench, l Load, report func(w Window, retry bool)) (Window, error) {
	for attempt := 0; ; attempt++ {
		w, err := b.Measure(ctx, l)
		if err != nil {
			return Window{}, err
		}
		saturated := w.Saturated(l.Rate)
		retry := saturated && attempt < SaturationRetries
		if report != nil {
			report(w, retry)
		}
		if !saturated {
			return w, nil
		}
		if !retry {
			return Window{}, fmt.Errorf("calibrate: window %s: the platform did not keep up with %g it/s (%.1f it/s, %d failed %v, %d dropped of %d) in %d attempts: lower the rate",
				l.Name, l.Rate, w.TotalRate(), w.Failures, w.Errors, w.Dropped, w.Iterations, attempt+1)
		}
	}
}

// Samples turns the windows into model.Fit's input: one sample per unit of
// the model per window. The process's heap cannot be split by unit, so
// each sample's MemoryBytes is the base profile's memory_base_bytes, a
// placeholder that Profile replaces with the base's memory fields.
func (r *Result) Samples(base model.Profile) ([]model.Sample, error) {
	var out []model.Sample
	for _, w := range r.Windows {
		cpu := w.Apportioned()
		rates := map[string]float64{}
		for j, v := range w.Rates {
			if v > 0 {
				rates[j] = v
			}
		}
		for _, unit := range model.Units() {
			b, ok := base.Units[unit]
			if !ok {
				return nil, fmt.Errorf("calibrate: the base profile has no unit %s to take its memory from", unit)
			}
			out = append(out, model.Sample{
				Unit:           unit,
				Rates:          rates,
				Seconds:        w.Seconds,
				CPUSeconds:     cpu[unit],
				MemoryBytes:    float64(b.MemoryBaseBytes),
				LatencySeconds: w.Served[unit].OwnSeconds(),
			})
		}
	}
	return out, nil
}

// Profile fits the windows with model.Fit and keeps from base what was not
// measured: each unit's memory fields and startup time. note becomes the
// profile's note (see Note).
func (r *Result) Profile(base model.Profile, note string) (model.Profile, error) {
	samples, err := r.Samples(base)
	if err != nil {
		return model.Profile{}, err
	}
	p, err := model.Fit(samples)
	if err != nil {
		return model.Profile{}, fmt.Errorf("calibrate: %w", err)
	}
	for unit, u := range p.Units {
		// Three significant digits, idle to a tenth of a millicore: the
		// windows are good to a few percent at best, and a diff of the
		// profile should show changes in cost, not in noise.
		u.IdleCPUMillicores = math.Round(10*u.IdleCPUMillicores) / 10
		u.ServiceSeconds = roundSignificant(u.ServiceSeconds, 3)
		for j, c := range u.CPUSecondsPerIteration {
			u.CPUSecondsPerIteration[j] = roundSignificant(c, 3)
		}
		b := base.Units[unit]
		u.MemoryBaseBytes, u.MemoryPerInflightBytes, u.MemoryPerRPSBytes = b.MemoryBaseBytes, b.MemoryPerInflightBytes, b.MemoryPerRPSBytes
		u.StartupSeconds = b.StartupSeconds
		p.Units[unit] = u
	}
	p.Note = note
	if err := p.Validate(); err != nil {
		return model.Profile{}, fmt.Errorf("calibrate: fitted profile: %w", err)
	}
	return p, nil
}

// roundSignificant rounds v to digits significant digits.
func roundSignificant(v float64, digits int) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	scale := math.Pow(10, float64(digits)-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// Note describes a calibration for the profile's note: when, where, how.
func Note(cfg Config, hz int, now time.Time) string {
	cfg = cfg.withDefaults()
	if hz == 0 {
		hz = DefaultProfileHz
	}
	var b strings.Builder
	fmt.Fprintf(&b, "measured by shoplab calibrate on %s, %s/%s, %d cores (GOMAXPROCS %d), %s, on the local env in one process. ",
		now.UTC().Format("2006-01-02"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())
	var rates []string
	for _, j := range cfg.Journeys {
		rates = append(rates, fmt.Sprintf("%s at %g", j, cfg.RateOf(j)))
	}
	fmt.Fprintf(&b, "An idle window of %s, then each journey alone (%s iterations/s) for %s after %s of warm-up, %d round(s), driven by sim/load's journeys with jittered start times. ",
		cfg.Idle, strings.Join(rates, ", "), cfg.Duration, cfg.Warmup, cfg.Repeats)
	fmt.Fprintf(&b, "CPU: the process's CPU time (getrusage) split by a %d Hz CPU profile's unit label, the runtime's own work (GC, scheduler) shared in proportion to CPU and gRPC client transports in proportion to each unit's outgoing calls. ", hz)
	b.WriteString("service_seconds: each unit's request time minus the time it waited on its callees, from its metrics. ")
	b.WriteString("memory_* and startup_seconds: carried over from the previous profile (one heap cannot be split by unit).")
	return b.String()
}
