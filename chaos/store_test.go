package chaos

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// oneStore is an engine serving both APIs on one edge to an echo server.
type oneStore struct {
	e    *Engine
	addr string             // the edge's proxy
	tp   *toxiclient.Client // toxiproxy's own Go client
	ctl  *Client            // the control API client (`shoplab chaos`)
}

func newOneStore(t *testing.T) oneStore {
	t.Helper()
	e := MustEngine(t)
	MustRun(t, e)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	return oneStore{e: e, addr: addr, tp: toxiclient.NewClient(e.APIAddr()), ctl: NewClient(e.APIAddr())}
}

func (s oneStore) faults(t *testing.T) []ActiveFault {
	t.Helper()
	fs, err := s.ctl.Faults(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func (s oneStore) proxy(t *testing.T) *toxiclient.Proxy {
	t.Helper()
	p, err := s.tp.Proxy("order->payment")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestToxicAddedThroughToxiproxyIsAFault(t *testing.T) {
	s := newOneStore(t)
	p := s.proxy(t)
	if _, err := p.AddToxic("slowpay", "latency", "downstream", 1, toxiclient.Attributes{"latency": 150}); err != nil {
		t.Fatal(err)
	}
	fs := s.faults(t)
	if len(fs) != 1 {
		t.Fatalf("faults = %+v, want the toxic made through toxiproxy's API", fs)
	}
	f := fs[0]
	if f.ID != "order->payment/slowpay" || f.Source != SourceToxiproxy || f.Fault.Type != Latency || f.Fault.Target != "order->payment" ||
		f.Fault.Attributes["latency"] != "150ms" || f.Fault.Direction != "downstream" || f.Fault.Toxicity != 1 {
		t.Fatalf("fault = %+v", f)
	}

	// An update through toxiproxy shows at once: there is no copy to refresh.
	if _, err := p.UpdateToxic("slowpay", 1, toxiclient.Attributes{"latency": 2000}); err != nil {
		t.Fatal(err)
	}
	if got := s.faults(t)[0].Fault.Attributes["latency"]; got != "2s" {
		t.Fatalf("latency after toxiproxy's update = %v, want 2s", got)
	}

	// Removed through the control API, it is gone from toxiproxy.
	if err := s.ctl.Remove(context.Background(), "order->payment/slowpay"); err != nil {
		t.Fatal(err)
	}
	if toxics, err := p.Toxics(); err != nil || len(toxics) != 0 {
		t.Fatalf("toxiproxy still holds %+v (%v)", toxics, err)
	}
	if d := mustRoundTrip(t, s.addr); d > 100*time.Millisecond {
		t.Fatalf("round trip after the removal took %s", d)
	}
	if err := s.ctl.Remove(context.Background(), "order->payment/slowpay"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("second removal: %v, want not found", err)
	}
}

func TestEngineFaultIsAToxicInToxiproxy(t *testing.T) {
	s := newOneStore(t)
	af, err := s.ctl.Apply(context.Background(), Fault{Name: "slow", Target: "order->payment", Type: Latency, Direction: "both", Attributes: map[string]any{"latency": "400ms"}, Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	toxics := s.proxy(t).ActiveToxics
	if len(toxics) != 2 {
		t.Fatalf("GET /proxies shows toxics %+v, want one per stream", toxics)
	}
	for _, tx := range toxics {
		if tx.Type != "latency" || tx.Attributes["latency"] != 400.0 || faultOfToxic(tx.Name) != af.ID {
			t.Fatalf("toxic %+v does not show fault %s", tx, af.ID)
		}
	}
	if fs := s.faults(t); len(fs) != 1 || fs[0].ID != af.ID || fs[0].Fault.Name != "slow" || fs[0].Fault.Direction != "both" || fs[0].EndsAt.IsZero() {
		t.Fatalf("faults = %+v", fs)
	}

	// toxiproxy-cli updates the engine's toxic: the fault shows the change.
	p := s.proxy(t)
	if _, err := p.UpdateToxic(toxicName(af.ID, "downstream"), 1, toxiclient.Attributes{"latency": 50}); err != nil {
		t.Fatal(err)
	}
	if fs := s.faults(t); fs[0].Fault.Attributes["latency"] != "50ms" {
		t.Fatalf("fault after a toxiproxy update: %+v", fs[0].Fault)
	}

	// Removing one stream's toxic through toxiproxy leaves the other.
	if err := p.RemoveToxic(toxicName(af.ID, "upstream")); err != nil {
		t.Fatal(err)
	}
	if fs := s.faults(t); len(fs) != 1 || fs[0].Fault.Direction != "downstream" {
		t.Fatalf("faults after removing the upstream toxic: %+v", fs)
	}
	// Removing the last one ends the fault for every API.
	if err := p.RemoveToxic(toxicName(af.ID, "downstream")); err != nil {
		t.Fatal(err)
	}
	if fs := s.faults(t); len(fs) != 0 {
		t.Fatalf("faults after toxiproxy removed every toxic: %+v", fs)
	}
	if err := s.e.Remove(context.Background(), af.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("remove of a fault toxiproxy ended: %v, want not found", err)
	}
}

func TestToggleIsADownFault(t *testing.T) {
	s := newOneStore(t)
	p := s.proxy(t)
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	fs := s.faults(t)
	if len(fs) != 1 || fs[0].ID != "order->payment" || fs[0].Fault.Type != Down || fs[0].Source != SourceToxiproxy {
		t.Fatalf("faults of a disabled proxy: %+v", fs)
	}
	if err := s.ctl.Remove(context.Background(), "order->payment"); err != nil {
		t.Fatal(err)
	}
	mustRoundTrip(t, s.addr)

	// An engine down, enabled through toxiproxy, is over for the engine too:
	// a later down's removal brings the edge back.
	first := MustApply(t, s.e, Fault{Target: "order->payment", Type: Down})
	if s.proxy(t).Enabled {
		t.Fatal("GET /proxies shows the downed edge enabled")
	}
	if err := s.proxy(t).Enable(); err != nil {
		t.Fatal(err)
	}
	if fs := s.faults(t); len(fs) != 0 {
		t.Fatalf("faults after toxiproxy enabled the edge: %+v", fs)
	}
	second := MustApply(t, s.e, Fault{Target: "order->payment", Type: Down})
	if _, err := net.DialTimeout("tcp", s.addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial during the second down: %v", err)
	}
	MustRemove(t, s.e, second)
	mustRoundTrip(t, s.addr)
	if err := s.e.Remove(context.Background(), first); !errs.Is(err, errs.NotFound) {
		t.Fatalf("remove of the down toxiproxy ended: %v, want not found", err)
	}
}

func TestEitherResetRemovesBothKinds(t *testing.T) {
	for _, how := range []string{"control", "toxiproxy"} {
		t.Run(how, func(t *testing.T) {
			s := newOneStore(t)
			s.e.ClientInterceptors("order", "payment")
			if _, err := s.proxy(t).AddToxic("", "latency", "upstream", 1, toxiclient.Attributes{"latency": 300}); err != nil {
				t.Fatal(err)
			}
			MustApply(t, s.e, Fault{Target: "order->payment", Type: Bandwidth, Attributes: map[string]any{"rate": 1}})
			MustApply(t, s.e, Fault{Target: "order->payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE"}})
			if fs := s.faults(t); len(fs) != 3 {
				t.Fatalf("faults = %+v, want 3", fs)
			}
			switch how {
			case "control":
				n, err := s.ctl.Reset(context.Background())
				if err != nil || n != 3 {
					t.Fatalf("reset: %d, %v; want 3 removed", n, err)
				}
			default:
				if err := s.tp.ResetState(); err != nil {
					t.Fatal(err)
				}
			}
			if fs := s.faults(t); len(fs) != 0 {
				t.Fatalf("faults after reset: %+v", fs)
			}
			if toxics := s.proxy(t).ActiveToxics; len(toxics) != 0 {
				t.Fatalf("toxics after reset: %+v", toxics)
			}
			if d := mustRoundTrip(t, s.addr); d > 100*time.Millisecond {
				t.Fatalf("round trip after reset took %s", d)
			}
		})
	}
}
