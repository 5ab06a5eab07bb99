// Command shoplab is the one binary of the shoplab platform and testbed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/shoplab/shoplab/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, lambdaArgs(os.Args, os.LookupEnv), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoplab:", err)
		if code, ok := cli.ExitCode(err); ok {
			os.Exit(code)
		}
		os.Exit(1)
	}
}

// lambdaArgs turns a bare `bootstrap` call into `lambda notification`: the
// provided.al2023 runtime runs the zip's bootstrap with no arguments, and
// `make lambda-zip` ships this very binary under that name. Its settings
// come from SHOPLAB_* variables (SHOPLAB_DEDUP_TABLE, SHOPLAB_SENDER, ...);
// terraform/aws/modules/lambda names the sender SHOPLAB_SES_SENDER, which
// is passed on as --sender unless SHOPLAB_SENDER is set.
func lambdaArgs(args []string, lookup func(string) (string, bool)) []string {
	if len(args) != 1 || filepath.Base(args[0]) != "bootstrap" {
		return args
	}
	out := []string{args[0], "lambda", "notification"}
	if _, ok := lookup("SHOPLAB_SENDER"); !ok {
		if v, ok := lookup("SHOPLAB_SES_SENDER"); ok && v != "" {
			out = append(out, "--sender", v)
		}
	}
	return out
}
