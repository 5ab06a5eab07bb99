package chaos

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// MustControlAPI serves e's control API as the ops API mounts it.
func MustControlAPI(t *testing.T, e *Engine) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ops/v1/chaos/", e.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, errs.E(errs.NotFound, "no ops route %s %s", r.Method, r.URL.Path))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestControlAPIThroughTheClient(t *testing.T) {
	clock := newFakeClock()
	e := MustEngine(t, WithClock(clock))
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	e.SQLDriver("order")
	srv := MustControlAPI(t, e)
	c := NewClient(srv.URL)
	ctx := context.Background()

	af, err := c.Apply(ctx, Fault{Name: "slow-payments", Target: "order->payment", Type: Latency, Duration: 30 * time.Second, Attributes: map[string]any{"latency": "150ms", "jitter": "10ms"}})
	if err != nil {
		t.Fatal(err)
	}
	if af.ID == "" || af.Fault.Attributes["latency"] != "150ms" || !af.EndsAt.Equal(clock.Now().Add(30*time.Second)) {
		t.Fatalf("applied %+v", af)
	}
	if d := mustRoundTrip(t, addr); d < 140*time.Millisecond {
		t.Fatalf("fault applied over the API has no effect: round trip %s", d)
	}
	list, err := c.Faults(ctx)
	if err != nil || len(list) != 1 || list[0].ID != af.ID || list[0].Fault.Name != "slow-payments" || list[0].Fault.Duration != 30*time.Second {
		t.Fatalf("faults %+v, %v", list, err)
	}
	tg, err := c.Targets(ctx)
	if err != nil || len(tg.Edges) != 1 || tg.Edges[0].Name != "order->payment" || tg.Edges[0].Listen != addr ||
		len(tg.Edges[0].Toxics) != 1 || strings.Join(tg.Stores, ",") != "order" || len(tg.Types) != len(registry) || len(tg.Units) != len(Units) {
		t.Fatalf("targets %+v, %v", tg, err)
	}

	_, err = c.Apply(ctx, Fault{Target: "order->payment", Type: Latency, Attributes: map[string]any{"latency": "soon"}})
	if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != "attributes.latency" {
		t.Fatalf("bad fault: %v (field %q)", err, errs.FieldOf(err))
	}
	if err := c.Remove(ctx, af.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, af.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("second removal: %v", err)
	}
	MustApply(t, e, Fault{Target: "order->payment", Type: Down})
	MustApply(t, e, Fault{Target: "order", Type: StorageError})
	if n, err := c.Reset(ctx); err != nil || n != 2 {
		t.Fatalf("reset: %d, %v", n, err)
	}
	mustRoundTrip(t, addr)
}

func TestControlAPIErrorShapes(t *testing.T) {
	e := MustEngine(t)
	MustEdge(t, e, "order", "payment", MustEcho(t))
	srv := MustControlAPI(t, e)
	post := func(ctype, body string) (int, httpx.ErrorBody) {
		resp, err := http.Post(srv.URL+"/ops/v1/chaos/faults", ctype, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb httpx.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		return resp.StatusCode, eb
	}
	tests := []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		{"toxicity out of range", "application/json", `{"target":"order->payment","type":"latency","toxicity":3,"attributes":{"latency":"1s"}}`, 400, "invalid_argument", "toxicity"},
		{"unknown field", "application/json", `{"target":"order->payment","type":"down","colour":"red"}`, 400, "invalid_argument", "colour"},
		{"bad duration", "application/json", `{"target":"order->payment","type":"down","duration":"forever"}`, 400, "invalid_argument", "duration"},
		{"unwired edge", "application/json", `{"target":"order->user","type":"down"}`, 400, "invalid_argument", "target"},
		{"kill without unit control", "application/json", `{"target":"order","type":"kill"}`, 409, "failed_precondition", ""},
		{"not JSON", "text/plain", `{"target":"order->payment","type":"down"}`, 400, "invalid_argument", ""},
		{"malformed", "application/json", `{"target":`, 400, "invalid_argument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, eb := post(tt.ctype, tt.body)
			if st != tt.status || eb.Error.Code != tt.code || eb.Error.Field != tt.field || eb.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s field %q", st, eb, tt.status, tt.code, tt.field)
			}
		})
	}
	if len(e.Active()) != 0 {
		t.Fatal("a refused fault was applied")
	}

	st, _ := post("application/json", `{"target":"order->payment","type":"down"}`)
	if st != http.StatusCreated {
		t.Fatalf("good fault: %d", st)
	}
	resp, err := http.Get(srv.URL + "/ops/v1/chaos/faults")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `"target":"order->payment"`) {
		t.Fatalf("edge names should read as written: %s", raw)
	}
	resp, err = http.Get(srv.URL + "/ops/v1/chaos/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d", resp.StatusCode)
	}
}

func TestClientExplainsWhatIsWrong(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	_, err = NewClient(dead).Faults(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is `shoplab up` running?") {
		t.Fatalf("nothing listening: %v", err)
	}

	// An ops API without the chaos routes.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, errs.E(errs.NotFound, "no ops route %s %s", r.Method, r.URL.Path))
	}))
	defer bare.Close()
	_, err = NewClient(bare.URL).Faults(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no chaos control API") {
		t.Fatalf("ops API without chaos: %v", err)
	}

	// A server that never answers.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	_, err = NewClient(hang.URL, WithCallTimeout(50*time.Millisecond)).Faults(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("hanging server: %v", err)
	}
}
