package cli

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/bundle"
	"github.com/shoplab/shoplab/sim/scenario/journal"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// runRun is `shoplab run <scenario.yaml>...`: exit 0 for pass, 1 for fail,
// 2 for an invalid file or usage. With --check-expect a scenario "passes"
// when its verdict equals its `expect`, which is how CI runs the library.
func runRun(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab run", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	out := fs.String("out", "", "directory for journal.json, report.html and junit.xml (default shoplab-runs/<name>-<timestamp>)")
	seed := fs.Int64("seed", -1, "override the scenario's seed")
	short := fs.Bool("short", false, fmt.Sprintf("scale every time in the file by %g (for CI)", scenario.ShortFactor))
	checkExpect := fs.Bool("check-expect", false, "succeed when each verdict equals the scenario's expect (pass or fail)")
	bundleRun := fs.Bool("bundle", false, "also pack each run dir into <dir>.tar.gz (journal, report, junit, unit logs, metrics, the scenario file, the binary's version) for another machine or `shoplab diff`")
	target := fs.String("target", "", "ops API URL of an env already running (e.g. http://127.0.0.1:8090 for `shoplab up`); default: start the local env for each run")
	envName := fs.String("env", "local", "where the parts run: local (embedded), host (`shoplab deps up`), or an env file's path")
	depsStateDir := fs.String("deps-state-dir", "", "state dir of `shoplab deps up`, whose postgres and kafka a scenario's kill/restart faults stop and start (default: deps' default)")
	analyticsEngine := fs.String("analytics", "", analyticsFlagUsage)
	retryTiming := fs.Int("retry-timing", 0, "run a scenario again, up to N times, when it missed its verdict on timing alone (latency, throughput or dropped-iteration probes and latency recovery rules); a failed invariant, error budget, fault or abort is never retried. Every attempt is printed and kept")
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	env, err := loadEnv(*envName)
	if err != nil {
		return err
	}
	if env, err = withAnalyticsEngine(env, *analyticsEngine); err != nil {
		return err
	}
	pgPassword, _ := e.lookup("PGPASSWORD")
	dockerHost, _ := e.lookup("DOCKER_HOST") // the compose env's process faults
	if fs.NArg() == 0 {
		return usageError("usage: shoplab run <scenario.yaml>... [--out DIR] [--seed N] [--short] [--check-expect]")
	}
	var scenarios []*spec.Scenario
	paths := fs.Args()
	for _, path := range paths {
		s, err := spec.Load(path)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		// Refused up front, before any run starts: a batch is all or nothing.
		if err := scenario.CheckEnv(s, path, env, *target); err != nil {
			return &exitError{code: 2, err: err}
		}
		scenarios = append(scenarios, s)
	}
	partCtl, err := runPartControl(e, *envName, *depsStateDir, env, scenarios)
	if err != nil {
		return err
	}
	if *out != "" && len(scenarios) > 1 {
		return usageError("--out takes one scenario; without it each run gets its own directory under shoplab-runs/")
	}
	var failed []string
	recap := map[string][]string{}
	retried := map[string][]string{} // what the attempts before the last missed on
	skipped := 0
	for i, s := range scenarios {
		if !s.SupportsEnv(envLabel(env)) {
			fmt.Fprintf(e.stdout, "• %s: skipped: it makes sense on %v, not %s (its envs list)\n", s.Name, s.Envs, envLabel(env))
			skipped++
			continue
		}
		var j *journal.Journal
		for attempt := 0; ; attempt++ {
			if j, err = runScenario(ctx, e, s, paths[i], attempt, runOpts{short: *short, target: *target, env: env, pgPassword: pgPassword,
				parts: partCtl, dockerHost: dockerHost, seed: *seed, out: *out, bundle: *bundleRun}); err != nil {
				return err
			}
			missed := j.Verdict != "pass"
			if *checkExpect {
				missed = j.Verdict != j.Expected
			}
			if !missed || attempt >= *retryTiming || !scenario.MissedOnTimingOnly(j) {
				break
			}
			fmt.Fprintf(e.stdout, "  ! %s missed its verdict on timing alone (%s); attempt %d of %d\n", s.Name, strings.Join(j.Reasons, "; "), attempt+2, *retryTiming+1)
			retried[s.Name] = append(retried[s.Name], j.Reasons...)
		}
		ok := j.Verdict == "pass"
		if *checkExpect {
			ok = j.Verdict == j.Expected
			if !ok {
				fmt.Fprintf(e.stdout, "  ! verdict %s differs from expect %s\n", j.Verdict, j.Expected)
			}
		}
		if !ok {
			failed = append(failed, s.Name)
			recap[s.Name] = append([]string{fmt.Sprintf("verdict %s, expected %s", j.Verdict, j.Expected)}, j.Reasons...)
		}
	}
	if len(scenarios) > 1 {
		fmt.Fprintf(e.stdout, "\n%d scenario(s), %d as expected, %d not, %d skipped (not for this env)\n", len(scenarios), len(scenarios)-len(failed)-skipped, len(failed), skipped)
		for _, name := range slices.Sorted(maps.Keys(retried)) {
			fmt.Fprintf(e.stdout, "  %s was run again after missing on timing: %s\n", name, strings.Join(retried[name], "; "))
		}
		for _, name := range failed {
			fmt.Fprintf(e.stdout, "  %s:\n", name)
			for _, line := range recap[name] {
				fmt.Fprintf(e.stdout, "    %s\n", line)
			}
		}
	}
	if len(failed) > 0 {
		what := "failed"
		if *checkExpect {
			what = "did not get their expected verdict"
		}
		return &exitError{code: 1, err: fmt.Errorf("%s %s", strings.Join(failed, ", "), what)}
	}
	return nil
}

// runOpts are the flags of `shoplab run` that each scenario run takes.
type runOpts struct {
	short       bool
	target, out string
	env         *envs.Env
	pgPassword  string
	parts       cloud.PartControl
	dockerHost  string
	seed        int64
	bundle      bool
}

// runScenario runs s once (attempt counts from 0; a retry gets its own run
// directory), prints its summary and returns its journal.
func runScenario(ctx context.Context, e env, s *spec.Scenario, path string, attempt int, ro runOpts) (*journal.Journal, error) {
	o := scenario.Options{File: path, Short: ro.short, Progress: e.stdout, TTY: isTerminal(e.stdout), Target: ro.target, Env: ro.env, PGPassword: ro.pgPassword, Parts: ro.parts, DockerHost: ro.dockerHost}
	if ro.seed >= 0 {
		v := uint64(ro.seed)
		o.Seed = &v
	}
	o.OutDir = ro.out
	if o.OutDir == "" {
		o.OutDir = filepath.Join("shoplab-runs", fmt.Sprintf("%s-%s", s.Name, time.Now().Format("20060102-150405")))
	}
	if attempt > 0 {
		o.OutDir = fmt.Sprintf("%s-attempt%d", o.OutDir, attempt+1)
	}
	logPath := filepath.Join(o.OutDir, "units.log")
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	o.UnitLog = logFile
	j, err := scenario.Run(ctx, s, o)
	_ = logFile.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	scenario.Summary(e.stdout, j)
	fmt.Fprintf(e.stdout, "  report   %s\n", filepath.Join(o.OutDir, "report.html"))
	if ro.bundle {
		bpath, err := bundle.Write(o.OutDir, path, bundle.Current())
		if err != nil {
			return nil, fmt.Errorf("%s: bundle: %w", s.Name, err)
		}
		fmt.Fprintf(e.stdout, "  bundle   %s\n", bpath)
	}
	return j, nil
}

// isTerminal reports whether w is a terminal, for the live progress line.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
