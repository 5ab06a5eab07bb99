package cli

import (
	"context"
	"errors"
	"flag"

	"github.com/shoplab/shoplab/chaos/chaosctl"
)

// runChaos is `shoplab chaos list|add|remove|reset|targets`: faults by hand
// against a running `shoplab up`, through its ops API. The command itself
// lives in chaos/chaosctl, where it is tested against a real engine.
func runChaos(ctx context.Context, e env, args []string) error {
	bridge := func(fs *flag.FlagSet) { e.bridge(fs) }
	err := chaosctl.Run(ctx, chaosctl.Env{Stdout: e.stdout, Stderr: e.stderr, Lookup: e.lookup, Bridge: bridge}, args)
	var ue *chaosctl.UsageError
	if errors.As(err, &ue) {
		return usageError("%v", ue.Err)
	}
	return err
}
