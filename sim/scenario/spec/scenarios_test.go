package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/sim/reconcile"
)

var update = flag.Bool("update", false, "rewrite scenarios/schema.json from the embedded schema")

const scenarioDir = "../../../scenarios"

// The library the brief asks for; more files are welcome.
var requiredScenarios = []string{
	"demo", "baseline", "payment-latency", "payment-outage", "broker-outage", "product-restart",
	"order-storage-latency", "reset-peer-storm", "flash-sale", "slow-notification",
	"payment-grpc-unavailable", "slo-breach-expected", "hpa-steady", "hpa-flash-sale", "hpa-diurnal",
}

func shippedFiles(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) < len(requiredScenarios) {
		tb.Fatalf("found %d scenario files in %s, want at least %d", len(paths), scenarioDir, len(requiredScenarios))
	}
	return paths
}

func TestSchemaFileIsTheEmbeddedSchema(t *testing.T) {
	path := filepath.Join(scenarioDir, "schema.json")
	if *update {
		if err := os.WriteFile(path, schemaJSON, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, schemaJSON) {
		t.Fatalf("%s differs from sim/scenario/spec/schema.json: edit the latter, then run go test ./sim/scenario/spec -run TestSchemaFile -update", path)
	}
	if _, err := compiledSchema(); err != nil {
		t.Fatal(err)
	}
}

func TestRequiredScenariosExist(t *testing.T) {
	for _, name := range requiredScenarios {
		if _, err := os.Stat(filepath.Join(scenarioDir, name+".yaml")); err != nil {
			t.Errorf("scenario %s: %v", name, err)
		}
	}
}

// TestShippedScenarios checks every file of the library against the schema
// and the Go loader, and what each consumer relies on.
func TestShippedScenarios(t *testing.T) {
	endpoints := openAPIEndpoints(t)
	var fails, hpas int
	for _, path := range shippedFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			root, prob := parseYAML(data)
			if prob != nil {
				t.Fatal(prob)
			}
			tree := newTree(root)
			if ps := schemaProblems(tree.value); len(ps) > 0 {
				t.Errorf("schema rejects it: %v", ps)
			}
			if _, ps := decodeAndValidate(root, tree); len(ps) > 0 {
				t.Errorf("Go rules reject it: %v", ps)
			}
			s, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(filepath.Base(path), ".yaml"); s.Name != want {
				t.Errorf("name %q, want the file name %q", s.Name, want)
			}
			if !bytes.HasPrefix(data, []byte("# yaml-language-server: $schema=./schema.json\n")) {
				t.Error("first line should point editors at ./schema.json")
			}
			if len(s.Description) < 60 {
				t.Errorf("description %q says too little", s.Description)
			}
			total := s.TotalDuration()
			if s.Name == "demo" {
				// Long enough to show a fault and its recovery, short
				// enough that the whole demo ends well inside two minutes.
				if total < 30*time.Second || total > 60*time.Second {
					t.Errorf("demo load runs %v, want 30s..60s", total)
				}
			} else if total < 45*time.Second || total > 120*time.Second {
				t.Errorf("load runs %v, want 45s..120s (--short scales it down)", total)
			}
			if s.Expect == Fail {
				fails++
			}
			if len(s.HPA) > 0 {
				hpas++
			}
			if len(s.Invariants) == 0 {
				t.Error("checks no invariant")
			}
			for i := range s.Faults {
				for _, cf := range s.Faults[i].Chaos() {
					if err := cf.Validate(); err != nil {
						t.Errorf("faults[%d] as chaos fault %s: %v", i, cf.Name, err)
					}
				}
			}
			for _, th := range thresholds(s) {
				if th.Endpoint != "" && !endpoints[th.Endpoint] {
					t.Errorf("endpoint %q is not a route of the gateway's OpenAPI", th.Endpoint)
				}
			}
			for _, unit := range s.HPAUnits() {
				hpa := filepath.Join("../../../argocd/base", unit, "horizontalpodautoscaler.yaml")
				if _, err := os.Stat(hpa); err != nil {
					t.Errorf("hpa.%s: the Deployment has no HPA manifest (%v)", unit, err)
				}
			}
			checkRoundTrips(t, s)
			for _, f := range []float64{0.1, 0.25, 0.5} {
				checkScaled(t, s, f)
			}
		})
	}
	if fails == 0 {
		t.Error("no scenario expects fail: the library needs a negative control")
	}
	if hpas < 3 {
		t.Errorf("%d scenarios have hpa expectations, want at least 3", hpas)
	}
}

func thresholds(s *Scenario) []*Threshold {
	var out []*Threshold
	for i := range s.SteadyState {
		out = append(out, &s.SteadyState[i].Threshold)
	}
	for i := range s.Abort {
		out = append(out, &s.Abort[i].Threshold)
	}
	for i := range s.Recovery {
		out = append(out, &s.Recovery[i].Threshold)
	}
	return out
}

// checkRoundTrips writes s as YAML and as JSON, and reads both back: the
// types must hold everything a file can say, and the JSON a run journal
// stores must satisfy the schema too.
func checkRoundTrips(t *testing.T, s *Scenario) {
	t.Helper()
	y, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("roundtrip.yaml", y)
	if err != nil {
		t.Fatalf("YAML round trip: %v\n%s", err, y)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("YAML round trip changed the scenario:\n%s", y)
	}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if ps := schemaProblems(doc); len(ps) > 0 {
		t.Errorf("JSON form breaks the schema: %v\n%s", ps, j)
	}
	back, err = Parse("roundtrip.json", j)
	if err != nil {
		t.Fatalf("JSON round trip: %v\n%s", err, j)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("JSON round trip changed the scenario:\n%s", j)
	}
}

func checkScaled(t *testing.T, s *Scenario, f float64) {
	t.Helper()
	c := s.Scale(f)
	if err := c.Validate(); err != nil {
		t.Errorf("Scale(%v) is invalid: %v", f, err)
	}
	if c.Original() != s {
		t.Errorf("Scale(%v).Original() is not the scenario", f)
	}
	if got := c.ScaleFactor(); got < f || got > 1 {
		t.Errorf("Scale(%v).ScaleFactor() = %v", f, got)
	}
	if !reflect.DeepEqual(c.HPA, s.HPA) || !reflect.DeepEqual(c.Env, s.Env) || c.HPATrafficScale != s.HPATrafficScale {
		t.Errorf("Scale(%v) changed hpa, hpa_traffic_scale or env", f)
	}
	for _, ph := range []Phase{PhaseBefore, PhaseDuring, PhaseAfter} {
		if (s.phaseNeverOccurs(ph, s.TotalDuration()) == "") != (c.phaseNeverOccurs(ph, c.TotalDuration()) == "") {
			t.Errorf("Scale(%v): phase %s appeared or vanished", f, ph)
		}
	}
	for i := range c.Faults {
		if o := s.Faults[i].Duration.Std(); o >= ScaleFloor && c.Faults[i].Duration.Std() < ScaleFloor {
			t.Errorf("Scale(%v): faults[%d] lasts %v, under the floor", f, i, c.Faults[i].Duration)
		}
	}
}

// openAPIEndpoints lists "METHOD /path" of every operation the gateway
// documents.
func openAPIEndpoints(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			out[strings.ToUpper(m)+" "+p] = true
		}
	}
	return out
}

// TestTablesMatchTheirOwners keeps the Go tables in line with the packages
// that own the names.
func TestTablesMatchTheirOwners(t *testing.T) {
	var invs []string
	for _, i := range Invariants {
		invs = append(invs, string(i))
	}
	if !slices.Equal(invs, reconcile.All) {
		t.Errorf("Invariants = %v, reconcile checks %v", invs, reconcile.All)
	}
	if !sameSet(Units, chaos.Units) {
		t.Errorf("Units = %v, chaos knows %v", Units, chaos.Units)
	}
	for _, d := range Deployments {
		if !slices.Contains(Units, d) {
			t.Errorf("Deployment %s is not a unit", d)
		}
	}
	for _, code := range grpcCodes {
		f := chaos.Fault{Target: "order->payment", Type: chaos.GRPCError, Attributes: map[string]any{"code": code}}
		if err := f.Validate(); err != nil {
			t.Errorf("gRPC code %s: %v", code, err)
		}
	}
}

// TestSchemaMatchesGoTables compares every enumeration and every fault
// type's attributes and targets in schema.json with the Go side (whose
// attribute table is chaos's registry).
func TestSchemaMatchesGoTables(t *testing.T) {
	enums := []struct {
		pointer string
		want    []string
	}{
		{"/$defs/fault/properties/type/enum", FaultTypes()},
		{"/$defs/fault/properties/target/enum", allTargets()},
		{"/$defs/fault/properties/direction/enum", directions},
		{"/$defs/thresholdRules/allOf/0/if/properties/metric/enum", strs([]Metric{LatencyP50, LatencyP95, LatencyP99})},
		{"/$defs/probe/properties/metric/enum", strs(Metrics)},
		{"/$defs/probe/properties/journey/enum", strs(Journeys)},
		{"/$defs/probe/properties/phases/items/enum", strs(ProbePhases)},
		{"/$defs/load/properties/executor/enum", strs(Executors)},
		{"/properties/invariants/items/enum", strs(Invariants)},
		{"/properties/expect/enum", []string{string(Pass), string(Fail)}},
	}
	for _, e := range enums {
		got, err := schemaEnum(e.pointer)
		if err != nil {
			t.Error(err)
			continue
		}
		if !sameSet(got, e.want) {
			t.Errorf("schema %s = %v, Go has %v", e.pointer, got, e.want)
		}
	}
	doc := schemaDoc(t)
	defs := doc["$defs"].(map[string]any)
	if got := keys(defs["load"].(map[string]any)["properties"].(map[string]any)["journeys"].(map[string]any)["properties"]); !sameSet(got, strs(Journeys)) {
		t.Errorf("schema load.journeys = %v, Go has %v", got, Journeys)
	}
	if got := keys(doc["properties"].(map[string]any)["hpa"].(map[string]any)["properties"]); !sameSet(got, Deployments) {
		t.Errorf("schema hpa units = %v, Go has %v", got, Deployments)
	}
	// Per fault type: the attributes (names, required) and the targets,
	// read from the fault's if/then rules.
	attrs, targets := map[string]map[string]any{}, map[string][]string{}
	for _, r := range defs["fault"].(map[string]any)["allOf"].([]any) {
		rule := r.(map[string]any)
		types := ruleTypes(rule["if"].(map[string]any))
		props, _ := rule["then"].(map[string]any)["properties"].(map[string]any)
		for _, ft := range types {
			if a, ok := props["attributes"].(map[string]any); ok {
				attrs[ft] = a
			}
			if tg, ok := props["target"].(map[string]any); ok {
				if _, dup := targets[ft]; dup {
					t.Errorf("schema: two target rules for %s", ft)
				}
				for _, v := range tg["enum"].([]any) {
					targets[ft] = append(targets[ft], v.(string))
				}
			}
		}
	}
	for _, info := range chaos.Types() {
		a, ok := attrs[info.Name]
		if !ok {
			t.Errorf("schema: no attributes rule for fault type %s", info.Name)
			continue
		}
		var names, required []string
		for _, ai := range info.Attributes {
			names = append(names, ai.Name)
			if ai.Required {
				required = append(required, ai.Name)
			}
		}
		if got := keys(a["properties"]); !sameSet(got, names) {
			t.Errorf("schema: %s attributes %v, chaos has %v", info.Name, got, names)
		}
		var gotReq []string
		if r, ok := a["required"].([]any); ok {
			for _, v := range r {
				gotReq = append(gotReq, v.(string))
			}
		}
		if !sameSet(gotReq, required) {
			t.Errorf("schema: %s requires %v, chaos requires %v", info.Name, gotReq, required)
		}
		if a["additionalProperties"] != false {
			t.Errorf("schema: %s attributes allow unknown names", info.Name)
		}
		if !sameSet(targets[info.Name], FaultTargets(info.Name)) {
			t.Errorf("schema: %s targets %v, Go has %v", info.Name, targets[info.Name], FaultTargets(info.Name))
		}
	}
}

func ruleTypes(cond map[string]any) []string {
	tp := cond["properties"].(map[string]any)["type"].(map[string]any)
	if c, ok := tp["const"].(string); ok {
		return []string{c}
	}
	var out []string
	for _, v := range tp["enum"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(schemaJSON, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func keys(m any) []string {
	var out []string
	for k := range m.(map[string]any) {
		out = append(out, k)
	}
	return out
}

func strs[S ~string](list []S) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = string(s)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
