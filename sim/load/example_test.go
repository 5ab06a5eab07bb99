package load_test

import (
	"context"
	"fmt"
	"time"

	"github.com/shoplab/shoplab/sim/load"
)

// A scenario's load phase: prepare, run with a live abort rule, read the
// phases, settle the unknown orders and hand the ledger to reconciliation.
func ExampleRunner() {
	ctx := context.Background()
	r, err := load.New(load.Config{
		BaseURL:     "http://127.0.0.1:8080",
		Executor:    load.RampingArrivalRate,
		StartRate:   10,
		Stages:      []load.Stage{{Target: 200, Duration: 30 * time.Second}, {Target: 200, Duration: 2 * time.Minute}},
		MaxInFlight: 400,
		Customers:   50,
		Journeys:    map[string]float64{load.JourneyBrowse: 60, load.JourneySearch: 20, load.JourneyCheckout: 15, load.JourneyDeclinedCheckout: 5},
		Seed:        42,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	if err := r.Prepare(ctx); err != nil {
		fmt.Println(err)
		return
	}
	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				if s := r.Snapshot(); s.Requests > 100 && s.ErrorRate > 0.5 {
					abort() // the platform is down: stop loading it
					return
				}
			}
		}
	}()
	res, err := r.Run(runCtx)
	abort() // ends the watcher
	if err != nil {
		fmt.Println("aborted:", err)
	}
	ramp, steady := res.Window(0, 30*time.Second), res.Window(30*time.Second, res.Duration)
	fmt.Println(ramp.P95, steady.P95, steady.Dropped)
	if _, err := r.Settle(ctx); err != nil {
		fmt.Println(err)
	}
	_ = r.Ledger() // reconcile.Check(state, r.Ledger(), nil)
}
