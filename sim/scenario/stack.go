package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/reconcile"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// Stack is where a running stack of separate unit processes publishes its
// parts on this machine: the docker compose stack (ComposeStack), or any
// other set of `shoplab serve` processes. The runner drives it from the
// outside: load to the gateway, network faults through toxiproxy's HTTP
// API, process faults through the Docker API, reconciliation through the
// units' gRPC and ops ports.
type Stack struct {
	Gateway   string            // base URL of the REST API
	Toxiproxy string            // base URL of toxiproxy's HTTP API; its proxies are named like the chaos edges
	Docker    string            // Docker Engine API (unix:///var/run/docker.sock), for process faults; "" refuses them
	Project   string            // the compose project whose service containers process faults act on
	GRPC      map[string]string // host:port by unit; order, payment and product are read by reconciliation
	Ops       map[string]string // ops base URL by unit: /readyz of each; the mailbox (notification), the windows (analytics)
	Window    time.Duration     // the analytics window the stack closes
}

// ComposeStack is what docker-compose.yml publishes on 127.0.0.1 (the
// compose test checks every address against the file).
var ComposeStack = Stack{
	Gateway:   "http://127.0.0.1:8080",
	Toxiproxy: "http://127.0.0.1:8474",
	Docker:    "unix:///var/run/docker.sock",
	Project:   "shoplab",
	GRPC:      map[string]string{"user": "127.0.0.1:19082", "product": "127.0.0.1:19083", "order": "127.0.0.1:19084", "payment": "127.0.0.1:19085"},
	Ops: map[string]string{"gateway": "http://127.0.0.1:18081", "user": "http://127.0.0.1:18082", "product": "http://127.0.0.1:18083",
		"order": "http://127.0.0.1:18084", "payment": "http://127.0.0.1:18085", "notification": "http://127.0.0.1:18086", "analytics": "http://127.0.0.1:18087"},
}

// stackTarget drives a Stack.
type stackTarget struct {
	st      Stack
	http    *http.Client
	seq     atomic.Int64
	mu      sync.Mutex
	applied map[string]appliedFault // by id
	docker  *dockerAPI
	ops     *http.Server // the env-wide ops API reconciliation reads
	opsURL  string
	closers []func()
}

// appliedFault is how to undo a fault: its toxics and proxy, or the Docker
// action that ends it (start after a kill, unpause after a pause).
type appliedFault struct {
	plan       chaos.ToxiproxyPlan
	unit, undo string
}

// connectStack checks that every unit of st answers ready and that the
// APIs the scenario's faults need answer (toxiproxy's for network faults,
// Docker's for process faults); each check has a deadline and the error
// names the part and how to get it.
func connectStack(ctx context.Context, st Stack, s *spec.Scenario) (*stackTarget, error) {
	var network, process []string
	for _, f := range s.Faults {
		switch faultKinds[f.Type] {
		case "network":
			network = append(network, f.Name)
		case "process":
			process = append(process, fmt.Sprintf("%s (%s on %s)", f.Name, f.Type, f.Target))
		}
	}
	needFaults := len(network) > 0
	t := &stackTarget{st: st, http: &http.Client{Timeout: 10 * time.Second}, applied: map[string]appliedFault{}}
	for _, u := range []string{"gateway", "user", "product", "order", "payment", "notification", "analytics"} {
		base, ok := st.Ops[u]
		if !ok {
			return nil, fmt.Errorf("stack: no ops address for unit %s", u)
		}
		if err := t.get(ctx, base+"/readyz", nil); err != nil {
			return nil, fmt.Errorf("stack: unit %s is not ready at %s: %w (is the stack up? `docker compose --profile core up --wait`)", u, base, err)
		}
	}
	if needFaults {
		if err := t.get(ctx, st.Toxiproxy+"/proxies", nil); err != nil {
			return nil, fmt.Errorf("stack: toxiproxy's API at %s: %w (faults need the chaos profile: `docker compose --env-file .env --env-file compose/chaos.env --profile core --profile chaos up --wait`)", st.Toxiproxy, err)
		}
	}
	if len(process) > 0 {
		if st.Docker == "" {
			return nil, errs.E(errs.FailedPrecondition, "stack: the process faults %s need the Docker API, and this stack names none", strings.Join(process, ", "))
		}
		d, err := newDockerAPI(st.Docker, st.Project)
		if err == nil {
			err = d.ping(ctx)
		}
		if err != nil {
			return nil, errs.E(errs.FailedPrecondition, "stack: the process faults %s need the Docker API at %s: %v (set DOCKER_HOST, or run the scenario on --env host)", strings.Join(process, ", "), st.Docker, err)
		}
		t.docker = d
	}
	if err := t.serveOps(); err != nil {
		return nil, err
	}
	return t, nil
}

// dockerActions are the Docker actions that apply and end a process fault.
var dockerActions = map[string][2]string{chaos.Kill: {"stop", "start"}, chaos.Restart: {"restart", ""}, chaos.Pause: {"pause", "unpause"}}

// applyProcess acts on the unit's container: a kill stops it until the
// fault ends, a restart restarts it, a pause freezes it (docker pause, the
// real SIGSTOP-like freeze the embedded engine stands in for).
func (t *stackTarget) applyProcess(ctx context.Context, id string, f chaos.Fault, acts [2]string) (string, error) {
	if err := f.Validate(); err != nil {
		return "", err
	}
	if t.docker == nil {
		return "", errs.E(errs.FailedPrecondition, "%s needs the Docker API, which this run has not reached", f.Type)
	}
	if err := t.docker.act(ctx, f.Target, acts[0]); err != nil {
		return "", err
	}
	if acts[1] != "" {
		t.mu.Lock()
		t.applied[id] = appliedFault{unit: f.Target, undo: acts[1]}
		t.mu.Unlock()
	}
	return id, nil
}

func (t *stackTarget) GatewayURL() string    { return t.st.Gateway }
func (t *stackTarget) Window() time.Duration { return t.st.Window }

// Apply installs a network fault on the proxy named like its edge, with the
// toxics the embedded engine would install; other faults are refused.
func (t *stackTarget) Apply(ctx context.Context, f chaos.Fault) (string, error) {
	id := "s" + strconv.FormatInt(t.seq.Add(1), 10)
	if acts, ok := dockerActions[f.Type]; ok {
		return t.applyProcess(ctx, id, f, acts)
	}
	plan, err := chaos.PlanToxiproxy(f, id)
	if err != nil {
		return "", err
	}
	proxy := t.st.Toxiproxy + "/proxies/" + url.PathEscape(plan.Proxy)
	if plan.Disable {
		err = t.post(ctx, proxy, map[string]any{"enabled": false})
	}
	for i, tx := range plan.Toxics {
		if err = t.post(ctx, proxy+"/toxics", tx); err != nil {
			for _, done := range plan.Toxics[:i] {
				_ = t.delete(ctx, proxy+"/toxics/"+url.PathEscape(done.Name))
			}
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("toxiproxy %s: %w", plan.Proxy, err)
	}
	t.mu.Lock()
	t.applied[id] = appliedFault{plan: plan}
	t.mu.Unlock()
	return id, nil
}

func (t *stackTarget) Remove(ctx context.Context, id string) error {
	t.mu.Lock()
	af, ok := t.applied[id]
	delete(t.applied, id)
	t.mu.Unlock()
	if !ok {
		return nil
	}
	if af.undo != "" {
		return t.docker.act(ctx, af.unit, af.undo)
	}
	plan := af.plan
	proxy := t.st.Toxiproxy + "/proxies/" + url.PathEscape(plan.Proxy)
	var errs []error
	if plan.Disable {
		errs = append(errs, t.post(ctx, proxy, map[string]any{"enabled": true}))
	}
	for _, tx := range plan.Toxics {
		errs = append(errs, t.delete(ctx, proxy+"/toxics/"+url.PathEscape(tx.Name)))
	}
	return errors.Join(errs...)
}

// Reset ends every process fault still in force and removes every toxic
// and re-enables every proxy (toxiproxy's reset).
func (t *stackTarget) Reset(ctx context.Context) error {
	t.mu.Lock()
	applied := t.applied
	t.applied = map[string]appliedFault{}
	t.mu.Unlock()
	var errList []error
	network := false
	for _, af := range applied {
		if af.undo != "" {
			errList = append(errList, t.docker.act(ctx, af.unit, af.undo))
		} else {
			network = true
		}
	}
	if network {
		errList = append(errList, t.post(ctx, t.st.Toxiproxy+"/reset", nil))
	}
	return errors.Join(errList...)
}

// Reconciler reads orders, payments and stock over the units' own gRPC
// ports (never a proxy), and the mailbox and windows through the ops API
// this target serves over the notification and analytics units' ops ports.
func (t *stackTarget) Reconciler() (reconcile.Source, error) {
	sys, closeConns, err := reconcile.DialSystem(t.st.GRPC["order"], t.st.GRPC["payment"], t.st.GRPC["product"], t.opsURL)
	if err != nil {
		return nil, fmt.Errorf("stack: %w", err)
	}
	t.closers = append(t.closers, closeConns)
	return sys, nil
}

// windowsLimit is the analytics unit's own cap on a listing.
const windowsLimit = 1000

// serveOps starts the env-wide ops API reconciliation reads, on a loopback
// port: GET /ops/v1/mailbox passes through to the notification unit (same
// shape), GET /ops/v1/analytics/windows reads the analytics unit's
// {"windows": [...]} and answers {"items": [...]}, as `shoplab up` does.
func (t *stackTarget) serveOps() error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ops/v1/mailbox", func(w http.ResponseWriter, r *http.Request) {
		var body json.RawMessage
		if err := t.get(r.Context(), t.st.Ops["notification"]+"/ops/v1/mailbox?"+r.URL.RawQuery, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /ops/v1/analytics/windows", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Windows []json.RawMessage `json:"windows"`
		}
		if err := t.get(r.Context(), fmt.Sprintf("%s/ops/v1/analytics/windows?limit=%d", t.st.Ops["analytics"], windowsLimit), &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if body.Windows == nil {
			body.Windows = []json.RawMessage{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": body.Windows})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("stack: ops API: %w", err)
	}
	t.ops = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	t.opsURL = "http://" + ln.Addr().String()
	go func() { _ = t.ops.Serve(ln) }()
	return nil
}

func (t *stackTarget) Close() error {
	for _, f := range t.closers {
		f()
	}
	if t.ops != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return t.ops.Shutdown(ctx)
	}
	return nil
}

// do sends one request with a deadline and decodes a JSON answer into out
// (nil: discard); a non-2xx status is an error carrying the body.
func (t *stackTarget) do(ctx context.Context, method, u string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (t *stackTarget) get(ctx context.Context, u string, out any) error {
	return t.do(ctx, http.MethodGet, u, nil, out)
}
func (t *stackTarget) post(ctx context.Context, u string, in any) error {
	return t.do(ctx, http.MethodPost, u, in, nil)
}
func (t *stackTarget) delete(ctx context.Context, u string) error {
	return t.do(ctx, http.MethodDelete, u, nil, nil)
}
