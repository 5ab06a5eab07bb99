package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shoplab/shoplab/sim/k6"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// k6Long is the help of `shoplab k6`.
const k6Long = `Writes the k6 script (k6 v0.50+) that runs a scenario: its load, its fault
timeline (through toxiproxy and the ops chaos API) and its probes as
thresholds. The script goes to <scenario dir>/k6/<name>.js unless --out says
otherwise, next to the lib/ modules it imports. --all regenerates the
script of every scenario in DIR (default scenarios).

At run time k6 reads SHOPLAB_BASE_URL, SHOPLAB_TOXIPROXY_URL and
SHOPLAB_OPS_URL before the addresses baked in by the flags below; the
flags themselves take no SHOPLAB_* fallback.`

// runK6 is `shoplab k6`: a scenario file in, a k6 script out.
func runK6(_ context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab k6", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var (
		out     = fs.String("out", "", "write the script here, - for stdout (default <scenario dir>/k6/<name>.js)")
		all     = fs.Bool("all", false, "regenerate the scripts of every scenario in --dir")
		dir     = fs.String("dir", "scenarios", "with --all: the scenarios' directory")
		opts    k6.Options
		libPath string
	)
	fs.StringVar(&opts.BaseURL, "base-url", k6.DefaultBaseURL, "the gateway's URL baked into the script")
	fs.StringVar(&opts.ToxiproxyURL, "toxiproxy", k6.DefaultToxiproxyURL, "toxiproxy's API URL baked into the script")
	fs.StringVar(&opts.OpsURL, "ops-url", k6.DefaultOpsURL, "the ops API's URL baked into the script")
	fs.DurationVar(&opts.Grace, "grace", 0, `time after the last fault ends before the "after" phase starts (default: the scenario's own, as the runner uses)`)
	fs.StringVar(&libPath, "lib", "", "directory of shop.js and chaos.js (default <scenario dir>/k6/lib)")
	// No SHOPLAB_* fallback for these flags: the script reads those
	// variables when k6 runs it, and baking the shell's values into it at
	// generation time would make the committed scripts depend on who
	// generated them.
	pos, err := parseInterleaved(fs, args, nil)
	if err != nil {
		return flagError(err)
	}
	if *all {
		if len(pos) > 0 || *out != "" || libPath != "" {
			return usageError("k6: --all takes no scenario file, --out or --lib")
		}
		return k6All(e, *dir, opts)
	}
	if len(pos) != 1 {
		return usageError("k6: want one scenario file, got %d arguments", len(pos))
	}
	s, err := spec.Load(pos[0])
	if err != nil {
		return inputError(err)
	}
	target := *out
	if target == "" {
		target = filepath.Join(filepath.Dir(pos[0]), "k6", s.Name+".js")
	}
	if libPath == "" {
		libPath = filepath.Join(filepath.Dir(pos[0]), "k6", "lib")
	}
	opts.Source = filepath.Base(pos[0])
	if target != "-" {
		if opts.LibDir, err = importPath(filepath.Dir(target), libPath); err != nil {
			return usageError("k6: %v", err)
		}
	}
	script, err := k6.Generate(s, opts)
	if err != nil {
		return inputError(err)
	}
	if target == "-" {
		_, err := e.stdout.Write(script)
		return err
	}
	if err := writeScript(target, script); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s\n", target)
	if _, err := os.Stat(filepath.Join(libPath, "chaos.js")); err != nil {
		fmt.Fprintf(e.stderr, "warning: %s has no chaos.js: copy scenarios/k6/lib there before running the script\n", libPath)
	}
	return nil
}

// k6All regenerates dir/k6/<name>.js for every scenario of dir, the
// committed scripts, with the default addresses.
func k6All(e env, dir string, opts k6.Options) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return usageError("k6: %v", err)
	}
	if len(paths) == 0 {
		return usageError("k6: no scenario files in %s", dir)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s, err := spec.Load(p)
		if err != nil {
			return inputError(err)
		}
		o := opts
		o.Source = filepath.Base(p)
		script, err := k6.Generate(s, o)
		if err != nil {
			return inputError(err)
		}
		target := filepath.Join(dir, "k6", s.Name+".js")
		if err := writeScript(target, script); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", target)
	}
	return nil
}

// importPath is lib as a k6 import path relative to a script in dir: k6
// resolves "./" and "../" paths against the script's own location.
func importPath(dir, lib string) (string, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absLib, err := filepath.Abs(lib)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absDir, absLib)
	if err != nil {
		return "", fmt.Errorf("cannot import %s from a script in %s: %w", lib, dir, err)
	}
	rel = filepath.ToSlash(rel)
	if rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel, nil
}

func writeScript(path string, script []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, script, 0o644)
}
