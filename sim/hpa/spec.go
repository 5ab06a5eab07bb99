package hpa

import (
	"errors"
	"fmt"
	"math"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// The API server's limits on behavior (pkg/apis/autoscaling/validation).
const (
	maxStabilizationWindowSeconds = 3600
	maxPolicyPeriodSeconds        = 1800
)

// defaultCPUUtilization is the target the API server gives an HPA without metrics.
const defaultCPUUtilization = 80

// metricSpec is one Resource or ContainerResource metric, reduced to what the
// replica calculator reads.
type metricSpec struct {
	sourceType autoscalingv2.MetricSourceType
	resource   corev1.ResourceName
	container  string // ContainerResource only
	// averageValue is target.averageValue in milli-units; when set it wins
	// over utilization, as in computeStatusForResourceMetricGeneric.
	averageValue    int64
	hasAverageValue bool
	utilization     int32 // target.averageUtilization, percent of request
}

// scalingRules is one direction of a defaulted behavior.
type scalingRules struct {
	windowSeconds int32
	selectPolicy  autoscalingv2.ScalingPolicySelect
	policies      []autoscalingv2.HPAScalingPolicy
}

// longestPeriod is getLongestPolicyPeriod: how long scale events stay useful.
func (r scalingRules) longestPeriod() int32 {
	var longest int32
	for _, p := range r.policies {
		longest = max(longest, p.PeriodSeconds)
	}
	return longest
}

// tolerances is the band of usage ratios within which the controller keeps
// the current scale: 1-down <= ratio <= 1+up, both ends inclusive.
type tolerances struct {
	down, up float64
}

func (t tolerances) within(ratio float64) bool {
	return 1.0-t.down <= ratio && ratio <= 1.0+t.up
}

// hpaSpec is a validated HorizontalPodAutoscalerSpec with the API server's
// defaults applied, as the controller sees it through its informer.
type hpaSpec struct {
	minReplicas int32
	maxReplicas int32
	metrics     []metricSpec
	hasBehavior bool
	scaleUp     scalingRules
	scaleDown   scalingRules
	tolerances  tolerances
}

// ValidateSpec reports, all at once, what the API server would refuse in spec
// and what the twin cannot model (metric types other than Resource and
// ContainerResource, minReplicas 0). Field paths start at "spec".
func ValidateSpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec) error {
	_, err := compileSpec(spec, DefaultConfig(), "spec")
	return err
}

// compileSpec validates spec, applies the API server's defaults
// (SetDefaults_HorizontalPodAutoscaler and the controller's
// maybeInitScaleDownStabilizationWindow) and reduces it to an hpaSpec.
func compileSpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, cfg Config, path string) (hpaSpec, error) {
	if spec == nil {
		return hpaSpec{}, errs.InvalidField(path, "is required")
	}
	var problems []error
	bad := func(field, format string, args ...any) {
		problems = append(problems, errs.InvalidField(path+"."+field, format, args...))
	}

	out := hpaSpec{maxReplicas: spec.MaxReplicas, minReplicas: 1}
	if spec.MinReplicas != nil {
		out.minReplicas = *spec.MinReplicas
	}
	if out.maxReplicas < 1 {
		bad("maxReplicas", "must be greater than or equal to 1, got %d", out.maxReplicas)
	}
	if out.minReplicas < 1 {
		bad("minReplicas", "must be greater than or equal to 1, got %d (scaling to zero needs Object or External metrics, which the twin does not model)", out.minReplicas)
	} else if out.maxReplicas >= 1 && out.minReplicas > out.maxReplicas {
		bad("maxReplicas", "must be greater than or equal to minReplicas (%d), got %d", out.minReplicas, out.maxReplicas)
	}

	if len(spec.Metrics) == 0 {
		out.metrics = []metricSpec{{
			sourceType:  autoscalingv2.ResourceMetricSourceType,
			resource:    corev1.ResourceCPU,
			utilization: defaultCPUUtilization,
		}}
	}
	for i, m := range spec.Metrics {
		field := fmt.Sprintf("metrics[%d]", i)
		ms, err := compileMetric(m)
		if err != nil {
			bad(field+err.field, "%s", err.msg)
			continue
		}
		out.metrics = append(out.metrics, ms)
	}

	out.tolerances = tolerances{down: cfg.Tolerance, up: cfg.Tolerance}
	if b := spec.Behavior; b != nil {
		out.hasBehavior = true
		out.scaleUp = defaultedRules(b.ScaleUp, defaultScaleUpRules(), "behavior.scaleUp", bad)
		down := defaultScaleDownRules()
		// The API leaves scaleDown's window unset; the controller fills it
		// from its flag (maybeInitScaleDownStabilizationWindow).
		down.windowSeconds = int32(cfg.DownscaleStabilizationWindow.Seconds())
		out.scaleDown = defaultedRules(b.ScaleDown, down, "behavior.scaleDown", bad)
		if t, ok := ruleTolerance(b.ScaleUp, "behavior.scaleUp", bad); ok {
			out.tolerances.up = t
		}
		if t, ok := ruleTolerance(b.ScaleDown, "behavior.scaleDown", bad); ok {
			out.tolerances.down = t
		}
	}
	if len(problems) > 0 {
		return hpaSpec{}, errors.Join(problems...)
	}
	return out, nil
}

// fieldError is a problem in one metric, relative to the metric's path.
type fieldError struct{ field, msg string }

func compileMetric(m autoscalingv2.MetricSpec) (metricSpec, *fieldError) {
	var (
		name   corev1.ResourceName
		target autoscalingv2.MetricTarget
		ms     = metricSpec{sourceType: m.Type}
		at     string
	)
	switch m.Type {
	case autoscalingv2.ResourceMetricSourceType:
		if m.Resource == nil {
			return ms, &fieldError{".resource", "is required for a Resource metric"}
		}
		name, target, at = m.Resource.Name, m.Resource.Target, ".resource"
	case autoscalingv2.ContainerResourceMetricSourceType:
		if m.ContainerResource == nil {
			return ms, &fieldError{".containerResource", "is required for a ContainerResource metric"}
		}
		if m.ContainerResource.Container == "" {
			return ms, &fieldError{".containerResource.container", "is required"}
		}
		name, target, at = m.ContainerResource.Name, m.ContainerResource.Target, ".containerResource"
		ms.container = m.ContainerResource.Container
	case autoscalingv2.PodsMetricSourceType, autoscalingv2.ObjectMetricSourceType, autoscalingv2.ExternalMetricSourceType:
		return ms, &fieldError{".type", fmt.Sprintf("%s metrics are not modelled by the twin (only Resource and ContainerResource)", m.Type)}
	default:
		return ms, &fieldError{".type", fmt.Sprintf("unknown metric source type %q", m.Type)}
	}
	if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
		return ms, &fieldError{at + ".name", fmt.Sprintf("must be cpu or memory, got %q", name)}
	}
	ms.resource = name
	switch target.Type {
	case autoscalingv2.UtilizationMetricType:
		if target.AverageValue != nil {
			return ms, &fieldError{at + ".target.averageValue", "must not be set with type Utilization"}
		}
		if target.AverageUtilization == nil || *target.AverageUtilization <= 0 {
			return ms, &fieldError{at + ".target.averageUtilization", "must be set and greater than 0 for type Utilization"}
		}
		ms.utilization = *target.AverageUtilization
	case autoscalingv2.AverageValueMetricType:
		if target.AverageUtilization != nil {
			return ms, &fieldError{at + ".target.averageUtilization", "must not be set with type AverageValue"}
		}
		if target.AverageValue == nil || target.AverageValue.Sign() <= 0 {
			return ms, &fieldError{at + ".target.averageValue", "must be set and greater than 0 for type AverageValue"}
		}
		ms.averageValue, ms.hasAverageValue = target.AverageValue.MilliValue(), true
	default:
		return ms, &fieldError{at + ".target.type", fmt.Sprintf("must be Utilization or AverageValue for a resource metric, got %q", target.Type)}
	}
	return ms, nil
}

// defaultScaleUpRules is the API server's default scale-up behavior: no
// window, the larger of 4 pods or 100% per 15 s.
func defaultScaleUpRules() scalingRules {
	return scalingRules{
		windowSeconds: 0,
		selectPolicy:  autoscalingv2.MaxChangePolicySelect,
		policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// defaultScaleDownRules is the API server's default scale-down behavior:
// 100% per 15 s; the window comes from the controller's flag.
func defaultScaleDownRules() scalingRules {
	return scalingRules{
		selectPolicy: autoscalingv2.MaxChangePolicySelect,
		policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// defaultedRules is copyHPAScalingRules: every field set in from replaces the
// default, and an explicitly empty policy list stays empty (and is refused).
func defaultedRules(from *autoscalingv2.HPAScalingRules, def scalingRules, field string, bad func(string, string, ...any)) scalingRules {
	if from == nil {
		return def
	}
	out := def
	if from.StabilizationWindowSeconds != nil {
		w := *from.StabilizationWindowSeconds
		if w < 0 || w > maxStabilizationWindowSeconds {
			bad(field+".stabilizationWindowSeconds", "must be between 0 and %d, got %d", maxStabilizationWindowSeconds, w)
		}
		out.windowSeconds = w
	}
	if from.SelectPolicy != nil {
		switch p := *from.SelectPolicy; p {
		case autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect, autoscalingv2.DisabledPolicySelect:
			out.selectPolicy = p
		default:
			bad(field+".selectPolicy", "must be Max, Min or Disabled, got %q", p)
		}
	}
	if from.Policies != nil {
		out.policies = from.Policies
		if len(from.Policies) == 0 {
			bad(field+".policies", "must specify at least one Policy")
		}
	}
	for i, p := range from.Policies {
		at := fmt.Sprintf("%s.policies[%d]", field, i)
		if p.Type != autoscalingv2.PodsScalingPolicy && p.Type != autoscalingv2.PercentScalingPolicy {
			bad(at+".type", "must be Pods or Percent, got %q", p.Type)
		}
		if p.Value <= 0 {
			bad(at+".value", "must be greater than zero, got %d", p.Value)
		}
		if p.PeriodSeconds <= 0 || p.PeriodSeconds > maxPolicyPeriodSeconds {
			bad(at+".periodSeconds", "must be between 1 and %d, got %d", maxPolicyPeriodSeconds, p.PeriodSeconds)
		}
	}
	return out
}

// ruleTolerance reads behavior.scale{Up,Down}.tolerance (HPAConfigurableTolerance).
func ruleTolerance(r *autoscalingv2.HPAScalingRules, field string, bad func(string, string, ...any)) (float64, bool) {
	if r == nil || r.Tolerance == nil {
		return 0, false
	}
	t := r.Tolerance.AsApproximateFloat64()
	if t < 0 || math.IsNaN(t) {
		bad(field+".tolerance", "must be greater than or equal to 0, got %s", r.Tolerance.String())
		return 0, false
	}
	return t, true
}
