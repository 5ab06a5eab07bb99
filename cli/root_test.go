package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runCLI runs `shoplab args...` with the given environment variables and
// returns stdout, stderr and the exit code main would use.
func runCLI(t *testing.T, vars map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := env{stdout: &stdout, stderr: &stderr, lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	err := run(context.Background(), e, append([]string{"shoplab"}, args...))
	code := 0
	if err != nil {
		code = 1
		if c, ok := ExitCode(err); ok {
			code = c
		}
		stderr.WriteString("shoplab: " + err.Error() + "\n")
	}
	return stdout.String(), stderr.String(), code
}

// TestHelpEveryCommand: -h and --help exit 0 with the command's own help on
// every command of the tree, and each command that takes flags lists them.
func TestHelpEveryCommand(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	ran := false
	walk(newRoot(context.Background(), env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}, &ran), nil)
	if len(paths) < 30 {
		t.Fatalf("only %d commands in the tree", len(paths))
	}
	for _, path := range paths {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, path...), h)
			stdout, stderr, code := runCLI(t, nil, args...)
			if code != 0 || !strings.Contains(stdout, "Usage:") {
				t.Errorf("shoplab %s: exit %d, want 0 with the help on stdout (a command missing from shapes in root.go, or not calling e.bridge on its flag set?)\nstdout:\n%s\nstderr:\n%s",
					strings.Join(args, " "), code, stdout, stderr)
			}
		}
	}
	for path, flag := range map[string]string{"run": "--check-expect", "up": "--gateway-addr", "serve order": "--kafka-brokers",
		"hpa check": "--junit", "chaos add": "--latency", "deps up": "--state-dir", "analytics replay": "--engine", "lambda notification": "--dedup-table"} {
		if stdout, _, _ := runCLI(t, nil, append(strings.Fields(path), "--help")...); !strings.Contains(stdout, flag) {
			t.Errorf("shoplab %s --help does not list %s:\n%s", path, flag, stdout)
		}
	}
}

// TestFlagsAfterArguments is issue 10 defect 3: a flag after a file is a
// flag, in either spelling, and so is one between two files.
func TestFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	base := writeRun(t, filepath.Join(dir, "base"), 20*time.Millisecond)
	slow := writeRun(t, filepath.Join(dir, "slow"), 80*time.Millisecond)
	for _, args := range [][]string{
		{"diff", slow, base, "--json"},
		{"diff", slow, base, "-json"},
		{"diff", slow, "--json", base},
		{"diff", "-json=true", slow, base},
	} {
		stdout, stderr, code := runCLI(t, nil, args...)
		var res map[string]any
		if code != 1 || json.Unmarshal([]byte(stdout), &res) != nil {
			t.Errorf("%v: exit %d, want 1 with JSON on stdout\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
	// The flag package would read --latency-tolerance's value as given.
	if _, stderr, code := runCLI(t, nil, "diff", slow, base, "-latency-tolerance", "5"); code != 0 {
		t.Errorf("diff with -latency-tolerance 5 after the runs: exit %d\n%s", code, stderr)
	}
	// The scenario file is the file, --short is a flag (it used to be "no
	// scenario file --short").
	_, stderr, code := runCLI(t, nil, "run", filepath.Join(dir, "missing.yaml"), "--short")
	if code != 2 || strings.Contains(stderr, "--short") || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("run missing.yaml --short: exit %d, want 2 naming the file only:\n%s", code, stderr)
	}
	// After "--" everything is an argument.
	if _, stderr, code := runCLI(t, nil, "diff", slow, "--", "--json"); code != 2 || !strings.Contains(stderr, "--json") {
		t.Errorf("diff slow -- --json: exit %d, want 2 reading --json as a run:\n%s", code, stderr)
	}
}

// TestEnvFallback: a flag not given comes from SHOPLAB_<FLAG>, a flag given
// wins over it, and a bad value names the variable.
func TestEnvFallback(t *testing.T) {
	dir := t.TempDir()
	base := writeRun(t, filepath.Join(dir, "base"), 20*time.Millisecond)
	slow := writeRun(t, filepath.Join(dir, "slow"), 80*time.Millisecond)
	if _, _, code := runCLI(t, map[string]string{"SHOPLAB_LATENCY_TOLERANCE": "5"}, "diff", slow, base); code != 0 {
		t.Errorf("SHOPLAB_LATENCY_TOLERANCE=5: exit %d, want 0", code)
	}
	if _, _, code := runCLI(t, map[string]string{"SHOPLAB_LATENCY_TOLERANCE": "5"}, "diff", slow, base, "--latency-tolerance", "0.25"); code != 1 {
		t.Errorf("the flag given beats the variable: exit %d, want 1", code)
	}
	if stdout, _, _ := runCLI(t, map[string]string{"SHOPLAB_JSON": "true"}, "diff", slow, base); !strings.HasPrefix(stdout, "{") {
		t.Errorf("SHOPLAB_JSON=true: want JSON, got\n%s", stdout)
	}
	_, stderr, code := runCLI(t, map[string]string{"SHOPLAB_LATENCY_TOLERANCE": "lots"}, "diff", slow, base)
	if code != 2 || !strings.Contains(stderr, "SHOPLAB_LATENCY_TOLERANCE") {
		t.Errorf("bad variable: exit %d, want 2 naming it:\n%s", code, stderr)
	}
}

// TestUsageErrors: exit 2, with a did-you-mean for near names.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"sevre"}, "Did you mean this?\n\tserve"},
		{[]string{"deps", "stauts"}, "Did you mean this?\n\tstatus"},
		{[]string{"run", "x.yaml", "--shrot"}, "Did you mean this?\n\t--short"},
		{[]string{"run", "-shrot", "x.yaml"}, "Did you mean this?\n\t--short"},
		{[]string{"hpa", "simulate", "x.yaml", "--extend", "soon"}, "--extend"},
		{[]string{"up", "extra"}, `unknown command "extra"`},
		{[]string{"up", "--flink-metrics-port", "9249"}, "--flink-metrics-port needs the flink analytics engine"},
		{[]string{"up", "--env", "host", "--analytics", "flink", "--flink-metrics-port", "-1"}, "--flink-metrics-port: want a port"},
		{[]string{"serve"}, "no subcommand given"},
		{[]string{"completion", "tcsh"}, "tcsh"},
	} {
		_, stderr, code := runCLI(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("shoplab %v: exit %d, want 2 with %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
}

// TestCompletion: the scripts of the three shells, and the dynamic
// completion they call knows the subcommands and the bridged flags.
func TestCompletion(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_shoplab", "zsh": "#compdef shoplab", "fish": "complete -c shoplab"} {
		stdout, stderr, code := runCLI(t, nil, "completion", shell)
		if code != 0 || !strings.Contains(stdout, marker) {
			t.Errorf("completion %s: exit %d, no %q in the script\n%s", shell, code, marker, stderr)
		}
	}
	if stdout, _, _ := runCLI(t, nil, cobra.ShellCompRequestCmd, "serve", "pa"); !strings.Contains(stdout, "payment") {
		t.Errorf("completing serve pa:\n%s", stdout)
	}
	if stdout, _, _ := runCLI(t, nil, cobra.ShellCompRequestCmd, "run", "x.yaml", "--che"); !strings.Contains(stdout, "--check-expect") {
		t.Errorf("completing run --che:\n%s", stdout)
	}
}

// TestRepeatedFlagsKeepOrder: flags reach the command as given, so a
// repeatable one (chaos add --attr) sees every value.
func TestRepeatedFlagsKeepOrder(t *testing.T) {
	log := &given{}
	log.pairs = [][2]string{{"attr", "a=1"}, {"attr", "b=2"}, {"for", "3s"}}
	got := strings.Join(commandLine([]string{"add"}, log, []string{"order->payment", "latency"}), " ")
	if want := "add --attr=a=1 --attr=b=2 --for=3s -- order->payment latency"; got != want {
		t.Fatalf("command line %q, want %q", got, want)
	}
}
