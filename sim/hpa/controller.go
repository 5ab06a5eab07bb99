package hpa

import (
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// This file ports horizontal.go: reconcileAutoscaler, the legacy and the
// behavior normalization, and the memory the controller keeps per HPA.

// The legacy scale-up limit: at most max(2 x current, 4) replicas.
const (
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

// Controller is the HPA controller: it decides, at each sync of each HPA,
// the replicas of the HPA's target. It keeps per HPA, by name, what the real
// controller keeps in memory: the recent recommendations, the recent scale
// events and the status conditions. It is not safe for concurrent use; one
// simulation owns it.
type Controller struct {
	cfg  Config
	hpas map[string]*hpaState
}

// NewController returns a controller with the given flags.
func NewController(cfg Config) (*Controller, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Controller{cfg: cfg, hpas: make(map[string]*hpaState)}, nil
}

// Config returns the controller's flags.
func (c *Controller) Config() Config { return c.cfg }

// Forget drops what the controller remembers about an HPA, as when the HPA
// is deleted.
func (c *Controller) Forget(name string) { delete(c.hpas, name) }

// Decision is the outcome of one sync of one HPA.
type Decision struct {
	Time            time.Time
	CurrentReplicas int32
	// MetricsComputed says whether the metrics were evaluated; they are not
	// when the current replicas are zero or outside [minReplicas,
	// maxReplicas], nor when the evaluation failed.
	MetricsComputed bool
	// MetricReplicas is the largest proposal of the metrics, before
	// stabilization and limits; Metric names the metric that made it.
	MetricReplicas int32
	Metric         string
	// Stabilized is the recommendation after the stabilization window(s).
	Stabilized int32
	// DesiredReplicas is what the controller leaves the target at.
	DesiredReplicas int32
	// Rescaled says whether the controller wrote a new scale, for
	// RescaleReason (the reason of its SuccessfulRescale event).
	Rescaled      bool
	RescaleReason string
	// StabilizationReason and LimitReason are the reasons the normalization
	// gave to the AbleToScale and ScalingLimited conditions in this sync,
	// empty when it did not run.
	StabilizationReason string
	LimitReason         string
	// Metrics has one entry per metric of the spec, in order.
	Metrics []MetricResult
	// Conditions is the HPA's status.conditions after the sync.
	Conditions []Condition
	// Err is the error the sync returned: no usable metric, or some metrics
	// failed (the controller then scales only when no metric says down).
	Err error
}

// Condition reports the status condition of the given type, if present.
func (d Decision) Condition(t autoscalingv2.HorizontalPodAutoscalerConditionType) (Condition, bool) {
	for _, c := range d.Conditions {
		if c.Type == t {
			return c, true
		}
	}
	return Condition{}, false
}

// MetricResult is what one metric said in one sync.
type MetricResult struct {
	Type      autoscalingv2.MetricSourceType
	Resource  corev1.ResourceName
	Container string
	// Replicas is the metric's proposal.
	Replicas int32
	// Utilization is the average utilization, percent of request, for a
	// Utilization target; nil for an AverageValue target.
	Utilization *int32
	// AverageMilli is the average usage per counted pod, in milli-units
	// (millicores; thousandths of a byte for memory).
	AverageMilli int64
	// The pod counts of groupPods.
	ReadyPods, UnreadyPods, MissingPods, IgnoredPods int
	// Err is set when the metric could not be evaluated.
	Err error
}

// Average returns AverageMilli in the resource's usual unit: millicores for
// CPU, bytes (truncated) for memory.
func (m MetricResult) Average() int64 {
	if m.Resource == corev1.ResourceMemory {
		return m.AverageMilli / 1000
	}
	return m.AverageMilli
}

// Condition is one of the HPA's status conditions.
type Condition struct {
	Type               autoscalingv2.HorizontalPodAutoscalerConditionType
	Status             corev1.ConditionStatus
	Reason             string
	Message            string
	LastTransitionTime time.Time
}

type timestampedRecommendation struct {
	recommendation int32
	timestamp      time.Time
}

type timestampedScaleEvent struct {
	replicaChange int32 // always positive; the list says the direction
	timestamp     time.Time
	outdated      bool
}

// hpaState is the controller's memory of one HPA.
type hpaState struct {
	recommendations []timestampedRecommendation // nil until the first sync
	scaleUpEvents   []timestampedScaleEvent
	scaleDownEvents []timestampedScaleEvent
	conditions      []Condition
}

func (c *Controller) state(name string) *hpaState {
	st, ok := c.hpas[name]
	if !ok {
		st = &hpaState{}
		c.hpas[name] = st
	}
	return st
}

// Sync runs one reconciliation of the HPA called name at time now, and
// returns what the controller decided. The spec is defaulted as the API
// server would; an error means the spec is invalid, and nothing changed.
// Calls for one HPA must not go back in time.
func (c *Controller) Sync(now time.Time, name string, spec *autoscalingv2.HorizontalPodAutoscalerSpec, obs Observation) (Decision, error) {
	hs, err := compileSpec(spec, c.cfg, "spec")
	if err != nil {
		return Decision{}, err
	}
	return c.sync(now, name, hs, obs), nil
}

// sync is reconcileAutoscaler after the scale subresource was read.
func (c *Controller) sync(now time.Time, name string, spec hpaSpec, obs Observation) Decision {
	st := c.state(name)
	current := obs.Replicas
	d := Decision{Time: now, CurrentReplicas: current}
	st.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")

	// The first sight of an HPA seeds its recommendations with the current
	// scale: neither path scales down before a full window has passed.
	if st.recommendations == nil {
		st.recommendations = []timestampedRecommendation{{current, now}}
	}

	var desired int32
	rescaleReason := ""
	rescale, compute := true, true
	switch {
	case current == 0:
		compute, rescale = false, false
		st.setCondition(now, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
	case current > spec.maxReplicas:
		compute = false
		rescaleReason = "Current number of replicas above Spec.MaxReplicas"
		desired = spec.maxReplicas
	case current < spec.minReplicas:
		compute = false
		rescaleReason = "Current number of replicas below Spec.MinReplicas"
		desired = spec.minReplicas
	}

	if compute {
		metricReplicas, metricName, results, err := c.computeReplicasForMetrics(now, st, spec, obs)
		d.Metrics = results
		d.Err = err
		if metricReplicas == -1 {
			d.DesiredReplicas = current
			d.Conditions = st.snapshot()
			return d
		}
		d.MetricsComputed, d.MetricReplicas, d.Metric = true, metricReplicas, metricName

		rescaleMetric := ""
		if metricReplicas > desired {
			desired = metricReplicas
			rescaleMetric = metricName
		}
		if desired > current {
			rescaleReason = rescaleMetric + " above target"
		}
		if desired < current {
			rescaleReason = "All metrics below target"
		}
		if spec.hasBehavior {
			desired = c.normalizeWithBehaviors(now, st, spec, current, desired, &d)
		} else {
			desired = c.normalizeLegacy(now, st, spec, current, desired, &d)
		}
		rescale = desired != current
	}

	if rescale {
		st.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired))
		st.storeScaleEvent(now, spec, current, desired)
		d.Rescaled, d.RescaleReason = true, rescaleReason
	} else {
		desired = current
	}
	d.DesiredReplicas = desired
	d.Conditions = st.snapshot()
	return d
}

// computeReplicasForMetrics evaluates every metric and returns the largest
// proposal. It returns -1 when no metric could be evaluated, or when some
// failed and the others would scale down: the controller then does nothing.
func (c *Controller) computeReplicasForMetrics(now time.Time, st *hpaState, spec hpaSpec, obs Observation) (int32, string, []MetricResult, error) {
	rc := replicaCalculator{
		now:                     now,
		cpuInitializationPeriod: c.cfg.CPUInitializationPeriod,
		initialReadinessDelay:   c.cfg.InitialReadinessDelay,
	}
	results := make([]MetricResult, len(spec.metrics))
	var (
		replicas     int32
		metricName   string
		invalid      int
		firstErr     error
		firstReason  string
		firstMessage string
	)
	for i, m := range spec.metrics {
		est, err := rc.estimate(m, obs.Replicas, spec.tolerances, obs.Pods)
		res := MetricResult{
			Type: m.sourceType, Resource: m.resource, Container: m.container,
			Replicas: est.replicas, AverageMilli: est.average,
			ReadyPods: est.ready, UnreadyPods: est.unready, MissingPods: est.missing, IgnoredPods: est.ignored,
		}
		if !m.hasAverageValue && err == nil {
			u := est.utilization
			res.Utilization = &u
		}
		if err != nil {
			inner := fmt.Errorf("failed to get %s utilization: %w", m.resource, err)
			if m.hasAverageValue {
				inner = fmt.Errorf("failed to get %s usage: %w", m.resource, err)
			}
			reason := "FailedGetResourceMetric"
			res.Err = fmt.Errorf("failed to get %s resource metric value: %w", m.resource, inner)
			if m.sourceType == autoscalingv2.ContainerResourceMetricSourceType {
				reason = "FailedGetContainerResourceMetric"
				res.Err = fmt.Errorf("failed to get %s container metric value: %w", m.container, inner)
			}
			res.Replicas = 0
			if invalid == 0 {
				firstErr, firstReason = res.Err, reason
				firstMessage = "the HPA was unable to compute the replica count: " + inner.Error()
			}
			invalid++
			results[i] = res
			continue
		}
		results[i] = res
		if replicas == 0 || est.replicas > replicas {
			replicas = est.replicas
			metricName = metricDescription(m)
		}
	}
	if firstErr != nil {
		firstErr = fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %w", invalid, len(spec.metrics), firstErr)
	}
	if invalid >= len(spec.metrics) || (invalid > 0 && replicas < obs.Replicas) {
		st.setCondition(now, autoscalingv2.ScalingActive, corev1.ConditionFalse, firstReason, firstMessage)
		return -1, "", results, firstErr
	}
	st.setCondition(now, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from "+metricName)
	return replicas, metricName, results, firstErr
}

// metricDescription is the controller's name for a metric in events.
func metricDescription(m metricSpec) string {
	switch {
	case m.hasAverageValue:
		return string(m.resource) + " resource"
	case m.sourceType == autoscalingv2.ContainerResourceMetricSourceType:
		return string(m.resource) + " container resource utilization (percentage of request)"
	default:
		return string(m.resource) + " resource utilization (percentage of request)"
	}
}

// normalizeLegacy is normalizeDesiredReplicas, for an HPA without behavior.
func (c *Controller) normalizeLegacy(now time.Time, st *hpaState, spec hpaSpec, current, prenormalized int32, d *Decision) int32 {
	stabilized := st.stabilizeLegacy(now, c.cfg.DownscaleStabilizationWindow, prenormalized)
	if stabilized != prenormalized {
		d.StabilizationReason = "ScaleDownStabilized"
		st.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, d.StabilizationReason, "recent recommendations were higher than current one, applying the highest recent recommendation")
	} else {
		d.StabilizationReason = "ReadyForNewScale"
		st.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, d.StabilizationReason, "recommended size matches current size")
	}
	d.Stabilized = stabilized

	desired, reason, message := convertDesiredReplicasWithRules(current, stabilized, spec.minReplicas, spec.maxReplicas)
	d.LimitReason = reason
	st.setCondition(now, autoscalingv2.ScalingLimited, limitedStatus(desired != stabilized), reason, message)
	return desired
}

// stabilizeRecommendation: record the new recommendation (reusing the slot of
// one that left the window) and return the largest in the window. A
// recommendation exactly at the cutoff is still inside, as the controller
// tests with Before.
func (st *hpaState) stabilizeLegacy(now time.Time, window time.Duration, prenormalized int32) int32 {
	maxRecommendation := prenormalized
	foundOld, oldIndex := false, 0
	cutoff := now.Add(-window)
	for i, rec := range st.recommendations {
		if rec.timestamp.Before(cutoff) {
			foundOld, oldIndex = true, i
		} else if rec.recommendation > maxRecommendation {
			maxRecommendation = rec.recommendation
		}
	}
	st.record(foundOld, oldIndex, timestampedRecommendation{prenormalized, now})
	return maxRecommendation
}

func (st *hpaState) record(replace bool, index int, rec timestampedRecommendation) {
	if replace {
		st.recommendations[index] = rec
		return
	}
	st.recommendations = append(st.recommendations, rec)
}

// convertDesiredReplicasWithRules clamps to [minReplicas, maxReplicas] and to
// the legacy scale-up limit.
func convertDesiredReplicasWithRules(current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	scaleUpLimit := calculateScaleUpLimit(current)
	maxAllowed := maxReplicas
	reason, message := "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if maxReplicas > scaleUpLimit {
		maxAllowed = scaleUpLimit
		reason, message = "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	if desired < minReplicas {
		return minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	}
	if desired > maxAllowed {
		return maxAllowed, reason, message
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

func calculateScaleUpLimit(current int32) int32 {
	return int32(math.Max(scaleUpLimitFactor*float64(current), scaleUpLimitMinimum))
}

// normalizeWithBehaviors is normalizeDesiredReplicasWithBehaviors.
func (c *Controller) normalizeWithBehaviors(now time.Time, st *hpaState, spec hpaSpec, current, prenormalized int32, d *Decision) int32 {
	stabilized, reason, message := st.stabilizeWithBehaviors(now, spec, current, prenormalized)
	if stabilized != prenormalized {
		d.StabilizationReason = reason
		st.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, reason, message)
	} else {
		d.StabilizationReason = "ReadyForNewScale"
		st.setCondition(now, autoscalingv2.AbleToScale, corev1.ConditionTrue, d.StabilizationReason, "recommended size matches current size")
	}
	d.Stabilized = stabilized

	desired, reason, message := st.convertWithBehaviorRate(now, spec, current, stabilized)
	d.LimitReason = reason
	st.setCondition(now, autoscalingv2.ScalingLimited, limitedStatus(desired != stabilized), reason, message)
	return desired
}

// stabilizeWithBehaviors bounds the recommendation by the smallest
// recommendation of the scale-up window (so a spike must last the window)
// and the largest of the scale-down window, and records the raw one. A
// recommendation exactly at a cutoff is outside that window, as the
// controller tests with After.
func (st *hpaState) stabilizeWithBehaviors(now time.Time, spec hpaSpec, current, desired int32) (int32, string, string) {
	upRecommendation, downRecommendation := desired, desired
	upCutoff := now.Add(-time.Second * time.Duration(spec.scaleUp.windowSeconds))
	downCutoff := now.Add(-time.Second * time.Duration(spec.scaleDown.windowSeconds))
	foundOld, oldIndex := false, 0
	for i, rec := range st.recommendations {
		if rec.timestamp.After(upCutoff) {
			upRecommendation = min(rec.recommendation, upRecommendation)
		}
		if rec.timestamp.After(downCutoff) {
			downRecommendation = max(rec.recommendation, downRecommendation)
		}
		if rec.timestamp.Before(upCutoff) && rec.timestamp.Before(downCutoff) {
			foundOld, oldIndex = true, i
		}
	}
	recommendation := current
	if recommendation < upRecommendation {
		recommendation = upRecommendation
	}
	if recommendation > downRecommendation {
		recommendation = downRecommendation
	}
	st.record(foundOld, oldIndex, timestampedRecommendation{desired, now})

	if desired >= current {
		return recommendation, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return recommendation, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

// convertWithBehaviorRate is convertDesiredReplicasWithBehaviorRate: it
// applies the rate policies and the min/max bounds, not the windows.
func (st *hpaState) convertWithBehaviorRate(now time.Time, spec hpaSpec, current, desired int32) (int32, string, string) {
	switch {
	case desired > current:
		scaleUpLimit := scaleUpLimitWithRules(now, current, st.scaleUpEvents, st.scaleDownEvents, spec.scaleUp)
		if scaleUpLimit < current {
			// no more scale-up until old events leave the periods
			scaleUpLimit = current
		}
		maxAllowed := spec.maxReplicas
		reason, message := "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		if maxAllowed > scaleUpLimit {
			maxAllowed = scaleUpLimit
			reason, message = "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
		}
		if desired > maxAllowed {
			return maxAllowed, reason, message
		}
	case desired < current:
		scaleDownLimit := scaleDownLimitWithRules(now, current, st.scaleUpEvents, st.scaleDownEvents, spec.scaleDown)
		if scaleDownLimit > current {
			scaleDownLimit = current
		}
		minAllowed := spec.minReplicas
		reason, message := "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		if minAllowed < scaleDownLimit {
			minAllowed = scaleDownLimit
			reason, message = "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if desired < minAllowed {
			return minAllowed, reason, message
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// replicasChangeInPeriod is getReplicasChangePerPeriod: the replicas added
// (or removed) by events strictly after now-period.
func replicasChangeInPeriod(now time.Time, periodSeconds int32, events []timestampedScaleEvent) int32 {
	cutoff := now.Add(-time.Second * time.Duration(periodSeconds))
	var replicas int32
	for _, e := range events {
		if e.timestamp.After(cutoff) {
			replicas += e.replicaChange
		}
	}
	return replicas
}

// scaleUpLimitWithRules is calculateScaleUpLimitWithScalingRules: each policy
// allows growth from the replicas at the start of its period; Max takes the
// most permissive policy, Min the least.
func scaleUpLimitWithRules(now time.Time, current int32, upEvents, downEvents []timestampedScaleEvent, rules scalingRules) int32 {
	var result int32
	var pick func(a, b int32) int32
	switch rules.selectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		result, pick = math.MaxInt32, minInt32
	default:
		result, pick = math.MinInt32, maxInt32
	}
	var proposed int32
	for _, p := range rules.policies {
		added := replicasChangeInPeriod(now, p.PeriodSeconds, upEvents)
		deleted := replicasChangeInPeriod(now, p.PeriodSeconds, downEvents)
		periodStart := current - added + deleted
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = periodStart + p.Value
		case autoscalingv2.PercentScalingPolicy:
			// rounded up, or a small target could never grow
			proposed = int32(math.Ceil(float64(periodStart) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// scaleDownLimitWithRules is calculateScaleDownLimitWithBehaviors: the
// fewest replicas the policies allow; Max takes the most permissive
// (lowest), Min the least. Percent rounds down the replicas kept.
func scaleDownLimitWithRules(now time.Time, current int32, upEvents, downEvents []timestampedScaleEvent, rules scalingRules) int32 {
	var result int32
	var pick func(a, b int32) int32
	switch rules.selectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		result, pick = math.MinInt32, maxInt32
	default:
		result, pick = math.MaxInt32, minInt32
	}
	var proposed int32
	for _, p := range rules.policies {
		added := replicasChangeInPeriod(now, p.PeriodSeconds, upEvents)
		deleted := replicasChangeInPeriod(now, p.PeriodSeconds, downEvents)
		periodStart := current - added + deleted
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = periodStart - p.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(periodStart) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func minInt32(a, b int32) int32 { return min(a, b) }
func maxInt32(a, b int32) int32 { return max(a, b) }

// storeScaleEvent records a rescale for the rate policies (behavior only),
// reusing the slot of an event older than the longest policy period.
func (st *hpaState) storeScaleEvent(now time.Time, spec hpaSpec, prev, next int32) {
	if !spec.hasBehavior {
		return
	}
	if next > prev {
		st.scaleUpEvents = storeEvent(st.scaleUpEvents, now, spec.scaleUp.longestPeriod(), next-prev)
		return
	}
	st.scaleDownEvents = storeEvent(st.scaleDownEvents, now, spec.scaleDown.longestPeriod(), prev-next)
}

func storeEvent(events []timestampedScaleEvent, now time.Time, longestPeriod, change int32) []timestampedScaleEvent {
	cutoff := now.Add(-time.Second * time.Duration(longestPeriod))
	foundOld, oldIndex := false, 0
	for i := range events {
		if events[i].timestamp.Before(cutoff) {
			events[i].outdated = true
		}
		if events[i].outdated {
			foundOld, oldIndex = true, i
		}
	}
	e := timestampedScaleEvent{replicaChange: change, timestamp: now}
	if foundOld {
		events[oldIndex] = e
		return events
	}
	return append(events, e)
}

func limitedStatus(limited bool) corev1.ConditionStatus {
	if limited {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

// setCondition is setConditionInList: the transition time moves only when the
// status changes.
func (st *hpaState) setCondition(now time.Time, t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, message string) {
	i := 0
	for ; i < len(st.conditions); i++ {
		if st.conditions[i].Type == t {
			break
		}
	}
	if i == len(st.conditions) {
		st.conditions = append(st.conditions, Condition{Type: t})
	}
	c := &st.conditions[i]
	if c.Status != status {
		c.LastTransitionTime = now
	}
	c.Status, c.Reason, c.Message = status, reason, message
}

func (st *hpaState) snapshot() []Condition {
	return append([]Condition(nil), st.conditions...)
}
