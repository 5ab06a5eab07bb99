package cloud

import (
	"context"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// opsServer is the env's ops HTTP API: unit health, the mailbox, closed
// analytics windows and every unit's metrics in one scrape. It feeds the
// demo, the scenario runner and people poking at a running `shoplab up`.
type opsServer struct {
	*httpx.Server
}

func newOpsServer(c *Cloud, addr string) (*opsServer, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /ops/v1/units", func(w http.ResponseWriter, r *http.Request) {
		st := c.Status(r.Context())
		code := http.StatusOK
		for _, s := range st {
			if !s.Ready {
				code = http.StatusServiceUnavailable
			}
		}
		httpx.WriteJSON(w, code, map[string]any{"units": st})
	})
	mux.HandleFunc("GET /ops/v1/mailbox", c.listHandler(func() lister { return c.mailbox }, Notification))
	mux.HandleFunc("GET /ops/v1/analytics/windows", c.listHandler(func() lister { return c.windows }, Analytics))
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.gatherers(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	if c.cfg.Chaos != nil {
		mux.Handle("/ops/v1/chaos/", c.cfg.Chaos.Handler())
	}
	c.mountConsole(mux) // GET / and /console: the live console
	mountPprof(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, errs.E(errs.NotFound, "no ops route %s %s", r.Method, r.URL.Path))
	})
	s, err := httpx.Listen(addr, mux)
	if err != nil {
		return nil, err
	}
	return &opsServer{Server: s}, nil
}

// lister lists a unit's records, newest first (mailbox, closed windows).
type lister func(ctx context.Context, limit int) (any, error)

// listHandler serves {"items": [...]} from the lister that unit set when it
// was built; get reads it under the lock, since a restart replaces it.
func (c *Cloud) listHandler(get func() lister, unit string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit, err := limitParam(r, 100)
		if err != nil {
			httpx.WriteError(w, r, c.log, err)
			return
		}
		c.mu.Lock()
		list := get()
		c.mu.Unlock()
		if list == nil {
			httpx.WriteError(w, r, c.log, errs.E(errs.Unavailable, "the %s unit is not running", unit))
			return
		}
		items, err := list(r.Context(), limit)
		if err != nil {
			httpx.WriteError(w, r, c.log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
	}
}

func limitParam(r *http.Request, def int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errs.InvalidField("limit", "must be a positive integer")
	}
	return n, nil
}

func (c *Cloud) gatherers() prometheus.Gatherers {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := make(prometheus.Gatherers, 0, len(c.registries))
	for _, r := range c.registries {
		g = append(g, r)
	}
	return g
}

// processRegistry exports the Go runtime and process metrics once for the
// whole process; the units' registries hold only their own series.
func processRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}
