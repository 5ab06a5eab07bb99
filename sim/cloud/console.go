package cloud

import (
	"context"
	"fmt"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/sim/console"
	"github.com/shoplab/shoplab/sim/hpa/live"
	"github.com/shoplab/shoplab/sim/hpa/platform"
)

// consoleSource is what the live console reads of the env.
type consoleSource struct{ c *Cloud }

func (s consoleSource) Units(ctx context.Context) any { return s.c.Status(ctx) }

func (s consoleSource) Gather() ([]*dto.MetricFamily, error) { return s.c.gatherers().Gather() }

func (s consoleSource) Faults() any {
	if s.c.cfg.Chaos == nil {
		return []chaos.ActiveFault{}
	}
	return s.c.cfg.Chaos.Active()
}

func (s consoleSource) Journeys() []console.Journey {
	s.c.mu.Lock()
	f := s.c.journeys
	s.c.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// SetJourneys gives the console the live journey table of the load that
// drives the env; nil takes it away.
func (c *Cloud) SetJourneys(f func() []console.Journey) {
	c.mu.Lock()
	c.journeys = f
	c.mu.Unlock()
}

func (s consoleSource) Mailbox(ctx context.Context, limit int) (any, error) {
	return s.c.list(ctx, func() lister { return s.c.mailbox }, limit)
}

func (s consoleSource) Windows(ctx context.Context, limit int) (any, error) {
	return s.c.list(ctx, func() lister { return s.c.windows }, limit)
}

// list reads a unit's records; a unit that is down lists nothing.
func (c *Cloud) list(ctx context.Context, get func() lister, limit int) (any, error) {
	c.mu.Lock()
	l := get()
	c.mu.Unlock()
	if l == nil {
		return []any{}, nil
	}
	return l(ctx, limit)
}

// mountConsole serves the live console on the ops API and samples the env
// until Close.
func (c *Cloud) mountConsole(mux *http.ServeMux) {
	o := console.Options{Log: c.log}
	o.Advisor, o.NoAdvisor = c.hpaAdvisor()
	con := console.New(consoleSource{c}, o)
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.runCtx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		con.Run(ctx)
	}()
	c.mu.Lock()
	c.closers = append(c.closers, func() { cancel(); <-done })
	c.mu.Unlock()
	con.Mount(mux)
}

// consoleOverlay is the manifests whose HPAs the console's twin runs.
const consoleOverlay = "prod"

// hpaAdvisor is the console's HPA twin: the prod overlay's Deployments
// priced by the profile measured on the local env. Other envs run the same
// code on other parts, at costs nobody has measured, so they get none.
func (c *Cloud) hpaAdvisor() (console.Advisor, string) {
	if c.cfg.Env != nil && c.cfg.Env.Name != "local" {
		return nil, fmt.Sprintf("the twin's cost profile (profiles/local.json) was measured on the local env, not on %s; `shoplab hpa simulate` prices a scenario's load instead", c.cfg.Env.Name)
	}
	rendered, err := platform.RenderOverlay(consoleOverlay)
	if err != nil {
		return nil, "overlay " + consoleOverlay + ": " + err.Error()
	}
	deps, err := platform.Deployments(rendered)
	if err != nil {
		return nil, "overlay " + consoleOverlay + ": " + err.Error()
	}
	prof, err := profiles.Local()
	if err != nil {
		return nil, "profile: " + err.Error()
	}
	a, err := live.New(deps, prof, live.Options{Overlay: consoleOverlay})
	if err != nil {
		return nil, err.Error()
	}
	return advisor{a}, ""
}

// advisor adapts live.Advisor to the console's endpoint table.
type advisor struct{ a *live.Advisor }

func (v advisor) Advise(at time.Time, eps []console.Endpoint) any {
	calls := make([]live.Call, len(eps))
	for i, e := range eps {
		calls[i] = live.Call{Unit: e.Unit, Transport: e.Transport, Method: e.Method, RPS: e.RPS}
	}
	return v.a.Advise(at, calls)
}

func (v advisor) SetTrafficScale(f float64) error { return v.a.SetTrafficScale(f) }
