package hpa

import (
	"math"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// fiveDeployments is a shop's worth of HPAs: legacy and behavior, CPU and
// memory, Utilization and AverageValue.
func fiveDeployments(tb testing.TB) []*Twin {
	tb.Helper()
	withBehavior := cpuSpec(2, 30, 60, &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   rules(new(int32(30)), autoscalingv2.MaxChangePolicySelect, podsPolicy(4, 60), percentPolicy(100, 60)),
		ScaleDown: rules(new(int32(120)), autoscalingv2.MinChangePolicySelect, podsPolicy(2, 60), percentPolicy(20, 60)),
	})
	twoMetrics := &autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: new(int32(2)), MaxReplicas: 40,
		Metrics: []autoscalingv2.MetricSpec{
			resourceUtilization(corev1.ResourceCPU, 70),
			{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceMemory,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: new(resource.MustParse("300Mi"))},
			}},
		},
	}
	specs := []*autoscalingv2.HorizontalPodAutoscalerSpec{
		cpuSpec(2, 20, 50, nil),
		withBehavior,
		twoMetrics,
		cpuSpec(1, 10, 80, &autoscalingv2.HorizontalPodAutoscalerBehavior{}),
		cpuSpec(3, 50, 65, nil),
	}
	profile := PodProfile{CPURequestMilli: 500, MemoryRequestBytes: 512 << 20, Startup: 25 * time.Second, MetricWindow: 15 * time.Second}
	twins := make([]*Twin, len(specs))
	for i, s := range specs {
		tw, err := NewTwin(s, 3, profile)
		if err != nil {
			tb.Fatal(err)
		}
		twins[i] = tw
	}
	return twins
}

// loadAt is a deterministic load: a slow wave with a burst every 10 minutes.
func loadAt(i int, at time.Duration) Demand {
	m := at.Minutes()
	cpu := 1500 + 1200*math.Sin(m/9+float64(i))
	if int(m)%10 == 0 {
		cpu += 2500
	}
	return Demand{CPUMilli: int64(cpu) * int64(i+1), MemoryBytesPerPod: 200<<20 + int64(i)*(40<<20)}
}

// BenchmarkOneHourFiveDeployments simulates one hour (241 syncs) of five
// HPAs and their pods per iteration.
func BenchmarkOneHourFiveDeployments(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		twins := fiveDeployments(b)
		for at := time.Duration(0); at <= time.Hour; at += 15 * time.Second {
			for i, tw := range twins {
				if _, err := tw.Step(at, loadAt(i, at)); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// TestOneHourFiveDeploymentsStaysInBounds runs the benchmark's scenario once
// and checks the invariants every step must keep.
func TestOneHourFiveDeploymentsStaysInBounds(t *testing.T) {
	twins := fiveDeployments(t)
	scaled := 0
	for at := time.Duration(0); at <= time.Hour; at += 15 * time.Second {
		for i, tw := range twins {
			s, err := tw.Step(at, loadAt(i, at))
			if err != nil {
				t.Fatal(err)
			}
			spec := tw.spec
			if s.Replicas < spec.minReplicas || s.Replicas > spec.maxReplicas {
				t.Fatalf("twin %d at %s: %d replicas outside [%d, %d]", i, at, s.Replicas, spec.minReplicas, spec.maxReplicas)
			}
			if !spec.hasBehavior && s.Replicas > max(2*s.ReplicasBefore, 4) {
				t.Fatalf("twin %d at %s: %d -> %d beats the legacy scale-up limit", i, at, s.ReplicasBefore, s.Replicas)
			}
			if s.Replicas != s.ReplicasBefore {
				scaled++
			}
		}
	}
	if scaled == 0 {
		t.Fatal("the scenario never scaled: it exercises nothing")
	}
}
