package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// wiring is sim/cloud's Wiring method set; the engine must satisfy it
// without the two packages importing each other.
type wiring interface {
	Edge(from, to, upstream string) (string, error)
	ServerInterceptors(unit string) []grpc.UnaryServerInterceptor
	ClientInterceptors(from, to string) []grpc.UnaryClientInterceptor
	HTTPMiddleware(unit string) func(http.Handler) http.Handler
	SQLDriver(unit string) string
}

var _ wiring = (*Engine)(nil)

func TestDurationExpiresOnTheClock(t *testing.T) {
	clock := newFakeClock()
	e := MustEngine(t, WithClock(clock))
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	start := clock.Now()
	id := MustApply(t, e, Fault{Target: "order->payment", Type: Latency, Duration: 30 * time.Second, Attributes: map[string]any{"latency": "150ms"}})
	af, ok := e.Fault(id)
	if !ok || !af.StartedAt.Equal(start) || !af.EndsAt.Equal(start.Add(30*time.Second)) {
		t.Fatalf("active fault %+v: want it to start at %s and end 30s later", af, start)
	}
	clock.Advance(29 * time.Second)
	if len(e.Active()) != 1 {
		t.Fatal("fault ended before its duration")
	}
	clock.Advance(time.Second)
	if len(e.Active()) != 0 {
		t.Fatal("fault outlived its duration")
	}
	if d := mustRoundTrip(t, addr); d > 100*time.Millisecond {
		t.Fatalf("round trip after expiry took %s: the toxic is still there", d)
	}
}

func TestRemovedFaultCancelsItsExpiry(t *testing.T) {
	clock := newFakeClock()
	e := MustEngine(t, WithClock(clock))
	MustEdge(t, e, "order", "payment", MustEcho(t))
	id := MustApply(t, e, Fault{Target: "order->payment", Type: Down, Duration: time.Minute})
	MustRemove(t, e, id)
	if clock.pending() != 0 {
		t.Fatal("removing a fault left its timer pending")
	}
	if err := e.Remove(context.Background(), id); !errs.Is(err, errs.NotFound) {
		t.Fatalf("second removal: %v, want not found", err)
	}
}

func TestRealClockExpiry(t *testing.T) {
	at := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	e := MustEngine(t, WithNow(func() time.Time { return at }))
	MustEdge(t, e, "order", "payment", MustEcho(t))
	id := MustApply(t, e, Fault{Target: "order->payment", Type: Latency, Duration: 200 * time.Millisecond, Attributes: map[string]any{"latency": "1s"}})
	if af, _ := e.Fault(id); !af.StartedAt.Equal(at) || !af.EndsAt.Equal(at.Add(200*time.Millisecond)) {
		t.Fatalf("times of %+v do not come from the injected Now", af)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(e.Active()) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("fault with a 200ms duration still active after 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKillStartsTheUnitAgainWhenItEnds(t *testing.T) {
	clock := newFakeClock()
	procs := newFakeProcesses()
	e := MustEngine(t, WithClock(clock), WithProcesses(procs))
	echo := MustEcho(t)
	// Starting a unit re-wires its edges, from inside Start, while the
	// engine is ending the kill: that must not deadlock.
	procs.onStart = func(name string) error {
		_, err := e.Edge(name, "kafka", echo)
		return err
	}
	MustApply(t, e, Fault{Target: "product", Type: Kill, Duration: 20 * time.Second})
	if procs.Running("product") {
		t.Fatal("kill did not stop the unit")
	}
	clock.Advance(20 * time.Second)
	if got := strings.Join(procs.Events(), ","); got != "kill product,start product" {
		t.Fatalf("events %s", got)
	}
	if len(e.Active()) != 0 {
		t.Fatal("kill still active after its duration")
	}
}

func TestOverlappingKillsStartOnlyAfterTheLast(t *testing.T) {
	procs := newFakeProcesses()
	e := MustEngine(t, WithProcesses(procs))
	a := MustApply(t, e, Fault{Target: "order", Type: Kill})
	b := MustApply(t, e, Fault{Target: "order", Type: Kill})
	MustRemove(t, e, a)
	if procs.Running("order") {
		t.Fatal("unit started while another kill was active")
	}
	MustRemove(t, e, b)
	if got := strings.Join(procs.Events(), ","); got != "kill order,start order" {
		t.Fatalf("events %s", got)
	}
}

func TestRestartIsOneShot(t *testing.T) {
	procs := newFakeProcesses()
	e := MustEngine(t, WithProcesses(procs))
	id := MustApply(t, e, Fault{Target: "payment", Type: Restart})
	if id == "" {
		t.Fatal("restart returned no id")
	}
	if got := strings.Join(procs.Events(), ","); got != "kill payment,start payment" {
		t.Fatalf("events %s", got)
	}
	if len(e.Active()) != 0 {
		t.Fatal("a restart is listed as active")
	}
}

func TestProcessFaultErrors(t *testing.T) {
	e := MustEngine(t)
	if _, err := e.Apply(context.Background(), Fault{Target: "order", Type: Kill}); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("kill without unit control: %v", err)
	}
	procs := newFakeProcesses()
	e.SetProcesses(procs)
	procs.killErr = errors.New("no such unit")
	if _, err := e.Apply(context.Background(), Fault{Target: "order", Type: Kill}); err == nil || !strings.Contains(err.Error(), "no such unit") {
		t.Fatalf("failing kill: %v", err)
	}
	if len(e.Active()) != 0 {
		t.Fatal("a kill that failed is listed as active")
	}
	procs.killErr = nil
	id := MustApply(t, e, Fault{Target: "order", Type: Kill})
	MustRemove(t, e, id)
	if got := strings.Join(procs.Events(), ","); got != "kill order,start order" {
		t.Fatalf("after a failed kill the next one must act normally; events %s", got)
	}
}

func TestResetRemovesEverything(t *testing.T) {
	procs := newFakeProcesses()
	e := MustEngine(t, WithProcesses(procs))
	echo := MustEcho(t)
	slow := MustEdge(t, e, "order", "payment", echo)
	down := MustEdge(t, e, "gateway", "order", echo)
	paused := MustEdge(t, e, "analytics", "kafka", echo)
	hs := MustHealthServer(t)
	client := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "user")...)
	srv, _ := gatewayServer(t, e)
	db := MustStore(t, e, "order")

	for _, f := range []Fault{
		{Target: "order->payment", Type: Latency, Attributes: map[string]any{"latency": "500ms"}},
		{Target: "gateway->order", Type: Down},
		{Target: "analytics", Type: Pause},
		{Target: "product", Type: Kill},
		{Target: "order->user", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE"}},
		{Target: "gateway", Type: HTTPError},
		{Target: "order", Type: StorageError},
		{Target: "order", Type: StorageLatency, Attributes: map[string]any{"latency": "300ms"}},
	} {
		MustApply(t, e, f)
	}
	n, err := e.reset(context.Background())
	if err != nil || n != 8 {
		t.Fatalf("reset removed %d faults: %v", n, err)
	}
	if len(e.Active()) != 0 {
		t.Fatal("faults survive a reset")
	}
	for _, addr := range []string{slow, down, paused} {
		if d := mustRoundTrip(t, addr); d > 100*time.Millisecond {
			t.Errorf("round trip via %s after reset took %s", addr, d)
		}
	}
	for _, ei := range e.Targets().Edges {
		if !ei.Enabled || len(ei.Toxics) != 0 {
			t.Errorf("edge after reset: %+v", ei)
		}
	}
	if !procs.Running("product") {
		t.Error("killed unit not started by reset")
	}
	if p := grpcPattern(t, client, 5, codes.Unavailable); p != "....." {
		t.Errorf("gRPC calls after reset: %s", p)
	}
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Errorf("HTTP after reset: %d", resp.StatusCode)
	}
	start := time.Now()
	if c := countItems(t, db); c != 0 || time.Since(start) > 100*time.Millisecond {
		t.Errorf("storage after reset: %d rows in %s", c, time.Since(start))
	}
}

func TestActiveReportsNormalisedFaults(t *testing.T) {
	clock := newFakeClock()
	e := MustEngine(t, WithClock(clock))
	MustEdge(t, e, "order", "payment", MustEcho(t))
	e.ServerInterceptors("payment")
	MustApply(t, e, Fault{Name: "slow", Target: " order -> payment ", Type: Latency, Toxicity: 0.5, Attributes: map[string]any{"latency": 400, "jitter": "50ms"}})
	MustApply(t, e, Fault{Target: "payment", Type: GRPCError, Attributes: map[string]any{"code": "unavailable"}})
	got := e.Active()
	if len(got) != 2 || got[0].ID != "f1" || got[1].ID != "f2" {
		t.Fatalf("active %+v", got)
	}
	lat := got[0].Fault
	if lat.Target != "order->payment" || lat.Toxicity != 0.5 || lat.Direction != "downstream" ||
		lat.Attributes["latency"] != "400ms" || lat.Attributes["jitter"] != "50ms" || lat.Name != "slow" {
		t.Fatalf("latency fault reported as %+v", lat)
	}
	if strings.Join(got[0].Scope, ",") != "order->payment" {
		t.Fatalf("scope %v", got[0].Scope)
	}
	ge := got[1].Fault
	if ge.Name != "f2" || ge.Attributes["code"] != "UNAVAILABLE" || ge.Attributes["rate"] != 1.0 || ge.Attributes["when"] != "before" {
		t.Fatalf("grpc fault reported as %+v", ge)
	}
	if !got[1].EndsAt.IsZero() {
		t.Fatal("a fault without duration has an end")
	}
	// The report is a copy: changing it changes nothing inside.
	got[0].Fault.Attributes["latency"] = "1h"
	if e.Active()[0].Fault.Attributes["latency"] != "400ms" {
		t.Fatal("Active exposes the engine's state")
	}
}

func TestClosedEngineRefusesWork(t *testing.T) {
	e := MustEngine(t)
	hs := MustHealthServer(t)
	client := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "payment")...)
	MustEdge(t, e, "order", "payment", MustEcho(t))
	MustApply(t, e, Fault{Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE"}})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if p := grpcPattern(t, client, 3, codes.Unavailable); p != "..." {
		t.Fatalf("hooks still inject after Close: %s", p)
	}
	if _, err := e.Apply(context.Background(), Fault{Target: "order->payment", Type: Down}); err == nil {
		t.Fatal("Apply after Close succeeded")
	}
	if _, err := e.Edge("order", "user", "127.0.0.1:1"); err == nil {
		t.Fatal("Edge after Close succeeded")
	}
}

// TestConcurrentApplyRemoveUnderTraffic is a race-detector workout: faults
// come and go on every kind of hook while traffic flows, then a reset
// must leave every path clean.
func TestConcurrentApplyRemoveUnderTraffic(t *testing.T) {
	procs := newFakeProcesses()
	e := MustEngine(t, WithProcesses(procs))
	echo := MustEcho(t)
	addr := MustEdge(t, e, "order", "payment", echo)
	MustEdge(t, e, "gateway", "order", echo)
	hs := MustHealthServer(t, e.ServerInterceptors("payment")...)
	client := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "payment")...)
	db := MustStore(t, e, "order")
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = echoRoundTrip(addr, []byte("ping"), 200*time.Millisecond)
				cctx, ccancel := context.WithTimeout(ctx, 200*time.Millisecond)
				_, _ = client.Check(cctx, nil)
				ccancel()
				_, _ = db.ExecContext(ctx, "INSERT INTO items (name) VALUES (?)", fmt.Sprint(time.Now().UnixNano()))
			}
		})
	}
	faults := []Fault{
		{Target: "order->payment", Type: Latency, Attributes: map[string]any{"latency": "5ms"}},
		{Target: "gateway->order", Type: Down},
		{Target: "order", Type: Pause},
		{Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.5}},
		{Target: "payment", Type: GRPCError, Attributes: map[string]any{"code": "INTERNAL", "rate": 0.5, "when": "after"}},
		{Target: "order", Type: StorageError, Attributes: map[string]any{"rate": 0.5, "error": "busy"}},
		{Target: "order", Type: Kill},
	}
	for i := range 30 {
		var ids []string
		for _, f := range faults[i%len(faults):] {
			ids = append(ids, MustApply(t, e, f))
		}
		_ = e.Active()
		_ = e.Targets()
		for _, id := range ids[:len(ids)/2] {
			MustRemove(t, e, id)
		}
	}
	if err := e.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	if len(e.Active()) != 0 || !procs.Running("order") {
		t.Fatal("reset left faults behind")
	}
	if d := mustRoundTrip(t, addr); d > 100*time.Millisecond {
		t.Fatalf("round trip after reset took %s", d)
	}
}
