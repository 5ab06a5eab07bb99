package chaos

import (
	"encoding/json"
	"mime"
	"net/http"
	"sort"

	"github.com/Shopify/toxiproxy/v2/toxics"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// controlPrefix is where the control API lives, on the env's ops API and
// on the engine's own listener.
const controlPrefix = "/ops/v1/chaos/"

// maxFaultBody bounds a fault's JSON.
const maxFaultBody = 64 << 10

// Targets is what faults can act on in this env, and how.
type Targets struct {
	Edges  []EdgeInfo `json:"edges"`  // proxied network edges
	Units  []string   `json:"units"`  // targets of process faults
	Stores []string   `json:"stores"` // units whose SQL store has the storage hook
	GRPC   []string   `json:"grpc"`   // edges (client side) and units (server side) with the gRPC hook
	HTTP   []string   `json:"http"`   // units with the HTTP hook
	Types  []TypeInfo `json:"types"`
}

// EdgeInfo is one proxied edge.
type EdgeInfo struct {
	Name     string   `json:"name"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Listen   string   `json:"listen"`
	Upstream string   `json:"upstream"`
	Enabled  bool     `json:"enabled"`
	Toxics   []string `json:"toxics,omitempty"`
}

// Targets lists the edges, units, stores and hooks of this env and the
// fault types.
func (e *Engine) Targets() Targets {
	e.mu.Lock()
	t := Targets{Units: append([]string(nil), Units...), Stores: []string{}, GRPC: []string{}, HTTP: []string{}, Edges: []EdgeInfo{}, Types: Types()}
	edges := make(map[string][2]string, len(e.edges))
	for k, v := range e.edges {
		edges[k] = v
	}
	for u := range e.drivers {
		t.Stores = append(t.Stores, u)
	}
	for k := range e.grpcEdges {
		t.GRPC = append(t.GRPC, k)
	}
	for k := range e.grpcUnits {
		t.GRPC = append(t.GRPC, k)
	}
	for k := range e.httpUnits {
		t.HTTP = append(t.HTTP, k)
	}
	e.mu.Unlock()
	for name, ft := range edges {
		p, err := e.tp.Collection.Get(name)
		if err != nil {
			continue
		}
		p.Lock()
		ei := EdgeInfo{Name: name, From: ft[0], To: ft[1], Listen: p.Listen, Upstream: p.Upstream, Enabled: p.Enabled}
		p.Unlock()
		for _, tx := range p.Toxics.GetToxicArray() {
			if w, ok := tx.(*toxics.ToxicWrapper); ok {
				ei.Toxics = append(ei.Toxics, w.Name)
			}
		}
		t.Edges = append(t.Edges, ei)
	}
	sort.Slice(t.Edges, func(i, j int) bool { return t.Edges[i].Name < t.Edges[j].Name })
	sort.Strings(t.Stores)
	sort.Strings(t.GRPC)
	sort.Strings(t.HTTP)
	return t
}

// Handler serves the control API under /ops/v1/chaos/: mount it on the
// ops API with mux.Handle("/ops/v1/chaos/", e.Handler()).
//
//	GET    /ops/v1/chaos/faults       the active faults
//	POST   /ops/v1/chaos/faults       apply a fault (JSON Fault); 201 with the ActiveFault
//	GET    /ops/v1/chaos/faults/{id}  one active fault
//	DELETE /ops/v1/chaos/faults/{id}  remove a fault; 204
//	POST   /ops/v1/chaos/reset        remove every fault; {"removed": n}
//	GET    /ops/v1/chaos/targets      edges, units, stores, hooks and fault types
//
// Errors have the documented shape {"error":{"code","message","field"}}.
func (e *Engine) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ops/v1/chaos/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"faults": e.Active()})
	})
	mux.HandleFunc("POST /ops/v1/chaos/faults", e.handleApply)
	mux.HandleFunc("GET /ops/v1/chaos/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		af, ok := e.Fault(r.PathValue("id"))
		if !ok {
			httpx.WriteError(w, r, e.log, errs.E(errs.NotFound, "no active fault %q", r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, af)
	})
	mux.HandleFunc("DELETE /ops/v1/chaos/faults/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Remove(r.Context(), r.PathValue("id")); err != nil {
			httpx.WriteError(w, r, e.log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /ops/v1/chaos/reset", func(w http.ResponseWriter, r *http.Request) {
		n, err := e.reset(r.Context())
		if err != nil {
			httpx.WriteError(w, r, e.log, errs.Wrap(errs.FailedPrecondition, err, "reset removed %d faults but: %v", n, err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"removed": n})
	})
	mux.HandleFunc("GET /ops/v1/chaos/targets", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Targets())
	})
	mux.HandleFunc(controlPrefix, func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, errs.E(errs.NotFound, "no chaos route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (e *Engine) handleApply(w http.ResponseWriter, r *http.Request) {
	// A JSON content type cannot be sent cross-site without a preflight,
	// so a web page cannot inject faults into a local env.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		httpx.WriteError(w, r, nil, errs.E(errs.Invalid, "Content-Type must be application/json"))
		return
	}
	var in faultJSON
	if err := httpx.DecodeJSON(w, r, maxFaultBody, &in); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	f, err := in.fault()
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	af, err := e.apply(r.Context(), f)
	if err != nil {
		httpx.WriteError(w, r, e.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, af)
}

// writeJSON is httpx.WriteJSON without HTML escaping: edge names hold "->",
// which would otherwise reach people reading the API as "-\u003e".
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
