// Command shoplab is the one binary of the shoplab platform and testbed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/shoplab/shoplab/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoplab:", err)
		if code, ok := cli.ExitCode(err); ok {
			os.Exit(code)
		}
		os.Exit(1)
	}
}
