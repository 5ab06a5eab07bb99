package unit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
	"github.com/shoplab/shoplab/services/gateway/unit"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// testKey is a 32-byte HS256 key, the shortest the gateway accepts.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time source shared by the gateway and the fakes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running gateway over fake units.
type env struct {
	t       *testing.T
	clock   *clock
	be      *backends
	gw      *unit.Unit
	base    string
	metrics *metrics.Registry
	http    *http.Client
}

type envOption func(*unit.Config, *unit.Deps)

// mustEnv starts fake units with a small catalog and a gateway over them,
// serving on loopback until the test ends.
func mustEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	clk := newClock()
	shop := gatewaytest.NewShop(clk.Now)
	shop.AddProduct(gateway.Product{ID: "p1", Name: "Blue Mug", Category: "kitchen", PriceCents: 1250, Currency: "USD", Stock: 10})
	shop.AddProduct(gateway.Product{ID: "p2", Name: "Red Mug", Category: "kitchen", PriceCents: 1300, Currency: "USD", Stock: 1})
	shop.AddProduct(gateway.Product{ID: "p3", Name: "Desk Lamp", Category: "office", PriceCents: 4500, Currency: "USD", Stock: 3})
	be := startBackends(t, shop)
	reg := metrics.New("gateway", false)
	cfg := unit.Config{
		HTTPAddr: "127.0.0.1:0", UserAddr: be.user.addr, ProductAddr: be.product.addr, OrderAddr: be.order.addr,
		JWTKey: testKey, CallTimeout: time.Second,
	}
	deps := unit.Deps{Metrics: reg, Now: clk.Now}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	gw, err := unit.New(t.Context(), cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := gw.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{t: t, clock: clk, be: be, gw: gw, base: "http://" + gw.HTTPAddr(), metrics: reg, http: &http.Client{Timeout: 10 * time.Second}}
}

// response is an answer read in full.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorBody(t *testing.T) httpx.ErrorDetail {
	t.Helper()
	var e httpx.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: body %q is not the documented error shape (%v)", r.status, r.body, err)
	}
	return e.Error
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("status %d: decode %q: %v", r.status, r.body, err)
	}
}

// request is one call to the gateway. A nil Header gets Content-Type
// application/json when there is a body.
type request struct {
	method, path string
	token        string
	header       http.Header
	body         string
}

func (e *env) do(req request) response {
	e.t.Helper()
	var body io.Reader
	if req.body != "" {
		body = bytes.NewReader([]byte(req.body))
	}
	hr, err := http.NewRequestWithContext(e.t.Context(), req.method, e.base+req.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if req.header == nil && req.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range req.header {
		hr.Header[k] = vs
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	resp, err := e.http.Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustUser registers an account and logs in, returning its token and id.
func (e *env) mustUser(email string) (token, id string) {
	e.t.Helper()
	r := e.do(request{method: "POST", path: "/api/v1/auth/register", body: `{"email":"` + email + `","password":"correct horse","name":"Test"}`})
	if r.status != http.StatusCreated {
		e.t.Fatalf("register %s: %d %s", email, r.status, r.body)
	}
	r = e.do(request{method: "POST", path: "/api/v1/auth/login", body: `{"email":"` + email + `","password":"correct horse"}`})
	if r.status != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", email, r.status, r.body)
	}
	var s struct {
		Token string `json:"token"`
		User  struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	r.decode(e.t, &s)
	return s.Token, s.User.ID
}

// openAPI is the parsed OpenAPI document.
type openAPI struct {
	Paths map[string]map[string]struct {
		Responses map[string]any `yaml:"responses"`
	} `yaml:"paths"`
}

var (
	specOnce sync.Once
	spec     openAPI
	specErr  error
)

// assertDocumented fails unless the OpenAPI file lists status for the route.
func assertDocumented(t *testing.T, method, route string, status int) {
	t.Helper()
	specOnce.Do(func() { specErr = yaml.Unmarshal(gateway.OpenAPI, &spec) })
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	op, ok := spec.Paths[route][strings.ToLower(method)]
	if !ok {
		t.Fatalf("openapi.yaml has no %s %s", method, route)
	}
	if _, ok := op.Responses[strconv.Itoa(status)]; !ok {
		t.Errorf("openapi.yaml does not document status %d for %s %s", status, method, route)
	}
}
