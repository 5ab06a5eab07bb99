package chaos

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/gorilla/mux"
)

// proxyHost is where proxies listen: the testbed never leaves loopback.
const proxyHost = "127.0.0.1"

// Edge returns the address from must dial to reach to: the listen address
// of the proxy named "from->to", created on first use. Called again with
// another upstream (the unit at the far end restarted elsewhere), it
// re-points the proxy and keeps its address and toxics.
func (e *Engine) Edge(from, to, upstream string) (string, error) {
	if !nameRE.MatchString(from) || !nameRE.MatchString(to) {
		return "", fmt.Errorf("chaos: edge %q->%q: names must be lower-case words", from, to)
	}
	if upstream == "" {
		return "", fmt.Errorf("chaos: edge %s->%s: no upstream address", from, to)
	}
	name := from + "->" + to
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", fmt.Errorf("chaos: edge %s: the engine is closed", name)
	}
	if p, err := e.tp.Collection.Get(name); err == nil {
		p.Lock()
		listen, current, enabled := p.Listen, p.Upstream, p.Enabled
		p.Unlock()
		if current != upstream {
			// A down fault must survive the re-pointing.
			in := &toxiproxy.Proxy{Listen: listen, Upstream: upstream, Enabled: enabled}
			if err := p.Update(in); err != nil {
				return "", fmt.Errorf("chaos: re-point %s to %s: %w", name, upstream, err)
			}
		}
		e.edges[name] = [2]string{from, to}
		return listen, nil
	}
	p, err := e.newProxy(name, upstream)
	if err != nil {
		return "", err
	}
	e.edges[name] = [2]string{from, to}
	// A pause in force covers edges wired while it lasts, such as those of
	// a unit that starts during it.
	for _, af := range e.faults {
		if af.plan.spec.class == classPause && (af.plan.unit == from || af.plan.unit == to) {
			if err := e.pauseProxy(af, p, name, true); err != nil {
				e.log.Warn("chaos: freezing a new edge for a pause failed", "edge", name, "fault", af.id, "error", err)
			}
		}
	}
	p.Lock()
	defer p.Unlock()
	return p.Listen, nil
}

// newProxy creates and starts a proxy on a free loopback port. toxiproxy
// binds "host:0" itself and records the port the kernel chose, so there is
// no window between picking a port and using it; a bind failure comes back
// as an error (toxiproxy's own Listen would log.Fatal). It runs with e.mu
// held.
func (e *Engine) newProxy(name, upstream string) (*toxiproxy.Proxy, error) {
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		p := toxiproxy.NewProxy(e.tp, name, proxyHost+":0", upstream)
		err := e.tp.Collection.Add(p, true)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, toxiproxy.ErrProxyAlreadyExists) {
			// Created through toxiproxy's API a moment ago: use it.
			return e.tp.Collection.Get(name)
		}
		last = err
	}
	return nil, fmt.Errorf("chaos: create proxy %s: %w", name, last)
}

// streams maps a fault's direction to toxiproxy streams.
func streams(direction string) []string {
	if direction == "both" {
		return []string{"upstream", "downstream"}
	}
	return []string{direction}
}

// toxicName names the toxic a fault installs on one stream, so that
// toxiproxy's API shows which fault put it there.
func toxicName(id, stream string) string { return "chaos-" + id + "-" + stream }

// addToxic installs a toxic through the same JSON path toxiproxy's API
// uses, so toxiproxy validates and defaults it exactly as for its clients.
func addToxic(p *toxiproxy.Proxy, name, typ, stream string, toxicity float64, attrs map[string]any) error {
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": stream, "toxicity": toxicity, "attributes": attrs})
	if err != nil {
		return err
	}
	_, err = p.Toxics.AddToxicJson(bytes.NewReader(body))
	return err
}

// toxicAttributes converts a fault's attributes to toxiproxy's units:
// milliseconds (rounded up, so 500µs is not 0, which means "forever" for
// timeout), KB/s, bytes, and microseconds for the slicer's delay.
func toxicAttributes(pl *plan) map[string]any {
	p := pl.p
	ms := func(k string) int64 {
		d := p.dur(k)
		return int64((d + time.Millisecond - 1) / time.Millisecond)
	}
	switch pl.spec.name {
	case Latency:
		return map[string]any{"latency": ms("latency"), "jitter": ms("jitter")}
	case Bandwidth:
		return map[string]any{"rate": p.int("rate")}
	case SlowClose:
		return map[string]any{"delay": ms("delay")}
	case Timeout, ResetPeer:
		return map[string]any{"timeout": ms("timeout")}
	case Slicer:
		return map[string]any{"average_size": p.int("average_size"), "size_variation": p.int("size_variation"), "delay": p.dur("delay").Microseconds()}
	case LimitData:
		return map[string]any{"bytes": p.int("bytes")}
	}
	return map[string]any{}
}

// apiRouter serves toxiproxy's HTTP API with its own handlers, on the same
// paths and methods as toxiproxy's api.go (v2.12: updates by PATCH, POST
// kept as toxiproxy keeps it), plus the control API.
func (e *Engine) apiRouter() http.Handler {
	s := e.tp
	r := mux.NewRouter()
	r.PathPrefix(controlPrefix).Handler(e.Handler())
	t := r.NewRoute().Subrouter()
	t.Use(refuseBrowsers, func(next http.Handler) http.Handler { return http.TimeoutHandler(next, 25*time.Second, "") })
	// toxiproxy's reset only knows toxics and proxies; the engine's also
	// ends its own faults. Every change goes through e.serialised, so it
	// is one step among the engine's own (see store.go).
	t.HandleFunc("/reset", e.toxiproxyReset).Methods("POST")
	t.HandleFunc("/proxies", s.ProxyIndex).Methods("GET")
	t.HandleFunc("/proxies", e.serialised(s.ProxyCreate)).Methods("POST")
	t.HandleFunc("/populate", e.serialised(s.Populate)).Methods("POST")
	t.HandleFunc("/proxies/{proxy}", s.ProxyShow).Methods("GET")
	t.HandleFunc("/proxies/{proxy}", e.serialised(s.ProxyUpdate)).Methods("POST", "PATCH")
	t.HandleFunc("/proxies/{proxy}", e.serialised(s.ProxyDelete)).Methods("DELETE")
	t.HandleFunc("/proxies/{proxy}/toxics", s.ToxicIndex).Methods("GET")
	t.HandleFunc("/proxies/{proxy}/toxics", e.serialised(e.guardToxic(s.ToxicCreate, false))).Methods("POST")
	t.HandleFunc("/proxies/{proxy}/toxics/{toxic}", s.ToxicShow).Methods("GET")
	t.HandleFunc("/proxies/{proxy}/toxics/{toxic}", e.serialised(e.guardToxic(s.ToxicUpdate, true))).Methods("POST", "PATCH")
	t.HandleFunc("/proxies/{proxy}/toxics/{toxic}", e.serialised(s.ToxicDelete)).Methods("DELETE")
	t.HandleFunc("/version", s.Version).Methods("GET")
	return r
}

// refuseBrowsers is toxiproxy's guard against cross-site requests: a web
// page could otherwise drive the API of a tool listening on localhost.
func refuseBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "Mozilla/") {
			http.Error(w, "User agent not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (e *Engine) toxiproxyReset(w http.ResponseWriter, r *http.Request) {
	if err := e.Reset(r.Context()); err != nil {
		writeToxiproxyError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeToxiproxyError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(toxiproxy.ApiError{Message: msg, StatusCode: status})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// guardToxic refuses toxic settings that crash toxiproxy's toxics (they
// panic or recurse forever in a goroutine, which takes the whole env
// down), then hands the request to toxiproxy's handler. Bodies it cannot
// read are passed on untouched for toxiproxy to reject in its own words.
func (e *Engine) guardToxic(next http.HandlerFunc, update bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeToxiproxyError(w, http.StatusBadRequest, "bad request body: "+err.Error())
			return
		}
		var in struct {
			Type       string         `json:"type"`
			Attributes map[string]any `json:"attributes"`
		}
		if json.Unmarshal(body, &in) == nil {
			typ, attrs := in.Type, in.Attributes
			if update {
				typ, attrs = e.mergedToxic(mux.Vars(r), in.Attributes)
			}
			if msg := unsafeToxic(typ, attrs); msg != "" {
				writeToxiproxyError(w, http.StatusBadRequest, msg)
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next(w, r)
	}
}

// mergedToxic is an existing toxic's type and attributes with an update's
// attributes laid over them, as toxiproxy will apply them.
func (e *Engine) mergedToxic(vars map[string]string, update map[string]any) (string, map[string]any) {
	p, err := e.tp.Collection.Get(vars["proxy"])
	if err != nil {
		return "", nil
	}
	t := p.Toxics.GetToxic(vars["toxic"])
	if t == nil {
		return "", nil
	}
	merged := map[string]any{}
	if b, err := json.Marshal(t.Toxic); err == nil {
		_ = json.Unmarshal(b, &merged)
	}
	for k, v := range update {
		merged[k] = v
	}
	return t.Type, merged
}

// unsafeToxic returns why attrs would crash a toxic of type typ, or "".
func unsafeToxic(typ string, attrs map[string]any) string {
	num := func(k string) (float64, bool) {
		f, ok := attrs[k].(float64)
		return f, ok
	}
	switch typ {
	case "slicer":
		avg, _ := num("average_size")
		sv, _ := num("size_variation")
		if avg < 1 {
			return "slicer: average_size must be at least 1"
		}
		if sv < 0 || sv >= avg {
			return "slicer: size_variation must be within 0..average_size-1"
		}
	case "bandwidth":
		if rate, ok := num("rate"); ok && rate < 0 {
			return "bandwidth: rate must not be negative"
		}
	case "latency":
		if j, ok := num("jitter"); ok && j > 1<<40 {
			return "latency: jitter is too large"
		}
	}
	return ""
}
