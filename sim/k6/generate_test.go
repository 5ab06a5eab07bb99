package k6

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden and the committed scripts in scenarios/k6")

const (
	scenarioDir = "../../scenarios"
	scriptDir   = "../../scenarios/k6"
	libDir      = "../../scenarios/k6/lib"
)

// MustParse parses an inline scenario, for tests that must not change
// when a shipped scenario is tuned.
func MustParse(tb testing.TB, yaml string) *spec.Scenario {
	tb.Helper()
	s, err := spec.Parse("inline.yaml", []byte(yaml))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustTestdata loads testdata/<name>.yaml.
func MustTestdata(tb testing.TB, name string) *spec.Scenario {
	tb.Helper()
	s, err := spec.Load(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// MustGenerate generates the script of s with opts.
func MustGenerate(tb testing.TB, s *spec.Scenario, opts Options) []byte {
	tb.Helper()
	b, err := Generate(s, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// shipped lists the shipped scenario files.
func shipped(tb testing.TB) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatalf("no scenario files in %s", scenarioDir)
	}
	return paths
}

func TestGoldenPaymentLatency(t *testing.T) {
	got := MustGenerate(t, MustTestdata(t, "payment-latency"), Options{})
	golden := filepath.Join("testdata", "payment-latency.js.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the script differs from %s (go test ./sim/k6 -run TestGolden -update rewrites it):\n%s", golden, lineDiff(string(want), string(got)))
	}
}

// TestCommittedScriptsAreUpToDate keeps scenarios/k6/*.js what `shoplab
// k6 --all` writes today, as CI checks generated protobuf code.
func TestCommittedScriptsAreUpToDate(t *testing.T) {
	want := map[string]bool{}
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		got := MustGenerate(t, s, Options{Source: filepath.Base(path)})
		script := filepath.Join(scriptDir, s.Name+".js")
		want[filepath.Base(script)] = true
		if *update {
			if err := os.WriteFile(script, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		committed, err := os.ReadFile(script)
		if err != nil {
			t.Errorf("%v: run `shoplab k6 --all` (or go generate ./sim/k6)", err)
			continue
		}
		if !bytes.Equal(committed, got) {
			t.Errorf("%s is stale: run `shoplab k6 --all` (or go generate ./sim/k6):\n%s", script, lineDiff(string(committed), string(got)))
		}
	}
	// A script whose scenario is gone would be run by someone one day.
	scripts, err := filepath.Glob(filepath.Join(scriptDir, "*.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range scripts {
		if !want[filepath.Base(p)] {
			t.Errorf("%s has no scenario in %s: delete it", p, scenarioDir)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	// Maps (journeys, attributes, thresholds) are where Go's random
	// iteration order would leak into the output.
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		first := MustGenerate(t, s, Options{})
		for range 5 {
			if again := MustGenerate(t, s, Options{}); !bytes.Equal(first, again) {
				t.Fatalf("%s: two generations differ:\n%s", s.Name, lineDiff(string(first), string(again)))
			}
		}
	}
}

func TestOptions(t *testing.T) {
	s := MustTestdata(t, "payment-latency")
	got := string(MustGenerate(t, s, Options{
		BaseURL: "http://gateway:8080/", ToxiproxyURL: "http://toxiproxy:8474", OpsURL: "https://ops.example:9090",
		Grace: 10 * time.Second, LibDir: "../k6/lib", Source: "x/payment-latency.yaml",
	}))
	for _, want := range []string{
		`const BASE_URL = trimSlash(__ENV.SHOPLAB_BASE_URL || 'http://gateway:8080');`,
		`const TOXIPROXY_URL = trimSlash(__ENV.SHOPLAB_TOXIPROXY_URL || 'http://toxiproxy:8474');`,
		`const OPS_URL = trimSlash(__ENV.SHOPLAB_OPS_URL || 'https://ops.example:9090');`,
		`import { prepare, iterate } from '../k6/lib/shop.js';`,
		`import { preflight, runTimeline, resetAll } from '../k6/lib/chaos.js';`,
		`{ phase: 'recovering', from: 60000, to: 70000 }`,
		`{ phase: 'after', from: 70000, to: 90000 }`,
		`"shoplab k6" from x/payment-latency.yaml; DO NOT EDIT.`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the script lacks %s", want)
		}
	}

	for _, bad := range []Options{
		{BaseURL: "localhost:8080"},
		{ToxiproxyURL: "ftp://toxiproxy"},
		{OpsURL: "http://ops?x=1"},
		{Grace: -time.Second},
	} {
		if _, err := Generate(s, bad); err == nil {
			t.Errorf("Generate(%+v) accepted bad options", bad)
		}
	}
	if _, err := Generate(&spec.Scenario{Name: "broken"}, Options{}); err == nil {
		t.Error("Generate accepted an invalid scenario")
	}
}

const noFaults = `
version: 1
name: no-faults
description: Steady traffic, nothing broken.
seed: 3
expect: pass
load: {executor: constant-arrival-rate, rate: 10, duration: 30s, journeys: {browse: 1, checkout: 1}}
steady_state:
  - {name: errors, metric: error_rate, max: 0.01}
  - {name: keeps-up, metric: throughput, min: 5}
abort:
  - {metric: error_rate, max: 0.5, for: 10s}
`

func TestScenarioWithoutFaultsHasNoChaos(t *testing.T) {
	got := string(MustGenerate(t, MustParse(t, noFaults), Options{}))
	for _, absent := range []string{"chaos.js", "FAULTS", "chaos:", "teardown", "k6/execution", "chaos_failures"} {
		if strings.Contains(got, absent) {
			t.Errorf("a script without faults mentions %q", absent)
		}
	}
}

func TestNegativeControlSaysSo(t *testing.T) {
	s := MustParse(t, strings.Replace(noFaults, "expect: pass", "expect: fail", 1))
	got := string(MustGenerate(t, s, Options{}))
	if !strings.Contains(got, "negative control") || !strings.Contains(got, "expect fail") {
		t.Error("the header of an expect: fail scenario does not say that its thresholds must fail")
	}
}

// TestScriptsParseAsModules runs node --check on the script of every
// shipped scenario, next to copies of the libraries, and on the libraries
// themselves. node only parses, it does not resolve k6's imports; a .mjs
// name makes it parse an ES module on every node release.
func TestScriptsParseAsModules(t *testing.T) {
	node := mustNode(t)
	dir := t.TempDir()
	mustCopyLib(t, dir)
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(dir, s.Name+".mjs")
		if err := os.WriteFile(script, MustGenerate(t, s, Options{}), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", script).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", s.Name, err, out)
		}
	}
	for _, lib := range []string{"chaos.js", "shop.js"} {
		mjs := filepath.Join(dir, strings.TrimSuffix(lib, ".js")+".mjs")
		mustCopyFile(t, filepath.Join(libDir, lib), mjs)
		if out, err := exec.Command(node, "--check", mjs).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", lib, err, out)
		}
	}
}

// mustNode returns node's path, or skips: the Go side is tested without
// it, CI has it.
func mustNode(tb testing.TB) string {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		tb.Skip("node is not on PATH: the generated JavaScript is not checked (install Node 20+ to run this test)")
	}
	return node
}

// mustCopyLib puts scenarios/k6/lib into dir/lib, with a package.json that
// makes node read its .js files as ES modules, as k6 does.
func mustCopyLib(tb testing.TB, dir string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, lib := range []string{"chaos.js", "shop.js"} {
		mustCopyFile(tb, filepath.Join(libDir, lib), filepath.Join(dir, "lib", lib))
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type": "module"}`+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func mustCopyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			shown++
			fmt.Fprintf(&b, "line %d:\n  want: %s\n  got:  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}
