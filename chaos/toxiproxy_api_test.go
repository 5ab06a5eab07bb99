package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// MustRun runs e until the test ends.
func MustRun(t *testing.T, e *Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestToxiproxyGoClientWorksAgainstTheEmbeddedAPI(t *testing.T) {
	e := MustEngine(t)
	MustRun(t, e)
	echo := MustEcho(t)
	addr := MustEdge(t, e, "order", "payment", echo)
	c := toxiclient.NewClient(e.APIAddr())

	proxies, err := c.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	p := proxies["order->payment"]
	if p == nil || p.Listen != addr || p.Upstream != echo || !p.Enabled {
		t.Fatalf("proxies = %+v, want order->payment listening on %s", proxies, addr)
	}

	if _, err := p.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{"latency": 150}); err != nil {
		t.Fatal(err)
	}
	if d := mustRoundTrip(t, addr); d < 150*time.Millisecond {
		t.Fatalf("round trip with a latency toxic added through the client took %s", d)
	}
	toxics, err := p.Toxics()
	if err != nil || len(toxics) != 1 || toxics[0].Name != "slow" || toxics[0].Attributes["latency"] != 150.0 {
		t.Fatalf("toxics = %+v, %v", toxics, err)
	}
	if err := p.RemoveToxic("slow"); err != nil {
		t.Fatal(err)
	}
	if d := mustRoundTrip(t, addr); d > 100*time.Millisecond {
		t.Fatalf("round trip after removing the toxic took %s", d)
	}

	// A proxy made through the API works, and can be disabled and enabled.
	made, err := c.CreateProxy("client->echo", "127.0.0.1:0", echo)
	if err != nil {
		t.Fatal(err)
	}
	shown, err := c.Proxy("client->echo")
	if err != nil {
		t.Fatal(err)
	}
	mustRoundTrip(t, shown.Listen)
	if err := shown.Disable(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", shown.Listen, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a disabled proxy: %v", err)
	}
	if err := shown.Enable(); err != nil {
		t.Fatal(err)
	}
	mustRoundTrip(t, shown.Listen)
	if err := made.Delete(); err != nil {
		t.Fatal(err)
	}

	// A port in use is an API error, not a crash of the process.
	if _, err := c.CreateProxy("clash", addr, echo); err == nil {
		t.Fatal("a proxy on a port in use was created")
	}
	if _, err := c.Populate([]toxiclient.Proxy{{Name: "populated", Listen: "127.0.0.1:0", Upstream: echo, Enabled: true}}); err != nil {
		t.Fatal(err)
	}

	v, err := c.Version()
	if err != nil {
		t.Fatal(err)
	}
	var ver struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(v, &ver); err != nil || ver.Version != toxiproxyModuleVersion() || !strings.HasPrefix(ver.Version, "2.") {
		t.Fatalf("GET /version = %s (%v), want the module version %q", v, err, toxiproxyModuleVersion())
	}
}

// toxiproxy v2.12's client and CLI update toxics and proxies with PATCH;
// v2.5 only had POST, and the CLI's `toxic update` failed with EOF on 405.
func TestToxiproxyUpdatesByPatch(t *testing.T) {
	e := MustEngine(t)
	MustRun(t, e)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	c := toxiclient.NewClient(e.APIAddr())
	p, err := c.Proxy("order->payment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddToxic("slowpay", "latency", "downstream", 1, toxiclient.Attributes{"latency": 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateToxic(&toxiclient.ToxicOptions{ProxyName: "order->payment", ToxicName: "slowpay", Toxicity: 1, Attributes: toxiclient.Attributes{"latency": 200}}); err != nil {
		t.Fatalf("update by PATCH: %v", err)
	}
	if d := mustRoundTrip(t, addr); d < 200*time.Millisecond {
		t.Fatalf("round trip after updating the latency to 200ms took %s", d)
	}
	for _, method := range []string{http.MethodPatch, http.MethodPost} {
		req, _ := http.NewRequest(method, "http://"+e.APIAddr()+"/proxies/order-%3Epayment", strings.NewReader(`{"enabled":true}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s /proxies/order->payment: %s", method, resp.Status)
		}
	}
}

func TestToxiproxyAPIRefusesToxicsThatWouldCrash(t *testing.T) {
	e := MustEngine(t)
	MustRun(t, e)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	c := toxiclient.NewClient(e.APIAddr())
	p, err := c.Proxy("order->payment")
	if err != nil {
		t.Fatal(err)
	}
	bad := []toxiclient.Attributes{
		{"average_size": 0},
		{"average_size": 10, "size_variation": 10},
		{"average_size": 10, "size_variation": -1},
	}
	for _, attrs := range bad {
		if _, err := p.AddToxic("", "slicer", "downstream", 1, attrs); err == nil || !strings.Contains(err.Error(), "slicer") {
			t.Errorf("slicer %v: %v, want refused", attrs, err)
		}
	}
	if _, err := p.AddToxic("", "bandwidth", "downstream", 1, toxiclient.Attributes{"rate": -5}); err == nil {
		t.Error("negative bandwidth accepted")
	}
	// An update is checked against the toxic it changes.
	if _, err := p.AddToxic("cut", "slicer", "downstream", 1, toxiclient.Attributes{"average_size": 10, "size_variation": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpdateToxic("cut", 1, toxiclient.Attributes{"size_variation": 20}); err == nil {
		t.Error("slicer update with size_variation above average_size accepted")
	}
	if _, err := p.UpdateToxic("cut", 1, toxiclient.Attributes{"size_variation": 5}); err != nil {
		t.Errorf("a safe update was refused: %v", err)
	}
	mustRoundTrip(t, addr) // still alive
}

func TestToxiproxyRefusesBrowsers(t *testing.T) {
	e := MustEngine(t)
	MustRun(t, e)
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.APIAddr()+"/proxies", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("browser request: %s, want 403", resp.Status)
	}
}

func TestToxiproxyResetAlsoEndsEngineFaults(t *testing.T) {
	e := MustEngine(t)
	MustRun(t, e)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	c := toxiclient.NewClient(e.APIAddr())
	MustApply(t, e, Fault{Target: "order->payment", Type: Down})
	p, err := c.Proxy("order->payment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddToxic("slow", "latency", "downstream", 1, toxiclient.Attributes{"latency": 500}); err != nil {
		t.Fatal(err)
	}
	if err := c.ResetState(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Active()); n != 0 {
		t.Fatalf("%d engine faults survive toxiproxy's reset", n)
	}
	if d := mustRoundTrip(t, addr); d > 100*time.Millisecond {
		t.Fatalf("round trip after reset took %s", d)
	}
}

func TestAPIAddressInUseIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := New(WithAPIAddr(ln.Addr().String())); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("New on a busy port: %v, want address in use", err)
	}
	e, err := New(WithAPIAddr(""))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.APIAddr() != "" {
		t.Fatalf("disabled API listens on %s", e.APIAddr())
	}
}

func TestRunServesControlAPIAndResetsOnExit(t *testing.T) {
	procs := newFakeProcesses()
	e := MustEngine(t, WithProcesses(procs))
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()

	cl := NewClient(e.APIAddr())
	if _, err := cl.Apply(context.Background(), Fault{Target: "order->payment", Type: Down}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Apply(context.Background(), Fault{Target: "product", Type: Kill}); err != nil {
		t.Fatal(err)
	}
	faults, err := cl.Faults(context.Background())
	if err != nil || len(faults) != 2 {
		t.Fatalf("faults over the engine's listener: %v, %v", faults, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(e.Active()); n != 0 {
		t.Fatalf("%d faults survive the end of Run", n)
	}
	if !procs.Running("product") {
		t.Fatal("the killed unit was not started when Run ended")
	}
	mustRoundTrip(t, addr)
	if err := e.Run(context.Background()); err == nil {
		t.Fatal("a second Run was accepted")
	}
}
