package cloud

import (
	"context"
	"net/http"

	dto "github.com/prometheus/client_model/go"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/sim/console"
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
	con := console.New(consoleSource{c}, console.Options{Log: c.log})
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
