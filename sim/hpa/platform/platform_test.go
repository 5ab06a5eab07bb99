package platform_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/hpa/model"
	"github.com/shoplab/shoplab/sim/hpa/platform"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const mib = 1 << 20

// twoUnits is a profile of a toy platform: one journey, "buy", calls front
// once, and front calls back once. back does the work.
func twoUnits() model.Profile {
	return model.Profile{
		Version: model.Version, Source: model.SourceEstimated, Note: "test",
		Units: map[string]model.UnitCost{
			"front": {CPUSecondsPerIteration: map[string]float64{"buy": 0.001}, ServiceSeconds: 0.002, MemoryBaseBytes: 50 * mib, MemoryPerInflightBytes: mib},
			"back":  {CPUSecondsPerIteration: map[string]float64{"buy": 0.01}, ServiceSeconds: 0.1, MemoryBaseBytes: 100 * mib, MemoryPerInflightBytes: 10 * mib, MemoryPerRPSBytes: mib},
		},
		Journeys: map[string][]model.Call{"buy": {
			{From: model.Client, To: "front", Method: "POST /buy", PerIteration: 1},
			{From: "front", To: "back", Method: "Back.Buy", PerIteration: 1},
		}},
	}
}

// cpuHPA is order's HPA from the argocd base: 70% CPU, up by the larger of
// 100% or 4 pods per 15 s, down after 300 s by one pod a minute.
func cpuHPA(name string, min, max int32) *autoscalingv2.HorizontalPodAutoscaler {
	target := int32(70)
	window0, window300 := int32(0), int32(300)
	selectMax, selectMin := autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
			MinReplicas:    &min, MaxReplicas: max,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target},
			}}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window0, SelectPolicy: &selectMax, Policies: []autoscalingv2.HPAScalingPolicy{
					{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
					{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
				}},
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window300, SelectPolicy: &selectMin, Policies: []autoscalingv2.HPAScalingPolicy{
					{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60},
				}},
			},
		},
	}
}

func deployment(name string, replicas int32, cpuReq, cpuLim int64) platform.Deployment {
	return platform.Deployment{
		Name: name, Replicas: replicas, Container: name, ReadinessPeriod: 5 * time.Second,
		CPURequestMilli: cpuReq, CPULimitMilli: cpuLim, MemoryRequestBytes: 256 * mib, MemoryLimitBytes: 320 * mib,
	}
}

// constant is "buy" at rate iterations per second from 0 to end.
func constant(t *testing.T, rate float64, end time.Duration) platform.Workload {
	t.Helper()
	w, err := platform.MixWorkload(end, func(at time.Duration) float64 {
		if at < 0 || at >= end {
			return 0
		}
		return rate
	}, []string{"buy"}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustSimulate(t *testing.T, deps []platform.Deployment, prof model.Profile, w platform.Workload, opts platform.Options) *platform.Timeline {
	t.Helper()
	tl, err := platform.Simulate(deps, prof, w, opts)
	if err != nil {
		t.Fatal(err)
	}
	return tl
}

func pointAt(t *testing.T, u *platform.UnitTimeline, at int64) platform.Point {
	t.Helper()
	for _, p := range u.Points {
		if p.T == at {
			return p
		}
	}
	t.Fatalf("%s has no point at %ds", u.Name, at)
	return platform.Point{}
}

// scaleUpDeployments: back (500m request, 2-core limit, the HPA above) takes
// 140 buys a second = 1400m, twice what its two pods' 70% target allows.
func scaleUpDeployments() []platform.Deployment {
	back := deployment("back", 1, 500, 2000)
	back.HPA = cpuHPA("back", 2, 10)
	return []platform.Deployment{deployment("front", 1, 250, 1000), back}
}

// TestHPAScalesToHoldItsTarget walks the controller's arithmetic through the
// whole pipeline. At 15 s the window holds 15 s of 1400m on two pods, 140%:
// desired = ceil(2 x 140/70) = 4, which the scale-up policies allow. The
// two new pods count as 0 while they start (1400 / (4 x 500) = 70%, within
// tolerance), then share the load at exactly 70%. After the load the
// 300 s window holds the 4, then one pod a minute goes.
func TestHPAScalesToHoldItsTarget(t *testing.T) {
	tl := mustSimulate(t, scaleUpDeployments(), twoUnits(), constant(t, 140, 10*time.Minute), platform.Options{Until: 20 * time.Minute, Startup: 20 * time.Second})
	back := tl.Unit("back")
	if p := pointAt(t, back, 0); p.Replicas != 2 || p.CPUUsed != 0 {
		t.Fatalf("t=0: %d replicas using %gm; want 2 idle (no load before the start)", p.Replicas, p.CPUUsed)
	}
	p15 := pointAt(t, back, 15)
	if p15.Replicas != 4 || p15.Desired == nil || *p15.Desired != 4 || p15.HPAUtilization["cpu"] != 140 {
		t.Fatalf("t=15: replicas %d desired %v utilization %v; want 4, 4, 140%%", p15.Replicas, p15.Desired, p15.HPAUtilization)
	}
	if p := pointAt(t, back, 30); p.Ready != 2 || p.Replicas != 4 {
		t.Fatalf("t=30: %d ready of %d; want the 2 new pods still starting (ready at 35 s)", p.Ready, p.Replicas)
	}
	for _, p := range back.Points {
		if p.T >= 60 && p.T <= 600 {
			if p.Replicas != 4 || p.Ready != 4 || p.CPUUtilization != 70 {
				t.Fatalf("t=%d: %d replicas, %d ready at %g%%; want 4 at 70%% while the load lasts", p.T, p.Replicas, p.Ready, p.CPUUtilization)
			}
		}
	}
	s := back.Summary
	if s.MaxReplicas != 4 || s.FirstScaleUp != 15 || s.FinalReplicas != 2 || s.SaturatedSeconds != 0 {
		t.Fatalf("summary %+v; want max 4, first scale-up at 15 s, back to 2, never saturated", s)
	}
	// Down: nothing before the 300 s window after the load, then 4 -> 3
	// and a minute later 3 -> 2.
	var downs []int64
	for i := 1; i < len(back.Points); i++ {
		if back.Points[i].Replicas < back.Points[i-1].Replicas {
			downs = append(downs, back.Points[i].T)
		}
	}
	if len(downs) != 2 || downs[0] < 600+300 || downs[1]-downs[0] < 60 || downs[1] > 600+300+60+30 {
		t.Fatalf("scale-downs at %v; want two, the first after load end + 300 s, a minute or so apart", downs)
	}
	front := tl.Unit("front")
	if front.HPA != nil || front.Summary.MinReplicas != 1 || front.Summary.MaxReplicas != 1 {
		t.Fatalf("front (no HPA) moved: %+v", front.Summary)
	}
}

// TestSaturationQueuesUpToTheTimeoutThenDrops: one 1-core pod serves 100
// buys a second at 10 ms each and 200 arrive. The backlog grows by 100 a
// second to 3 s of service (300 requests), after which 100 a second are
// dropped; the pod never uses more than its limit.
func TestSaturationQueuesUpToTheTimeoutThenDrops(t *testing.T) {
	deps := []platform.Deployment{deployment("front", 4, 250, 1000), deployment("back", 1, 500, 1000)}
	tl := mustSimulate(t, deps, twoUnits(), constant(t, 200, time.Minute), platform.Options{Until: 2 * time.Minute})
	back := tl.Unit("back")
	p := pointAt(t, back, 45)
	if !p.Saturated || p.CPUUsed != 1000 || p.CPUUtilization != 200 || p.Backlog != 300 || p.Dropped != 100 {
		t.Fatalf("t=45: %+v; want saturated at 1000m (200%% of request), backlog 300, 100 dropped a second", p)
	}
	if p.CPUDemand != 2000 {
		t.Fatalf("t=45: demand %gm; want the 2000m the load asks for", p.CPUDemand)
	}
	if p.P95 == nil || *p.P95 < 3000 {
		t.Fatalf("t=45: p95 %v; want at least the 3 s the backlog takes to drain", p.P95)
	}
	s := back.Summary
	// 100 a second from the fourth second to the end of the load.
	if s.Dropped != 5700 {
		t.Fatalf("dropped %g requests; want 100/s x 57 s = 5700", s.Dropped)
	}
	// After the load the 300 queued drain at 100 a second: two seconds end
	// with some left, the third empties the queue.
	if s.SaturatedSeconds != 62 {
		t.Fatalf("saturated %ds; want the 60 s load plus 2 s of draining", s.SaturatedSeconds)
	}
	if q := pointAt(t, back, 75); q.Saturated || q.Backlog != 0 {
		t.Fatalf("t=75: %+v; want the backlog drained", q)
	}
}

// TestMemoryAndLatencyFollowTheQueueModel checks the arithmetic of one
// unsaturated sync against model.Queue.
func TestMemoryAndLatencyFollowTheQueueModel(t *testing.T) {
	deps := []platform.Deployment{deployment("front", 1, 250, 1000), deployment("back", 2, 500, 1000)}
	tl := mustSimulate(t, deps, twoUnits(), constant(t, 50, time.Minute), platform.Options{Until: time.Minute})
	back := pointAt(t, tl.Unit("back"), 30)
	// back: 2 pods x 1 server of 1 core; 10 ms of CPU per call, so μ = 100/s
	// a server; 90 ms of its 100 ms service are off the CPU.
	q := model.Queue{Servers: 2, ServiceRate: 100, ArrivalRate: 50}
	wantP95 := 1000 * (0.09 + q.ResponseQuantile(0.95))
	if back.P95 == nil || math.Abs(*back.P95-wantP95) > 0.01 {
		t.Fatalf("back p95 = %v ms, want %.2f", back.P95, wantP95)
	}
	// Memory per pod: base 100Mi + 1Mi per rps (25 a pod) + 10Mi per call
	// being worked on: 50/s x (90 ms + 10 ms) = 5 calls, 2.5 a pod.
	if want := int64(100*mib + 25*mib + 25*mib); back.MemoryPerPod != want {
		t.Fatalf("back memory per pod = %d, want %d", back.MemoryPerPod, want)
	}
	// front waits on back for back's whole mean time, queue included.
	front := pointAt(t, tl.Unit("front"), 30)
	backMean := 0.09 + q.MeanResponse()
	frontQ := model.Queue{Servers: 1, ServiceRate: 1000, ArrivalRate: 50}
	working := 50 * (0.001 + 1.0/1000 + backMean)
	if want := int64(50*mib + working*mib); front.MemoryPerPod != want {
		t.Fatalf("front memory per pod = %d, want %d (calls in flight %.3f)", front.MemoryPerPod, want, working)
	}
	if want := 1000 * (0.001 + frontQ.MeanResponse()); front.Mean == nil || math.Abs(*front.Mean-want) > 0.01 {
		t.Fatalf("front mean = %v ms, want %.2f (its own time only)", front.Mean, want)
	}
}

func TestSimulateRefusesWhatItCannotModel(t *testing.T) {
	prof := twoUnits()
	tests := []struct {
		name string
		deps []platform.Deployment
		w    platform.Workload
		opts platform.Options
		want string
	}{
		{"deployment without costs", append(scaleUpDeployments(), deployment("cart", 1, 100, 500)), constant(t, 1, time.Minute), platform.Options{}, "no costs for Deployment cart"},
		{"unknown journey", scaleUpDeployments(), platform.Workload{Journeys: []string{"wishlist"}, Rates: func(time.Duration, []float64) {}, End: time.Minute}, platform.Options{}, "wishlist"},
		{"no CPU limit", []platform.Deployment{deployment("front", 1, 250, 0), deployment("back", 1, 500, 1000)}, constant(t, 1, time.Minute), platform.Options{}, "CPU request and limit"},
		{"too long", scaleUpDeployments(), constant(t, 1, time.Minute), platform.Options{Until: 8 * 24 * time.Hour}, "until"},
		{"odd metric window", scaleUpDeployments(), constant(t, 1, time.Minute), platform.Options{MetricWindow: 1500 * time.Millisecond}, "metric_window"},
		{"negative scale", scaleUpDeployments(), scaled(constant(t, 1, time.Minute), -2), platform.Options{}, "scale"},
		{"infinite scale", scaleUpDeployments(), scaled(constant(t, 1, time.Minute), math.Inf(1)), platform.Options{}, "scale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := platform.Simulate(tt.deps, prof, tt.w, tt.opts)
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Simulate = %v, want an Invalid error mentioning %q", err, tt.want)
			}
		})
	}
}

func scaled(w platform.Workload, f float64) platform.Workload {
	w.Scale = f
	return w
}

// TestTrafficScaleMultipliesTheLoad: a workload of 35 buys a second scaled
// by 4 is the 140 of TestHPAScalesToHoldItsTarget, to the byte, except
// for the factor the timeline records.
func TestTrafficScaleMultipliesTheLoad(t *testing.T) {
	opts := platform.Options{Until: 6 * time.Minute, Startup: 20 * time.Second}
	direct := mustSimulate(t, scaleUpDeployments(), twoUnits(), constant(t, 140, 2*time.Minute), opts)
	viaScale := mustSimulate(t, scaleUpDeployments(), twoUnits(), scaled(constant(t, 35, 2*time.Minute), 4), opts)
	if direct.TrafficScale != 1 || viaScale.TrafficScale != 4 {
		t.Fatalf("traffic_scale %v and %v, want 1 and 4", direct.TrafficScale, viaScale.TrafficScale)
	}
	if p := viaScale.Load[1]; p.Rate != 140 || p.PerJourney[0] != 140 {
		t.Fatalf("load at 15 s %+v, want the scaled 140 a second", p)
	}
	viaScale.TrafficScale = 1
	a, _ := json.Marshal(direct)
	b, _ := json.Marshal(viaScale)
	if !bytes.Equal(a, b) {
		t.Fatal("35 a second x4 simulates differently from 140 a second")
	}
}

// TestScenarioTrafficScale: a scenario's hpa_traffic_scale reaches the
// workload and the timeline; a copy scaled for --short keeps it.
func TestScenarioTrafficScale(t *testing.T) {
	s := loadScenario(t, filepath.Join("..", "..", "..", "scenarios", "hpa-flash-sale.yaml"))
	w, err := platform.ScenarioWorkload(s)
	if err != nil {
		t.Fatal(err)
	}
	if w.Scale != s.HPATrafficScale || w.Scale <= 1 {
		t.Fatalf("workload scale %v, want the scenario's hpa_traffic_scale %v", w.Scale, s.HPATrafficScale)
	}
	tl, _, err := platform.SimulateScenario(s.Scale(0.25), prodDeployments(t), frozenProfile(t), 0, platform.Options{Overlay: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if tl.TrafficScale != s.HPATrafficScale {
		t.Fatalf("timeline traffic_scale %v, want %v", tl.TrafficScale, s.HPATrafficScale)
	}
	var peak float64
	for _, p := range tl.Load {
		peak = max(peak, p.Rate)
	}
	if want := s.Load.PeakRate() * s.HPATrafficScale; math.Abs(peak-want) > 1e-6 {
		t.Fatalf("peak load %v, want the scenario's %v x %v", peak, s.Load.PeakRate(), s.HPATrafficScale)
	}
	// Without the field the load is the file's.
	plain := loadScenario(t, filepath.Join("testdata", "wrong-expectation.yaml"))
	if w, err := platform.ScenarioWorkload(plain); err != nil || w.Scale != 1 {
		t.Fatalf("scale %v (%v), want 1", w.Scale, err)
	}
}

// TestTimelineJSON pins the format with a golden file (go test -update
// rewrites it) and checks that WriteJSON's line-per-point layout is the
// same document as json.Marshal.
func TestTimelineJSON(t *testing.T) {
	opts := platform.Options{Until: 6 * time.Minute, Startup: 20 * time.Second, Scenario: "golden", Overlay: "test"}
	tl := mustSimulate(t, scaleUpDeployments(), twoUnits(), constant(t, 140, 2*time.Minute), opts)
	var buf bytes.Buffer
	if err := tl.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v", err)
	}
	plain, _ := json.Marshal(tl)
	if err := json.Unmarshal(plain, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("WriteJSON and json.Marshal disagree")
	}
	golden := filepath.Join("testdata", "scale-up.timeline.golden.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantBytes, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), wantBytes) {
		t.Fatalf("timeline differs from %s (run go test -update after checking the change):\n%s", golden, buf.String())
	}
	// Same inputs, same bytes.
	again := mustSimulate(t, scaleUpDeployments(), twoUnits(), constant(t, 140, 2*time.Minute), opts)
	var buf2 bytes.Buffer
	again.WriteJSON(&buf2)
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Fatal("two runs of the same simulation differ")
	}
}

func TestDeploymentsOfTheProdOverlay(t *testing.T) {
	rendered, err := platform.RenderOverlay("prod")
	if err != nil {
		t.Fatal(err)
	}
	deps, err := platform.Deployments(rendered)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]platform.Deployment{}
	for _, d := range deps {
		names = append(names, d.Name)
		byName[d.Name] = d
	}
	if want := []string{"gateway", "order", "payment", "product", "user"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Deployments = %v, want %v", names, want)
	}
	for _, n := range []string{"order", "payment", "product"} {
		if byName[n].HPA == nil || byName[n].HPA.Spec.ScaleTargetRef.Name != n {
			t.Errorf("%s has no HPA of its own", n)
		}
	}
	for _, n := range []string{"gateway", "user"} {
		if byName[n].HPA != nil {
			t.Errorf("%s has an HPA; the design scales it by hand", n)
		}
	}
	// What the prod patch sets, as the twin reads it.
	if o := byName["order"]; o.CPURequestMilli != 500 || o.CPULimitMilli != 2000 || o.MemoryRequestBytes != 384*mib || o.ReadinessPeriod != 5*time.Second {
		t.Errorf("order resources = %+v", o)
	}
	if g := byName["gateway"]; g.Replicas != 3 {
		t.Errorf("gateway replicas = %d, want prod's 3", g.Replicas)
	}
	fromDisk, err := platform.RenderOverlay(filepath.Join("..", "..", "..", "argocd", "overlays", "prod"))
	if err != nil || !bytes.Equal(fromDisk, rendered) {
		t.Errorf("the overlay on disk renders differently from the embedded one (err %v)", err)
	}
	if _, err := platform.RenderOverlay("staging"); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "prod") {
		t.Errorf("RenderOverlay(staging) = %v, want Invalid listing the overlays", err)
	}
}

func TestDeploymentsRefusesAnHPAWithoutItsTarget(t *testing.T) {
	rendered := []byte(`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: cart}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: cart}
  maxReplicas: 3
`)
	if _, err := platform.Deployments(rendered); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cart") {
		t.Fatalf("Deployments = %v, want Invalid naming cart", err)
	}
}

func loadScenario(t *testing.T, path string) *spec.Scenario {
	t.Helper()
	s, err := spec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// renderProd renders the prod overlay once per test binary: kustomize is
// the slow part of a simulation, and the Deployments are read-only.
var renderProd = sync.OnceValues(func() ([]platform.Deployment, error) {
	rendered, err := platform.RenderOverlay("prod")
	if err != nil {
		return nil, err
	}
	return platform.Deployments(rendered)
})

func prodDeployments(t testing.TB) []platform.Deployment {
	t.Helper()
	deps, err := renderProd()
	if err != nil {
		t.Fatal(err)
	}
	return deps
}

func frozenProfile(t testing.TB) model.Profile {
	t.Helper()
	p, err := model.Load(filepath.Join("testdata", "profile.json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAWrongExpectationFails(t *testing.T) {
	s := loadScenario(t, filepath.Join("testdata", "wrong-expectation.yaml"))
	_, outcomes, err := platform.SimulateScenario(s, prodDeployments(t), frozenProfile(t), 0, platform.Options{Overlay: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	var broken []string
	for _, o := range outcomes {
		if !o.OK {
			broken = append(broken, o.Unit+": "+o.Expectation)
		}
	}
	if want := []string{"order: reaches 5 within 1m0s"}; !reflect.DeepEqual(broken, want) {
		t.Fatalf("broken = %v, want %v; outcomes %+v", broken, want, outcomes)
	}
}

// TestOneHourScalesAndSettles is the production-sized hour of the
// benchmark: every HPA acts, stays in bounds, and settles after the load.
func TestOneHourScalesAndSettles(t *testing.T) {
	s := loadScenario(t, filepath.Join("testdata", "one-hour.yaml"))
	tl, outcomes, err := platform.SimulateScenario(s, prodDeployments(t), frozenProfile(t), 0, platform.Options{Overlay: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outcomes {
		if !o.OK {
			t.Errorf("%s: %s: observed %s", o.Unit, o.Expectation, o.Observed)
		}
	}
	if want := int64(3600 + 25*60 + 5*60); tl.Until != want {
		t.Errorf("simulated to %ds, want load end + the longest settle_within + SettleHold = %ds", tl.Until, want)
	}
	for _, u := range tl.Units {
		if u.HPA == nil {
			continue
		}
		for _, p := range u.Points {
			if p.Replicas < u.HPA.MinReplicas || p.Replicas > u.HPA.MaxReplicas {
				t.Fatalf("%s at %ds: %d replicas outside [%d, %d]", u.Name, p.T, p.Replicas, u.HPA.MinReplicas, u.HPA.MaxReplicas)
			}
		}
	}
	// user is fixed at two pods and pays argon2 for every login: the twin
	// says it is the first unit to run out at the evening peak.
	if u := tl.Unit("user"); u.Summary.SaturatedSeconds == 0 || u.Summary.Dropped == 0 {
		t.Errorf("user never saturated at 2000 iterations a second: %+v", u.Summary)
	}
}

// TestShippedHPAScenariosPass is `shoplab hpa check scenarios/hpa-*.yaml`:
// the scenarios' hpa sections are tuned against the prod overlay and the
// shipped profile (profiles/local.json, read here as the binary embeds
// it), and a recalibration or a manifest change that breaks them must be
// looked at (and the sections re-tuned, or the change fixed). Each must
// also make an HPA act: one whose Deployments all sit at their minimum
// proves nothing about the autoscalers.
func TestShippedHPAScenariosPass(t *testing.T) {
	prof, err := profiles.Local()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "..", "scenarios", "hpa-*.yaml"))
	if len(paths) == 0 {
		t.Fatal("no scenarios/hpa-*.yaml")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := loadScenario(t, path)
			if len(s.HPA) == 0 {
				t.Fatal("no hpa: section")
			}
			tl, outcomes, err := platform.SimulateScenario(s, prodDeployments(t), prof, 0, platform.Options{Overlay: "prod"})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range outcomes {
				if !o.OK {
					t.Errorf("%s: %s: observed %s", o.Unit, o.Expectation, o.Observed)
				}
			}
			acted := false
			for _, unit := range s.HPAUnits() {
				if u := tl.Unit(unit); u != nil && u.HPA != nil && u.Summary.MaxReplicas > u.HPA.MinReplicas {
					acted = true
				}
			}
			if !acted {
				t.Errorf("no HPA of %v leaves its minimum at hpa_traffic_scale %v", s.HPAUnits(), s.HPATrafficScale)
			}
		})
	}
}

func TestCheckSemantics(t *testing.T) {
	// A hand-made course: 2, up to 4 at 15 s and 6 at 30 s, down to 5 at
	// 315 s and 4 at 330 s, then 3 at 705 s and 2 at 765 s; the load ends
	// at 120 s.
	steps := []struct {
		at       int64
		replicas int32
	}{{0, 2}, {15, 4}, {30, 6}, {315, 5}, {330, 4}, {705, 3}, {765, 2}}
	u := &platform.UnitTimeline{Name: "order", HPA: &platform.HPAInfo{MinReplicas: 2, MaxReplicas: 10}}
	for at, k := int64(0), 0; at <= 1200; at += 15 {
		if k+1 < len(steps) && steps[k+1].at <= at {
			k++
		}
		u.Points = append(u.Points, platform.Point{T: at, Replicas: steps[k].replicas})
	}
	u.Summary = platform.Summary{MaxReplicas: 6, MaxAt: 30}
	tl := &platform.Timeline{LoadEnd: 120, Until: 1200, Units: []*platform.UnitTimeline{u}}
	changes := func(n int) *int { return &n }
	tests := []struct {
		name     string
		e        platform.Expectation
		ok       bool
		observed string
	}{
		{"reaches in time", platform.Expectation{Reaches: 6, Within: 30 * time.Second}, true, "6 at 30s"},
		{"reaches too late", platform.Expectation{Reaches: 6, Within: 29 * time.Second}, false, "at most 4 by 29s (at 15s); 6 only at 30s"},
		{"never reaches", platform.Expectation{Reaches: 7, Within: 10 * time.Minute}, false, "at most 6 by 600s (at 30s)"},
		{"never above", platform.Expectation{NeverAbove: 6}, true, "max 6 at 30s"},
		{"above", platform.Expectation{NeverAbove: 5}, false, "max 6 at 30s"},
		// The last change, to 2, is at 765 s: load end + 645 s.
		{"settles in time", platform.Expectation{SettlesTo: 2, SettleWithin: 645 * time.Second}, true, "2 from 765s (load end + 645s)"},
		{"settles too late", platform.Expectation{SettlesTo: 2, SettleWithin: 644 * time.Second}, false, "2 from 765s (load end + 645s)"},
		{"settles elsewhere", platform.Expectation{SettlesTo: 3, SettleWithin: 15 * time.Minute}, false, "2 at the end (1200s)"},
		// Changes at 15, 30, 315, 330, 705, 765. The window is (t-5m, t]:
		// the one to 315 s leaves out the change at 15 s, exactly 5 minutes
		// before, so no window holds three.
		{"changes within the limit", platform.Expectation{MaxChangesPer5m: changes(2)}, true, "2 in the 5m to 30s"},
		{"too many changes", platform.Expectation{MaxChangesPer5m: changes(1)}, false, "2 in the 5m to 30s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := platform.Check(tl, map[string]platform.Expectation{"order": tt.e})
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 1 || out[0].OK != tt.ok || out[0].Observed != tt.observed {
				t.Fatalf("Check = %+v, want ok=%v observed %q", out, tt.ok, tt.observed)
			}
		})
	}
	if _, err := platform.Check(tl, map[string]platform.Expectation{"cart": {NeverAbove: 1}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Check of an unknown Deployment = %v, want Invalid", err)
	}
	if _, err := platform.Check(tl, map[string]platform.Expectation{"order": {SettlesTo: 2, SettleWithin: time.Hour}}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Check past the end of the simulation = %v, want Invalid", err)
	}
}

func TestHorizon(t *testing.T) {
	exps := map[string]platform.Expectation{
		"order":   {SettlesTo: 2, SettleWithin: 15 * time.Minute},
		"payment": {SettlesTo: 2, SettleWithin: 20 * time.Minute},
		"product": {Reaches: 3, Within: 50 * time.Minute},
	}
	if got := platform.Horizon(2*time.Minute, exps); got != 50*time.Minute {
		t.Fatalf("Horizon = %s, want product's within, 50m, the latest need", got)
	}
	delete(exps, "product")
	if got, want := platform.Horizon(2*time.Minute, exps), 2*time.Minute+20*time.Minute+platform.SettleHold; got != want {
		t.Fatalf("Horizon = %s, want the load's end + payment's settle_within + SettleHold = %s", got, want)
	}
	if got := platform.Horizon(time.Hour, nil); got != time.Hour {
		t.Fatalf("Horizon without expectations = %s, want the load's end", got)
	}
}
