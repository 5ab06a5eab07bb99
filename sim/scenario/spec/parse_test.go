package spec

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// goodDoc is a small valid scenario the bad documents are made from.
const goodDoc = `version: 1
name: bad
description: a scenario made bad one mistake at a time
load:
  executor: constant-arrival-rate
  rate: 10
  duration: 60s
  journeys: {browse: 1, checkout: 1}
faults:
  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: latency, attributes: {latency: 100ms}}
steady_state:
  - {name: p95, metric: latency_p95, max: 500ms, phases: [before, during, after]}
recovery:
  - {name: r1, metric: error_rate, max: 0.01, within: 10s}
invariants: [no_lost_orders]
hpa:
  order: {reaches: 4, within: 60s}
`

const faultLine = `  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: latency, attributes: {latency: 100ms}}`

// fault returns goodDoc with its fault replaced.
func fault(body string) (string, string) { return faultLine, "  - {" + body + "}" }

func TestGoodDocIsGood(t *testing.T) {
	if _, err := Parse("good.yaml", []byte(goodDoc)); err != nil {
		t.Fatal(err)
	}
}

// TestBadDocuments checks that each mistake is reported at its field and
// line, by the Go rules and (unless goOnly: the rule relates fields, or
// the YAML itself, which a schema cannot see) by the JSON Schema too.
func TestBadDocuments(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // replace old by new in goodDoc
		lineOf   string // the problem is on the first line holding this
		path     string
		msg      string
		goOnly   bool
	}{
		{name: "unknown top-level key", old: "invariants:", new: "invariant:", lineOf: "invariant:", path: "invariant", msg: `unknown field "invariant" (did you mean "invariants"?)`},
		{name: "version", old: "version: 1", new: "version: 2", lineOf: "version", path: "version", msg: "must be 1"},
		{name: "name missing", old: "name: bad\n", new: "", lineOf: "version", path: "name", msg: "required"},
		{name: "name shape", old: "name: bad", new: "name: Bad Name", lineOf: "name:", path: "name", msg: "lower-case"},
		{name: "empty description", old: "description: a scenario made bad one mistake at a time", new: `description: ""`, lineOf: "description", path: "description", msg: "required"},
		{name: "expect", old: "version: 1\n", new: "version: 1\nexpect: pas\n", lineOf: "expect", path: "expect", msg: `(did you mean "pass"?)`},
		{name: "null value", old: "version: 1\n", new: "version: 1\nseed:\n", lineOf: "seed", path: "seed", msg: "empty (null)"},
		{name: "negative seed", old: "version: 1\n", new: "version: 1\nseed: -1\n", lineOf: "seed", path: "seed", msg: "non-negative integer"},
		{name: "env key", old: "version: 1\n", new: "version: 1\nenv: {analytics_windw: 10s}\n", lineOf: "env", path: "env.analytics_windw", msg: `did you mean "analytics_window"`},
		{name: "analytics window too short", old: "version: 1\n", new: "version: 1\nenv: {analytics_window: 500ms}\n", lineOf: "env", path: "env.analytics_window", msg: "at least 1s", goOnly: true},
		{name: "executor", old: "executor: constant-arrival-rate", new: "executor: constant-arival-rate", lineOf: "executor", path: "load.executor", msg: `did you mean "constant-arrival-rate"`},
		{name: "stages on constant", old: "  rate: 10\n", new: "  rate: 10\n  stages: [{target: 5, duration: 5s}]\n", lineOf: "stages", path: "load.stages", msg: "belong to ramping-arrival-rate"},
		{name: "rate on ramping", old: "constant-arrival-rate", new: "ramping-arrival-rate", lineOf: "rate: 10", path: "load.rate", msg: "belongs to constant-arrival-rate"},
		{name: "ramping without stages", old: "constant-arrival-rate\n  rate: 10\n  duration: 60s\n", new: "ramping-arrival-rate\n", lineOf: "load:", path: "load.stages", msg: "required by ramping-arrival-rate"},
		{name: "negative stage target", old: "constant-arrival-rate\n  rate: 10\n  duration: 60s\n", new: "ramping-arrival-rate\n  stages:\n    - {target: -5, duration: 60s}\n", lineOf: "target: -5", path: "load.stages[0].target", msg: "negative"},
		{name: "stage key", old: "constant-arrival-rate\n  rate: 10\n  duration: 60s\n", new: "ramping-arrival-rate\n  stages:\n    - {targt: 5, duration: 60s}\n", lineOf: "targt", path: "load.stages[0].targt", msg: `did you mean "target"`},
		{name: "nothing ever starts", old: "constant-arrival-rate\n  rate: 10\n  duration: 60s\n", new: "ramping-arrival-rate\n  stages:\n    - {target: 0, duration: 60s}\n", lineOf: "stages", path: "load.stages", msg: "never start", goOnly: true},
		{name: "zero rate", old: "rate: 10", new: "rate: 0", lineOf: "rate: 0", path: "load.rate", msg: "more than 0"},
		{name: "rate not a number", old: "rate: 10", new: "rate: ten", lineOf: "rate: ten", path: "load.rate", msg: "must be a number"},
		{name: "bare number duration", old: "duration: 60s", new: "duration: 60", lineOf: "duration: 60", path: "load.duration", msg: "a bare number has no unit"},
		{name: "negative duration", old: "duration: 60s", new: "duration: -60s", lineOf: "duration: -60s", path: "load.duration", msg: "must be a duration"},
		{name: "start_rate 0 on a constant load", old: "  rate: 10\n", new: "  rate: 10\n  start_rate: 0\n", lineOf: "start_rate", path: "load.start_rate", msg: "belongs to ramping-arrival-rate"},
		{name: "duration 0s on a ramping load", old: "constant-arrival-rate\n  rate: 10\n  duration: 60s\n", new: "ramping-arrival-rate\n  duration: 0s\n  stages: [{target: 5, duration: 60s}]\n", lineOf: "duration: 0s", path: "load.duration", msg: "belongs to constant-arrival-rate"},
		{name: "empty expect", old: "version: 1\n", new: "version: 1\nexpect: \"\"\n", lineOf: "expect", path: "expect", msg: "must not be empty"},
		{name: "zero max_in_flight", old: "  rate: 10\n", new: "  rate: 10\n  max_in_flight: 0\n", lineOf: "max_in_flight", path: "load.max_in_flight", msg: "must not be zero"},
		{name: "journey typo", old: "checkout: 1}", new: "checkot: 1}", lineOf: "journeys", path: "load.journeys.checkot", msg: `did you mean "checkout"`},
		{name: "journey weight", old: "browse: 1,", new: "browse: 0,", lineOf: "journeys", path: "load.journeys.browse", msg: "more than 0"},
		{name: "no journeys", old: "{browse: 1, checkout: 1}", new: "{}", lineOf: "journeys", path: "load.journeys", msg: "required"},

		{name: "fault type typo", old: "type: latency", new: "type: latecny", lineOf: "latecny", path: "faults[0].type", msg: `unknown fault type "latecny" (did you mean "latency"?)`},
		{name: "fault target typo", old: "order->payment", new: "order->paymnt", lineOf: "paymnt", path: "faults[0].target", msg: `did you mean "order->payment"`},
		{name: "kill on an edge", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: kill}", lineOf: "kill", path: "faults[0].target", msg: "kill cannot act on"},
		{name: "grpc_error on kafka", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->kafka, type: grpc_error, attributes: {code: UNAVAILABLE}}", lineOf: "grpc_error", path: "faults[0].target", msg: "cannot act on"},
		{name: "storage fault on gateway", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: gateway, type: storage_latency, attributes: {latency: 10ms}}", lineOf: "storage", path: "faults[0].target", msg: "cannot act on"},
		{name: "fault key typo", old: "at: 10s,", new: "at: 10s, toxicty: 0.5,", lineOf: "toxicty", path: "faults[0].toxicty", msg: `did you mean "toxicity"`},
		{name: "fault name missing", old: "{name: f1, ", new: "{", lineOf: "at: 10s", path: "faults[0].name", msg: "required"},
		{name: "attribute typo", old: "{latency: 100ms}", new: "{latency: 100ms, jiter: 5ms}", lineOf: "jiter", path: "faults[0].attributes.jiter", msg: `unknown latency attribute "jiter" (did you mean "jitter"?)`},
		{name: "attribute missing", old: "{latency: 100ms}", new: "{jitter: 5ms}", lineOf: "jitter", path: "faults[0].attributes.latency", msg: "required by latency"},
		{name: "attribute bare number", old: "{latency: 100ms}", new: "{latency: 100}", lineOf: "latency: 100}", path: "faults[0].attributes.latency", msg: "must be a duration"},
		{name: "attributes on down", old: "type: latency, attributes: {latency: 100ms}", new: "type: down, attributes: {latency: 100ms}", lineOf: "down", path: "faults[0].attributes.latency", msg: "down takes no attributes"},
		{name: "fault overruns the load", old: "at: 10s, duration: 10s", new: "at: 55s, duration: 10s", lineOf: "55s", path: "faults[0].duration", msg: "after the load ends (1m0s)", goOnly: true},
		{name: "fault after the load", old: "at: 10s, duration: 10s", new: "at: 70s, duration: 10s", lineOf: "70s", path: "faults[0].at", msg: "not before the load ends", goOnly: true},
		{name: "restart with duration", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: product, type: restart}", lineOf: "restart", path: "faults[0].duration", msg: "restart is instantaneous"},
		{name: "restart with 0s", old: faultLine, new: "  - {name: f1, at: 10s, duration: 0s, target: product, type: restart}", lineOf: "restart", path: "faults[0].duration", msg: "restart is instantaneous"},
		{name: "empty direction", old: "at: 10s,", new: "at: 10s, direction: \"\",", lineOf: "direction", path: "faults[0].direction", msg: "must not be empty"},
		{name: "kill without duration", old: faultLine, new: "  - {name: f1, at: 10s, target: product, type: kill}", lineOf: "kill", path: "faults[0].duration", msg: "required"},
		{name: "zero fault duration", old: "duration: 10s, target", new: "duration: 0s, target", lineOf: "duration: 0s", path: "faults[0].duration", msg: "required"},
		{name: "toxicity on down", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: down, toxicity: 0.5}", lineOf: "down", path: "faults[0].toxicity", msg: "network toxics only"},
		{name: "toxicity above 1", old: "at: 10s,", new: "at: 10s, toxicity: 1.5,", lineOf: "1.5", path: "faults[0].toxicity", msg: "(0, 1]"},
		{name: "toxicity 0", old: "at: 10s,", new: "at: 10s, toxicity: 0,", lineOf: "toxicity", path: "faults[0].toxicity", msg: "must not be zero"},
		{name: "direction", old: "at: 10s,", new: "at: 10s, direction: sideways,", lineOf: "sideways", path: "faults[0].direction", msg: "downstream"},
		{name: "slicer variation", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: slicer, attributes: {average_size: 10, size_variation: 10}}", lineOf: "slicer", path: "faults[0].attributes.size_variation", msg: "smaller than average_size", goOnly: true},
		{name: "grpc code case", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: grpc_error, attributes: {code: unavailable}}", lineOf: "grpc_error", path: "faults[0].attributes.code", msg: `did you mean "UNAVAILABLE"`},
		{name: "grpc when", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: grpc_error, attributes: {code: UNAVAILABLE, when: later}}", lineOf: "grpc_error", path: "faults[0].attributes.when", msg: `"before" or "after"`},
		{name: "http status", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: client->gateway, type: http_error, attributes: {status: 200}}", lineOf: "http_error", path: "faults[0].attributes.status", msg: "400..599"},
		{name: "bandwidth rate", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order->payment, type: bandwidth, attributes: {rate: 0}}", lineOf: "bandwidth", path: "faults[0].attributes.rate", msg: "at least 1"},
		{name: "storage ops", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order, type: storage_error, attributes: {ops: write}}", lineOf: "storage_error", path: "faults[0].attributes.ops", msg: "exec, query, begin, commit"},
		{name: "storage rate", old: faultLine, new: "  - {name: f1, at: 10s, duration: 10s, target: order, type: storage_error, attributes: {rate: 2}}", lineOf: "storage_error", path: "faults[0].attributes.rate", msg: "0..1"},
		{name: "duplicate fault names", old: faultLine, new: faultLine + "\n" + strings.Replace(faultLine, "at: 10s", "at: 30s", 1), lineOf: "at: 30s", path: "faults[1].name", msg: `"f1" is also used by faults[0]`, goOnly: true},

		{name: "metric typo", old: "metric: latency_p95", new: "metric: latncy_p95", lineOf: "latncy_p95", path: "steady_state[0].metric", msg: `did you mean "latency_p95"`},
		{name: "latency bound as number", old: "max: 500ms", new: "max: 0.5", lineOf: "max: 0.5", path: "steady_state[0].max", msg: `write a duration such as "900ms"`},
		{name: "error rate bound as duration", old: "max: 0.01", new: "max: 10ms", lineOf: "max: 10ms", path: "recovery[0].max", msg: "not a latency"},
		{name: "error rate above 1", old: "max: 0.01", new: "max: 2", lineOf: "max: 2", path: "recovery[0].max", msg: "fraction"},
		{name: "no bound", old: "max: 500ms, ", new: "", lineOf: "name: p95", path: "steady_state[0]", msg: "needs min, max or both"},
		{name: "min above max", old: "max: 500ms", new: "min: 600ms, max: 500ms", lineOf: "600ms", path: "steady_state[0].min", msg: "no value could pass", goOnly: true},
		{name: "journey and endpoint", old: "metric: latency_p95,", new: `metric: latency_p95, journey: checkout, endpoint: "POST /api/v1/orders",`, lineOf: "endpoint", path: "steady_state[0].endpoint", msg: "exclusive"},
		{name: "endpoint shape", old: "metric: latency_p95,", new: "metric: latency_p95, endpoint: orders,", lineOf: "endpoint", path: "steady_state[0].endpoint", msg: `"POST /api/v1/orders"`},
		{name: "journey not in the load", old: "metric: latency_p95,", new: "metric: latency_p95, journey: search,", lineOf: "search", path: "steady_state[0].journey", msg: "not in load.journeys", goOnly: true},
		{name: "dropped iterations by journey", old: "metric: latency_p95, max: 500ms", new: "metric: dropped_iterations, journey: checkout, max: 0", lineOf: "dropped", path: "steady_state[0].journey", msg: "does not apply"},
		{name: "dropped iterations fraction", old: "metric: latency_p95, max: 500ms", new: "metric: dropped_iterations, max: 0.5", lineOf: "dropped", path: "steady_state[0].max", msg: "a count"},
		{name: "phase typo", old: "[before, during, after]", new: "[befor, during]", lineOf: "befor", path: "steady_state[0].phases[0]", msg: `unknown phase "befor" (did you mean "before"?)`},
		{name: "phase twice", old: "[before, during, after]", new: "[before, before]", lineOf: "phases", path: "steady_state[0].phases[1]", msg: "listed twice"},
		{name: "continuous with others", old: "[before, during, after]", new: "[continuous, before]", lineOf: "phases", path: "steady_state[0].phases", msg: "continuous already covers"},
		{name: "no phases", old: "[before, during, after]", new: "[]", lineOf: "phases", path: "steady_state[0].phases", msg: "is empty"},
		{name: "after never occurs", old: "at: 10s, duration: 10s", new: "at: 10s, duration: 50s", lineOf: "phases", path: "steady_state[0].phases[2]", msg: `phase "after" never occurs`, goOnly: true},
		{name: "before never occurs", old: "at: 10s, duration: 10s", new: "at: 0s, duration: 10s", lineOf: "phases", path: "steady_state[0].phases[0]", msg: `phase "before" never occurs`, goOnly: true},
		{name: "probe name reused", old: "name: r1", new: "name: p95", lineOf: "name: p95, metric: error_rate", path: "recovery[0].name", msg: "also used by steady_state[0].name", goOnly: true},
		{name: "abort default name reused", old: "recovery:", new: "abort:\n  - {metric: error_rate, max: 0.5}\n  - {name: abort-1, metric: error_rate, max: 0.9}\nrecovery:", lineOf: "name: abort-1", path: "abort[1].name", msg: `"abort-1" is also used by abort[0].name`, goOnly: true},
		{name: "recovery without within", old: ", within: 10s}", new: "}", lineOf: "name: r1", path: "recovery[0].within", msg: "required"},
		{name: "recovery too late", old: "within: 10s", new: "within: 45s", lineOf: "within", path: "recovery[0].within", msg: "falls after the load ends", goOnly: true},
		{name: "recovery without faults", old: "faults:\n" + faultLine + "\n", new: "faults: []\n", lineOf: "name: r1", path: "recovery[0]", msg: "needs faults", goOnly: true},
		{name: "invariant typo", old: "[no_lost_orders]", new: "[no_lost_order]", lineOf: "invariants", path: "invariants[0]", msg: `did you mean "no_lost_orders"`},
		{name: "invariant twice", old: "[no_lost_orders]", new: "[no_lost_orders, no_lost_orders]", lineOf: "invariants", path: "invariants[1]", msg: "listed twice"},

		{name: "hpa unit", old: "  order: {", new: "  notification: {", lineOf: "notification", path: "hpa.notification", msg: `unknown Deployment "notification"`},
		{name: "hpa key typo", old: "reaches: 4", new: "reach: 4", lineOf: "reach", path: "hpa.order.reach", msg: `did you mean "reaches"`},
		{name: "hpa reaches without within", old: "reaches: 4, within: 60s", new: "reaches: 4", lineOf: "reaches", path: "hpa.order.within", msg: "required with reaches"},
		{name: "hpa settles without deadline", old: "reaches: 4, within: 60s", new: "settles_to: 2", lineOf: "settles_to", path: "hpa.order.settle_within", msg: "required with settles_to"},
		{name: "hpa contradiction", old: "within: 60s}", new: "within: 60s, never_above: 3}", lineOf: "never_above", path: "hpa.order.reaches", msg: "contradicts itself", goOnly: true},
		{name: "hpa empty", old: "{reaches: 4, within: 60s}", new: "{}", lineOf: "order: {}", path: "hpa.order", msg: "sets no expectation"},
		{name: "hpa zero", old: "reaches: 4", new: "reaches: 0", lineOf: "reaches", path: "hpa.order.reaches", msg: "must not be zero"},
		{name: "hpa traffic scale below 1", old: "hpa:\n", new: "hpa_traffic_scale: 0.5\nhpa:\n", lineOf: "hpa_traffic_scale", path: "hpa_traffic_scale", msg: "at least 1, not 0.5"},
		{name: "hpa traffic scale zero", old: "hpa:\n", new: "hpa_traffic_scale: 0\nhpa:\n", lineOf: "hpa_traffic_scale", path: "hpa_traffic_scale", msg: "at least 1, not 0"},
		{name: "hpa traffic scale not a number", old: "hpa:\n", new: "hpa_traffic_scale: x20\nhpa:\n", lineOf: "hpa_traffic_scale", path: "hpa_traffic_scale", msg: "must be a number"},
		{name: "hpa traffic scale without hpa", old: "hpa:\n  order: {reaches: 4, within: 60s}\n", new: "hpa_traffic_scale: 20\n", lineOf: "hpa_traffic_scale", path: "hpa_traffic_scale", msg: "needs an hpa: section"},
		{name: "hpa traffic scale with an empty hpa", old: "hpa:\n  order: {reaches: 4, within: 60s}\n", new: "hpa_traffic_scale: 20\nhpa: {}\n", lineOf: "hpa_traffic_scale", path: "hpa_traffic_scale", msg: "needs an hpa: section", goOnly: true},

		{name: "duplicate key", old: "version: 1\n", new: "version: 1\nversion:  1\n", lineOf: "version:  1", path: "version", msg: "set twice", goOnly: true},
		{name: "merge key", old: "hpa:\n  order: {reaches: 4, within: 60s}\n", new: "hpa:\n  order: &o {reaches: 4, within: 60s}\n  payment:\n    <<: *o\n    never_above: 8\n", lineOf: "<<", path: "hpa.payment", msg: "merge keys", goOnly: true},
		{name: "two documents", old: "version: 1\n", new: "version: 1\n---\nversion: 1\n", lineOf: "---", path: "", msg: "one YAML document", goOnly: true},
		{name: "YAML syntax", old: "  rate: 10\n", new: "  rate: [10\n", lineOf: "", path: "", msg: "invalid YAML", goOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(goodDoc, tt.old) {
				t.Fatalf("goodDoc holds no %q", tt.old)
			}
			doc := strings.Replace(goodDoc, tt.old, tt.new, 1)
			// yaml.v3 places syntax errors only roughly: any line will do.
			wantLine := lineOf(doc, tt.lineOf)
			if wantLine == 0 && tt.lineOf != "" {
				t.Fatalf("the bad document holds no %q", tt.lineOf)
			}
			_, err := Parse("bad.yaml", []byte(doc))
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse = %v, want an *Error\n%s", err, doc)
			}
			if errs.CodeOf(err) != errs.Invalid {
				t.Errorf("code %q, want invalid", errs.CodeOf(err))
			}
			found := false
			for _, p := range se.Problems {
				if (p.Line == wantLine || tt.lineOf == "" && p.Line > 0) && p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want bad.yaml:%d: %s: ...%s...; got\n%v", wantLine, tt.path, tt.msg, err)
			}

			// Both checkers, alone.
			root, prob := parseYAML([]byte(doc))
			if prob != nil {
				if !tt.goOnly {
					t.Errorf("YAML did not parse (%s): the schema cannot see this case; mark it goOnly", prob)
				}
				return
			}
			tree := newTree(root)
			if _, ps := decodeAndValidate(root, tree); len(ps) == 0 {
				t.Error("the Go rules accept it")
			}
			schema := schemaProblems(tree.value)
			switch {
			case tt.goOnly && len(schema) > 0:
				t.Errorf("marked goOnly, but the schema rejects it too: %v", schema)
			case !tt.goOnly && len(schema) == 0:
				t.Error("the schema accepts it")
			}
		})
	}
}

func lineOf(doc, s string) int {
	i := strings.Index(doc, s)
	if i < 0 {
		return 0
	}
	return strings.Count(doc[:i], "\n") + 1
}

// TestErrorFormat pins the shape of a problem as users see it.
func TestErrorFormat(t *testing.T) {
	data, err := os.ReadFile(scenarioDir + "/payment-latency.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(data), "type: latency", "type: latecny", 1)
	_, err = Parse("payment-latency.yaml", []byte(doc))
	want := `payment-latency.yaml:` + strconv.Itoa(lineOf(doc, "latecny")) + `: faults[0].type: unknown fault type "latecny" (did you mean "latency"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	if f := errs.FieldOf(err); f != "faults[0].type" {
		t.Errorf("errs.FieldOf = %q", f)
	}

	// Several problems: one a line, in file order.
	doc = strings.Replace(doc, "rate: 20", "rate: -1", 1)
	_, err = Parse("x.yaml", []byte(doc))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "x.yaml:"+strconv.Itoa(lineOf(doc, "rate: -1"))+": load.rate:") ||
		!strings.Contains(lines[1], "faults[0].type") {
		t.Errorf("got\n%v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("no/such/scenario.yaml")
	if !errs.Is(err, errs.NotFound) {
		t.Errorf("missing file: %v (code %s)", err, errs.CodeOf(err))
	}
	for _, doc := range []string{"", "# only a comment\n", "---\n"} {
		_, err := Parse("empty.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), "empty file") {
			t.Errorf("Parse(%q) = %v, want an empty-file problem", doc, err)
		}
	}
	_, err = Parse("list.yaml", []byte("- 1\n- 2\n"))
	if err == nil || !strings.Contains(err.Error(), "list.yaml:1: must be a mapping") {
		t.Errorf("a list: %v", err)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases are expanded") {
		t.Fatalf("Parse = %v", err)
	}
	// Aliases themselves are fine.
	doc := strings.Replace(goodDoc, "  - {name: p95, metric: latency_p95, max: 500ms, phases: [before, during, after]}",
		"  - &p {name: p95, metric: latency_p95, max: 500ms, phases: [before, during, after]}", 1)
	doc = strings.Replace(doc, "recovery:", "abort:\n  - *p\nrecovery:", 1)
	if _, err := Parse("alias.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), "abort[0].phases: unknown field") {
		t.Fatalf("an alias is decoded like its anchor: %v", err)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	s, err := Load(scenarioDir + "/payment-latency.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Faults[0].At = Duration(80e9)
	err = s.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "faults[0].duration: the fault ends at 1m50s") {
		t.Fatalf("Validate = %v", err)
	}

	// hpa_traffic_scale: 0 reads as unset; set, it needs an hpa section and
	// a factor of at least 1.
	h, err := Load(scenarioDir + "/hpa-steady.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		scale   float64
		withHPA bool
		want    string // a problem's prefix; "" means valid
	}{
		{0, true, ""}, {1, true, ""}, {25, true, ""}, {0, false, ""},
		{0.5, true, "hpa_traffic_scale: must be a factor of at least 1, not 0.5"},
		{math.Inf(1), true, "hpa_traffic_scale: must be a factor of at least 1"},
		{math.NaN(), true, "hpa_traffic_scale: must be a factor of at least 1"},
		{20, false, "hpa_traffic_scale: scales the load for the HPA twin only"},
	} {
		c := h.Scale(1)
		c.HPATrafficScale = tt.scale
		if !tt.withHPA {
			c.HPA = nil
		}
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("scale %v, hpa %v: Validate = %v, want nil", tt.scale, tt.withHPA, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("scale %v, hpa %v: Validate = %v, want %s...", tt.scale, tt.withHPA, err, tt.want)
		}
	}
}
