package spec

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// TestSchemaNeverStricterThanGo mutates the shipped scenarios a field at a
// time (a value replaced by one of a pool of plausible and implausible
// values, a key dropped, a key added) and checks that whatever the Go rules
// accept, the JSON Schema accepts too. The reverse does not hold by design:
// the Go rules also check what a schema cannot (see goOnly in
// TestBadDocuments). It also counts how often the two agree on a verdict,
// so that a schema that accepts everything would not pass unnoticed.
func TestSchemaNeverStricterThanGo(t *testing.T) {
	var docs []any
	for _, path := range shippedFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		root, prob := parseYAML(data)
		if prob != nil {
			t.Fatal(prob)
		}
		docs = append(docs, newTree(root).value)
	}
	pool := mutationPool()
	keys := []string{"name", "at", "duration", "target", "type", "attributes", "toxicity", "direction", "metric", "journey",
		"endpoint", "min", "max", "phases", "for", "within", "rate", "start_rate", "stages", "reaches", "settles_to",
		"latency", "jitter", "code", "when", "status", "seed", "expect", "env", "timeout", "hpa", "hpa_traffic_scale", "bogus"}
	n := 1500
	if testing.Short() {
		n = 300
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var agree, goOnly int
	for i := range n {
		doc := deepCopy(docs[rng.IntN(len(docs))])
		for range 1 + rng.IntN(2) {
			mutate(rng, doc, pool, keys)
		}
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		root, prob := parseYAML(data)
		if prob != nil {
			t.Fatalf("mutation %d does not parse: %v", i, prob)
		}
		tree := newTree(root)
		_, gps := decodeAndValidate(root, tree)
		sps := schemaProblems(tree.value)
		switch {
		case len(gps) == 0 && len(sps) > 0:
			t.Errorf("the Go rules accept what the schema rejects (%v):\n%s", sps, data)
		case len(gps) > 0 && len(sps) == 0:
			goOnly++
		default:
			agree++
		}
	}
	t.Logf("%d mutations: %d same verdict, %d rejected by the Go rules only", n, agree, goOnly)
	if agree < n*3/4 {
		t.Errorf("the schema and the Go rules agree on only %d of %d mutations", agree, n)
	}
}

func mutationPool() []any {
	pool := []any{nil, true, "", "0s", "1s", "10s", "90s", "-1s", "1h", "500ms", "10", "x", "Bad Name",
		json.Number("0"), json.Number("1"), json.Number("-1"), json.Number("0.5"), json.Number("1.5"), json.Number("2"),
		json.Number("1000"), json.Number("503"), []any{}, map[string]any{}, []any{"before"}, []any{"continuous", "after"},
		map[string]any{"latency": "10ms"}, map[string]any{"code": "UNAVAILABLE"}, map[string]any{"target": json.Number("5"), "duration": "5s"}}
	for _, list := range [][]string{FaultTypes(), allTargets(), strs(Metrics), strs(Journeys), strs(ProbePhases),
		strs(Invariants), strs(Executors), directions, grpcCodes, {"pass", "fail", "before", "after", "all", "exec,query"}} {
		for _, s := range list {
			pool = append(pool, s)
		}
	}
	return pool
}

// mutate changes one thing somewhere in doc.
func mutate(rng *rand.Rand, doc any, pool []any, keys []string) {
	var objects []map[string]any
	var lists []([]any)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			objects = append(objects, x)
			for _, k := range sortedKeys(x) {
				walk(x[k])
			}
		case []any:
			lists = append(lists, x)
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	value := func() any { return deepCopy(pool[rng.IntN(len(pool))]) }
	switch op := rng.IntN(10); {
	case op < 6 && len(objects) > 0: // replace a value
		o := objects[rng.IntN(len(objects))]
		if ks := sortedKeys(o); len(ks) > 0 {
			o[ks[rng.IntN(len(ks))]] = value()
		}
	case op < 7 && len(lists) > 0: // replace a list item
		l := lists[rng.IntN(len(lists))]
		if len(l) > 0 {
			l[rng.IntN(len(l))] = value()
		}
	case op < 9 && len(objects) > 0: // drop a key
		o := objects[rng.IntN(len(objects))]
		if ks := sortedKeys(o); len(ks) > 0 {
			delete(o, ks[rng.IntN(len(ks))])
		}
	case len(objects) > 0: // add a key
		objects[rng.IntN(len(objects))][keys[rng.IntN(len(keys))]] = value()
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := slices.Clone(x)
		for i := range c {
			c[i] = deepCopy(c[i])
		}
		return c
	}
	return v
}
