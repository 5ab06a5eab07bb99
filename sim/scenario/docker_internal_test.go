package scenario

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shoplab/shoplab/chaos"
)

// fakeEngine answers the Docker Engine API calls a Stack makes, on a unix
// socket as dockerd does, and records the container actions.
type fakeEngine struct {
	mu    sync.Mutex
	calls []string
}

func startFakeEngine(t *testing.T) (*fakeEngine, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEngine{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("OK")) })
	mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		var filters map[string][]string
		if err := json.Unmarshal([]byte(r.URL.Query().Get("filters")), &filters); err != nil || r.URL.Query().Get("all") != "1" {
			http.Error(w, "bad filters", http.StatusBadRequest)
			return
		}
		var svc string
		project := false
		for _, l := range filters["label"] {
			if l == "com.docker.compose.project=shoplab" {
				project = true
			}
			if v, ok := strings.CutPrefix(l, "com.docker.compose.service="); ok {
				svc = v
			}
		}
		out := []map[string]string{}
		if project && slices.Contains([]string{"product", "order"}, svc) {
			out = append(out, map[string]string{"Id": "c-" + svc})
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("POST /containers/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		c := r.PathValue("id") + " " + r.PathValue("action")
		if q := r.URL.RawQuery; q != "" {
			c += "?" + q
		}
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return f, "unix://" + sock
}

func (f *fakeEngine) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// TestStackProcessFaultsThroughDocker: kill stops the unit's container at
// once and the fault's end starts it; restart restarts it; pause pauses and
// Reset unpauses; a unit with no container is an error, not a silent no-op.
func TestStackProcessFaultsThroughDocker(t *testing.T) {
	engine, host := startFakeEngine(t)
	d, err := newDockerAPI(host, "shoplab")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.ping(ctx); err != nil {
		t.Fatal(err)
	}
	tg := &stackTarget{applied: map[string]appliedFault{}, docker: d}

	id, err := tg.Apply(ctx, chaos.Fault{Name: "k", Target: "product", Type: chaos.Kill})
	if err != nil {
		t.Fatal(err)
	}
	if got := engine.took(); !slices.Equal(got, []string{"c-product stop?t=0"}) {
		t.Errorf("kill: %q", got)
	}
	if err := tg.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := engine.took(); !slices.Equal(got, []string{"c-product start"}) {
		t.Errorf("end of kill: %q", got)
	}

	if _, err := tg.Apply(ctx, chaos.Fault{Name: "r", Target: "order", Type: chaos.Restart}); err != nil {
		t.Fatal(err)
	}
	if got := engine.took(); !slices.Equal(got, []string{"c-order restart?t=0"}) {
		t.Errorf("restart: %q", got)
	}

	if _, err := tg.Apply(ctx, chaos.Fault{Name: "p", Target: "order", Type: chaos.Pause}); err != nil {
		t.Fatal(err)
	}
	if err := tg.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if got := engine.took(); !slices.Equal(got, []string{"c-order pause", "c-order unpause"}) {
		t.Errorf("pause then reset: %q", got)
	}

	if _, err := tg.Apply(ctx, chaos.Fault{Name: "k2", Target: "payment", Type: chaos.Kill}); err == nil {
		t.Error("kill of a unit with no container succeeded")
	}
	if _, err := tg.Apply(ctx, chaos.Fault{Name: "k3", Target: "warehouse", Type: chaos.Kill}); err == nil {
		t.Error("kill of an unknown unit succeeded")
	}
	if got := engine.took(); len(got) != 0 {
		t.Errorf("failed faults still acted: %q", got)
	}
	if _, err := newDockerAPI("npipe:////./pipe/docker_engine", "shoplab"); err == nil {
		t.Error("an unsupported Docker host was accepted")
	}
}
