package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoplab/shoplab/terraform/tfenv"
)

// runTerraform: `shoplab terraform env --tf-output out.json --env dev`
// writes the addresses of `terraform output -json` into envs/aws-<env>.yaml.
func runTerraform(_ context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "env" {
		return usageError("usage: shoplab terraform env --tf-output FILE --env dev|prod [--envs-dir envs]")
	}
	fs := e.bridge(flag.NewFlagSet("shoplab terraform env", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	tfOut := fs.String("tf-output", "", "file holding `terraform output -json` of terraform/aws/envs/<env>")
	name := fs.String("env", "", "dev or prod")
	dir := fs.String("envs-dir", "envs", "directory of the env files")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError("%v", err)
	}
	if *tfOut == "" || (*name != "dev" && *name != "prod") {
		return usageError("--tf-output and --env dev|prod are required")
	}
	b, err := os.ReadFile(*tfOut)
	if err != nil {
		return err
	}
	o, err := tfenv.ParseOutputs(b)
	if err != nil {
		return err
	}
	path := filepath.Join(*dir, "aws-"+*name+".yaml")
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	next, err := tfenv.Apply(cur, o)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, next, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: kafka.brokers and postgres.address from terraform\n", path)
	return nil
}
