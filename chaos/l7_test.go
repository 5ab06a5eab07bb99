package chaos

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// expectedHits replays the decisions a fault named name makes under seed.
func expectedHits(seed int64, name string, rate float64, n int) string {
	d := newDecider(seed, name)
	var b strings.Builder
	for range n {
		if d.hit(rate) {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// grpcPattern makes n health checks and marks each failed call with x.
func grpcPattern(t *testing.T, client healthpb.HealthClient, n int, want codes.Code) string {
	t.Helper()
	var b strings.Builder
	for range n {
		_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
		switch {
		case err == nil:
			b.WriteByte('.')
		case status.Code(err) == want && status.Convert(err).Message() == InjectedMessage:
			b.WriteByte('x')
		default:
			t.Fatalf("call failed with %v, want %v or success", err, want)
		}
	}
	return b.String()
}

func TestGRPCErrorClientSideIsSeeded(t *testing.T) {
	run := func(seed int64) (pattern string, handled int64) {
		e := MustEngine(t, WithSeed(seed))
		hs := MustHealthServer(t)
		client := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "payment")...)
		MustApply(t, e, Fault{Name: "flaky-payments", Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.3}})
		return grpcPattern(t, client, 200, codes.Unavailable), hs.handled.Load()
	}
	p1, handled := run(42)
	injected := int64(strings.Count(p1, "x"))
	if want := expectedHits(42, "flaky-payments", 0.3, 200); p1 != want {
		t.Fatalf("decisions\n%s\nwant the seeded sequence\n%s", p1, want)
	}
	if injected < 30 || injected > 90 {
		t.Fatalf("%d of 200 calls failed at rate 0.3", injected)
	}
	if handled != 200-injected {
		t.Fatalf("server handled %d calls, want %d: injected calls must not reach it", handled, 200-injected)
	}
	if p2, _ := run(42); p2 != p1 {
		t.Fatal("the same seed gave another sequence")
	}
	if p3, _ := run(43); p3 == p1 {
		t.Fatal("another seed gave the same sequence")
	}
}

func TestGRPCErrorAfterLosesTheAnswer(t *testing.T) {
	e := MustEngine(t)
	hs := MustHealthServer(t)
	client := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "payment")...)
	MustApply(t, e, Fault{Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "deadline_exceeded", "rate": 0.5, "when": "after"}})
	pattern := grpcPattern(t, client, 100, codes.DeadlineExceeded)
	if n := strings.Count(pattern, "x"); n == 0 || n == 100 {
		t.Fatalf("%d of 100 calls failed at rate 0.5", n)
	}
	if got := hs.handled.Load(); got != 100 {
		t.Fatalf("server handled %d calls, want all 100: with when=after every call runs", got)
	}
}

func TestGRPCErrorServerSideAndMethodFilter(t *testing.T) {
	e := MustEngine(t)
	hs := MustHealthServer(t, e.ServerInterceptors("payment")...)
	client := MustHealthClient(t, hs.addr)
	other := MustApply(t, e, Fault{Target: "payment", Type: GRPCError, Attributes: map[string]any{"code": "INTERNAL", "method": "Watch"}})
	if p := grpcPattern(t, client, 10, codes.Internal); p != strings.Repeat(".", 10) {
		t.Fatalf("a fault on Watch failed Check calls: %s", p)
	}
	MustRemove(t, e, other)
	id := MustApply(t, e, Fault{Target: "payment", Type: GRPCError, Attributes: map[string]any{"code": 8, "method": "grpc.health.v1.Health/Check"}})
	if p := grpcPattern(t, client, 10, codes.ResourceExhausted); p != strings.Repeat("x", 10) {
		t.Fatalf("server-side fault at rate 1: %s", p)
	}
	if hs.handled.Load() != 10 {
		t.Fatalf("handler ran %d times, want only the 10 calls before the fault", hs.handled.Load())
	}
	MustRemove(t, e, id)
	if p := grpcPattern(t, client, 10, codes.ResourceExhausted); p != strings.Repeat(".", 10) {
		t.Fatalf("calls after removal: %s", p)
	}
}

func TestConcurrentFaultsKeepTheirOwnSequences(t *testing.T) {
	e := MustEngine(t, WithSeed(7))
	hs := MustHealthServer(t)
	a := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "payment")...)
	b := MustHealthClient(t, hs.addr, e.ClientInterceptors("order", "user")...)
	MustApply(t, e, Fault{Name: "a", Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.5}})
	MustApply(t, e, Fault{Name: "b", Target: "order->user", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.5}})
	var pa, pb strings.Builder
	for i := range 60 {
		pa.WriteString(grpcPattern(t, a, 1, codes.Unavailable))
		// b makes a varying number of calls in between; a's sequence must not care.
		pb.WriteString(grpcPattern(t, b, i%3, codes.Unavailable))
	}
	if want := expectedHits(7, "a", 0.5, 60); pa.String() != want {
		t.Fatalf("fault a's decisions were shifted by fault b:\n%s\nwant\n%s", pa.String(), want)
	}
	if want := expectedHits(7, "b", 0.5, pb.Len()); pb.String() != want {
		t.Fatalf("fault b's decisions:\n%s\nwant\n%s", pb.String(), want)
	}
}

func TestGRPCErrorNeedsTheHook(t *testing.T) {
	e := MustEngine(t)
	_, err := e.Apply(context.Background(), Fault{Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE"}})
	if errs.FieldOf(err) != "target" {
		t.Fatalf("grpc_error on an edge without interceptor: %v", err)
	}
	_, err = e.Apply(context.Background(), Fault{Target: "payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE"}})
	if errs.FieldOf(err) != "target" {
		t.Fatalf("grpc_error on a server without interceptor: %v", err)
	}
}

// gatewayServer serves h behind the engine's gateway middleware and
// counts the requests that reach h.
func gatewayServer(t *testing.T, e *Engine) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var reached atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"o1"}`))
	})
	srv := httptest.NewServer(e.HTTPMiddleware("gateway")(h))
	t.Cleanup(srv.Close)
	return srv, &reached
}

func TestHTTPErrorAnswersInTheDocumentedShape(t *testing.T) {
	e := MustEngine(t)
	srv, reached := gatewayServer(t, e)
	id := MustApply(t, e, Fault{Target: "client->gateway", Type: HTTPError, Attributes: map[string]any{"status": 503, "path": "/api/v1/orders"}})

	resp, err := http.Post(srv.URL+"/api/v1/orders", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var body httpx.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 503 || body.Error.Code != "unavailable" || body.Error.Message != InjectedMessage {
		t.Fatalf("got %d %+v, want 503 unavailable %q", resp.StatusCode, body, InjectedMessage)
	}
	if resp.Header.Get("Retry-After") != "1" || resp.Header.Get(InjectedHeader) != id {
		t.Fatalf("headers %v: want Retry-After and %s: %s", resp.Header, InjectedHeader, id)
	}
	if reached.Load() != 0 {
		t.Fatal("the handler ran for an injected error")
	}

	resp, err = http.Get(srv.URL + "/api/v1/products")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("a path outside the prefix got %d", resp.StatusCode)
	}
}

func TestHTTPErrorAfterRunsTheHandler(t *testing.T) {
	e := MustEngine(t)
	srv, reached := gatewayServer(t, e)
	MustApply(t, e, Fault{Target: "gateway", Type: HTTPError, Attributes: map[string]any{"status": 504, "when": "after"}})
	resp, err := http.Post(srv.URL+"/api/v1/orders", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var body httpx.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 504 || body.Error.Code != "deadline_exceeded" {
		t.Fatalf("got %d %+v, want 504 deadline_exceeded", resp.StatusCode, body)
	}
	if reached.Load() != 1 {
		t.Fatalf("handler ran %d times, want once: the work is done, the answer lost", reached.Load())
	}
}

func TestHTTPErrorRateIsSeeded(t *testing.T) {
	e := MustEngine(t, WithSeed(99))
	srv, reached := gatewayServer(t, e)
	MustApply(t, e, Fault{Name: "flaky-gateway", Target: "gateway", Type: HTTPError, Attributes: map[string]any{"rate": 0.25}})
	var b strings.Builder
	for range 80 {
		resp, err := http.Get(srv.URL + "/api/v1/products")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 503 {
			b.WriteByte('x')
		} else {
			b.WriteByte('.')
		}
	}
	if want := expectedHits(99, "flaky-gateway", 0.25, 80); b.String() != want {
		t.Fatalf("answers\n%s\nwant\n%s", b.String(), want)
	}
	if got := reached.Load(); got != int64(strings.Count(b.String(), ".")) {
		t.Fatalf("handler ran %d times for %d good answers", got, strings.Count(b.String(), "."))
	}
}

func TestHTTPCodeMapping(t *testing.T) {
	tests := map[int]errs.Code{400: errs.Invalid, 404: errs.NotFound, 409: errs.Conflict, 418: errs.Invalid, 429: errs.Unavailable,
		500: errs.Internal, 502: errs.Unavailable, 503: errs.Unavailable, 504: errs.DeadlineExceeded, 599: errs.Internal}
	for st, want := range tests {
		if got := httpCode(st); got != want {
			t.Errorf("httpCode(%d) = %s, want %s", st, got, want)
		}
	}
}
