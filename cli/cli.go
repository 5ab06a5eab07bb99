// Package cli wires shoplab's commands: each parses its flags once, builds
// typed configs and hands them to the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// env is what a command sees of the world; tests swap every part.
type env struct {
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	// collect, when set, takes the flag set the command bridges (root.go).
	collect *collector
}

type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":     {"run one unit: serve gateway|user|product|order|payment|notification|analytics", runServe},
		"up":        {"run every unit in one process on the embedded local env", runUp},
		"run":       {"run scenario files and print verdicts: run <scenario.yaml>... [--short] [--out DIR]", runRun},
		"demo":      {"start the local env, drive a short workload, reconcile and print a verdict", runDemo},
		"lambda":    {"run a unit under the AWS Lambda runtime: lambda notification", runLambda},
		"hpa":       {"the HorizontalPodAutoscaler twin: hpa replay|simulate|check", runHPA},
		"chaos":     {"inject faults into a running `shoplab up`: chaos list|add|remove|reset|targets", runChaos},
		"k6":        {"write a k6 script for a scenario: k6 <scenario.yaml> [--out FILE]", runK6},
		"analytics": {"replay OrderPlaced events through an analytics engine: analytics replay --engine go|flink events.jsonl", runAnalytics},

		"bench":     {"measure throughput, latency and memory next to same-run baselines: bench [--short]", runBench},
		"diff":      {"compare a run with a baseline run: diff <run-dir-or-bundle> <baseline> [--latency-tolerance 0.25]", runDiff},
		"doctor":    {"check this machine for what an env needs: doctor [--env local|host|compose]", runDoctor},
		"deps":      {"run the env file's real parts on this machine: deps up|status|down [--env host] [--print-env]", runDeps},
		"calibrate": {"measure CPU and memory per request of each unit: calibrate [--out profiles/local.json]", runCalibrate},
		"probe":     {"the container healthcheck: probe [--url http://127.0.0.1:8081/readyz] exits 0 on a 2xx answer", runProbe},

		"terraform": {"write envs/aws-<env>.yaml addresses from terraform output: terraform env --tf-output FILE --env dev|prod", runTerraform},
	}
}

// exitError carries a process exit code other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode returns the exit code an error asks for, if any.
func ExitCode(err error) (int, bool) {
	var e *exitError
	if errors.As(err, &e) {
		return e.code, true
	}
	return 0, false
}

// usageError is a bad command line: exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// Run runs the command named in args[1:].
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	e := env{stdout: stdout, stderr: stderr, lookup: os.LookupEnv}
	return run(ctx, e, args)
}

func run(ctx context.Context, e env, args []string) error {
	if len(args) == 0 {
		args = []string{"shoplab"}
	}
	return execute(ctx, e, args[1:])
}
