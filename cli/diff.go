package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/sim/scenario/bundle"
	"github.com/shoplab/shoplab/sim/scenario/diff"
	"github.com/shoplab/shoplab/sim/scenario/report"
)

// runDiff is `shoplab diff <run> <baseline>`: exit 0 when nothing regressed
// beyond the tolerances, 1 when something did, 2 for usage or unreadable runs.
func runDiff(_ context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab diff", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	tol := diff.DefaultTolerance
	fs.Float64Var(&tol.Latency, "latency-tolerance", tol.Latency, "relative growth of a latency percentile allowed (0.25 = 25%)")
	fs.DurationVar(&tol.MinLatency, "min-latency-change", tol.MinLatency, "a latency must also grow by at least this much to regress")
	fs.Float64Var(&tol.Throughput, "throughput-tolerance", tol.Throughput, "relative drop of throughput allowed")
	fs.Float64Var(&tol.ErrorRate, "error-tolerance", tol.ErrorRate, "absolute rise of an error rate allowed (0.01 = one point)")
	asJSON := fs.Bool("json", false, "print the comparison as JSON")
	htmlOut := fs.String("html", "", "also write the run's report, with the baseline's curves and this comparison, to this file")
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	if fs.NArg() != 2 {
		return usageError("usage: shoplab diff <run-dir-or-bundle> <baseline-run-dir-or-bundle> [--latency-tolerance 0.25] [--html FILE] ...")
	}
	cur, err := bundle.Open(fs.Arg(0))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	base, err := bundle.Open(fs.Arg(1))
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	res, err := diff.Compare(cur.Journal, base.Journal, tol)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *htmlOut != "" {
		if err := writeComparedHTML(*htmlOut, cur, base, res); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		diff.Print(e.stdout, res)
	}
	if n := res.Regressions(); n > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d regression(s) against %s", n, fs.Arg(1))}
	}
	return nil
}

// writeComparedHTML renders the page before creating the file, so a
// rendering error leaves no half-written report.
func writeComparedHTML(path string, cur, base *bundle.Run, res diff.Result) error {
	var page bytes.Buffer
	if err := report.WriteHTMLCompared(&page, cur.Journal, report.Comparison{Name: base.Path, Baseline: base.Journal, Result: res}); err != nil {
		return fmt.Errorf("render %s: %w", path, err)
	}
	return os.WriteFile(path, page.Bytes(), 0o644)
}
