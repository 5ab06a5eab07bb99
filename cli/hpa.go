package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/scenarios"
	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/hpa"
	"github.com/shoplab/shoplab/sim/hpa/model"
	"github.com/shoplab/shoplab/sim/hpa/platform"
	"github.com/shoplab/shoplab/sim/hpa/report"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// hpaLong is the help of `shoplab hpa`; each subcommand has its own.
const hpaLong = `The HorizontalPodAutoscaler twin: what the cluster's HPAs would do, computed
in seconds from the rendered manifests, a cost profile and a load.
docs/hpa-twin.md explains the model.`

const (
	hpaReplayLong   = "Replays an HPA manifest against a recorded demand (format: docs/hpa-twin.md) and prints one JSON step per sync."
	hpaSimulateLong = "Simulates every Deployment of the overlay under the scenario's load and writes\n<out>/timeline.json and <out>/report.html."
	hpaCheckLong    = "Simulates each scenario with an hpa: section (default: every one in scenarios/,\nor those built into the binary outside a checkout) and checks its expectations.\nExit status 1 if any breaks, 2 if a file is invalid. With --out, writes each\nscenario's timeline.json and report.html under <out>/<name>/."
)

// runHPA is `shoplab hpa replay|simulate|check`; the cobra tree in root.go
// has checked the subcommand.
func runHPA(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		return usageError("hpa: no command given")
	}
	switch args[0] {
	case "replay":
		return runHPAReplay(e, args[1:])
	case "simulate":
		return runHPASimulate(ctx, e, args[1:])
	case "check":
		return runHPACheck(ctx, e, args[1:])
	}
	return usageError("hpa: unknown command %q", args[0])
}

func runHPAReplay(e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab hpa replay", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	pos, err := parseInterleaved(fs, args, e.lookup)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return usageError("hpa replay: want one trace file, got %d arguments", len(pos))
	}
	res, err := hpa.ReplayFile(pos[0])
	if err != nil {
		return inputError(err)
	}
	return res.WriteJSON(e.stdout)
}

// twinFlags are the flags simulate and check share.
type twinFlags struct {
	overlay      string
	profile      string
	out          string
	extend       time.Duration
	startup      time.Duration
	metricWindow time.Duration
}

func (f *twinFlags) register(fs *flag.FlagSet, outDefault string) {
	fs.StringVar(&f.overlay, "overlay", "prod", "overlay to render: a name of the embedded argocd/overlays (prod, dev) or a kustomization directory")
	fs.StringVar(&f.profile, "profile", "", "cost profile JSON (default: profiles/local.json as built into the binary)")
	fs.StringVar(&f.out, "out", outDefault, "directory for timeline.json and report.html")
	fs.DurationVar(&f.extend, "extend", 0, "simulate this long past the end of the load, to watch the Deployments settle")
	fs.DurationVar(&f.startup, "startup", 0, "creation-to-Ready time of every new pod (default: the profile's, 20s unless it says)")
	fs.DurationVar(&f.metricWindow, "metric-window", 15*time.Second, "metrics-server window: the CPU a sync reads is averaged over it")
}

// inputs renders the overlay and loads the profile.
func (f *twinFlags) inputs() ([]platform.Deployment, model.Profile, error) {
	if f.extend < 0 || f.startup < 0 {
		return nil, model.Profile{}, usageError("-extend and -startup must not be negative")
	}
	rendered, err := platform.RenderOverlay(f.overlay)
	if err != nil {
		return nil, model.Profile{}, inputError(fmt.Errorf("overlay %s: %w", f.overlay, err))
	}
	deps, err := platform.Deployments(rendered)
	if err != nil {
		return nil, model.Profile{}, inputError(fmt.Errorf("overlay %s: %w", f.overlay, err))
	}
	var prof model.Profile
	if f.profile == "" {
		prof, err = profiles.Local()
	} else {
		prof, err = model.Load(f.profile)
	}
	if err != nil {
		return nil, model.Profile{}, inputError(err)
	}
	return deps, prof, nil
}

func (f *twinFlags) options() platform.Options {
	return platform.Options{Startup: f.startup, MetricWindow: f.metricWindow, Overlay: f.overlay}
}

func runHPASimulate(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab hpa simulate", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var f twinFlags
	f.register(fs, "hpa-report")
	pos, err := parseInterleaved(fs, args, e.lookup)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return usageError("hpa simulate: want one scenario file, got %d arguments", len(pos))
	}
	deps, prof, err := f.inputs()
	if err != nil {
		return err
	}
	s, err := spec.Load(pos[0])
	if err != nil {
		return inputError(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	tl, outcomes, err := platform.SimulateScenario(s, deps, prof, f.extend, f.options())
	if err != nil {
		return inputError(fmt.Errorf("%s: %w", pos[0], err))
	}
	elapsed := time.Since(start)
	if err := writeReports(f.out, tl, outcomes); err != nil {
		return err
	}
	// The scale first: every number below is of the load the cluster sees,
	// not of the rates the scenario file says.
	fmt.Fprintf(e.stdout, "%s on overlay %s: the scenario's load x%.6g (hpa_traffic_scale), peak %.6g iterations/s\n\n",
		tl.Scenario, tl.Overlay, tl.TrafficScale, s.Original().Load.PeakRate()*tl.TrafficScale)
	printSummary(e.stdout, tl)
	fmt.Fprintf(e.stdout, "\nsimulated %s of %d Deployments in %s; wrote %s and %s\n",
		time.Duration(tl.Until)*time.Second, len(tl.Units), elapsed.Round(time.Millisecond),
		filepath.Join(f.out, "timeline.json"), filepath.Join(f.out, "report.html"))
	if tl.ProfileSource == model.SourceEstimated {
		fmt.Fprintln(e.stdout, "note: the cost profile is estimated, not measured (shoplab calibrate measures it)")
	}
	return nil
}

func runHPACheck(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab hpa check", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var f twinFlags
	f.register(fs, "")
	junit := fs.String("junit", "hpa-junit.xml", "JUnit XML file to write")
	pos, err := parseInterleaved(fs, args, e.lookup)
	if err != nil {
		return flagError(err)
	}
	deps, prof, err := f.inputs()
	if err != nil {
		return err
	}
	sources, err := scenarioSources(pos)
	if err != nil {
		return err
	}

	var suites []report.Suite
	invalid := 0
	for _, src := range sources {
		if err := ctx.Err(); err != nil {
			return err
		}
		path := src.path
		suite := report.Suite{Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), File: path}
		s, err := src.load()
		if err != nil {
			suite.Err = err
			suites = append(suites, suite)
			invalid++
			continue
		}
		suite.Name = s.Name
		if len(s.HPA) == 0 {
			if src.explicit {
				suite.Err = errs.InvalidField("hpa", "%s has no hpa: section to check", path)
				suites = append(suites, suite)
				invalid++
			}
			continue
		}
		start := time.Now()
		tl, outcomes, err := platform.SimulateScenario(s, deps, prof, f.extend, f.options())
		suite.Elapsed = time.Since(start)
		if err != nil {
			suite.Err = err
			invalid++
		} else {
			suite.Outcomes = outcomes
			if f.out != "" {
				if err := writeReports(filepath.Join(f.out, s.Name), tl, outcomes); err != nil {
					return err
				}
			}
		}
		suites = append(suites, suite)
	}
	if len(suites) == 0 {
		return usageError("hpa check: no scenario with an hpa: section among %d files", len(sources))
	}

	if err := report.Table(e.stdout, suites); err != nil {
		return err
	}
	if err := writeFile(*junit, func(w io.Writer) error { return report.JUnit(w, suites) }); err != nil {
		return err
	}
	failed, total := 0, 0
	for _, s := range suites {
		failed += s.Failed()
		total += len(s.Outcomes)
	}
	fmt.Fprintf(e.stdout, "\n%d scenarios, %d expectations, %d broken, %d invalid files; wrote %s\n", len(suites), total, failed, invalid, *junit)
	for _, s := range suites {
		switch {
		case s.Err == nil:
		case strings.Contains(s.Err.Error(), s.File):
			fmt.Fprintln(e.stderr, s.Err) // the scenario loader names the file and line
		default:
			fmt.Fprintf(e.stderr, "%s: %v\n", s.File, s.Err)
		}
	}
	switch {
	case invalid > 0:
		return &exitError{code: 2, err: fmt.Errorf("hpa check: %d invalid scenario files", invalid)}
	case failed > 0:
		return &exitError{code: 1, err: fmt.Errorf("hpa check: %d of %d expectations broken", failed, total)}
	}
	return nil
}

// scenarioSource is one scenario file check reads.
type scenarioSource struct {
	path string
	// explicit marks a file named on its own: it must have an hpa section.
	explicit bool
	load     func() (*spec.Scenario, error)
}

// scenarioSources expands the arguments of check: files as given, the
// *.yaml of a directory. With none, scenarios/ of the working directory,
// or, outside a checkout, the scenarios built into the binary.
func scenarioSources(args []string) ([]scenarioSource, error) {
	if len(args) == 0 {
		if st, err := os.Stat("scenarios"); err != nil || !st.IsDir() {
			return embeddedScenarios()
		}
		args = []string{"scenarios"}
	}
	fromDisk := func(path string, explicit bool) scenarioSource {
		return scenarioSource{path: path, explicit: explicit, load: func() (*spec.Scenario, error) { return spec.Load(path) }}
	}
	var out []scenarioSource
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, usageError("hpa check: %v", err)
		}
		if !st.IsDir() {
			out = append(out, fromDisk(a, true))
			continue
		}
		matches, err := filepath.Glob(filepath.Join(a, "*.yaml"))
		if err != nil {
			return nil, usageError("hpa check: %v", err)
		}
		slices.Sort(matches)
		for _, m := range matches {
			out = append(out, fromDisk(m, false))
		}
	}
	return out, nil
}

func embeddedScenarios() ([]scenarioSource, error) {
	names, err := fs.Glob(scenarios.Files, "*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]scenarioSource, 0, len(names))
	for _, n := range names {
		path := "scenarios/" + n + " (built in)"
		out = append(out, scenarioSource{path: path, load: func() (*spec.Scenario, error) {
			data, err := fs.ReadFile(scenarios.Files, n)
			if err != nil {
				return nil, err
			}
			return spec.Parse(path, data)
		}})
	}
	return out, nil
}

func writeReports(dir string, tl *platform.Timeline, outcomes []platform.Outcome) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "timeline.json"), tl.WriteJSON); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "report.html"), func(w io.Writer) error { return report.HTML(w, tl, outcomes) })
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func printSummary(w io.Writer, tl *platform.Timeline) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYMENT\tSCALING\tREPLICAS\tFIRST UP\tPEAK CPU\tPEAK MEM\tMAX P95\tSATURATED\tDROPPED\tOVER MEM LIMIT")
	for _, u := range tl.Units {
		s := u.Summary
		scaling := fmt.Sprintf("fixed %d", u.FixedReplicas)
		if u.HPA != nil {
			scaling = fmt.Sprintf("hpa %d-%d %s", u.HPA.MinReplicas, u.HPA.MaxReplicas, strings.Join(u.HPA.Targets, ","))
		}
		firstUp := "-"
		if s.FirstScaleUp >= 0 {
			firstUp = fmt.Sprintf("%ds", s.FirstScaleUp)
		}
		p95 := "-"
		if s.MaxP95 != nil {
			p95 = fmt.Sprintf("%.1fms", *s.MaxP95)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d-%d (end %d)\t%s\t%.0f%%\t%.0f%%\t%s\t%ds\t%.0f\t%d syncs\n",
			u.Name, scaling, s.MinReplicas, s.MaxReplicas, s.FinalReplicas, firstUp, s.PeakCPUPercent, s.PeakMemoryPercent, p95,
			s.SaturatedSeconds, s.Dropped, s.OverMemoryLimitSyncs)
	}
	tw.Flush()
}

// parseInterleaved parses flags wherever they stand among the arguments
// ("simulate x.yaml --extend 30m" as well as "simulate --extend 30m
// x.yaml"), then fills unset flags from SHOPLAB_* variables. Everything
// after "--" is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string, lookup func(string) (string, bool)) ([]string, error) {
	var rest []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, rest = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if err := config.Parse(fs, nil, lookup); err != nil {
		return nil, err
	}
	return append(pos, rest...), nil
}

// flagError is a bad command line; -h is not an error.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return usageError("%v", err)
}

// inputError gives exit status 2 to a file or flag the command cannot use,
// and leaves other failures (a full disk) at 1.
func inputError(err error) error {
	switch errs.CodeOf(err) {
	case errs.Invalid, errs.NotFound:
		return &exitError{code: 2, err: err}
	}
	return err
}
