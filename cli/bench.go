package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/sim/bench"
)

// runBench is `shoplab bench [--short]`: every figure of the performance
// table next to its baseline from the same run, as a table and JSON. It
// never fails on a number (the machine is shared); exit 1 only when a
// figure could not be measured.
func runBench(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab bench", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	short := fs.Bool("short", false, "2 s per figure instead of 10 s (CI)")
	d := fs.Duration("duration", 0, "time per load figure (default 10s, 2s with --short)")
	out := fs.String("out", "", "JSON report path (default shoplab-runs/bench-<timestamp>.json)")
	wrk := fs.String("wrk", "", "path of wrk (default: looked up on PATH; without it the bench's own closed loop stands in and the generator row has no baseline)")
	benchEnv := fs.String("env", "", "also measure the orders closed loop on this env's real parts (host, or an env file), next to local")
	bin := fs.String("binary", "", "the shoplab binary whose `up` is measured (default: this one); an older build gives a before/after comparison")
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	rep, err := bench.Run(ctx, bench.Options{Binary: *bin, Short: *short, Duration: *d, Wrk: *wrk, Env: *benchEnv, Progress: e.stdout})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	rep.Print(e.stdout)
	if *out == "" {
		*out = filepath.Join("shoplab-runs", "bench-"+time.Now().Format("20060102-150405")+".json")
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(f); err != nil {
		_ = f.Close()
		return err
	}
	fmt.Fprintf(e.stdout, "JSON: %s\n", *out)
	return f.Close()
}
