package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"

	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/sim/doctor"
)

// runDoctor is `shoplab doctor [--env local|host|compose]`: exit 0 when
// this machine can run the env, 1 when a required check fails.
func runDoctor(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab doctor", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	envName := fs.String("env", "local", "the env to check for: local, host or compose")
	dataDir := fs.String("data-dir", "", "where the units will keep data (default: the temp dir)")
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	if !slices.Contains(doctor.Envs, *envName) {
		return usageError("--env %q: want one of %v", *envName, doctor.Envs)
	}
	o := doctor.DefaultOptions(*envName)
	if *dataDir != "" {
		o.DataDir = *dataDir
	}
	rs := doctor.Run(ctx, doctor.System(), o)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"env": *envName, "fit": doctor.Fit(rs), "checks": rs}); err != nil {
			return err
		}
	} else {
		doctor.Print(e.stdout, *envName, rs)
	}
	if !doctor.Fit(rs) {
		return &exitError{code: 1, err: fmt.Errorf("this machine cannot run the %s env", *envName)}
	}
	return nil
}
