package chaosctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/chaos/chaosctl"
	"github.com/shoplab/shoplab/services/platform/errs"
)

type units struct {
	mu     sync.Mutex
	events []string
}

func (u *units) Kill(name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events = append(u.events, "kill "+name)
	return nil
}

func (u *units) Start(_ context.Context, name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events = append(u.events, "start "+name)
	return nil
}

// env is a running engine with one edge and its control API on an
// httptest server, as `shoplab up` mounts it.
type env struct {
	e     *chaos.Engine
	units *units
	addr  string // ops API address
	now   time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	u := &units{}
	e, err := chaos.New(chaos.WithAPIAddr(""), chaos.WithProcesses(u))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	if _, err := e.Edge("order", "payment", ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	e.ClientInterceptors("order", "payment")
	mux := http.NewServeMux()
	mux.Handle("/ops/v1/chaos/", e.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{e: e, units: u, addr: strings.TrimPrefix(srv.URL, "http://"), now: time.Now()}
}

// run runs `shoplab chaos args...` against the env.
func (v *env) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := chaosctl.Run(context.Background(), chaosctl.Env{
		Stdout: &out, Stderr: &errOut,
		Lookup: func(k string) (string, bool) {
			if k == "SHOPLAB_OPS_ADDR" {
				return v.addr, true
			}
			return "", false
		},
		Now: func() time.Time { return v.now },
	}, args)
	return out.String(), errOut.String(), err
}

func TestAddListRemove(t *testing.T) {
	v := newEnv(t)
	out, _, err := v.run(t, "add", "order->payment", "latency", "--latency", "400ms", "--jitter", "50ms", "--for", "30s", "--toxicity", "0.5", "--direction", "upstream", "--name", "slow-payments")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "added f1: latency on order->payment (jitter=50ms latency=400ms toxicity=0.5 direction=upstream), for 30s") {
		t.Fatalf("add printed %q", out)
	}
	af, ok := v.e.Fault("f1")
	if !ok || af.Fault.Name != "slow-payments" || af.Fault.Duration != 30*time.Second || af.Fault.Toxicity != 0.5 || af.Fault.Direction != "upstream" {
		t.Fatalf("engine holds %+v", af)
	}

	// Flags before the positional arguments, --attr and a process fault.
	if _, _, err := v.run(t, "add", "--for", "20s", "product", "kill"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.run(t, "add", "order->payment", "grpc_error", "--code", "UNAVAILABLE", "--rate", "0.2", "--attr", "when=after"); err != nil {
		t.Fatal(err)
	}
	if got := v.e.Active()[2].Fault.Attributes; got["code"] != "UNAVAILABLE" || got["rate"] != 0.2 || got["when"] != "after" {
		t.Fatalf("grpc_error attributes %v", got)
	}

	out, _, err = v.run(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("list:\n%s", out)
	}
	for i, want := range []string{"f1  slow-payments  latency", "f2  f2", "f3  f3"} {
		if !strings.Contains(strings.Join(strings.Fields(lines[i+1]), "  "), want) {
			t.Errorf("row %d %q lacks %q", i+1, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[1], "in 30s") || !strings.Contains(lines[3], "when removed") {
		t.Errorf("ends column wrong:\n%s", out)
	}

	out, _, err = v.run(t, "list", "--json")
	var doc struct{ Faults []chaos.ActiveFault }
	if err != nil || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Faults) != 3 {
		t.Fatalf("list --json: %q, %v", out, err)
	}

	out, _, err = v.run(t, "remove", "f1", "f2")
	if err != nil || out != "removed f1\nremoved f2\n" {
		t.Fatalf("remove: %q, %v", out, err)
	}
	if len(v.units.events) != 2 || v.units.events[1] != "start product" {
		t.Fatalf("removing the kill did not start the unit: %v", v.units.events)
	}
	_, _, err = v.run(t, "remove", "f1")
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("removing a removed fault: %v", err)
	}

	out, _, err = v.run(t, "reset")
	if err != nil || !strings.HasPrefix(out, "removed 1 faults") {
		t.Fatalf("reset: %q, %v", out, err)
	}
	out, _, _ = v.run(t, "list")
	if out != "No active faults.\n" {
		t.Fatalf("list after reset: %q", out)
	}
}

func TestAddNamesTheFlagAtFault(t *testing.T) {
	v := newEnv(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"add", "order->payment", "latency", "--latency", "soon"}, "--latency: must be a duration"},
		{[]string{"add", "order->payment", "slicer", "--average-size", "4", "--size-variation", "9"}, "--size-variation: must be smaller"},
		{[]string{"add", "order->payment", "latency", "--latency", "1s", "--toxicity", "2"}, "--toxicity: must be within 0..1"},
		{[]string{"add", "order->payment", "latency"}, "--latency: required"},
		{[]string{"add", "order->payment", "lag"}, "<type>: unknown fault type"},
		{[]string{"add", "order->nowhere", "down"}, "<target>: no proxy for edge order->nowhere"},
	}
	for _, tt := range tests {
		_, _, err := v.run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errs.Is(err, errs.Invalid) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if n := len(v.e.Active()); n != 0 {
		t.Fatalf("%d refused faults applied", n)
	}
}

func TestUsage(t *testing.T) {
	v := newEnv(t)
	var ue *chaosctl.UsageError
	for _, args := range [][]string{{}, {"frobnicate"}, {"add", "order->payment"}, {"add", "a", "b", "c"}, {"add", "x", "down", "--bogus"}, {"list", "extra"}, {"remove"}, {"add", "x", "down", "--attr", "novalue"}} {
		if _, _, err := v.run(t, args...); !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	out, _, err := v.run(t, "help")
	if err != nil || !strings.Contains(out, "shoplab chaos add order->payment latency") {
		t.Fatalf("help: %q, %v", out, err)
	}
	_, errOut, err := v.run(t, "add", "-h")
	if err != nil || !strings.Contains(errOut, "--average-size") || !strings.Contains(errOut, "grpc_error") {
		t.Fatalf("add -h: %v\n%s", err, errOut)
	}
}

func TestTargets(t *testing.T) {
	v := newEnv(t)
	out, _, err := v.run(t, "targets")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"order->payment", "up", "gRPC hooks:  order->payment", "latency", "latency*", "status=503"} {
		if !strings.Contains(out, want) {
			t.Errorf("targets lacks %q:\n%s", want, out)
		}
	}
}

func TestNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	err = chaosctl.Run(context.Background(), chaosctl.Env{Stdout: &out, Stderr: &out}, []string{"list", "--ops-addr", addr, "--api-timeout", "2s"})
	if err == nil || !strings.Contains(err.Error(), "is `shoplab up` running?") {
		t.Fatalf("list against nothing: %v", err)
	}
}

func TestTimeoutFlagIsTheToxicAttribute(t *testing.T) {
	v := newEnv(t)
	if _, _, err := v.run(t, "add", "order->payment", "timeout", "--timeout", "100ms", "--api-timeout", "5s"); err != nil {
		t.Fatal(err)
	}
	if got := v.e.Active()[0].Fault.Attributes["timeout"]; got != "100ms" {
		t.Fatalf("timeout attribute %v", got)
	}
}
