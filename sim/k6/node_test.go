package k6

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/sim/load"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

// These tests run the generated scripts, not only parse them: node
// executes a script and its libraries with stubs of k6's modules
// (testdata/node) against fakes of the gateway, toxiproxy and the ops
// API, on a fake clock. They check what k6 itself cannot be asked here:
// the requests the journeys make and how they are tagged, the journey
// mix, the fault timeline's calls and their times, and the clean-up.

type harnessOutput struct {
	Options struct {
		Scenarios  map[string]map[string]any `json:"scenarios"`
		Thresholds map[string][]any          `json:"thresholds"`
	} `json:"options"`
	Errors   map[string]string `json:"errors"`
	Start    int64             `json:"start"`
	Requests []harnessRequest  `json:"requests"`
	Samples  []struct {
		Metric string            `json:"metric"`
		Value  float64           `json:"value"`
		Tags   map[string]string `json:"tags"`
	} `json:"samples"`
	Checks []struct {
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	} `json:"checks"`
	Logs []struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	} `json:"logs"`
	Proxies map[string]struct {
		Enabled bool           `json:"enabled"`
		Toxics  map[string]any `json:"toxics"`
	} `json:"proxies"`
	OpsFaults []any `json:"opsFaults"`
}

type harnessRequest struct {
	T         int64             `json:"t"`
	Scenario  string            `json:"scenario"`
	Iteration *int              `json:"iteration"`
	Method    string            `json:"method"`
	Origin    string            `json:"origin"`
	Path      string            `json:"path"`
	Query     map[string]string `json:"query"`
	Body      any               `json:"body"`
	Headers   map[string]string `json:"headers"`
	Tags      map[string]string `json:"tags"`
	Timeout   string            `json:"timeout"`
	Expected  []any             `json:"expected"`
	Status    int               `json:"status"`
}

// at is the request's time from the start of the load.
func (r harnessRequest) at(out *harnessOutput) time.Duration {
	return time.Duration(r.T-out.Start) * time.Millisecond
}

// mustRunScript generates s's script and runs it under node; knobs are
// world.mjs's (proxies, failToxics, expireSetupTokens, ...).
func mustRunScript(tb testing.TB, s *spec.Scenario, iterations int, knobs map[string]any) (*harnessOutput, []byte) {
	tb.Helper()
	node := mustNode(tb)
	dir := tb.TempDir()
	mustCopyLib(tb, dir)
	script := filepath.Join(dir, s.Name+".js")
	if err := os.WriteFile(script, MustGenerate(tb, s, Options{}), 0o644); err != nil {
		tb.Fatal(err)
	}
	all := map[string]any{"iterations": iterations, "totalMs": s.TotalDuration().Milliseconds(), "proxies": spec.Edges}
	for k, v := range knobs {
		all[k] = v
	}
	arg, err := json.Marshal(all)
	if err != nil {
		tb.Fatal(err)
	}
	runner, err := filepath.Abs(filepath.Join("testdata", "node", "run.mjs"))
	if err != nil {
		tb.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(node, runner, script, string(arg))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if strings.Contains(stderr.String(), "register") && strings.Contains(stderr.String(), "not a function") {
			tb.Skipf("this node has no module.register (Node 20.6+ needed): %s", stderr.String())
		}
		tb.Fatalf("node %s: %v\n%s", s.Name, err, stderr.String())
	}
	var out harnessOutput
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		tb.Fatalf("%s: the harness printed no JSON: %v\n%s", s.Name, err, stderr.String())
	}
	return &out, stdout.Bytes()
}

func TestScriptsRunAgainstFakes(t *testing.T) {
	mustNode(t)
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			out, _ := mustRunScript(t, s, 400, nil)
			if len(out.Errors) > 0 {
				t.Fatalf("the script threw: %v", out.Errors)
			}
			checkOptions(t, s, out)
			checkSetup(t, s, out)
			checkLoad(t, s, out)
			checkChaos(t, s, out)
			for _, l := range out.Logs {
				if l.Level == "error" {
					t.Errorf("logged an error: %s", l.Msg)
				}
			}
		})
	}
}

func checkOptions(t *testing.T, s *spec.Scenario, out *harnessOutput) {
	t.Helper()
	load := out.Options.Scenarios[loadScenario]
	if load["executor"] != string(s.Load.Executor) || load["exec"] != loadScenario || load["maxVUs"] != float64(s.Load.MaxInFlight) {
		t.Errorf("options.scenarios.load = %v", load)
	}
	chaos, hasChaos := out.Options.Scenarios[chaosScenario]
	if hasChaos != (len(s.Faults) > 0) {
		t.Errorf("a chaos scenario: %v, with %d faults", hasChaos, len(s.Faults))
	}
	if hasChaos {
		maxDur, err := time.ParseDuration(fmt.Sprint(chaos["maxDuration"]))
		if err != nil || chaos["executor"] != "shared-iterations" || chaos["vus"] != 1.0 || chaos["iterations"] != 1.0 || maxDur != s.TotalDuration()+30*time.Second {
			t.Errorf("options.scenarios.chaos = %v", chaos)
		}
	}
	if len(out.Options.Thresholds) == 0 {
		t.Error("no thresholds")
	}
	for key, list := range out.Options.Thresholds {
		for _, e := range list {
			expr, ok := e.(string)
			if m, isObj := e.(map[string]any); isObj {
				expr, ok = m["threshold"].(string)
				if m["abortOnFail"] != true {
					t.Errorf("%s: %v is an object but no abort rule", key, m)
				}
			}
			if !ok {
				t.Errorf("%s: %v is not a threshold", key, e)
				continue
			}
			if err := k6Threshold(key, expr); err != nil {
				t.Error(err)
			}
		}
	}
}

func checkSetup(t *testing.T, s *spec.Scenario, out *harnessOutput) {
	t.Helper()
	counts := map[string]int{}
	for _, r := range out.Requests {
		if r.Scenario == "setup" && r.Origin == "http://localhost:8080" {
			counts[r.Tags["name"]]++
			if r.Tags[tagJourney] != "" || r.Tags[tagPhase] != "" || r.Tags[tagEndpoint] != "" {
				t.Errorf("a setup request carries load tags: %v", r.Tags)
			}
		}
	}
	if counts[load.EndpointRegister] != s.Load.Customers || counts[load.EndpointLogin] != s.Load.Customers || counts[load.EndpointListProducts] == 0 {
		t.Errorf("setup made %v, want %d registrations and log-ins and a catalog", counts, s.Load.Customers)
	}
}

func checkLoad(t *testing.T, s *spec.Scenario, out *harnessOutput) {
	t.Helper()
	endpoints := []string{load.EndpointListProducts, load.EndpointSearchProducts, load.EndpointGetProduct, load.EndpointCreateOrder}
	last, _ := s.LastFaultEnd()
	recTags := recoveryTags(s.Recovery)
	journeyOf := map[int]string{}
	keys := map[string]bool{}
	var loadReqs int
	for _, r := range out.Requests {
		if r.Scenario != loadScenario {
			continue
		}
		loadReqs++
		at := r.at(out)
		tags := r.Tags
		if !slices.Contains(endpoints, tags[tagEndpoint]) || tags["name"] != tags[tagEndpoint] || r.Timeout != requestTimeout.String() {
			t.Errorf("request %s %s: tags %v, timeout %q", r.Method, r.Path, tags, r.Timeout)
		}
		if want := string(s.PhaseAt(at, s.AfterGrace())); tags[tagPhase] != want {
			t.Errorf("a request at %v is tagged phase %q, want %q", at, tags[tagPhase], want)
		}
		for _, rp := range s.Recovery {
			due := at >= last+rp.Within.Std()
			if got := tags[recTags[rp.Name]] == recoveryDue; got != due {
				t.Errorf("a request at %v: %s due = %v, want %v", at, recTags[rp.Name], got, due)
			}
		}
		j := journeyOf[*r.Iteration]
		if j == "" {
			journeyOf[*r.Iteration] = tags[tagJourney]
		} else if j != tags[tagJourney] {
			t.Errorf("iteration %d tags %s and %s", *r.Iteration, j, tags[tagJourney])
		}
		if r.Path == "/api/v1/orders" {
			key := r.Headers["Idempotency-Key"]
			if keys[key] {
				t.Errorf("Idempotency-Key %s sent twice", key)
			}
			keys[key] = true
			want := 201
			if tags[tagJourney] == string(spec.DeclinedCheckout) {
				want = 402
			}
			if r.Status != want {
				t.Errorf("%s order answered %d, want %d", tags[tagJourney], r.Status, want)
			}
		}
	}

	// Every request is one sample of errors with its tags, and a healthy
	// platform (402 for the declined card included) gives no error.
	var errSamples int
	for _, smp := range out.Samples {
		if smp.Metric != metricErrors {
			continue
		}
		errSamples++
		if smp.Value != 0 {
			t.Errorf("an error on a healthy platform: %v", smp.Tags)
		}
		if smp.Tags[tagJourney] == "" || smp.Tags[tagPhase] == "" || smp.Tags[tagScenario] != loadScenario {
			t.Errorf("an errors sample without the request's tags: %v", smp.Tags)
		}
	}
	if errSamples != loadReqs || loadReqs == 0 {
		t.Errorf("%d errors samples for %d requests of the load", errSamples, loadReqs)
	}

	// The mix: each journey's share within four standard deviations.
	iterations := len(journeyOf)
	if iterations != 400 {
		t.Errorf("%d iterations made requests, want 400", iterations)
	}
	count := map[string]int{}
	for _, j := range journeyOf {
		count[j]++
	}
	for _, jw := range s.Load.JourneyMix() {
		want := float64(iterations) * jw.Share
		slack := 4*math.Sqrt(want*(1-jw.Share)) + 1
		if got := float64(count[string(jw.Journey)]); math.Abs(got-want) > slack {
			t.Errorf("journey %s ran %v times in %d, want %.0f +/- %.0f", jw.Journey, got, iterations, want, slack)
		}
	}
	for j := range count {
		if s.Load.Journeys[spec.Journey(j)] <= 0 {
			t.Errorf("journey %s ran but is not in the mix", j)
		}
	}
	for _, c := range out.Checks {
		if !c.OK {
			t.Errorf("check %q failed", c.Name)
		}
	}
}

// call is one request the chaos scenario is expected to make.
type call struct {
	at     time.Duration
	method string
	path   string
	body   any
}

// expectedCalls is the fault timeline as requests, in the order
// lib/chaos.js must make them.
func expectedCalls(t *testing.T, s *spec.Scenario) []call {
	plans, err := planFaults(s)
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		at    time.Duration
		apply bool
		order int
	}
	var steps []step
	for i, p := range plans {
		steps = append(steps, step{p.At, true, i})
		if p.End > p.At {
			steps = append(steps, step{p.End, false, i})
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int {
		switch {
		case a.at != b.at:
			return int(a.at - b.at)
		case a.apply != b.apply:
			if a.apply {
				return 1
			}
			return -1
		}
		return a.order - b.order
	})
	var calls []call
	for _, st := range steps {
		p := plans[st.order]
		js := goValue(p.js()).(map[string]any)
		switch p.Kind {
		case kindToxic:
			for i, tx := range p.Toxics {
				toxic := js["toxics"].([]any)[i].(map[string]any)["toxic"]
				if st.apply {
					calls = append(calls, call{st.at, "POST", "/proxies/" + tx.Proxy + "/toxics", toxic})
				} else {
					calls = append(calls, call{st.at, "DELETE", "/proxies/" + tx.Proxy + "/toxics/" + tx.Name, nil})
				}
			}
		case kindDown:
			for _, proxy := range p.Proxies {
				calls = append(calls, call{st.at, "POST", "/proxies/" + proxy, map[string]any{"enabled": !st.apply}})
			}
		case kindOps:
			for i := range p.Ops {
				if st.apply {
					calls = append(calls, call{st.at, "POST", "/ops/v1/chaos/faults", js["faults"].([]any)[i]})
				} else {
					calls = append(calls, call{st.at, "DELETE", "/ops/v1/chaos/faults/{id}", nil})
				}
			}
		}
	}
	return calls
}

func checkChaos(t *testing.T, s *spec.Scenario, out *harnessOutput) {
	t.Helper()
	var got []harnessRequest
	for _, r := range out.Requests {
		if r.Scenario == chaosScenario {
			got = append(got, r)
		}
	}
	want := expectedCalls(t, s)
	if len(got) != len(want) {
		t.Fatalf("the chaos scenario made %d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		path, err := url.PathUnescape(g.Path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(w.path, "/ops/v1/chaos/faults/") {
			path = "/ops/v1/chaos/faults/{id}"
		}
		// Each step runs on time: it sleeps until its time, then the
		// requests before it in the same step take a few fake ms.
		if at := g.at(out); g.Method != w.method || path != w.path || at < w.at || at > w.at+100*time.Millisecond {
			t.Errorf("chaos call %d: %s %s at %v, want %s %s at %v", i, g.Method, path, at, w.method, w.path, w.at)
		}
		if w.body != nil && !reflect.DeepEqual(g.Body, jsonValue(t, w.body)) {
			t.Errorf("chaos call %d %s %s: body %v, want %v", i, g.Method, g.Path, g.Body, w.body)
		}
		if g.Status >= 300 {
			t.Errorf("chaos call %d %s %s answered %d", i, g.Method, g.Path, g.Status)
		}
	}
	for _, smp := range out.Samples {
		if smp.Metric == metricChaos {
			t.Errorf("a chaos failure was counted: %v", smp.Tags)
		}
	}
	// Whatever the timeline did is undone.
	for name, p := range out.Proxies {
		if !p.Enabled || len(p.Toxics) > 0 {
			t.Errorf("proxy %s left with enabled=%v, toxics %v", name, p.Enabled, p.Toxics)
		}
	}
	if len(out.OpsFaults) > 0 {
		t.Errorf("ops faults left active: %v", out.OpsFaults)
	}
}

func TestExpiredTokenIsRetriedWithTheSameKey(t *testing.T) {
	out, _ := mustRunScript(t, MustTestdata(t, "payment-latency"), 200, map[string]any{"expireSetupTokens": true})
	if len(out.Errors) > 0 {
		t.Fatal(out.Errors)
	}
	var orders []harnessRequest
	for _, r := range out.Requests {
		if r.Scenario == loadScenario && (r.Path == "/api/v1/orders" || r.Path == "/api/v1/auth/login") {
			orders = append(orders, r)
		}
	}
	retried := 0
	for i := 0; i+2 < len(orders); i++ {
		if orders[i].Status != 401 {
			continue
		}
		login, again := orders[i+1], orders[i+2]
		if login.Path != "/api/v1/auth/login" || again.Path != "/api/v1/orders" ||
			again.Headers["Idempotency-Key"] != orders[i].Headers["Idempotency-Key"] || again.Status == 401 {
			t.Fatalf("after a 401: %s %d, then %s %d with key %s (first %s)", login.Path, login.Status, again.Path, again.Status,
				again.Headers["Idempotency-Key"], orders[i].Headers["Idempotency-Key"])
		}
		retried++
	}
	if retried == 0 {
		t.Fatal("no order was answered 401: the knob did not work")
	}
	for _, smp := range out.Samples {
		if smp.Metric == metricErrors && smp.Value != 0 {
			t.Errorf("the 401 before a re-login counted as an error: %v", smp.Tags)
		}
	}
}

func TestChaosFailuresAreCounted(t *testing.T) {
	out, _ := mustRunScript(t, MustTestdata(t, "payment-latency"), 20, map[string]any{"failToxics": true})
	if len(out.Errors) > 0 {
		t.Fatal(out.Errors)
	}
	var failures float64
	for _, smp := range out.Samples {
		if smp.Metric == metricChaos {
			failures += smp.Value
			if smp.Tags["fault"] != "slow-payments" || smp.Tags["action"] != "apply" {
				t.Errorf("chaos_failures sample tagged %v", smp.Tags)
			}
		}
	}
	if failures != 1 {
		t.Errorf("chaos_failures counted %v, want the one failed application", failures)
	}
	if !slices.ContainsFunc(out.Logs, func(l struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}) bool {
		return l.Level == "error" && strings.Contains(l.Msg, "apply slow-payments")
	}) {
		t.Errorf("the failure was not logged: %v", out.Logs)
	}
}

func TestPreflightStopsWhenAProxyIsMissing(t *testing.T) {
	out, _ := mustRunScript(t, MustTestdata(t, "payment-latency"), 20, map[string]any{"proxies": []string{"gateway->order"}})
	if !strings.Contains(out.Errors["setup"], "no proxy named order->payment") {
		t.Errorf("setup error = %q, want it to name the missing proxy", out.Errors["setup"])
	}
	for _, r := range out.Requests {
		if r.Scenario == loadScenario || r.Scenario == chaosScenario {
			t.Fatalf("the test went on after setup failed: %s %s", r.Method, r.Path)
		}
	}
}

// TestRunsAreReproducible runs a script twice: the same seed must make the
// same journeys, choices and keys, request for request.
func TestRunsAreReproducible(t *testing.T) {
	s := MustTestdata(t, "payment-latency")
	_, first := mustRunScript(t, s, 150, nil)
	_, second := mustRunScript(t, s, 150, nil)
	if !bytes.Equal(first, second) {
		t.Error("two runs of one script made different requests")
	}
	other := MustTestdata(t, "payment-latency")
	other.Seed++
	third, _ := mustRunScript(t, other, 150, nil)
	firstOut := &harnessOutput{}
	if err := json.Unmarshal(first, firstOut); err != nil {
		t.Fatal(err)
	}
	if journeys(firstOut) == journeys(third) {
		t.Error("another seed drew the same journeys")
	}
}

func journeys(out *harnessOutput) string {
	var b strings.Builder
	seen := map[int]bool{}
	for _, r := range out.Requests {
		if r.Scenario == loadScenario && !seen[*r.Iteration] {
			seen[*r.Iteration] = true
			b.WriteString(r.Tags[tagJourney] + " ")
		}
	}
	return b.String()
}

// TestLibraryMirrorsSimLoad keeps the names shop.js shares with sim/load in
// step with the Go constants.
func TestLibraryMirrorsSimLoad(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(libDir, "shop.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		load.EndpointRegister, load.EndpointLogin, load.EndpointListProducts, load.EndpointSearchProducts,
		load.EndpointGetProduct, load.EndpointCreateOrder,
		load.JourneyBrowse + ": browse", load.JourneySearch + ": search", load.JourneyCheckout + ": checkout(",
		load.JourneyDeclinedCheckout + ": checkout(",
	} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("shop.js does not mention %q", want)
		}
	}
	if requestTimeout != load.DefaultRequestTimeout {
		t.Errorf("requestTimeout %v, sim/load's %v", requestTimeout, load.DefaultRequestTimeout)
	}
}

// jsonValue is v as encoding/json decodes it: what a script sends after
// JSON.stringify, compared with what Go expects.
func jsonValue(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestToxiproxyCallsWorkOnTheEngine replays every toxiproxy request a
// script made against the fakes (setup's clean-up, the timeline,
// teardown) on the chaos engine's toxiproxy API, which runs toxiproxy's
// own handlers: paths, escaping and bodies must be what toxiproxy takes,
// and it must answer as the fake did.
func TestToxiproxyCallsWorkOnTheEngine(t *testing.T) {
	mustNode(t)
	replayed := 0
	for _, path := range shipped(t) {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(s.Faults, func(f spec.Fault) bool { return faultKinds[f.Type] != kindOps }) {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			out, _ := mustRunScript(t, s, 10, nil)
			api := mustEngineAPI(t)
			for _, r := range out.Requests {
				if r.Origin != "http://localhost:8474" {
					continue
				}
				var body io.Reader
				if r.Body != nil {
					b, err := json.Marshal(r.Body)
					if err != nil {
						t.Fatal(err)
					}
					body = bytes.NewReader(b)
				}
				req, err := http.NewRequest(r.Method, api+r.Path, body)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != r.Status {
					t.Errorf("%s %s: toxiproxy answered %d (%s), the fake %d", r.Method, r.Path, resp.StatusCode, bytes.TrimSpace(msg), r.Status)
				}
				replayed++
			}
		})
	}
	if replayed == 0 {
		t.Fatal("no shipped scenario has a network fault: nothing was replayed")
	}
}

// mustEngineAPI runs a chaos engine with a proxy for every edge and
// returns its toxiproxy API's URL.
func mustEngineAPI(tb testing.TB) string {
	tb.Helper()
	e, err := chaos.New(chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("engine: %v", err)
		}
		_ = e.Close()
	})
	for _, edge := range spec.Edges {
		from, to, _ := strings.Cut(edge, "->")
		if _, err := e.Edge(from, to, "127.0.0.1:1"); err != nil {
			tb.Fatal(err)
		}
	}
	return "http://" + e.APIAddr()
}
