package cli

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/shoplab/shoplab/scenarios"
	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// runDemo is the one-command demo: an env (local by default; --env host
// runs it on the parts of `shoplab deps up`) plus the demo scenario
// (scenarios/demo.yaml, embedded so it runs from any directory: slow
// payments, then a product crash) plus its summary in plain words. It
// exits 0 only when every probe and invariant holds.
func runDemo(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab demo", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	out := fs.String("out", "", "directory for journal.json, report.html and junit.xml (default shoplab-runs/demo-<timestamp>)")
	open := fs.Bool("open", false, "open the report in the default browser when the run ends (prints its file:// URL when none is configured)")
	envName := fs.String("env", "local", "where the parts run: local (embedded), host (`shoplab deps up`), or an env file's path")
	analyticsEngine := fs.String("analytics", "", analyticsFlagUsage)
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	// The same env as `up` and `run` would get, refused before anything starts.
	env, err := loadEnv(*envName)
	if err != nil {
		return err
	}
	if env, err = withAnalyticsEngine(env, *analyticsEngine); err != nil {
		return err
	}
	data, err := scenarios.Files.ReadFile("demo.yaml")
	if err != nil {
		return err
	}
	s, err := spec.Parse("scenarios/demo.yaml", data)
	if err != nil {
		return err
	}
	if err := scenario.CheckEnv(s, "scenarios/demo.yaml", env, ""); err != nil {
		return &exitError{code: 2, err: err}
	}
	pgPassword, _ := e.lookup("PGPASSWORD")
	dockerHost, _ := e.lookup("DOCKER_HOST") // the compose env's process faults
	if *out == "" {
		*out = filepath.Join("shoplab-runs", "demo-"+time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(*out, "units.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	fmt.Fprintf(e.stdout, "shoplab demo: %s\n", s.Description)
	if env != nil {
		fmt.Fprintf(e.stdout, "  on the %s env (%s): its parts must be running (`shoplab deps up --env %s`)\n", env.Name, *envName, *envName)
	}
	j, err := scenario.Run(ctx, s, scenario.Options{File: "scenarios/demo.yaml", OutDir: *out, Progress: e.stdout, TTY: isTerminal(e.stdout), UnitLog: logFile,
		Env: env, PGPassword: pgPassword, DockerHost: dockerHost})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	scenario.Summary(e.stdout, j)
	scenario.Narrate(e.stdout, j)
	report := filepath.Join(*out, "report.html")
	fmt.Fprintf(e.stdout, "\n  report   %s\n", report)
	if *open {
		openReport(e, report)
	}
	if j.Verdict != "pass" {
		return &exitError{code: 1, err: fmt.Errorf("demo failed: see the summary above")}
	}
	fmt.Fprintln(e.stdout, "\nshoplab demo: PASS — the faults hurt only while they lasted: nothing lost, nothing charged twice, one email per order, analytics add up.")
	return nil
}

// openReport opens a report in the user's browser ($BROWSER, else
// xdg-open or open), and always prints its file:// URL so a machine with
// no browser still tells the user where to look.
func openReport(e env, path string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	u := (&url.URL{Scheme: "file", Path: abs}).String()
	fmt.Fprintf(e.stdout, "  open     %s\n", u)
	var cmd *exec.Cmd
	if b, ok := e.lookup("BROWSER"); ok && b != "" {
		cmd = exec.Command(b, u)
	} else {
		for _, opener := range []string{"xdg-open", "open"} {
			if p, err := exec.LookPath(opener); err == nil {
				cmd = exec.Command(p, u)
				break
			}
		}
	}
	if cmd == nil {
		fmt.Fprintln(e.stdout, "  (no browser configured: set $BROWSER or install xdg-utils, or open the URL above)")
		return
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(e.stdout, "  (could not start %s: %v; open the URL above)\n", cmd.Path, err)
		return
	}
	go func() { _ = cmd.Wait() }()
}
