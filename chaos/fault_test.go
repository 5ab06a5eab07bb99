package chaos

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

type attrs = map[string]any

func TestValidateRejectsBadFaults(t *testing.T) {
	edge := "order->payment"
	tests := []struct {
		name  string
		f     Fault
		field string
		msg   string // part of the message
	}{
		{"no type", Fault{Target: edge}, "type", "required"},
		{"unknown type", Fault{Target: edge, Type: "lag"}, "type", `unknown fault type "lag"`},
		{"no target", Fault{Type: Latency, Attributes: attrs{"latency": "1s"}}, "target", "required"},
		{"half an edge", Fault{Target: "order->", Type: Latency, Attributes: attrs{"latency": "1s"}}, "target", "not an edge"},
		{"bad unit name", Fault{Target: "Order", Type: Kill}, "target", "not a unit name"},
		{"network fault on a unit", Fault{Target: "order", Type: Latency, Attributes: attrs{"latency": "1s"}}, "target", "acts on an edge"},
		{"down on a unit", Fault{Target: "order", Type: Down}, "target", "acts on an edge"},
		{"kill on an edge", Fault{Target: edge, Type: Kill}, "target", "acts on a unit"},
		{"kill of an unknown unit", Fault{Target: "billing", Type: Kill}, "target", `unknown unit "billing"`},
		{"storage on an unknown unit", Fault{Target: "billing", Type: StorageError}, "target", "unknown unit"},
		{"grpc_error on kafka", Fault{Target: "order->kafka", Type: GRPCError, Attributes: attrs{"code": "UNAVAILABLE"}}, "target", "not a gRPC edge"},
		{"grpc_error on a unit without gRPC", Fault{Target: "notification", Type: GRPCError, Attributes: attrs{"code": "UNAVAILABLE"}}, "target", "serves no gRPC"},
		{"http_error off the gateway", Fault{Target: "order", Type: HTTPError}, "target", "gateway"},
		{"toxicity above 1", Fault{Target: edge, Type: Latency, Toxicity: 1.5, Attributes: attrs{"latency": "1s"}}, "toxicity", "0..1"},
		{"negative toxicity", Fault{Target: edge, Type: Latency, Toxicity: -0.1, Attributes: attrs{"latency": "1s"}}, "toxicity", "0..1"},
		{"toxicity on a kill", Fault{Target: "order", Type: Kill, Toxicity: 0.5}, "toxicity", "network toxics only"},
		{"bad direction", Fault{Target: edge, Type: Latency, Direction: "sideways", Attributes: attrs{"latency": "1s"}}, "direction", "sideways"},
		{"direction on grpc_error", Fault{Target: edge, Type: GRPCError, Direction: "upstream", Attributes: attrs{"code": "UNAVAILABLE"}}, "direction", "network toxics only"},
		{"direction on down", Fault{Target: edge, Type: Down, Direction: "both"}, "direction", "network toxics only"},
		{"negative duration", Fault{Target: edge, Type: Down, Duration: -time.Second}, "duration", "negative"},
		{"restart with duration", Fault{Target: "order", Type: Restart, Duration: time.Second}, "duration", "instantaneous"},
		{"long name", Fault{Name: strings.Repeat("n", 101), Target: edge, Type: Down}, "name", "100"},
		{"missing latency", Fault{Target: edge, Type: Latency}, "attributes.latency", "required"},
		{"latency not a duration", Fault{Target: edge, Type: Latency, Attributes: attrs{"latency": "fast"}}, "attributes.latency", "duration"},
		{"negative latency", Fault{Target: edge, Type: Latency, Attributes: attrs{"latency": "-5ms"}}, "attributes.latency", "negative"},
		{"latency of a wrong type", Fault{Target: edge, Type: Latency, Attributes: attrs{"latency": true}}, "attributes.latency", "duration"},
		{"misspelt attribute", Fault{Target: edge, Type: Latency, Attributes: attrs{"latency": "1s", "jiter": "1ms"}}, "attributes.jiter", "latency, jitter"},
		{"attribute on down", Fault{Target: edge, Type: Down, Attributes: attrs{"latency": "1s"}}, "attributes.latency", "takes no attributes"},
		{"zero bandwidth", Fault{Target: edge, Type: Bandwidth, Attributes: attrs{"rate": 0}}, "attributes.rate", "at least 1"},
		{"fractional bandwidth", Fault{Target: edge, Type: Bandwidth, Attributes: attrs{"rate": 1.5}}, "attributes.rate", "integer"},
		{"slicer variation too big", Fault{Target: edge, Type: Slicer, Attributes: attrs{"average_size": 10, "size_variation": 10}}, "attributes.size_variation", "smaller"},
		{"slicer zero size", Fault{Target: edge, Type: Slicer, Attributes: attrs{"average_size": 0}}, "attributes.average_size", "at least 1"},
		{"missing code", Fault{Target: edge, Type: GRPCError}, "attributes.code", "required"},
		{"code OK", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": "OK"}}, "attributes.code", "not an error"},
		{"code 0", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": 0}}, "attributes.code", "not an error"},
		{"unknown code", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": "NOPE"}}, "attributes.code", "UNAVAILABLE"},
		{"code number out of range", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": 42}}, "attributes.code", "42"},
		{"rate above 1", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": "UNAVAILABLE", "rate": 2}}, "attributes.rate", "0..1"},
		{"rate not a number", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": "UNAVAILABLE", "rate": "often"}}, "attributes.rate", "number"},
		{"bad when", Fault{Target: edge, Type: GRPCError, Attributes: attrs{"code": "UNAVAILABLE", "when": "later"}}, "attributes.when", "before, after"},
		{"http status 200", Fault{Target: "gateway", Type: HTTPError, Attributes: attrs{"status": 200}}, "attributes.status", "400..599"},
		{"relative path", Fault{Target: "gateway", Type: HTTPError, Attributes: attrs{"path": "api"}}, "attributes.path", "starting with /"},
		{"bad_conn after", Fault{Target: "order", Type: StorageError, Attributes: attrs{"error": "bad_conn", "when": "after"}}, "attributes.when", "retry"},
		{"unknown storage error", Fault{Target: "order", Type: StorageError, Attributes: attrs{"error": "full"}}, "attributes.error", "io, busy, bad_conn"},
		{"unknown sql op", Fault{Target: "order", Type: StorageError, Attributes: attrs{"ops": "exec,delete"}}, "attributes.ops", `"delete"`},
		{"storage latency missing", Fault{Target: "order", Type: StorageLatency}, "attributes.latency", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tt.field || !strings.Contains(errs.MessageOf(err), tt.msg) {
				t.Fatalf("got %v (field %q), want field %q and a message with %q", err, errs.FieldOf(err), tt.field, tt.msg)
			}
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	tests := []struct {
		name string
		f    Fault
		want Fault
	}{
		{"numbers are milliseconds, defaults filled",
			Fault{Target: "order->payment", Type: Latency, Attributes: attrs{"latency": 400.0}},
			Fault{Target: "order->payment", Type: Latency, Toxicity: 1, Direction: "downstream", Attributes: attrs{"latency": "400ms", "jitter": "0s"}}},
		{"strings from a command line",
			Fault{Target: "order->payment", Type: Slicer, Toxicity: 0.25, Direction: "both", Attributes: attrs{"average_size": "64", "delay": "1ms"}},
			Fault{Target: "order->payment", Type: Slicer, Toxicity: 0.25, Direction: "both", Attributes: attrs{"average_size": int64(64), "size_variation": int64(0), "delay": "1ms"}}},
		{"go durations and code spellings",
			Fault{Target: "order->payment", Type: GRPCError, Attributes: attrs{"code": "DeadlineExceeded", "rate": "0.2", "when": "AFTER"}},
			Fault{Target: "order->payment", Type: GRPCError, Attributes: attrs{"code": "DEADLINE_EXCEEDED", "rate": 0.2, "when": "after"}}},
		{"gateway spelt as an edge, toxicity 1 tolerated",
			Fault{Target: "client->gateway", Type: HTTPError, Toxicity: 1},
			Fault{Target: "client->gateway", Type: HTTPError, Attributes: attrs{"status": int64(503), "rate": 1.0, "when": "before"}}},
		{"storage ops",
			Fault{Target: "order", Type: StorageLatency, Attributes: attrs{"latency": 20 * time.Millisecond, "ops": []any{"commit", "begin"}}},
			Fault{Target: "order", Type: StorageLatency, Attributes: attrs{"latency": "20ms", "jitter": "0s", "rate": 1.0, "ops": "begin,commit"}}},
		{"no attributes", Fault{Target: "product", Type: Kill, Duration: time.Minute}, Fault{Target: "product", Type: Kill, Duration: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := tt.f.plan()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(pl.fault)
			want, _ := json.Marshal(tt.want)
			if string(got) != string(want) {
				t.Fatalf("normalised to\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestFaultJSON(t *testing.T) {
	in := `{"name":"slow-payments","target":"order->payment","type":"latency","attributes":{"latency":"400ms"},"toxicity":0.5,"direction":"upstream","duration":"30s"}`
	var f Fault
	if err := json.Unmarshal([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	if f.Duration != 30*time.Second || f.Toxicity != 0.5 || f.Attributes["latency"] != "400ms" || f.Name != "slow-payments" {
		t.Fatalf("decoded %+v", f)
	}
	out, err := json.Marshal(f)
	var got, want map[string]any
	_ = json.Unmarshal(out, &got)
	_ = json.Unmarshal([]byte(in), &want)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip gave %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"target":"x","type":"down","durration":"1s"}`), &f); err == nil {
		t.Fatal("unknown field accepted")
	}
	err = json.Unmarshal([]byte(`{"target":"x","type":"down","duration":"soon"}`), &f)
	if errs.FieldOf(err) != "duration" {
		t.Fatalf("bad duration: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"target":"x","type":"down","duration":1500}`), &f); err == nil {
		t.Fatal("a duration that is not a string was accepted") // the wire form is a string
	}
}

func TestTypesDescribeEveryType(t *testing.T) {
	all := []string{Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData, Down, Kill, Restart, Pause, StorageLatency, StorageError, GRPCError, HTTPError, AWSError}
	types := Types()
	if len(types) != len(all) {
		t.Fatalf("%d types, want %d", len(types), len(all))
	}
	byName := map[string]TypeInfo{}
	for _, ti := range types {
		byName[ti.Name] = ti
		if ti.Doc == "" {
			t.Errorf("%s has no doc", ti.Name)
		}
		for _, a := range ti.Attributes {
			if a.Doc == "" {
				t.Errorf("%s.%s has no doc", ti.Name, a.Name)
			}
		}
	}
	for _, n := range all {
		if _, ok := byName[n]; !ok {
			t.Errorf("type %s missing from Types()", n)
		}
	}
	if !byName[Latency].Toxicity || byName[Kill].Toxicity || byName[Latency].Kind != "network" || byName[GRPCError].Kind != "l7" {
		t.Error("kinds or toxicity flags are wrong")
	}
}

func TestDeciderStreams(t *testing.T) {
	a, b := newDecider(1, "x"), newDecider(1, "x")
	c, d := newDecider(2, "x"), newDecider(1, "y")
	same, diffSeed, diffName := true, false, false
	for range 64 {
		va, vb, vc, vd := a.hit(0.5), b.hit(0.5), c.hit(0.5), d.hit(0.5)
		same = same && va == vb
		diffSeed = diffSeed || va != vc
		diffName = diffName || va != vd
	}
	if !same || !diffSeed || !diffName {
		t.Fatalf("same seed and name agree: %v; another seed differs: %v; another name differs: %v", same, diffSeed, diffName)
	}
	j := newDecider(5, "j")
	for range 1000 {
		if v := j.jitter(10 * time.Millisecond); v < -10*time.Millisecond || v > 10*time.Millisecond {
			t.Fatalf("jitter %s outside ±10ms", v)
		}
	}
	if j.jitter(0) != 0 {
		t.Fatal("no jitter asked, some given")
	}
}
