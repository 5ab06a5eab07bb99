package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/sim/calibrate"
	"github.com/shoplab/shoplab/sim/hpa/model"
)

// calibrateLong is the help of `shoplab calibrate`.
const calibrateLong = `Measures the HPA twin's cost profile on the real services: starts the local
env in this process, runs an idle window and then each journey alone at
--rate iterations per second for --duration (after --warmup, not measured),
splits the process's CPU time over each window by unit with a CPU profile
(every unit's goroutines carry a pprof label), diffs each unit's request
metrics, fits the costs with model.Fit and writes the profile to --out.
Memory and startup times are not measured (one process cannot split its
heap by unit): they are carried over from --base.

The profile is linear in the rates and the services are not quite (a
unit's CPU per request falls as its rate rises): calibrate near the rates
you will simulate.

The profile samples at 250 Hz instead of runtime/pprof's 100 Hz (more
samples to split the process's CPU time by), so the Go runtime prints
"cannot set cpu profile rate until previous profile has finished" once per
window: expected and harmless. --profile-hz 100 silences it.
`

// runCalibrate is `shoplab calibrate`: measure, fit, print, write.
func runCalibrate(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab calibrate", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var (
		cfg      calibrate.Config
		bench    calibrate.BenchConfig
		warmup   time.Duration
		out      = fs.String("out", "profiles/local.json", "write the measured profile here")
		base     = fs.String("base", "", "profile to carry memory and startup times over from (default: --out if it exists, else the built-in profile)")
		logLevel = fs.String("log-level", "error", "unit log level: debug, info, warn, error (JSON on stderr)")
		verify   = fs.Bool("verify", false, "then measure a mixed load (browse 6, search 2, checkout 3, declined_checkout 1, browse at --rate) and print the profile's prediction next to it")
		dryRun   = fs.Bool("dry-run", false, "measure and print, but write nothing")
	)
	fs.Float64Var(&cfg.Rate, "rate", calibrate.DefaultRate, "iterations per second of each journey's window; keep it well below saturation")
	fs.DurationVar(&cfg.Duration, "duration", calibrate.DefaultDuration, "length of each measured window")
	fs.DurationVar(&warmup, "warmup", calibrate.DefaultWarmup, "unmeasured load before each journey's window")
	fs.DurationVar(&cfg.Idle, "idle", 0, "length of the idle window (default: --duration)")
	fs.IntVar(&cfg.Repeats, "repeats", 1, "rounds of windows; the fit averages them")
	fs.IntVar(&bench.Customers, "customers", 20, "accounts the checkout journeys use")
	fs.Int64Var(&bench.Seed, "seed", 1, "seed of the journeys' choices and of the catalog")
	fs.IntVar(&bench.ProfileHz, "profile-hz", calibrate.DefaultProfileHz, "CPU profile sampling rate")
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageError("calibrate: unexpected arguments %v", fs.Args())
	}
	cfg.Warmup = warmup
	if warmup == 0 {
		cfg.Warmup = -1 // the flag's 0 is none; Config's 0 is the default
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%v", err)
	}
	if bench.Customers < 1 || bench.ProfileHz < 1 {
		return usageError("calibrate: --customers and --profile-hz must be positive")
	}
	if !*dryRun {
		// Fail before minutes of measuring, not after.
		if st, err := os.Stat(filepath.Dir(*out)); err != nil || !st.IsDir() {
			return usageError("calibrate: --out %s: no directory %s to write it in (run from the checkout, or name another --out)", *out, filepath.Dir(*out))
		}
	}
	baseProfile, baseName, err := calibrationBase(*base, *out)
	if err != nil {
		return inputError(err)
	}
	bench.Log = logx.New(e.stderr, *logLevel)
	cfg.Progress = e.stdout

	fmt.Fprintf(e.stdout, "shoplab calibrate: %g it/s per journey for %s each; memory and startup from %s\n", cfg.Rate, cfg.Duration, baseName)
	b, err := calibrate.NewBench(ctx, bench)
	if err != nil {
		return err
	}
	defer b.Close()
	started := time.Now()
	res, err := calibrate.Calibrate(ctx, b, cfg)
	if err != nil {
		return err
	}
	prof, err := res.Profile(baseProfile, calibrate.Note(res.Config, bench.ProfileHz, started))
	if err != nil {
		return err
	}
	if err := calibrate.WriteTable(e.stdout, res, prof); err != nil {
		return err
	}
	if *verify {
		if err := verifyCalibration(ctx, e, b, prof, res.Config); err != nil {
			return err
		}
	}
	if *dryRun {
		fmt.Fprintln(e.stdout, "\n--dry-run: nothing written")
		return nil
	}
	if err := prof.Save(*out); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	fmt.Fprintf(e.stdout, "\nwrote %s (source %s) in %s\n", *out, prof.Source, time.Since(started).Round(time.Second))
	return nil
}

// calibrationBase picks the profile whose memory fields calibrate keeps:
// the one named, else the one about to be replaced, else the built-in one.
func calibrationBase(base, out string) (model.Profile, string, error) {
	if base != "" {
		p, err := model.Load(base)
		if err != nil {
			return model.Profile{}, "", fmt.Errorf("calibrate: --base: %w", err)
		}
		return p, base, nil
	}
	p, err := model.Load(out)
	switch {
	case err == nil:
		return p, out, nil
	case !errs.Is(err, errs.NotFound):
		return model.Profile{}, "", fmt.Errorf("calibrate: %w (name another with --base)", err)
	}
	if p, err = profiles.Local(); err != nil {
		return model.Profile{}, "", fmt.Errorf("calibrate: the built-in profile: %w", err)
	}
	return p, "the built-in profile", nil
}

// verifyCalibration measures a mix of every journey, the heaviest (browse)
// at cfg.Rate and the others below it, and prints the profile's prediction
// for it next to the measurement.
func verifyCalibration(ctx context.Context, e env, b *calibrate.Bench, prof model.Profile, cfg calibrate.Config) error {
	const floor = 50 // millicores: below it one window's noise exceeds 25%
	weights := map[string]float64{"browse": 6, "search": 2, "checkout": 3, "declined_checkout": 1}
	l := calibrate.Load{Name: "mix", Rate: 2 * cfg.Rate, Warmup: cfg.Warmup, Duration: cfg.Duration, Journeys: weights}
	fmt.Fprintf(e.stdout, "\nverify: browse 6, search 2, checkout 3, declined_checkout 1, at %g it/s for %s\n", l.Rate, l.Duration)
	w, err := calibrate.MeasureSteady(ctx, b, l, nil)
	if err != nil {
		return err
	}
	return calibrate.WritePredictions(e.stdout, calibrate.Predict(prof, w), floor)
}
