package hpa

import (
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// now is the instant of every single-sync test.
var now = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

// cpuPod is a pod that has been ready for an hour, requests 1000m CPU and
// 256Mi memory in one container "app", uses usageMilli CPU and has a fresh
// metric over a 15 s window. Options change it.
func cpuPod(name string, usageMilli int64, opts ...func(*Pod)) Pod {
	p := Pod{
		Name:      name,
		Phase:     corev1.PodRunning,
		StartTime: now.Add(-time.Hour),
		Ready:     ReadyCondition{Status: corev1.ConditionTrue, LastTransitionTime: now.Add(-time.Hour)},
		Containers: []Container{{
			Name: "app", CPURequestMilli: 1000, CPUUsageMilli: usageMilli,
			MemoryRequestBytes: 256 << 20,
		}},
		Metrics: PodMetrics{Available: true, Timestamp: now, Window: 15 * time.Second},
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

// pending: scheduled but not running, so no metric and not ready.
func pending(p *Pod) {
	p.Phase = corev1.PodPending
	p.Ready = ReadyCondition{Status: corev1.ConditionFalse, LastTransitionTime: p.StartTime}
	p.Metrics = PodMetrics{}
}

// noMetric: running and ready, but metrics-server has no sample yet.
func noMetric(p *Pod) { p.Metrics = PodMetrics{} }

func memoryUse(bytes int64) func(*Pod) {
	return func(p *Pod) { p.Containers[0].MemoryUsageBytes = bytes }
}

func utilizationMetric(resource corev1.ResourceName, target int32) metricSpec {
	return metricSpec{sourceType: autoscalingv2.ResourceMetricSourceType, resource: resource, utilization: target}
}

func averageValueMetric(resource corev1.ResourceName, targetMilli int64) metricSpec {
	return metricSpec{sourceType: autoscalingv2.ResourceMetricSourceType, resource: resource, averageValue: targetMilli, hasAverageValue: true}
}

var defaultCalc = replicaCalculator{now: now, cpuInitializationPeriod: 5 * time.Minute, initialReadinessDelay: 30 * time.Second}

var defaultTolerances = tolerances{down: 0.1, up: 0.1}

// TestEstimate checks the replica calculator rule by rule. Every pod
// requests 1000m CPU unless said otherwise, so a usage of 550m is 55%.
func TestEstimate(t *testing.T) {
	cpu50 := utilizationMetric(corev1.ResourceCPU, 50)
	tests := []struct {
		name        string
		metric      metricSpec
		current     int32
		pods        []Pod
		want        int32
		wantUtil    int32
		wantAverage int64 // milli-units
		// ready, unready, missing, ignored
		wantGroups [4]int
	}{
		{
			// sum 1110m / 2000m = 55.5% -> truncated to 55 -> ratio 55/50 = 1.1,
			// inside the tolerance; untruncated (1.11) it would have scaled to 3.
			name: "utilization is truncated before the ratio", metric: cpu50, current: 2,
			pods: []Pod{cpuPod("a", 555), cpuPod("b", 555)},
			want: 2, wantUtil: 55, wantAverage: 555, wantGroups: [4]int{2, 0, 0, 0},
		},
		{
			// 4 x 450m / 4000m = 45% -> ratio 0.9 = 1 - 0.1: inclusive, no change.
			name: "ratio exactly 0.9 keeps the scale", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 450), cpuPod("b", 450), cpuPod("c", 450), cpuPod("d", 450)},
			want: 4, wantUtil: 45, wantAverage: 450, wantGroups: [4]int{4, 0, 0, 0},
		},
		{
			// 10 x 440m -> 44% -> ratio 0.88 -> ceil(0.88 x 10) = ceil(8.8) = 9.
			name: "ratio 0.88 scales down", metric: cpu50, current: 10,
			pods: repeatPods(10, 440),
			want: 9, wantUtil: 44, wantAverage: 440, wantGroups: [4]int{10, 0, 0, 0},
		},
		{
			// 4 x 550m -> 55% -> ratio 1.1 = 1 + 0.1: inclusive, no change.
			name: "ratio exactly 1.1 keeps the scale", metric: cpu50, current: 4,
			pods: repeatPods(4, 550),
			want: 4, wantUtil: 55, wantAverage: 550, wantGroups: [4]int{4, 0, 0, 0},
		},
		{
			// 4 x 560m -> 56% -> ratio 1.12 -> ceil(1.12 x 4) = ceil(4.48) = 5.
			name: "ratio 1.12 scales up", metric: cpu50, current: 4,
			pods: repeatPods(4, 560),
			want: 5, wantUtil: 56, wantAverage: 560, wantGroups: [4]int{4, 0, 0, 0},
		},
		{
			// Ready pods at 100% -> ratio 2 > 1 with 2 unready pods: those count
			// as 0 -> (1000+1000+0+0)/4000 = 50% -> new ratio 1.0, within the
			// tolerance: no second scale-up while the new pods start.
			name: "unready pods count as zero on scale-up", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 1000), cpuPod("b", 1000), cpuPod("c", 0, pending), cpuPod("d", 0, pending)},
			want: 4, wantUtil: 100, wantAverage: 1000, wantGroups: [4]int{2, 2, 0, 0},
		},
		{
			// Ready pods at 150% -> ratio 3; with the unready at 0:
			// 3000/4000 = 75% -> new ratio 1.5 -> ceil(1.5 x 4 counted pods) = 6.
			name: "unready pods dilute a scale-up", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 1500), cpuPod("b", 1500), cpuPod("c", 0, pending), cpuPod("d", 0, pending)},
			want: 6, wantUtil: 150, wantAverage: 1500, wantGroups: [4]int{2, 2, 0, 0},
		},
		{
			// Ready pods at 20% -> ratio 0.4 < 1: unready pods are simply left
			// out -> ceil(0.4 x 2 ready) = ceil(0.8) = 1.
			name: "unready pods are left out on scale-down", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 200), cpuPod("b", 200), cpuPod("c", 0, pending), cpuPod("d", 0, pending)},
			want: 1, wantUtil: 20, wantAverage: 200, wantGroups: [4]int{2, 2, 0, 0},
		},
		{
			// 3 pods at 10% -> ratio 0.2; the missing pod counts as 100% of its
			// request: (300+1000)/4000 = 32.5% -> 32 -> 0.64 -> ceil(0.64 x 4) = 3.
			// Leaving it out would have given ceil(0.2 x 3) = 1.
			name: "missing pods count as their whole request on scale-down", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 100), cpuPod("b", 100), cpuPod("c", 100), cpuPod("d", 0, noMetric)},
			want: 3, wantUtil: 10, wantAverage: 100, wantGroups: [4]int{3, 0, 1, 0},
		},
		{
			// Target 150%: 3 pods at 60% -> ratio 0.4; the missing pod counts as
			// max(100, 150)% = 1500m: (1800+1500)/4000 = 82.5% -> 82 -> 0.5467
			// -> ceil(2.19) = 3 (at 100% it would be 70% -> ceil(1.87) = 2).
			name: "missing pods count as the target when it is above 100%", metric: utilizationMetric(corev1.ResourceCPU, 150), current: 4,
			pods: []Pod{cpuPod("a", 600), cpuPod("b", 600), cpuPod("c", 600), cpuPod("d", 0, noMetric)},
			want: 3, wantUtil: 60, wantAverage: 600, wantGroups: [4]int{3, 0, 1, 0},
		},
		{
			// 3 pods at 100% -> ratio 2; the missing pod counts as 0:
			// 3000/4000 = 75% -> 1.5 -> ceil(1.5 x 4) = 6.
			name: "missing pods count as zero on scale-up", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 1000), cpuPod("b", 1000), cpuPod("c", 1000), cpuPod("d", 0, noMetric)},
			want: 6, wantUtil: 100, wantAverage: 1000, wantGroups: [4]int{3, 0, 1, 0},
		},
		{
			// 2 pods at 20% -> ratio 0.4; 2 missing at 100%:
			// (200+200+1000+1000)/4000 = 60% -> 1.2 > 1: the direction flipped,
			// so the scale stays.
			name: "a recomputed ratio that flips direction keeps the scale", metric: cpu50, current: 4,
			pods: []Pod{cpuPod("a", 200), cpuPod("b", 200), cpuPod("c", 0, noMetric), cpuPod("d", 0, noMetric)},
			want: 4, wantUtil: 20, wantAverage: 200, wantGroups: [4]int{2, 0, 2, 0},
		},
		{
			// spec.replicas is 2 but 4 pods match (a rollout surge). Target 80:
			// 2 pods at 40% -> ratio 0.5; 2 missing at 100%: 2800/4000 = 70% ->
			// 0.875, still down, but ceil(0.875 x 4) = 4 > 2 would scale up:
			// the scale stays.
			name: "a recount that would move against the ratio keeps the scale", metric: utilizationMetric(corev1.ResourceCPU, 80), current: 2,
			pods: []Pod{cpuPod("a", 400), cpuPod("b", 400), cpuPod("c", 0, noMetric), cpuPod("d", 0, noMetric)},
			want: 2, wantUtil: 40, wantAverage: 400, wantGroups: [4]int{2, 0, 2, 0},
		},
		{
			// A failed and a terminating pod are ignored altogether:
			// 2 x 900m -> 90% -> 1.8 -> ceil(1.8 x 2) = 4.
			name: "failed and deleting pods are ignored", metric: cpu50, current: 4,
			pods: []Pod{
				cpuPod("a", 900), cpuPod("b", 900),
				cpuPod("c", 5000, func(p *Pod) { p.Phase = corev1.PodFailed }),
				cpuPod("d", 5000, func(p *Pod) { p.Deleting = true }),
			},
			want: 4, wantUtil: 90, wantAverage: 900, wantGroups: [4]int{2, 0, 0, 2},
		},
		{
			// (700+700+701)/3 = 700m (integer division) -> 700/500 = 1.4 ->
			// ceil(1.4 x 3) = ceil(4.2) = 5.
			name: "AverageValue uses the truncated average", metric: averageValueMetric(corev1.ResourceCPU, 500), current: 3,
			pods: []Pod{cpuPod("a", 700), cpuPod("b", 700), cpuPod("c", 701)},
			want: 5, wantAverage: 700, wantGroups: [4]int{3, 0, 0, 0},
		},
		{
			// (100+100)/2 = 100m -> ratio 0.2; the missing pod counts as the
			// target (500m): (100+100+500)/3 = 233m -> 0.466 -> ceil(1.4) = 2.
			name: "AverageValue counts a missing pod as the target on scale-down", metric: averageValueMetric(corev1.ResourceCPU, 500), current: 3,
			pods: []Pod{cpuPod("a", 100), cpuPod("b", 100), cpuPod("c", 0, noMetric)},
			want: 2, wantAverage: 100, wantGroups: [4]int{2, 0, 1, 0},
		},
		{
			// Memory request 256Mi: (128Mi+192Mi)/512Mi = 62.5% -> 62 -> target
			// 80 -> 0.775 -> ceil(1.55) = 2. Average (320Mi/2) in milli-bytes.
			name: "memory utilization", metric: utilizationMetric(corev1.ResourceMemory, 80), current: 2,
			pods: []Pod{cpuPod("a", 0, memoryUse(128<<20)), cpuPod("b", 0, memoryUse(192<<20))},
			want: 2, wantUtil: 62, wantAverage: (160 << 20) * 1000, wantGroups: [4]int{2, 0, 0, 0},
		},
		{
			// Readiness matters for CPU only: for memory a not-ready pod with a
			// metric counts. (256Mi x 3)/768Mi = 100% -> ratio 1.25 -> ceil(3.75) = 4.
			name: "memory counts a not-ready pod that has a metric", metric: utilizationMetric(corev1.ResourceMemory, 80), current: 3,
			pods: []Pod{
				cpuPod("a", 0, memoryUse(256<<20)), cpuPod("b", 0, memoryUse(256<<20)),
				cpuPod("c", 0, memoryUse(256<<20), func(p *Pod) {
					p.StartTime = now.Add(-time.Minute)
					p.Ready = ReadyCondition{Status: corev1.ConditionFalse, LastTransitionTime: now.Add(-time.Minute)}
				}),
			},
			want: 4, wantUtil: 100, wantAverage: (256 << 20) * 1000, wantGroups: [4]int{3, 0, 0, 0},
		},
		{
			// Container "app" (500m requested, 450m used) next to a sidecar
			// (500m, 50m): the pod is at 50%, the container at 90% -> ratio 1.8 ->
			// ceil(1.8 x 2) = 4.
			name: "ContainerResource reads one container", current: 2,
			metric: metricSpec{sourceType: autoscalingv2.ContainerResourceMetricSourceType, resource: corev1.ResourceCPU, container: "app", utilization: 50},
			pods:   []Pod{withSidecar(cpuPod("a", 0)), withSidecar(cpuPod("b", 0))},
			want:   4, wantUtil: 90, wantAverage: 450, wantGroups: [4]int{2, 0, 0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			est, err := defaultCalc.estimate(tt.metric, tt.current, defaultTolerances, tt.pods)
			if err != nil {
				t.Fatalf("estimate: %v", err)
			}
			if est.replicas != tt.want {
				t.Errorf("replicas = %d, want %d", est.replicas, tt.want)
			}
			if est.utilization != tt.wantUtil {
				t.Errorf("utilization = %d, want %d", est.utilization, tt.wantUtil)
			}
			if est.average != tt.wantAverage {
				t.Errorf("average = %d, want %d", est.average, tt.wantAverage)
			}
			if got := [4]int{est.ready, est.unready, est.missing, est.ignored}; got != tt.wantGroups {
				t.Errorf("ready/unready/missing/ignored = %v, want %v", got, tt.wantGroups)
			}
		})
	}
}

func repeatPods(n int, usageMilli int64) []Pod {
	pods := make([]Pod, n)
	for i := range pods {
		pods[i] = cpuPod(string(rune('a'+i)), usageMilli)
	}
	return pods
}

func withSidecar(p Pod) Pod {
	p.Containers = []Container{
		{Name: "app", CPURequestMilli: 500, CPUUsageMilli: 450},
		{Name: "proxy", CPURequestMilli: 500, CPUUsageMilli: 50},
	}
	return p
}

// TestGroupPodsCPUInitialization checks groupPods pod by pod for a CPU metric
// at now, with the default 5 min initialization period and 30 s readiness delay.
func TestGroupPodsCPUInitialization(t *testing.T) {
	started := func(ago time.Duration) func(*Pod) {
		return func(p *Pod) { p.StartTime = now.Add(-ago) }
	}
	readyAt := func(status corev1.ConditionStatus, ago time.Duration) func(*Pod) {
		return func(p *Pod) { p.Ready = ReadyCondition{Status: status, LastTransitionTime: now.Add(-ago)} }
	}
	tests := []struct {
		name     string
		resource corev1.ResourceName
		pod      Pod
		want     podGroup
	}{
		{"long ready with a metric", corev1.ResourceCPU, cpuPod("p", 1), groupReady},
		{"pending", corev1.ResourceCPU, cpuPod("p", 1, pending), groupUnready},
		{"failed", corev1.ResourceCPU, cpuPod("p", 1, func(p *Pod) { p.Phase = corev1.PodFailed }), groupIgnored},
		{"succeeded", corev1.ResourceCPU, cpuPod("p", 1, func(p *Pod) { p.Phase = corev1.PodSucceeded }), groupIgnored},
		{"being deleted", corev1.ResourceCPU, cpuPod("p", 1, func(p *Pod) { p.Deleting = true }), groupIgnored},
		// The metric check comes before readiness: running, not ready, no metric.
		{"running unready without a metric is missing", corev1.ResourceCPU, cpuPod("p", 1, noMetric, started(time.Minute), readyAt(corev1.ConditionFalse, time.Minute)), groupMissing},
		{"no Ready condition", corev1.ResourceCPU, cpuPod("p", 1, func(p *Pod) { p.Ready = ReadyCondition{} }), groupUnready},
		{"no start time", corev1.ResourceCPU, cpuPod("p", 1, func(p *Pod) { p.StartTime = time.Time{} }), groupUnready},
		// In the initialization period (started 1 min ago): ready since 40 s,
		// the 15 s window [now-15s, now] starts after the transition.
		{"initializing, ready, window after readiness", corev1.ResourceCPU, cpuPod("p", 1, started(time.Minute), readyAt(corev1.ConditionTrue, 40*time.Second)), groupReady},
		// Ready 10 s ago: the window started 5 s before the transition.
		{"initializing, ready, window straddles readiness", corev1.ResourceCPU, cpuPod("p", 1, started(time.Minute), readyAt(corev1.ConditionTrue, 10*time.Second)), groupUnready},
		// Ready exactly 15 s ago: timestamp (now) is not before transition+window (now).
		{"initializing, window starts exactly at readiness", corev1.ResourceCPU, cpuPod("p", 1, started(time.Minute), readyAt(corev1.ConditionTrue, 15*time.Second)), groupReady},
		{"initializing, not ready", corev1.ResourceCPU, cpuPod("p", 1, started(time.Minute), readyAt(corev1.ConditionFalse, 40*time.Second)), groupUnready},
		{"initializing, readiness unknown is not false", corev1.ResourceCPU, cpuPod("p", 1, started(time.Minute), readyAt(corev1.ConditionUnknown, 40*time.Second)), groupReady},
		// Started 4m59s ago: still initializing (start+5m is after now).
		{"one second before the end of initialization", corev1.ResourceCPU, cpuPod("p", 1, started(5*time.Minute-time.Second), readyAt(corev1.ConditionTrue, 10*time.Second)), groupUnready},
		// Started exactly 5 min ago: start+5m == now is not after now, so the
		// pod is past initialization and a ready pod counts.
		{"exactly at the end of initialization", corev1.ResourceCPU, cpuPod("p", 1, started(5*time.Minute), readyAt(corev1.ConditionTrue, 10*time.Second)), groupReady},
		// Past initialization, unready, and it went unready 10 s after start
		// (within the 30 s delay): it has never been ready.
		{"never ready after initialization", corev1.ResourceCPU, cpuPod("p", 1, started(10*time.Minute), readyAt(corev1.ConditionFalse, 10*time.Minute-10*time.Second)), groupUnready},
		// Went unready 9 min after start: it was ready once, its metric counts.
		{"ready once, unready now, after initialization", corev1.ResourceCPU, cpuPod("p", 1, started(10*time.Minute), readyAt(corev1.ConditionFalse, time.Minute)), groupReady},
		// Transition exactly 30 s after start: start+30s is not after it.
		{"went unready exactly at the readiness delay", corev1.ResourceCPU, cpuPod("p", 1, started(10*time.Minute), readyAt(corev1.ConditionFalse, 10*time.Minute-30*time.Second)), groupReady},
		{"memory ignores readiness", corev1.ResourceMemory, cpuPod("p", 1, started(time.Minute), readyAt(corev1.ConditionFalse, time.Minute)), groupReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pods := []Pod{tt.pod}
			samples, err := fetchResourceMetrics(append(pods, cpuPod("other", 1)), tt.resource, "")
			if err != nil {
				t.Fatal(err)
			}
			got := groupPods(pods, samples, tt.resource, now, 5*time.Minute, 30*time.Second)
			if got[0] != tt.want {
				t.Errorf("group = %d, want %d", got[0], tt.want)
			}
		})
	}
}

func TestEstimateErrors(t *testing.T) {
	cpu50 := utilizationMetric(corev1.ResourceCPU, 50)
	tests := []struct {
		name    string
		metric  metricSpec
		pods    []Pod
		wantErr string
	}{
		{"no metrics at all", cpu50, []Pod{cpuPod("a", 0, noMetric)}, "unable to get metrics for resource cpu: no metrics returned from resource metrics API"},
		{"only unready pods have metrics", cpu50, []Pod{cpuPod("a", 10, func(p *Pod) { p.Ready.Status = "" }), cpuPod("b", 0, pending)}, "did not receive metrics for targeted pods (pods might be unready)"},
		{"a pod without a request", cpu50, []Pod{cpuPod("a", 10), cpuPod("b", 10, func(p *Pod) { p.Containers[0].CPURequestMilli = 0 })}, "missing request for cpu in container app of Pod b"},
		{"AverageValue needs no request", averageValueMetric(corev1.ResourceCPU, 10), []Pod{cpuPod("a", 10, func(p *Pod) { p.Containers[0].CPURequestMilli = 0 })}, ""},
		{
			"container not in the metrics",
			metricSpec{sourceType: autoscalingv2.ContainerResourceMetricSourceType, resource: corev1.ResourceCPU, container: "web", utilization: 50},
			[]Pod{cpuPod("a", 10)},
			"container web not present in metrics for pod a",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := defaultCalc.estimate(tt.metric, 1, defaultTolerances, tt.pods)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestTolerancesAreInclusive pins the float behaviour of the band edges: the
// ratios 45/50 and 55/50 are exactly the doubles of 1-0.1 and 1+0.1.
func TestTolerancesAreInclusive(t *testing.T) {
	tol := tolerances{down: 0.1, up: 0.1}
	for _, tt := range []struct {
		util int32
		want bool
	}{{44, false}, {45, true}, {50, true}, {55, true}, {56, false}} {
		if got := tol.within(float64(tt.util) / 50); got != tt.want {
			t.Errorf("within(%d/50) = %v, want %v", tt.util, got, tt.want)
		}
	}
	// Per-direction tolerances (behavior.scale{Up,Down}.tolerance).
	asym := tolerances{down: 0.05, up: 0.5}
	if asym.within(0.94) || !asym.within(0.95) || !asym.within(1.5) || asym.within(1.52) {
		t.Error("asymmetric tolerances do not bound [0.95, 1.5]")
	}
}
