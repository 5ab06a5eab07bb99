package unit_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/gateway/unit"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
)

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBearerTokens(t *testing.T) {
	e := mustEnv(t)
	good, id := e.mustUser("alice@example.com")
	now := e.clock.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": id, "email": "alice@example.com", "iss": "shoplab", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	tests := []struct {
		name   string
		header string
		status int
		desc   string // expected in WWW-Authenticate
	}{
		{"valid", "Bearer " + good, 200, ""},
		{"scheme is case-insensitive", "bearer " + good, 200, ""},
		{"hand-made valid token", "Bearer " + sign(t, jwt.SigningMethodHS256, testKey, claims(nil)), 200, ""},
		{"missing", "", 401, `realm="shoplab"`},
		{"not bearer", "Basic " + good, 401, `error="invalid_request"`},
		{"no token after scheme", "Bearer", 401, `error="invalid_request"`},
		{"garbage", "Bearer not.a.jwt", 401, `error="invalid_token"`},
		{"wrong key", "Bearer " + sign(t, jwt.SigningMethodHS256, []byte("another key that is 32 bytes lon"), claims(nil)), 401, `error="invalid_token"`},
		{"HS512 with the right key", "Bearer " + sign(t, jwt.SigningMethodHS512, testKey, claims(nil)), 401, `error="invalid_token"`},
		{"alg none", "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), 401, `error="invalid_token"`},
		{"wrong issuer", "Bearer " + sign(t, jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["iss"] = "evil" })), 401, `error="invalid_token"`},
		{"no exp", "Bearer " + sign(t, jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "exp") })), 401, `error="invalid_token"`},
		{"no sub", "Bearer " + sign(t, jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "sub") })), 401, `error="invalid_token"`},
		{"expired", "Bearer " + sign(t, jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), 401, `error_description="the token has expired"`},
		{"too long", "Bearer " + strings.Repeat("a", 5000), 401, `error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			r := e.do(request{method: "GET", path: "/api/v1/orders", header: h})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.status == 401 {
				if eb := r.errorBody(t); eb.Code != "unauthenticated" {
					t.Errorf("code %q", eb.Code)
				}
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") || !strings.Contains(got, tt.desc) {
					t.Errorf("WWW-Authenticate %q, want it to hold %s", got, tt.desc)
				}
			}
		})
	}

	t.Run("issued token expires after the TTL", func(t *testing.T) {
		e.clock.Advance(time.Hour + time.Second)
		r := e.do(request{method: "GET", path: "/api/v1/orders", token: good})
		if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "expired") {
			t.Fatalf("status %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("refusals are counted by reason", func(t *testing.T) {
		m := string(e.do(request{method: "GET", path: "/metrics"}).body)
		for _, reason := range []string{"missing", "malformed", "invalid", "expired"} {
			if !strings.Contains(m, `shoplab_gateway_auth_failures_total{reason="`+reason+`",unit="gateway"}`) {
				t.Errorf("no auth failure counted for %s", reason)
			}
		}
	})
}

// TestDependencyDown stops each unit in turn: the gateway must answer 503
// at once (a refused connection is not worth waiting for), never hang, and
// report itself unready within the readiness bound.
func TestDependencyDown(t *testing.T) {
	e := mustEnv(t)
	token, _ := e.mustUser("alice@example.com")
	// Warm every connection so the test covers a unit going away, not one
	// that was never there.
	for _, p := range []string{"/api/v1/products", "/api/v1/orders"} {
		if r := e.do(request{method: "GET", path: p, token: token}); r.status != 200 {
			t.Fatalf("%s: %d", p, r.status)
		}
	}
	const callTimeout = time.Second // mustEnv's
	cases := []struct {
		name  string
		stop  *backend
		req   request
		route string
	}{
		{"product", e.be.product, request{method: "GET", path: "/api/v1/products/p1"}, "/api/v1/products/{id}"},
		{"order", e.be.order, request{method: "POST", path: "/api/v1/orders", token: token, header: http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k1"}}, body: orderBody("", "p1", 1)}, "/api/v1/orders"},
		{"user", e.be.user, request{method: "POST", path: "/api/v1/auth/login", body: `{"email":"alice@example.com","password":"correct horse"}`}, "/api/v1/auth/login"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.stop.Stop()
			start := time.Now()
			r := e.do(c.req)
			elapsed := time.Since(start)
			if r.status != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", r.status, r.body)
			}
			if eb := r.errorBody(t); eb.Code != "unavailable" {
				t.Errorf("code %q", eb.Code)
			}
			if r.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			assertDocumented(t, c.req.method, c.route, r.status)
			if elapsed >= callTimeout {
				t.Errorf("took %v, want less than the %v call deadline", elapsed, callTimeout)
			}

			start = time.Now()
			rr := e.do(request{method: "GET", path: "/readyz"})
			if rr.status != http.StatusServiceUnavailable || !strings.Contains(string(rr.body), c.name) {
				t.Errorf("readyz: %d %s", rr.status, rr.body)
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Errorf("readyz took %v, want at most about 2s", d)
			}
		})
	}
}

// TestDependencySlow makes a unit hang: the gateway gives up at its call
// deadline with a 504 rather than holding the client.
func TestDependencySlow(t *testing.T) {
	const callTimeout = 300 * time.Millisecond
	e := mustEnv(t, func(c *unit.Config, _ *unit.Deps) { c.CallTimeout = callTimeout })
	e.be.product.stall.Store(true)
	start := time.Now()
	r := e.do(request{method: "GET", path: "/api/v1/products"})
	elapsed := time.Since(start)
	if r.status != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504: %s", r.status, r.body)
	}
	if eb := r.errorBody(t); eb.Code != "deadline_exceeded" {
		t.Errorf("code %q", eb.Code)
	}
	assertDocumented(t, "GET", "/api/v1/products", r.status)
	if elapsed < callTimeout || elapsed > callTimeout+time.Second {
		t.Errorf("took %v, want about the %v deadline", elapsed, callTimeout)
	}
}

func TestRequestIDReachesUnits(t *testing.T) {
	e := mustEnv(t)
	h := http.Header{logx.RequestIDHeader: {"req-abc-123"}}
	r := e.do(request{method: "GET", path: "/api/v1/products/p1", header: h})
	if r.status != 200 || r.header.Get(logx.RequestIDHeader) != "req-abc-123" {
		t.Fatalf("status %d, request id %q", r.status, r.header.Get(logx.RequestIDHeader))
	}
	ids := e.be.product.seenRequestIDs()
	if len(ids) != 1 || ids[0] != "req-abc-123" {
		t.Errorf("product unit saw request ids %v", ids)
	}
}

// TestWiringHooks checks the two hooks the chaos wiring uses: client
// interceptors per target and the HTTP middleware on business routes.
func TestWiringHooks(t *testing.T) {
	var productCalls, orderCalls atomic.Int32
	count := func(n *atomic.Int32) grpc.UnaryClientInterceptor {
		return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			n.Add(1)
			return invoker(ctx, method, req, reply, cc, opts...)
		}
	}
	var failAPI atomic.Bool
	e := mustEnv(t, func(_ *unit.Config, d *unit.Deps) {
		d.ClientInterceptors = map[string][]grpc.UnaryClientInterceptor{unit.TargetProduct: {count(&productCalls)}, unit.TargetOrder: {count(&orderCalls)}}
		d.HTTPMiddleware = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failAPI.Load() {
					httpx.WriteJSON(w, http.StatusServiceUnavailable, httpx.ErrorBody{Error: httpx.ErrorDetail{Code: "unavailable", Message: "injected"}})
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	})
	if r := e.do(request{method: "GET", path: "/api/v1/products"}); r.status != 200 || productCalls.Load() != 1 || orderCalls.Load() != 0 {
		t.Fatalf("status %d, product interceptor %d calls, order %d", r.status, productCalls.Load(), orderCalls.Load())
	}
	failAPI.Store(true)
	if r := e.do(request{method: "GET", path: "/api/v1/products"}); r.status != 503 {
		t.Errorf("injected fault: status %d", r.status)
	}
	if r := e.do(request{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Errorf("healthz under an API fault: %d", r.status)
	}
	m := string(e.do(request{method: "GET", path: "/metrics"}).body)
	if !strings.Contains(m, `shoplab_request_errors_total{code="503",method="GET /api/v1/products",transport="http",unit="gateway"} 1`) {
		t.Error("the injected 503 was not counted as a server error")
	}
}

func TestOpsListener(t *testing.T) {
	e := mustEnv(t, func(c *unit.Config, _ *unit.Deps) { c.OpsAddr = "127.0.0.1:0" })
	if e.gw.OpsAddr() == "" || e.gw.OpsAddr() == e.gw.HTTPAddr() {
		t.Fatalf("ops address %q", e.gw.OpsAddr())
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := e.http.Get("http://" + e.gw.OpsAddr() + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, err := e.http.Get("http://" + e.gw.OpsAddr() + "/api/v1/products")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("the ops listener serves the API: %d", resp.StatusCode)
	}
}

func TestHandlerInProcess(t *testing.T) {
	e := mustEnv(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "/api/v1/products/p2", nil)
	rec := httptest.NewRecorder()
	e.gw.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"id":"p2"`) {
		t.Errorf("in-process: %d %s", rec.Code, rec.Body.String())
	}
}

func TestConfigErrors(t *testing.T) {
	good := unit.Config{HTTPAddr: "127.0.0.1:0", UserAddr: "127.0.0.1:1", ProductAddr: "127.0.0.1:1", OrderAddr: "127.0.0.1:1", JWTKey: testKey}
	tests := []struct {
		name string
		mod  func(*unit.Config)
		want string
	}{
		{"short key", func(c *unit.Config) { c.JWTKey = testKey[:31] }, "JWTKey is 31 bytes"},
		{"no key", func(c *unit.Config) { c.JWTKey = nil }, "JWTKey"},
		{"no http addr", func(c *unit.Config) { c.HTTPAddr = "" }, "HTTPAddr is required"},
		{"no order addr", func(c *unit.Config) { c.OrderAddr = "" }, "OrderAddr is required"},
		{"negative ttl", func(c *unit.Config) { c.TokenTTL = -time.Second }, "TokenTTL"},
		{"negative timeout", func(c *unit.Config) { c.CallTimeout = -time.Second }, "CallTimeout"},
		{"bad listen address", func(c *unit.Config) { c.HTTPAddr = "256.0.0.1:0" }, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.mod(&c)
			u, err := unit.New(t.Context(), c, unit.Deps{})
			if err == nil {
				u.Close()
				t.Fatal("New accepted a bad config")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
	t.Run("units down at start", func(t *testing.T) {
		// Connections are lazy: the gateway starts, and says it is not ready.
		u, err := unit.New(t.Context(), good, unit.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		start := time.Now()
		err = u.Ready(t.Context())
		if err == nil {
			t.Fatal("Ready with every unit down")
		}
		for _, target := range []string{"user:", "product:", "order:"} {
			if !strings.Contains(err.Error(), target) {
				t.Errorf("Ready = %v, want it to name %s", err, target)
			}
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("Ready took %v, want at most about 2s", d)
		}
		if err := u.Close(); err != nil {
			t.Errorf("Close before Run: %v", err)
		}
	})
}

// TestDependencyBlackHole points the gateway at a port that accepts TCP but
// never speaks gRPC (a proxy whose upstream hangs): calls end at their
// deadline with 504 and readiness answers within its 2 s bound.
func TestDependencyBlackHole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	const callTimeout = 400 * time.Millisecond
	e := mustEnv(t, func(c *unit.Config, _ *unit.Deps) { c.ProductAddr = ln.Addr().String(); c.CallTimeout = callTimeout })

	start := time.Now()
	r := e.do(request{method: "GET", path: "/api/v1/products"})
	if d := time.Since(start); r.status != http.StatusGatewayTimeout || d > callTimeout+time.Second {
		t.Errorf("status %d after %v, want 504 after about %v: %s", r.status, d, callTimeout, r.body)
	}
	start = time.Now()
	r = e.do(request{method: "GET", path: "/readyz"})
	if d := time.Since(start); r.status != http.StatusServiceUnavailable || d > 2500*time.Millisecond {
		t.Errorf("readyz: status %d after %v: %s", r.status, d, r.body)
	}
	if !strings.Contains(string(r.body), "product") || strings.Contains(string(r.body), "user:") {
		t.Errorf("readyz should blame the product unit only: %s", r.body)
	}
}

// lockedBuffer is a log sink the test can read while servers write.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogsCarryRequestID(t *testing.T) {
	var logs lockedBuffer
	e := mustEnv(t, func(_ *unit.Config, d *unit.Deps) { d.Log = logx.New(&logs, "info") })
	token, _ := e.mustUser("alice@example.com")
	h := http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k"}, logx.RequestIDHeader: {"req-order-1"}}
	if r := e.do(request{method: "POST", path: "/api/v1/orders", token: token, header: h, body: orderBody("", "p1", 1)}); r.status != 201 {
		t.Fatalf("order: %d %s", r.status, r.body)
	}
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "order placed" {
			continue
		}
		found = true
		if rec["request_id"] != "req-order-1" || rec["status"] != "PAID" || rec["order_id"] == "" {
			t.Errorf("log record %v", rec)
		}
	}
	if !found {
		t.Errorf("no order log in %s", logs.String())
	}
}
