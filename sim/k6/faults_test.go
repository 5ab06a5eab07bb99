package k6

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

func TestToxicAttributesInToxiproxyUnits(t *testing.T) {
	tests := []struct {
		typ   string
		attrs map[string]any
		want  []toxicAttr
	}{
		{chaos.Latency, map[string]any{"latency": "400ms", "jitter": "50ms"},
			[]toxicAttr{{"latency", 400, "ms"}, {"jitter", 50, "ms"}}},
		// Rounded up: toxiproxy's unit is the millisecond.
		{chaos.Latency, map[string]any{"latency": "1500us"},
			[]toxicAttr{{"latency", 2, "ms"}, {"jitter", 0, "ms"}}},
		{chaos.Latency, map[string]any{"latency": "1m"},
			[]toxicAttr{{"latency", 60000, "ms"}, {"jitter", 0, "ms"}}},
		{chaos.Bandwidth, map[string]any{"rate": 64},
			[]toxicAttr{{"rate", 64, "KB/s"}}},
		{chaos.SlowClose, map[string]any{"delay": "2s"},
			[]toxicAttr{{"delay", 2000, "ms"}}},
		// 0 is "hold the connection forever": only an explicit 0 may say it.
		{chaos.Timeout, map[string]any{"timeout": "500us"},
			[]toxicAttr{{"timeout", 1, "ms"}}},
		{chaos.Timeout, nil,
			[]toxicAttr{{"timeout", 0, "ms"}}},
		{chaos.ResetPeer, map[string]any{"timeout": "0s"},
			[]toxicAttr{{"timeout", 0, "ms"}}},
		// The slicer's delay is in microseconds.
		{chaos.Slicer, map[string]any{"average_size": 64, "size_variation": 32, "delay": "1500us"},
			[]toxicAttr{{"average_size", 64, "bytes"}, {"size_variation", 32, "bytes"}, {"delay", 1500, "us"}}},
		{chaos.LimitData, map[string]any{"bytes": 1024},
			[]toxicAttr{{"bytes", 1024, "bytes"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.typ, tt.attrs), func(t *testing.T) {
			got, err := toxicAttributes(tt.typ, toxicSpecs[tt.typ], tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []map[string]any{{"latency": "soon"}, {"latency": "-1s"}, {"latncy": "1s"}} {
		if _, err := toxicAttributes(chaos.Latency, toxicSpecs[chaos.Latency], bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

// TestEveryToxicHasAMapping keeps toxicSpecs and the chaos registry in
// step: a toxic added to chaos must say how its attributes convert.
func TestEveryToxicHasAMapping(t *testing.T) {
	var toxics []string
	for _, ti := range chaos.Types() {
		if !ti.Toxicity {
			continue
		}
		toxics = append(toxics, ti.Name)
		specs, ok := toxicSpecs[ti.Name]
		if !ok {
			t.Errorf("toxic %s has no entry in toxicSpecs", ti.Name)
			continue
		}
		var names, want []string
		for _, s := range specs {
			names = append(names, s.name)
		}
		for _, a := range ti.Attributes {
			want = append(want, a.Name)
		}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("toxic %s: toxicSpecs converts %v, chaos has %v", ti.Name, names, want)
		}
	}
	for typ := range toxicSpecs {
		if !slices.Contains(toxics, typ) {
			t.Errorf("toxicSpecs has %s, which chaos does not know as a toxic", typ)
		}
	}
}

func TestPlanFault(t *testing.T) {
	broker := spec.Fault{Name: "broker-down", At: spec.Duration(time.Second), Duration: spec.Duration(time.Second), Target: spec.KafkaTarget, Type: chaos.Down}
	p, err := planFault(&broker)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != kindDown || !slices.Equal(p.Proxies, spec.KafkaEdges) {
		t.Errorf("a down on kafka = %+v, want every Kafka edge's proxy disabled", p)
	}

	both := spec.Fault{Name: "slow", At: spec.Duration(time.Second), Duration: spec.Duration(time.Second), Target: "kafka",
		Type: chaos.Latency, Attributes: map[string]any{"latency": "100ms"}, Direction: "both", Toxicity: 0.5}
	p, err = planFault(&both)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tx := range p.Toxics {
		got = append(got, tx.Proxy+" "+tx.Name+" "+tx.Stream)
		if tx.Toxicity != 0.5 || tx.Type != "latency" {
			t.Errorf("toxic %+v", tx)
		}
	}
	want := []string{
		"order->kafka k6-slow-upstream upstream", "order->kafka k6-slow-downstream downstream",
		"notification->kafka k6-slow-upstream upstream", "notification->kafka k6-slow-downstream downstream",
		"analytics->kafka k6-slow-upstream upstream", "analytics->kafka k6-slow-downstream downstream",
	}
	if !slices.Equal(got, want) {
		t.Errorf("toxics of a both-way latency on kafka:\n got %q\nwant %q", got, want)
	}

	restart := spec.Fault{Name: "product-restarted", At: spec.Duration(time.Minute), Target: "product", Type: chaos.Restart}
	p, err = planFault(&restart)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != kindOps || p.End != p.At || p.Ops[0].Duration != 0 || p.Ops[0].Name != "product-restarted" {
		t.Errorf("a restart = %+v, want one ops fault without a duration or an end", p)
	}
}

// TestOpsFaultsAreWhatTheControlAPIReads decodes the body the script posts
// for every ops fault of every shipped scenario as the control API does
// (unknown fields refused) and validates it with the engine's own rules.
func TestOpsFaultsAreWhatTheControlAPIReads(t *testing.T) {
	n := 0
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		plans, err := planFaults(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plans {
			for _, f := range p.Ops {
				body, err := json.Marshal(goValue(opsFaultJS(f)))
				if err != nil {
					t.Fatal(err)
				}
				var got chaos.Fault
				if err := json.Unmarshal(body, &got); err != nil {
					t.Errorf("%s: the control API refuses %s: %v", s.Name, body, err)
					continue
				}
				if err := got.Validate(); err != nil {
					t.Errorf("%s: %s: %v", s.Name, body, err)
				}
				if !reflect.DeepEqual(got, f) {
					t.Errorf("%s: %s decodes to %+v, want %+v", s.Name, body, got, f)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no shipped scenario has an ops fault: the test checks nothing")
	}
}

// TestToxicsMatchTheEngine posts the script's toxics to the chaos engine's
// toxiproxy API, which runs toxiproxy's own handlers, and compares them
// with the toxics the engine installs for the same fault: the generator's
// unit conversion must be the engine's, and toxiproxy must take the JSON.
func TestToxicsMatchTheEngine(t *testing.T) {
	e, err := chaos.New(chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("engine: %v", err)
		}
		_ = e.Close()
	})
	api := "http://" + e.APIAddr()

	faults := []spec.Fault{
		{Type: chaos.Latency, Attributes: map[string]any{"latency": "400ms", "jitter": "1500us"}, Toxicity: 0.5, Direction: "both"},
		{Type: chaos.Bandwidth, Attributes: map[string]any{"rate": 64}},
		{Type: chaos.SlowClose, Attributes: map[string]any{"delay": "250ms"}, Direction: "upstream"},
		{Type: chaos.Timeout, Attributes: map[string]any{"timeout": "500us"}},
		{Type: chaos.ResetPeer, Attributes: map[string]any{"timeout": "0s"}, Toxicity: 0.3},
		{Type: chaos.Slicer, Attributes: map[string]any{"average_size": 64, "size_variation": 8, "delay": "1500us"}},
		{Type: chaos.LimitData, Attributes: map[string]any{"bytes": 2048}},
	}
	for i, f := range faults {
		t.Run(f.Type, func(t *testing.T) {
			// One edge per fault, so that the two sets of toxics never mix.
			from := fmt.Sprintf("edge%d", i)
			if _, err := e.Edge(from, "payment", "127.0.0.1:1"); err != nil {
				t.Fatal(err)
			}
			f.Name, f.Target = "parity", from+"->payment"
			f.At, f.Duration = 0, spec.Duration(time.Minute)
			if f.Toxicity == 0 {
				f.Toxicity = 1
			}
			if f.Direction == "" {
				f.Direction = "downstream"
			}
			p, err := planFault(&f)
			if err != nil {
				t.Fatal(err)
			}
			proxyURL := api + "/proxies/" + url.PathEscape(f.Target) + "/toxics"

			id, err := e.Apply(context.Background(), f.Chaos()[0])
			if err != nil {
				t.Fatal(err)
			}
			engine := mustToxics(t, proxyURL)
			if err := e.Remove(context.Background(), id); err != nil {
				t.Fatal(err)
			}

			toxics := goValue(p.js()).(map[string]any)["toxics"].([]any)
			for _, tx := range toxics {
				body, err := json.Marshal(tx.(map[string]any)["toxic"])
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.Post(proxyURL, "application/json", strings.NewReader(string(body)))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("toxiproxy answered %s to %s", resp.Status, body)
				}
			}
			script := mustToxics(t, proxyURL)
			if len(script) != len(engine) {
				t.Fatalf("the script installs %d toxics, the engine %d:\nscript %v\nengine %v", len(script), len(engine), script, engine)
			}
			for i := range script {
				s, en := script[i], engine[i]
				if s.Type != en.Type || s.Stream != en.Stream || s.Toxicity != en.Toxicity || !reflect.DeepEqual(s.Attributes, en.Attributes) {
					t.Errorf("toxic %d:\nscript %+v\nengine %+v", i, s, en)
				}
			}
		})
	}
}

type apiToxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// mustToxics lists a proxy's toxics through toxiproxy's API, by stream.
func mustToxics(tb testing.TB, proxyURL string) []apiToxic {
	tb.Helper()
	resp, err := http.Get(proxyURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out []apiToxic
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	slices.SortFunc(out, func(a, b apiToxic) int { return strings.Compare(a.Stream, b.Stream) })
	return out
}

// goValue turns a literal tree into what encoding/json would decode from
// the same JSON, to compare what a script sends with what Go expects.
func goValue(v any) any {
	switch x := v.(type) {
	case jsObject:
		m := make(map[string]any, len(x))
		for _, f := range x {
			m[f.Key] = goValue(f.Value)
		}
		return m
	case []jsObject:
		out := make([]any, len(x))
		for i, o := range x {
			out[i] = goValue(o)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = goValue(e)
		}
		return out
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = goValue(e)
		}
		return m
	}
	return v
}
