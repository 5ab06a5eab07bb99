package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/demo"
)

func runDemo(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("shoplab demo", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var f upFlags
	f.register(fs, "127.0.0.1:0", "127.0.0.1:0", 5*time.Second)
	dc := demo.DefaultConfig()
	fs.IntVar(&dc.PaidOrders, "orders", dc.PaidOrders, "orders placed with a card that succeeds")
	fs.IntVar(&dc.DeclinedOrders, "declined", dc.DeclinedOrders, "orders placed with a card that is declined")
	fs.DurationVar(&dc.Settle, "settle", dc.Settle, "how long to wait for emails and analytics windows")
	if err := config.Parse(fs, args, e.lookup); err != nil {
		return usageError("%v", err)
	}
	cfg, err := f.cloudConfig(e)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintln(e.stdout, "shoplab demo: starting the local env...")
	c, err := cloud.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(e.stdout, "• env ready in %.1fs: REST %s, ops %s, analytics window %s\n", time.Since(start).Seconds(), c.GatewayURL(), c.OpsURL(), cfg.AnalyticsWindow)
	src, err := c.Reconciler()
	if err != nil {
		return err
	}
	s, err := demo.Run(ctx, dc, c.GatewayURL(), src, e.stdout)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	s.Elapsed = time.Since(start)
	demo.Print(e.stdout, s)
	if !s.OK() {
		return &exitError{code: 1, err: fmt.Errorf("demo failed: see the summary above")}
	}
	return nil
}
