package hpa

import (
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// syncStep is one sync of a sequence test: the target is at current
// replicas, all long ready, each using util% of a 1000m CPU request.
type syncStep struct {
	t       int   // seconds after now
	current int32 // the target's scale.spec.replicas
	util    int64 // CPU use of every pod, percent of request
	raw     int32 // want: the metrics' proposal
	want    int32 // want: replicas after the sync
	limit   string
	stab    string
}

// runSteps syncs one HPA through steps on one controller, so that its
// recommendations and scale events carry from step to step.
func runSteps(t *testing.T, cfg Config, spec *autoscalingv2.HorizontalPodAutoscalerSpec, steps []syncStep) {
	t.Helper()
	c, err := NewController(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		obs := Observation{Replicas: s.current, Pods: repeatPods(int(s.current), s.util*10)}
		d, err := c.Sync(now.Add(time.Duration(s.t)*time.Second), "hpa", spec, obs)
		if err != nil {
			t.Fatalf("t=%d: %v", s.t, err)
		}
		if d.Err != nil {
			t.Fatalf("t=%d: sync failed: %v", s.t, d.Err)
		}
		if d.MetricReplicas != s.raw || d.DesiredReplicas != s.want || d.LimitReason != s.limit || d.StabilizationReason != s.stab {
			t.Errorf("t=%d: got raw %d -> %d (%s, %s), want raw %d -> %d (%s, %s)",
				s.t, d.MetricReplicas, d.DesiredReplicas, d.LimitReason, d.StabilizationReason,
				s.raw, s.want, s.limit, s.stab)
		}
		if d.Rescaled != (s.want != s.current) {
			t.Errorf("t=%d: Rescaled = %v with %d -> %d", s.t, d.Rescaled, s.current, s.want)
		}
	}
}

func cpuSpec(minReplicas, maxReplicas, target int32, b *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscalerSpec {
	return &autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: new(minReplicas),
		MaxReplicas: maxReplicas,
		Metrics:     []autoscalingv2.MetricSpec{resourceUtilization(corev1.ResourceCPU, target)},
		Behavior:    b,
	}
}

func resourceUtilization(name corev1.ResourceName, target int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   name,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(target)},
		},
	}
}

func rules(window *int32, sel autoscalingv2.ScalingPolicySelect, policies ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	r := &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: window, Policies: policies}
	if sel != "" {
		r.SelectPolicy = &sel
	}
	return r
}

func podsPolicy(value, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: value, PeriodSeconds: period}
}

func percentPolicy(value, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: value, PeriodSeconds: period}
}

const (
	within     = "DesiredWithinRange"
	upLimit    = "ScaleUpLimit"
	downLimit  = "ScaleDownLimit"
	tooMany    = "TooManyReplicas"
	tooFew     = "TooFewReplicas"
	ready      = "ReadyForNewScale"
	upStable   = "ScaleUpStabilized"
	downStable = "ScaleDownStabilized"
)

// TestLegacy covers an HPA without behavior: the 5-minute max-recommendation
// window and the max(2 x current, 4) scale-up limit. Target 50% throughout,
// so util/50 is the ratio and raw = ceil(ratio x current).
func TestLegacy(t *testing.T) {
	tests := []struct {
		name  string
		spec  *autoscalingv2.HorizontalPodAutoscalerSpec
		steps []syncStep
	}{
		{
			name: "scale-up limit max(2 x current, 4), then maxReplicas",
			spec: cpuSpec(1, 20, 50, nil),
			steps: []syncStep{
				// ratio 10 -> raw 10; limit max(2, 4) = 4.
				{t: 0, current: 1, util: 500, raw: 10, want: 4, limit: upLimit, stab: ready},
				// ratio 5 -> raw 20; limit max(8, 4) = 8.
				{t: 15, current: 4, util: 250, raw: 20, want: 8, limit: upLimit, stab: ready},
				// ratio 2 -> raw 16, but the window holds 20 (t=15): the legacy
				// window is a max over every recommendation, up or down. Limit
				// 2 x 8 = 16.
				{t: 30, current: 8, util: 100, raw: 16, want: 16, limit: upLimit, stab: downStable},
				// ratio 1.5 -> raw 24; limit 32 but maxReplicas 20 is lower.
				{t: 45, current: 16, util: 75, raw: 24, want: 20, limit: tooMany, stab: ready},
			},
		},
		{
			name: "downscale stabilization keeps the highest recommendation of 5 minutes, cutoff inclusive",
			spec: cpuSpec(1, 10, 50, nil),
			steps: []syncStep{
				{t: 0, current: 4, util: 50, raw: 4, want: 4, limit: within, stab: ready},
				// ratio 2 -> raw 8, within the limit 8.
				{t: 15, current: 4, util: 100, raw: 8, want: 8, limit: within, stab: ready},
				// ratio 0.5 -> raw 4; window max 8 (t=15).
				{t: 30, current: 8, util: 25, raw: 4, want: 8, limit: within, stab: downStable},
				{t: 300, current: 8, util: 25, raw: 4, want: 8, limit: within, stab: downStable},
				// cutoff = 315-300 = 15: the 8 of t=15 is not Before the cutoff,
				// so the legacy window still holds it.
				{t: 315, current: 8, util: 25, raw: 4, want: 8, limit: within, stab: downStable},
				// cutoff 30: only 4s remain.
				{t: 330, current: 8, util: 25, raw: 4, want: 4, limit: within, stab: ready},
			},
		},
		{
			name: "first sight seeds the window with the current scale",
			spec: cpuSpec(1, 10, 50, nil),
			steps: []syncStep{
				// ratio 14/50 = 0.28 -> ceil(1.4) = 2, but the seed (6 at t=0)
				// is in the window.
				{t: 0, current: 6, util: 14, raw: 2, want: 6, limit: within, stab: downStable},
				{t: 300, current: 6, util: 14, raw: 2, want: 6, limit: within, stab: downStable},
				// cutoff 15: the seed (t=0) has left; no rate limit on the way down.
				{t: 315, current: 6, util: 14, raw: 2, want: 2, limit: within, stab: ready},
			},
		},
		{
			name: "minReplicas",
			spec: cpuSpec(3, 10, 50, nil),
			steps: []syncStep{
				// ratio 0.2 -> ceil(0.6) = 1; the seed holds 4.
				{t: 0, current: 4, util: 10, raw: 1, want: 4, limit: within, stab: downStable},
				// cutoff 15: window max is the raw 1 -> clamped to minReplicas 3.
				{t: 315, current: 4, util: 10, raw: 1, want: 3, limit: tooFew, stab: ready},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, DefaultConfig(), tt.spec, tt.steps)
		})
	}
}

func TestConvertDesiredReplicasWithRules(t *testing.T) {
	tests := []struct {
		current, desired, min, max int32
		want                       int32
		reason                     string
	}{
		{current: 1, desired: 10, min: 1, max: 10, want: 4, reason: upLimit},       // max(2, 4) = 4
		{current: 3, desired: 10, min: 1, max: 10, want: 6, reason: upLimit},       // 2 x 3 = 6
		{current: 3, desired: 10, min: 1, max: 5, want: 5, reason: tooMany},        // max 5 < limit 6
		{current: 6, desired: 12, min: 1, max: 12, want: 12, reason: within},       // limit 12 = max
		{current: 6, desired: 13, min: 1, max: 12, want: 12, reason: tooMany},      // limit 12 is not > max 12
		{current: 5, desired: 1, min: 2, max: 10, want: 2, reason: tooFew},         // below min
		{current: 5, desired: 3, min: 2, max: 10, want: 3, reason: within},         // no limit down
		{current: 5, desired: 5, min: 2, max: 10, want: 5, reason: within},         // no change
		{current: 2, desired: 4, min: 1, max: 3, want: 3, reason: tooMany},         // limit 4 > max 3
		{current: 2, desired: 0, min: 1, max: 3, want: 1, reason: tooFew},          // zero usage
		{current: 100, desired: 150, min: 1, max: 500, want: 150, reason: within},  // limit 200
		{current: 100, desired: 250, min: 1, max: 500, want: 200, reason: upLimit}, // limit 200
	}
	for _, tt := range tests {
		got, reason, _ := convertDesiredReplicasWithRules(tt.current, tt.desired, tt.min, tt.max)
		if got != tt.want || reason != tt.reason {
			t.Errorf("convert(current %d, desired %d, [%d, %d]) = %d %s, want %d %s",
				tt.current, tt.desired, tt.min, tt.max, got, reason, tt.want, tt.reason)
		}
	}
}

// TestBehavior covers HPAs with spec.behavior. Target 50% throughout.
func TestBehavior(t *testing.T) {
	zero := new(int32(0))
	tests := []struct {
		name  string
		spec  *autoscalingv2.HorizontalPodAutoscalerSpec
		steps []syncStep
	}{
		{
			name: "defaults: the larger of 4 pods or 100% per 15 s",
			spec: cpuSpec(1, 30, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{}),
			steps: []syncStep{
				// ratio 20 -> raw 20. Pods: 1+4 = 5; Percent: ceil(1 x 2) = 2; Max -> 5.
				{t: 0, current: 1, util: 1000, raw: 20, want: 5, limit: upLimit, stab: ready},
				// The +4 event of t=0 sits exactly at the cutoff 15-15 = 0: outside.
				// Pods: 5+4 = 9; Percent: 10 -> 10.
				{t: 15, current: 5, util: 200, raw: 20, want: 10, limit: upLimit, stab: ready},
				// Pods 14, Percent 20 -> 20 = raw.
				{t: 30, current: 10, util: 100, raw: 20, want: 20, limit: within, stab: ready},
			},
		},
		{
			name: "a Pods policy counts the scale-ups inside its period",
			spec: cpuSpec(1, 30, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(nil, "", podsPolicy(2, 60)),
			}),
			steps: []syncStep{
				// ratio 5 -> raw 10; limit 2+2 = 4.
				{t: 0, current: 2, util: 250, raw: 10, want: 4, limit: upLimit, stab: ready},
				// The +2 of t=0 is inside (-45, 15]: period start 4-2 = 2 -> limit 4.
				{t: 15, current: 4, util: 125, raw: 10, want: 4, limit: upLimit, stab: ready},
				{t: 45, current: 4, util: 125, raw: 10, want: 4, limit: upLimit, stab: ready},
				// cutoff 0: the event of t=0 is at the cutoff, outside -> 4+2 = 6.
				{t: 60, current: 4, util: 125, raw: 10, want: 6, limit: upLimit, stab: ready},
				// ratio 1.7 -> ceil(10.2) = 11; the +2 of t=60 counts -> limit 6.
				{t: 75, current: 6, util: 85, raw: 11, want: 6, limit: upLimit, stab: ready},
			},
		},
		{
			name: "a Percent policy rounds the limit up",
			spec: cpuSpec(1, 30, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(nil, "", percentPolicy(50, 60)),
			}),
			steps: []syncStep{
				// ratio 10 -> raw 30; ceil(3 x 1.5) = ceil(4.5) = 5.
				{t: 0, current: 3, util: 500, raw: 30, want: 5, limit: upLimit, stab: ready},
			},
		},
		{
			// The controller computes ceil(50 x (1 + 10/100)) in float64:
			// 50 x 1.1 = 55.00000000000001, so the limit is 56, not 55.
			name: "Percent limit follows the controller's float arithmetic",
			spec: cpuSpec(1, 200, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(nil, "", percentPolicy(10, 15)),
			}),
			steps: []syncStep{
				{t: 0, current: 50, util: 100, raw: 100, want: 56, limit: upLimit, stab: ready},
			},
		},
		{
			name: "selectPolicy Max takes the most permissive policy",
			spec: cpuSpec(1, 50, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(nil, autoscalingv2.MaxChangePolicySelect, podsPolicy(4, 15), percentPolicy(100, 15)),
			}),
			steps: []syncStep{
				// ratio 3 -> raw 30; Pods 10+4 = 14, Percent 20 -> 20.
				{t: 0, current: 10, util: 150, raw: 30, want: 20, limit: upLimit, stab: ready},
			},
		},
		{
			name: "selectPolicy Min takes the least permissive policy",
			spec: cpuSpec(1, 50, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(nil, autoscalingv2.MinChangePolicySelect, podsPolicy(4, 15), percentPolicy(100, 15)),
			}),
			steps: []syncStep{
				{t: 0, current: 10, util: 150, raw: 30, want: 14, limit: upLimit, stab: ready},
			},
		},
		{
			// Disabled makes the limit the current scale: reported as ScaleUpLimit.
			name: "selectPolicy Disabled stops scale-up",
			spec: cpuSpec(1, 50, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: rules(nil, autoscalingv2.DisabledPolicySelect),
			}),
			steps: []syncStep{
				{t: 0, current: 10, util: 150, raw: 30, want: 10, limit: upLimit, stab: ready},
			},
		},
		{
			name: "scale-down: Max picks the lowest limit, then the period holds it",
			spec: cpuSpec(1, 50, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: rules(zero, autoscalingv2.MaxChangePolicySelect, percentPolicy(50, 60), podsPolicy(3, 60)),
			}),
			steps: []syncStep{
				// The seed (10) is at t=0 = cutoff of a 0 s window: outside.
				// ratio 0.2 -> raw 2. Percent int(10 x 0.5) = 5, Pods 10-3 = 7;
				// Max (most change) -> 5.
				{t: 0, current: 10, util: 10, raw: 2, want: 5, limit: downLimit, stab: ready},
				// The -5 of t=0 is inside the period: start 5+5 = 10 -> 5 again,
				// which is the current scale. ratio 0.08 -> ceil(0.4) = 1.
				{t: 15, current: 5, util: 4, raw: 1, want: 5, limit: downLimit, stab: ready},
				// cutoff 0: start 5 -> Percent int(2.5) = 2, Pods 2 -> 2.
				{t: 60, current: 5, util: 4, raw: 1, want: 2, limit: downLimit, stab: ready},
			},
		},
		{
			name: "scale-down: Min picks the highest limit",
			spec: cpuSpec(1, 50, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: rules(zero, autoscalingv2.MinChangePolicySelect, percentPolicy(50, 60), podsPolicy(3, 60)),
			}),
			steps: []syncStep{
				{t: 0, current: 10, util: 10, raw: 2, want: 7, limit: downLimit, stab: ready},
			},
		},
		{
			name: "scale-down: Disabled",
			spec: cpuSpec(1, 50, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: rules(zero, autoscalingv2.DisabledPolicySelect),
			}),
			steps: []syncStep{
				{t: 0, current: 10, util: 10, raw: 2, want: 10, limit: downLimit, stab: ready},
			},
		},
		{
			// Up window 60 s, down window 0. The recommendation is the current
			// scale raised to the lowest recommendation of the last 60 s.
			name: "scale-up window takes the lowest recommendation; a recommendation at the cutoff is outside",
			spec: cpuSpec(1, 30, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp:   rules(new(int32(60)), ""),
				ScaleDown: rules(zero, ""),
			}),
			steps: []syncStep{
				// ratio 4 -> raw 8; the seed (2 at t=0) is inside (-60, 0]: min 2.
				{t: 0, current: 2, util: 200, raw: 8, want: 2, limit: within, stab: upStable},
				{t: 15, current: 2, util: 200, raw: 8, want: 2, limit: within, stab: upStable},
				{t: 30, current: 2, util: 200, raw: 8, want: 2, limit: within, stab: upStable},
				{t: 45, current: 2, util: 200, raw: 8, want: 2, limit: within, stab: upStable},
				// cutoff 0: the seed is at the cutoff, outside -> min 8. Default
				// rate: Pods 2+4 = 6, Percent 4 -> 6.
				{t: 60, current: 2, util: 200, raw: 8, want: 6, limit: upLimit, stab: ready},
				// ratio 1 -> within tolerance -> raw 6 (the current scale).
				{t: 75, current: 6, util: 50, raw: 6, want: 6, limit: within, stab: ready},
				// ratio 4 -> raw 24, but the 6 of t=75 is in (30, 90]: min 6.
				{t: 90, current: 6, util: 200, raw: 24, want: 6, limit: within, stab: upStable},
				{t: 105, current: 6, util: 200, raw: 24, want: 6, limit: within, stab: upStable},
				{t: 120, current: 6, util: 200, raw: 24, want: 6, limit: within, stab: upStable},
				// cutoff 75: the 6 leaves -> min 24; rate: Pods 10, Percent 12 -> 12.
				{t: 135, current: 6, util: 200, raw: 24, want: 12, limit: upLimit, stab: ready},
			},
		},
		{
			// Down window 60 s; the default down rate (100% per 15 s) allows all.
			name: "scale-down window takes the highest recommendation; a recommendation at the cutoff is outside",
			spec: cpuSpec(1, 10, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: rules(new(int32(60)), ""),
			}),
			steps: []syncStep{
				{t: 0, current: 4, util: 50, raw: 4, want: 4, limit: within, stab: ready},
				// ratio 0.2 -> ceil(0.8) = 1; the 4s of t=0 are inside (-45, 15].
				{t: 15, current: 4, util: 10, raw: 1, want: 4, limit: within, stab: downStable},
				{t: 45, current: 4, util: 10, raw: 1, want: 4, limit: within, stab: downStable},
				// cutoff 0: the 4s sit at the cutoff, outside -> max 1. Rate:
				// int(4 x 0) = 0, below minReplicas 1, which does not bind 1.
				{t: 60, current: 4, util: 10, raw: 1, want: 1, limit: within, stab: ready},
			},
		},
		{
			// Unlike the legacy window (inclusive), the seed at the cutoff is out.
			name: "first sight seeds the window with the current scale",
			spec: cpuSpec(1, 10, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{}),
			steps: []syncStep{
				// ratio 0.28 -> ceil(1.4) = 2; the seed 5 holds (default 300 s).
				{t: 0, current: 5, util: 14, raw: 2, want: 5, limit: within, stab: downStable},
				{t: 285, current: 5, util: 14, raw: 2, want: 5, limit: within, stab: downStable},
				{t: 300, current: 5, util: 14, raw: 2, want: 2, limit: within, stab: ready},
			},
		},
		{
			// The scale-down period starts from the replicas before the recent
			// scale-up: start = current - added + deleted.
			name: "recent scale-ups widen the scale-down limit",
			spec: cpuSpec(1, 10, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: rules(zero, "", podsPolicy(1, 60)),
			}),
			steps: []syncStep{
				// ratio 3 -> raw 6; default up rate: Pods 6, Percent 4 -> 6.
				{t: 0, current: 2, util: 150, raw: 6, want: 6, limit: within, stab: ready},
				// ratio 0.1 -> ceil(0.6) = 1. Period start 6-4+0 = 2 -> 2-1 = 1,
				// not below minReplicas 1.
				{t: 15, current: 6, util: 5, raw: 1, want: 1, limit: within, stab: ready},
			},
		},
		{
			name: "tolerance from behavior, per direction",
			spec: cpuSpec(1, 10, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: &autoscalingv2.HPAScalingRules{Tolerance: new(resource.MustParse("0.5"))},
			}),
			steps: []syncStep{
				// ratio 1.4 <= 1.5: no change.
				{t: 0, current: 4, util: 70, raw: 4, want: 4, limit: within, stab: ready},
				// ratio 1.6 -> ceil(6.4) = 7; default rate 8.
				{t: 15, current: 4, util: 80, raw: 7, want: 7, limit: within, stab: ready},
				// ratio 0.84: outside the flag's 0.1, which scale-down keeps ->
				// ceil(5.88) = 6, held at 7 by the 300 s down window.
				{t: 30, current: 7, util: 42, raw: 6, want: 7, limit: within, stab: downStable},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, DefaultConfig(), tt.spec, tt.steps)
		})
	}
}

// TestScaleEventSlots checks that an event older than the longest period is
// overwritten rather than appended, so the memory stays bounded.
func TestScaleEventSlots(t *testing.T) {
	var events []timestampedScaleEvent
	events = storeEvent(events, now, 60, 1)
	events = storeEvent(events, now.Add(30*time.Second), 60, 2)
	events = storeEvent(events, now.Add(61*time.Second), 60, 3) // t=0 is outdated: reused
	if len(events) != 2 || events[0].replicaChange != 3 || events[1].replicaChange != 2 {
		t.Fatalf("events = %+v", events)
	}
	if got := replicasChangeInPeriod(now.Add(90*time.Second), 60, events); got != 3 {
		t.Errorf("change in (30s, 90s] = %d, want 3 (the event at 30 s sits on the cutoff)", got)
	}
}

func TestSyncOutsideBounds(t *testing.T) {
	tests := []struct {
		name       string
		current    int32
		want       int32
		reason     string
		activeWhy  string // ScalingActive reason when not computed
		rescaled   bool
		computeRan bool
	}{
		{name: "above maxReplicas", current: 12, want: 10, reason: "Current number of replicas above Spec.MaxReplicas", rescaled: true},
		{name: "below minReplicas", current: 1, want: 2, reason: "Current number of replicas below Spec.MinReplicas", rescaled: true},
		{name: "scaled to zero by hand", current: 0, want: 0, activeWhy: "ScalingDisabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := NewController(DefaultConfig())
			obs := Observation{Replicas: tt.current, Pods: repeatPods(int(tt.current), 900)}
			d, err := c.Sync(now, "hpa", cpuSpec(2, 10, 50, nil), obs)
			if err != nil {
				t.Fatal(err)
			}
			if d.DesiredReplicas != tt.want || d.Rescaled != tt.rescaled || d.RescaleReason != tt.reason || d.MetricsComputed {
				t.Errorf("got %d rescaled=%v %q computed=%v", d.DesiredReplicas, d.Rescaled, d.RescaleReason, d.MetricsComputed)
			}
			if tt.activeWhy != "" {
				if c, ok := d.Condition(autoscalingv2.ScalingActive); !ok || c.Reason != tt.activeWhy || c.Status != corev1.ConditionFalse {
					t.Errorf("ScalingActive = %+v", c)
				}
			}
		})
	}
}

// TestMultipleMetrics: the largest proposal wins; a failing metric blocks
// only a scale-down.
func TestMultipleMetrics(t *testing.T) {
	memory80 := resourceUtilization(corev1.ResourceMemory, 80)
	missingContainer := autoscalingv2.MetricSpec{
		Type: autoscalingv2.ContainerResourceMetricSourceType,
		ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
			Name: corev1.ResourceCPU, Container: "web",
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(int32(50))},
		},
	}
	// Started a minute ago and not ready: a CPU sample that does not count.
	notReadyYet := func(p *Pod) {
		p.StartTime = now.Add(-time.Minute)
		p.Ready = ReadyCondition{Status: corev1.ConditionFalse, LastTransitionTime: now.Add(-time.Minute)}
	}
	// Two pods with 256Mi requests.
	pods := func(cpuMilli, memBytes int64) []Pod {
		return []Pod{cpuPod("a", cpuMilli, memoryUse(memBytes)), cpuPod("b", cpuMilli, memoryUse(memBytes))}
	}
	tests := []struct {
		name       string
		metrics    []autoscalingv2.MetricSpec
		pods       []Pod
		want       int32
		raw        int32
		metric     string
		reason     string
		wantErr    string
		activeWhy  string
		perMetrics []int32
	}{
		{
			// cpu 100% of 50 -> ratio 2 -> 4; memory 128Mi/256Mi = 50% of 80
			// -> 0.625 -> ceil(1.25) = 2. max -> 4.
			name:    "cpu wins",
			metrics: []autoscalingv2.MetricSpec{resourceUtilization(corev1.ResourceCPU, 50), memory80},
			pods:    pods(1000, 128<<20), raw: 4, want: 4,
			metric:     "cpu resource utilization (percentage of request)",
			reason:     "cpu resource utilization (percentage of request) above target",
			activeWhy:  "ValidMetricFound",
			perMetrics: []int32{4, 2},
		},
		{
			// cpu 10% -> 0.2 -> ceil(0.4) = 1; memory 240Mi/256Mi = 93% of 80
			// -> 1.1625 -> ceil(2.325) = 3. max -> 3.
			name:    "memory wins",
			metrics: []autoscalingv2.MetricSpec{resourceUtilization(corev1.ResourceCPU, 50), memory80},
			pods:    pods(100, 240<<20), raw: 3, want: 3,
			metric:     "memory resource utilization (percentage of request)",
			reason:     "memory resource utilization (percentage of request) above target",
			activeWhy:  "ValidMetricFound",
			perMetrics: []int32{1, 3},
		},
		{
			// cpu says 4 > 2 current: the controller scales despite the failure.
			name:    "a failing metric does not block a scale-up",
			metrics: []autoscalingv2.MetricSpec{resourceUtilization(corev1.ResourceCPU, 50), missingContainer},
			pods:    pods(1000, 0), raw: 4, want: 4,
			metric:     "cpu resource utilization (percentage of request)",
			reason:     "cpu resource utilization (percentage of request) above target",
			wantErr:    "invalid metrics (1 invalid out of 2), first error is: failed to get web container metric value",
			activeWhy:  "ValidMetricFound",
			perMetrics: []int32{4, 0},
		},
		{
			// cpu says 1 < 2 current: with a failing metric, no scale-down.
			name:      "a failing metric blocks a scale-down",
			metrics:   []autoscalingv2.MetricSpec{resourceUtilization(corev1.ResourceCPU, 50), missingContainer},
			pods:      pods(100, 0),
			want:      2,
			wantErr:   "invalid metrics (1 invalid out of 2)",
			activeWhy: "FailedGetContainerResourceMetric",
		},
		{
			name:      "every metric failing",
			metrics:   []autoscalingv2.MetricSpec{resourceUtilization(corev1.ResourceCPU, 50)},
			pods:      []Pod{cpuPod("a", 1, notReadyYet), cpuPod("b", 1, notReadyYet)},
			want:      2,
			wantErr:   "failed to get cpu resource metric value: failed to get cpu utilization: did not receive metrics for targeted pods (pods might be unready)",
			activeWhy: "FailedGetResourceMetric",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := NewController(DefaultConfig())
			spec := &autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 10, Metrics: tt.metrics}
			d, err := c.Sync(now, "hpa", spec, Observation{Replicas: 2, Pods: tt.pods})
			if err != nil {
				t.Fatal(err)
			}
			if d.DesiredReplicas != tt.want || d.MetricReplicas != tt.raw || d.Metric != tt.metric || d.RescaleReason != tt.reason {
				t.Errorf("got raw %d (%q) -> %d %q, want raw %d (%q) -> %d %q",
					d.MetricReplicas, d.Metric, d.DesiredReplicas, d.RescaleReason, tt.raw, tt.metric, tt.want, tt.reason)
			}
			if tt.wantErr == "" && d.Err != nil || tt.wantErr != "" && (d.Err == nil || !strings.Contains(d.Err.Error(), tt.wantErr)) {
				t.Errorf("Err = %v, want %q", d.Err, tt.wantErr)
			}
			if c, _ := d.Condition(autoscalingv2.ScalingActive); c.Reason != tt.activeWhy {
				t.Errorf("ScalingActive reason = %q, want %q", c.Reason, tt.activeWhy)
			}
			for i, want := range tt.perMetrics {
				if d.Metrics[i].Replicas != want {
					t.Errorf("metric %d proposes %d, want %d", i, d.Metrics[i].Replicas, want)
				}
			}
		})
	}
}

// TestConditions checks the status conditions a rescale leaves, and that a
// transition time moves only with the status.
func TestConditions(t *testing.T) {
	c, _ := NewController(DefaultConfig())
	spec := cpuSpec(1, 10, 50, nil)
	d, _ := c.Sync(now, "hpa", spec, Observation{Replicas: 2, Pods: repeatPods(2, 1000)})
	want := map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{
		autoscalingv2.AbleToScale:    "SucceededRescale",
		autoscalingv2.ScalingActive:  "ValidMetricFound",
		autoscalingv2.ScalingLimited: "DesiredWithinRange",
	}
	for typ, reason := range want {
		if got, ok := d.Condition(typ); !ok || got.Reason != reason {
			t.Errorf("%s = %+v, want reason %s", typ, got, reason)
		}
	}
	if got, _ := d.Condition(autoscalingv2.AbleToScale); got.Message != "the HPA controller was able to update the target scale to 4" {
		t.Errorf("AbleToScale message = %q", got.Message)
	}

	// Next sync: cpu 100% of 50 on 4 pods -> raw 8, limit max(8, 4) = 8,
	// max 10: within range again, ScalingLimited stays False (same time).
	later := now.Add(15 * time.Second)
	d, _ = c.Sync(later, "hpa", spec, Observation{Replicas: 4, Pods: repeatPods(4, 1000)})
	if got, _ := d.Condition(autoscalingv2.ScalingLimited); got.Status != corev1.ConditionFalse || !got.LastTransitionTime.Equal(now) {
		t.Errorf("ScalingLimited = %+v, want False since %s", got, now)
	}
	// Then 8 pods at 100% -> raw 16 > max 10: ScalingLimited turns True now.
	latest := now.Add(30 * time.Second)
	d, _ = c.Sync(latest, "hpa", spec, Observation{Replicas: 8, Pods: repeatPods(8, 1000)})
	if got, _ := d.Condition(autoscalingv2.ScalingLimited); got.Status != corev1.ConditionTrue || got.Reason != tooMany || !got.LastTransitionTime.Equal(latest) {
		t.Errorf("ScalingLimited = %+v, want True TooManyReplicas since %s", got, latest)
	}
}

// TestForgetStartsOver: a deleted and re-created HPA is seen for the first
// time again.
func TestForgetStartsOver(t *testing.T) {
	c, _ := NewController(DefaultConfig())
	spec := cpuSpec(1, 10, 50, nil)
	sync := func(at time.Duration, current int32, util int64) int32 {
		d, err := c.Sync(now.Add(at), "hpa", spec, Observation{Replicas: current, Pods: repeatPods(int(current), util*10)})
		if err != nil {
			t.Fatal(err)
		}
		return d.DesiredReplicas
	}
	sync(0, 6, 50)
	// 6 minutes later the seed has left: 14% -> ceil(1.68) = 2.
	if got := sync(6*time.Minute, 6, 14); got != 2 {
		t.Fatalf("got %d, want 2", got)
	}
	c.Forget("hpa")
	// Seen afresh with 6 replicas: the new seed holds 6.
	if got := sync(7*time.Minute, 6, 14); got != 6 {
		t.Fatalf("after Forget got %d, want 6", got)
	}
}

func TestValidateSpec(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*autoscalingv2.HorizontalPodAutoscalerSpec)
		wantErr string
	}{
		{"valid", func(*autoscalingv2.HorizontalPodAutoscalerSpec) {}, ""},
		{"no metrics defaults to cpu 80%", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.Metrics = nil }, ""},
		{"maxReplicas 0", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.MaxReplicas = 0 }, "spec.maxReplicas"},
		{"minReplicas 0", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.MinReplicas = new(int32(0)) }, "spec.minReplicas"},
		{"min above max", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) { s.MinReplicas = new(int32(11)) }, "must be greater than or equal to minReplicas"},
		{"pods metric", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType}}
		}, "spec.metrics[0].type): Pods metrics are not modelled"},
		{"utilization without a value", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Target.AverageUtilization = nil
		}, "spec.metrics[0].resource.target.averageUtilization"},
		{"Value target", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType}
		}, "must be Utilization or AverageValue"},
		{"storage resource", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Metrics[0].Resource.Name = corev1.ResourceEphemeralStorage
		}, "must be cpu or memory"},
		{"empty policies", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{}}}
		}, "spec.behavior.scaleUp.policies): must specify at least one Policy"},
		{"bad policy", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(nil, "", podsPolicy(0, 1801))}
		}, "spec.behavior.scaleDown.policies[0].periodSeconds"},
		{"window too long", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: rules(new(int32(3601)), "")}
		}, "spec.behavior.scaleDown.stabilizationWindowSeconds"},
		{"bad select policy", func(s *autoscalingv2.HorizontalPodAutoscalerSpec) {
			s.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(nil, "Fastest")}
		}, "spec.behavior.scaleUp.selectPolicy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := cpuSpec(1, 10, 50, nil)
			tt.mutate(spec)
			err := ValidateSpec(spec)
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
