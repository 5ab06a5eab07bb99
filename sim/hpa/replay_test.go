package hpa

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/platform/errs"
)

var update = flag.Bool("update", false, "rewrite the replay golden files")

// TestReplayGolden replays every testdata/*.input.{json,yaml} and compares
// the output with its .golden.json. Run with -update to rewrite them, then
// check the diff by hand (TestReplayLegacySpike shows how).
func TestReplayGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.input.*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no replay fixtures in testdata")
	}
	for _, in := range inputs {
		name := strings.Split(filepath.Base(in), ".input.")[0]
		t.Run(name, func(t *testing.T) {
			res, err := ReplayFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := res.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestReplayGolden -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("replay of %s differs from %s:\n%s", in, golden, lineDiff(string(want), got.String()))
			}
		})
	}
}

// lineDiff lists the lines that differ, for a readable golden failure.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}

// wantStep is a hand-worked expectation for one sync of a replay.
type wantStep struct {
	t                     int64
	before, ready         int32
	desired, after        int32
	reason, stabilization string
	cpu                   int32 // utilization["cpu"] when not 0
}

func checkReplay(t *testing.T, file string, steps []wantStep) {
	t.Helper()
	res, err := ReplayFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	byT := map[int64]ReplayStep{}
	for _, s := range res.Steps {
		byT[s.T] = s
	}
	for _, w := range steps {
		s, ok := byT[w.t]
		if !ok {
			t.Fatalf("no step at t=%d", w.t)
		}
		if s.ReplicasBefore != w.before || int32(s.Ready) != w.ready || (w.cpu != 0 && s.Utilization["cpu"] != w.cpu) ||
			s.Desired == nil || *s.Desired != w.desired || s.Replicas != w.after || s.Reason != w.reason || s.Stabilization != w.stabilization {
			t.Errorf("t=%d: got %+v (desired %v), want %+v", w.t, s, deref(s.Desired), w)
		}
	}
}

// TestReplayLegacySpike checks testdata/legacy-spike by hand. Requests are
// 500m and the target 50%, so utilization = 100 x cpu / (500 x counted pods).
func TestReplayLegacySpike(t *testing.T) {
	checkReplay(t, "legacy-spike.input.json", []wantStep{
		// 2 pods share 1500m: 750m = 150% -> ratio 3 -> desired 6; the
		// legacy limit max(2 x 2, 4) = 4.
		{t: 0, before: 2, ready: 2, cpu: 150, desired: 6, after: 4, reason: "ScaleUpLimit"},
		// The 2 new pods (ready at 20 s) are Pending: unready, counted as 0
		// on the way up: 1500/(4 x 500) = 75% -> 1.5 -> ceil(1.5 x 4) = 6.
		{t: 15, before: 4, ready: 2, cpu: 150, desired: 6, after: 6, reason: "DesiredWithinRange"},
		// 4 ready share 1500m (375m each). 2 have metrics (75% -> ratio 1.5),
		// the 2 of t=0 are ready but their metric comes at 35 s (missing, 0),
		// the 2 of t=15 are Pending (unready, 0): 750/3000 = 25% -> 0.5 flips
		// the direction, so the scale stays 6.
		{t: 30, before: 6, ready: 4, cpu: 75, desired: 6, after: 6, reason: "DesiredWithinRange"},
		// 6 ready at 250m; 4 with metrics: 50% -> ratio 1, and the 2
		// missing are not filled in at exactly 1 -> within tolerance.
		{t: 45, before: 6, ready: 6, cpu: 50, desired: 6, after: 6, reason: "DesiredWithinRange"},
		// Demand 300m: 50m = 10% -> 0.2 -> ceil(1.2) = 2, but the window
		// holds the 6s of t=0..45.
		{t: 60, before: 6, ready: 6, cpu: 10, desired: 2, after: 6, reason: "DesiredWithinRange", stabilization: "ScaleDownStabilized"},
		// The 6 of t=45 is at the cutoff 345-300: still inside (legacy).
		{t: 345, before: 6, ready: 6, cpu: 10, desired: 2, after: 6, reason: "DesiredWithinRange", stabilization: "ScaleDownStabilized"},
		// Gone at 360: down to 2 at once (no legacy rate limit down).
		{t: 360, before: 6, ready: 6, cpu: 10, desired: 2, after: 2, reason: "DesiredWithinRange"},
		// 2 pods at 150m = 30% -> 0.6 -> ceil(1.2) = 2 = minReplicas.
		{t: 375, before: 2, ready: 2, cpu: 30, desired: 2, after: 2, reason: "DesiredWithinRange"},
	})
}

// TestReplayBehaviorTwoMetrics checks testdata/behavior-two-metrics by hand:
// CPU target 60% of 500m, memory target 200Mi average; up window 30 s with
// 2 pods or 50% per 30 s; down window 60 s with 1 pod per 30 s.
func TestReplayBehaviorTwoMetrics(t *testing.T) {
	checkReplay(t, "behavior-two-metrics.input.yaml", []wantStep{
		// cpu 450m = 90% -> 1.5 -> 3; memory 150Mi/200Mi -> ceil(1.5) = 2.
		// The seed (2 at t=0) is in the up window: min 2.
		{t: 0, before: 2, ready: 2, cpu: 90, desired: 3, after: 2, reason: "DesiredWithinRange", stabilization: "ScaleUpStabilized"},
		// The recommendations of t=0 sit at the cutoff: out. Rate: Pods 4,
		// Percent ceil(3) = 3 -> Max 4; desired 3.
		{t: 30, before: 2, ready: 2, cpu: 90, desired: 3, after: 3, reason: "DesiredWithinRange"},
		// Demand 3000m: 1000m = 200% on the 2 pods with metrics; the pod of
		// t=30 is ready but metric-less (missing, 0): 2000/1500 = 133% ->
		// 2.22 -> ceil(6.67) = 7. The 3 of t=45 holds it (up window).
		{t: 60, before: 3, ready: 3, cpu: 200, desired: 7, after: 3, reason: "DesiredWithinRange", stabilization: "ScaleUpStabilized"},
		// 200% on 3 pods -> 10; up window min 7; rate Pods 3+2 = 5,
		// Percent ceil(4.5) = 5 -> 5.
		{t: 75, before: 3, ready: 3, cpu: 200, desired: 10, after: 5, reason: "ScaleUpLimit", stabilization: "ScaleUpStabilized"},
		// 2 new pods Pending (unready, 0): 3000/2500 = 120% -> 2 -> 10. The
		// +2 of t=75 is inside the 30 s periods: start 3 -> limit 5.
		{t: 90, before: 5, ready: 3, cpu: 200, desired: 10, after: 5, reason: "ScaleUpLimit"},
		// 500m on 6 ready, one metric-less: 2500/3000 = 83% -> 1.38 ->
		// ceil(8.3) = 9; limit 9 but maxReplicas 8.
		{t: 135, before: 6, ready: 6, cpu: 100, desired: 9, after: 8, reason: "TooManyReplicas"},
		// CPU falls to 15% (-> 2) but memory (250Mi/200Mi -> 10) holds the max.
		{t: 240, before: 8, ready: 8, cpu: 15, desired: 10, after: 8, reason: "TooManyReplicas"},
		// Memory 100Mi -> 0.5 -> 4; the 10s of t<=405 hold it (down window).
		{t: 420, before: 8, ready: 8, cpu: 7, desired: 4, after: 8, reason: "DesiredWithinRange", stabilization: "ScaleDownStabilized"},
		// The 10 of t=405 is at the cutoff: out -> 4; 1 pod per 30 s -> 7.
		{t: 465, before: 8, ready: 8, cpu: 7, desired: 4, after: 7, reason: "ScaleDownLimit"},
		// The -1 of t=465 is in (450, 480]: start 8 -> limit 7, no change.
		{t: 480, before: 7, ready: 7, cpu: 8, desired: 4, after: 7, reason: "ScaleDownLimit"},
		{t: 495, before: 7, ready: 7, cpu: 8, desired: 4, after: 6, reason: "ScaleDownLimit"},
	})
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}

const validInput = `{
  "hpa": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
          "spec": {"maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}},
  "initial_replicas": 1,
  "pod": {"cpu_request_millicores": 100, "startup_seconds": 10, "metric_window_seconds": 15},
  "demand": [{"t": 0, "cpu_millicores": 100}],
  "until": 60
}`

// TestReplayInputErrors checks that a bad replay file says what and where.
func TestReplayInputErrors(t *testing.T) {
	tests := []struct {
		name    string
		old     string // replaced in validInput
		new     string
		want    string
		decoded bool // the error comes from Replay, not the decoder
	}{
		{"unknown top-level field", `"until": 60`, `"until": 60, "untill": 1`, "invalid_argument (untill): unknown field", false},
		{"unknown field deep in the manifest", `"maxReplicas": 5,`, `"maxReplicas": 5, "behavior": {"scaleUp": {"polices": []}},`, "(hpa.spec.behavior.scaleUp.polices): unknown field", false},
		{"unknown field in a list", `{"t": 0, "cpu_millicores": 100}`, `{"t": 0, "cpu": 100}`, "(demand[0].cpu): unknown field", false},
		{"wrong type", `"until": 60`, `"until": "60"`, "(until): cannot be a JSON string", false},
		{"trailing data", `"until": 60
}`, `"until": 60
} {}`, "not valid JSON: unexpected data after the document", false},
		{"bad JSON", `"until": 60`, `"until": 60,`, "not valid JSON: invalid character '}'", false},
		// encoding/json keeps the last of duplicate keys: this hpa is null.
		{"missing hpa", `"initial_replicas": 1,`, `"initial_replicas": 1, "hpa": null,`, "", false},
		{"until zero", `"until": 60`, `"until": 0`, "(until): must be between 1 and 31622400 seconds, got 0", true},
		{"until past a year", `"until": 60`, `"until": 99999999999`, "(until): must be between 1 and", true},
		{"too many syncs", `"until": 60`, `"until": 31622400, "controller": {"sync_period_seconds": 1}`, "(until): makes 31622401 syncs of 1s", true},
		{"a period that overflows", `"until": 60`, `"until": 60, "controller": {"sync_period_seconds": 18446744074}`, "(controller.sync_period_seconds): must be between 0 and", true},
		{"too many pods", `"maxReplicas": 5`, `"maxReplicas": 20000`, "(hpa.spec.maxReplicas): is 20000; the twin simulates every pod", true},
		{"negative demand", `"cpu_millicores": 100}]`, `"cpu_millicores": -5}]`, "(demand[0].cpu_millicores): must not be negative", true},
		{"unsorted demand", `[{"t": 0, "cpu_millicores": 100}]`, `[{"t": 0, "cpu_millicores": 100}, {"t": 30}, {"t": 20}]`, "(demand[2].t): must be after demand[1].t (30)", true},
		{"demand not from 0", `[{"t": 0,`, `[{"t": 5,`, "(demand[0].t): must be 0", true},
		{"no demand", `[{"t": 0, "cpu_millicores": 100}]`, `[]`, "(demand): needs at least one point", true},
		{"wrong kind", `"kind": "HorizontalPodAutoscaler"`, `"kind": "Deployment"`, "(hpa.kind): must be HorizontalPodAutoscaler", true},
		{"v1 manifest", `"autoscaling/v2"`, `"autoscaling/v1"`, "(hpa.apiVersion): must be autoscaling/v2", true},
		{"no replicas", `"initial_replicas": 1`, `"initial_replicas": 0`, "(initial_replicas): must be at least 1", true},
		{"invalid spec", `"maxReplicas": 5`, `"maxReplicas": 0`, "(hpa.spec.maxReplicas)", true},
		{"negative startup", `"startup_seconds": 10`, `"startup_seconds": -1`, "(pod.startup_seconds): must be between 0 and 31622400 seconds, got -1", true},
		{"no cpu request", `"cpu_request_millicores": 100`, `"cpu_request_millicores": 0`, "(pod.cpu_request_millicores): must be greater than 0", true},
		{"bad sync period", `"until": 60`, `"until": 60, "controller": {"sync_period_seconds": 0}`, "(controller.sync_period_seconds): must be positive", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(validInput, tt.old, tt.new, 1)
			if src == validInput {
				t.Fatalf("test does not change the input: %q not found", tt.old)
			}
			in, err := DecodeReplayInput([]byte(src))
			if !tt.decoded {
				if tt.want == "" { // decodes; Replay must refuse it
					if err != nil {
						t.Fatalf("decode: %v", err)
					}
					_, err = Replay(in)
					tt.want = "(hpa): is required"
				}
				if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			_, err = Replay(in)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeReplayInputYAML(t *testing.T) {
	const src = `
hpa:
  apiVersion: autoscaling/v2
  kind: HorizontalPodAutoscaler
  metadata: {name: x}
  spec:
    maxReplicas: 5
    metrics:
      - type: Resource
        resource: {name: memory, target: {type: AverageValue, averageValue: 128Mi}}
initial_replicas: 1
pod: {memory_request_bytes: 1, startup_seconds: 10, metric_window_seconds: 15}
demand: [{t: 0, memory_bytes_per_pod: 268435456}]
until: 30
`
	in, err := DecodeReplayInput([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := in.HPA.Spec.Metrics[0].Resource.Target.AverageValue.Value(); got != 128<<20 {
		t.Fatalf("averageValue = %d", got)
	}
	res, err := Replay(in)
	if err != nil {
		t.Fatal(err)
	}
	// 256Mi per pod against 128Mi -> ratio 2 -> 2 replicas.
	if s := res.Steps[0]; s.Average["memory"] != 256<<20 || s.Replicas != 2 {
		t.Errorf("first step = %+v", s)
	}

	dup := strings.Replace(src, "until: 30", "until: 30\nuntil: 40", 1)
	if _, err := DecodeReplayInput([]byte(dup)); err == nil || !strings.Contains(err.Error(), `key "until" already set`) {
		t.Errorf("duplicate key: error = %v", err)
	}
	if _, err := DecodeReplayInput([]byte("   \n")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty document: error = %v", err)
	}
	two := src + "---\nuntil: 5\n"
	if _, err := DecodeReplayInput([]byte(two)); err == nil || !strings.Contains(err.Error(), "want one document") {
		t.Errorf("two documents: error = %v", err)
	}
}

func TestReplayFileMissing(t *testing.T) {
	_, err := ReplayFile(filepath.Join(t.TempDir(), "nope.json"))
	if !errs.Is(err, errs.NotFound) {
		t.Fatalf("error = %v, want not_found", err)
	}
}

// FuzzDecodeReplayInput: decoding never panics, and a small decoded input
// replays without panicking.
func FuzzDecodeReplayInput(f *testing.F) {
	f.Add([]byte(validInput))
	for _, p := range []string{"legacy-spike.input.json", "behavior-two-metrics.input.yaml", "container-missing-pods.input.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", p)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"hpa": {"spec": {"metrics": [{"type": "Resource", "resource": {"target": {"averageValue": "1e3"}}}]}}}`))
	f.Add([]byte("demand: [{t: 0}]\nuntil: 1e99"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := DecodeReplayInput(data)
		if err != nil {
			return
		}
		if in.Until > 3600 || in.HPA == nil || in.HPA.Spec.MaxReplicas > 200 || in.InitialReplicas > 200 {
			return // keep each run small
		}
		if rc := in.Controller; rc != nil && rc.SyncPeriodSeconds != nil && *rc.SyncPeriodSeconds < 5 {
			return
		}
		_, _ = Replay(in)
	})
}

// TestReplayContainerMissingPods checks testdata/container-missing-pods by
// hand: a ContainerResource target of 70% of 250m, new pods Running (so
// missing, not unready) until ready at 45 s, metrics 15 s later, and a
// 60 s legacy downscale window from the controller section.
func TestReplayContainerMissingPods(t *testing.T) {
	checkReplay(t, "container-missing-pods.input.json", []wantStep{
		// 800m over 750m = 106% -> 1.51 -> ceil(4.54) = 5.
		{t: 0, before: 3, ready: 3, desired: 5, after: 5, reason: "DesiredWithinRange"},
		// 2 missing count as 0 on the way up: 800/1250 = 64% -> 0.91, within.
		{t: 15, before: 5, ready: 3, desired: 5, after: 5, reason: "DesiredWithinRange"},
		// Demand 200m: 26% -> 0.37; the 2 missing count as 100% of 250m on
		// the way down: 700/1250 = 56% -> 0.8 -> 4, held by the window.
		{t: 30, before: 5, ready: 3, desired: 4, after: 5, reason: "DesiredWithinRange", stabilization: "ScaleDownStabilized"},
		// All metrics in: 16% -> 0.23 -> 2; the 5s of t=0 sit at the cutoff
		// 60-60 and still count (legacy).
		{t: 60, before: 5, ready: 5, desired: 2, after: 5, reason: "DesiredWithinRange", stabilization: "ScaleDownStabilized"},
		// cutoff 30: the window max is the 4 of t=30.
		{t: 90, before: 5, ready: 5, desired: 2, after: 4, reason: "DesiredWithinRange", stabilization: "ScaleDownStabilized"},
		{t: 120, before: 4, ready: 4, desired: 2, after: 2, reason: "DesiredWithinRange"},
	})
}

func TestReplaySyncTimes(t *testing.T) {
	for _, tt := range []struct {
		until int64
		want  int
	}{{1, 1}, {14, 1}, {15, 2}, {600, 41}, {601, 41}} {
		in, err := DecodeReplayInput([]byte(strings.Replace(validInput, `"until": 60`, fmt.Sprintf(`"until": %d`, tt.until), 1)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Replay(in)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Steps) != tt.want || res.Steps[len(res.Steps)-1].T > tt.until {
			t.Errorf("until %d: %d steps, want %d", tt.until, len(res.Steps), tt.want)
		}
	}
}
