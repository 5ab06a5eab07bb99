package hpa

import (
	"errors"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// This file ports the replica calculator (replica_calculator.go) and the
// parts of the resource metrics client and metrics/utilization.go it uses,
// for Resource and ContainerResource metrics.

// podGroup is where groupPods puts a pod.
type podGroup uint8

const (
	groupReady   podGroup = iota // counted, with its metric
	groupUnready                 // pending, or CPU not yet trustworthy: 0 on scale-up, else left out
	groupMissing                 // no metric: 0 on scale-up, 100% (or the target) on scale-down
	groupIgnored                 // terminal or being deleted: always left out
)

// podSample is one pod's metric for one resource, in milli-units.
type podSample struct {
	has       bool
	value     int64
	timestamp time.Time
	window    time.Duration
}

// resourceEstimate is what one metric tells the controller.
type resourceEstimate struct {
	replicas int32
	// utilization is the average utilization in percent of request
	// (Utilization targets only).
	utilization int32
	// average is the average usage per counted pod in milli-units: the
	// raw value of a Utilization target, the usage of an AverageValue one.
	average int64
	// The pod counts groupPods found.
	ready, unready, missing, ignored int
}

// fetchResourceMetrics is the resource metrics client's GetResourceMetric:
// the per-pod usage of resource (or of one container's) that metrics-server
// returns, aligned with pods.
func fetchResourceMetrics(pods []Pod, resource corev1.ResourceName, container string) ([]podSample, error) {
	samples := make([]podSample, len(pods))
	returned := 0
	for i := range pods {
		p := &pods[i]
		if !p.Metrics.Available {
			continue
		}
		returned++
		if container != "" {
			found := false
			for _, c := range p.Containers {
				if c.Name == container {
					found = true
					samples[i] = podSample{has: true, value: c.usage(resource), timestamp: p.Metrics.Timestamp, window: p.Metrics.Window}
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("failed to get container metrics: container %s not present in metrics for pod %s", container, p.Name)
			}
			continue
		}
		if len(p.Containers) == 0 {
			continue // a PodMetrics without containers counts as missing
		}
		var sum int64
		for _, c := range p.Containers {
			sum += c.usage(resource)
		}
		samples[i] = podSample{has: true, value: sum, timestamp: p.Metrics.Timestamp, window: p.Metrics.Window}
	}
	if returned == 0 {
		return nil, errors.New("no metrics returned from resource metrics API")
	}
	return samples, nil
}

// groupPods sorts pods into ready, unready, missing and ignored exactly as the
// controller's groupPods does. The order of the checks matters: a pod
// without a metric is missing even when it is not ready, and only CPU
// looks at readiness at all.
func groupPods(pods []Pod, samples []podSample, resource corev1.ResourceName, now time.Time, cpuInitializationPeriod, initialReadinessDelay time.Duration) []podGroup {
	groups := make([]podGroup, len(pods))
	for i := range pods {
		p := &pods[i]
		switch {
		case p.Deleting || p.Phase == corev1.PodFailed || p.Phase == corev1.PodSucceeded:
			groups[i] = groupIgnored
		case p.Phase == corev1.PodPending:
			groups[i] = groupUnready
		case !samples[i].has:
			groups[i] = groupMissing
		case resource == corev1.ResourceCPU && cpuUnready(p, samples[i], now, cpuInitializationPeriod, initialReadinessDelay):
			groups[i] = groupUnready
		default:
			groups[i] = groupReady
		}
	}
	return groups
}

// cpuUnready says whether a running pod's CPU sample must not be trusted yet.
// Within the initialization period after start, a sample counts only when
// the pod is ready and the sample's whole window lies after the last
// readiness transition. After it, a sample is dropped only for a pod that is
// unready and turned unready within the initial readiness delay of its start,
// that is, one that has never been ready.
func cpuUnready(p *Pod, s podSample, now time.Time, cpuInitializationPeriod, initialReadinessDelay time.Duration) bool {
	if p.Ready.Status == "" || p.StartTime.IsZero() {
		return true
	}
	if p.StartTime.Add(cpuInitializationPeriod).After(now) {
		return p.Ready.Status == corev1.ConditionFalse || s.timestamp.Before(p.Ready.LastTransitionTime.Add(s.window))
	}
	return p.Ready.Status == corev1.ConditionFalse && p.StartTime.Add(initialReadinessDelay).After(p.Ready.LastTransitionTime)
}

// podRequests is calculateRequests: every pod's request for resource (or for
// one container), in milli-units. Any pod without one fails the metric,
// even a pod that would be ignored.
func podRequests(pods []Pod, resource corev1.ResourceName, container string) ([]int64, error) {
	requests := make([]int64, len(pods))
	for i := range pods {
		p := &pods[i]
		var sum int64
		found := false
		for _, c := range p.Containers {
			if container != "" && c.Name != container {
				continue
			}
			r, ok := c.request(resource)
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, p.Name)
			}
			sum += r
			if container != "" {
				found = true
				break
			}
		}
		if container != "" && !found {
			return nil, fmt.Errorf("container %s not found in Pod %s", container, p.Name)
		}
		requests[i] = sum
	}
	return requests, nil
}

// utilizationRatio is GetResourceUtilizationRatio: the usage ratio, the
// integer-truncated utilization sum(usage)*100/sum(request) and the average
// raw usage, over the pods in samples.
func utilizationRatio(samples []podSample, requests []int64, targetUtilization int32) (float64, int32, int64, error) {
	var usageTotal, requestsTotal, n int64
	for i, s := range samples {
		if !s.has {
			continue
		}
		usageTotal += s.value
		requestsTotal += requests[i]
		n++
	}
	if requestsTotal == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	percent := usageTotal * 100 / requestsTotal
	utilization := int32(min(max(percent, math.MinInt32), math.MaxInt32))
	return float64(utilization) / float64(targetUtilization), utilization, usageTotal / n, nil
}

// usageRatio is GetMetricUsageRatio: the ratio of the integer-truncated
// average usage to the target, and that average.
func usageRatio(samples []podSample, targetUsage int64) (float64, int64) {
	var total, n int64
	for _, s := range samples {
		if s.has {
			total += s.value
			n++
		}
	}
	usage := total / n
	return float64(usage) / float64(targetUsage), usage
}

// ceilReplicas is int32(math.Ceil(x)) kept inside int32.
func ceilReplicas(x float64) int32 {
	c := math.Ceil(x)
	if c > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(c)
}

// replicaCalculator holds what the calculator needs besides the metric.
type replicaCalculator struct {
	now                     time.Time
	cpuInitializationPeriod time.Duration
	initialReadinessDelay   time.Duration
}

// estimate runs GetResourceReplicas (Utilization target) or
// GetRawResourceReplicas (AverageValue target) for one metric.
func (rc replicaCalculator) estimate(m metricSpec, currentReplicas int32, tol tolerances, pods []Pod) (resourceEstimate, error) {
	var est resourceEstimate
	samples, err := fetchResourceMetrics(pods, m.resource, m.container)
	if err != nil {
		return est, fmt.Errorf("unable to get metrics for resource %s: %w", m.resource, err)
	}
	if len(pods) == 0 {
		return est, errors.New("no pods returned by selector while calculating replica count")
	}
	groups := groupPods(pods, samples, m.resource, rc.now, rc.cpuInitializationPeriod, rc.initialReadinessDelay)
	counted := 0
	for i, g := range groups {
		switch g {
		case groupReady:
			est.ready++
		case groupUnready:
			est.unready++
		case groupMissing:
			est.missing++
		case groupIgnored:
			est.ignored++
		}
		// removeMetricsForPods(ignored) and (unready)
		if g == groupIgnored || g == groupUnready {
			samples[i].has = false
		}
		if samples[i].has {
			counted++
		}
	}
	if counted == 0 {
		return est, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}

	if m.hasAverageValue {
		return rc.plainReplicas(est, m.averageValue, currentReplicas, tol, samples, groups)
	}

	requests, err := podRequests(pods, m.resource, m.container)
	if err != nil {
		return est, err
	}
	ratio, utilization, average, err := utilizationRatio(samples, requests, m.utilization)
	if err != nil {
		return est, err
	}
	est.utilization, est.average = utilization, average

	scaleUpWithUnready := est.unready > 0 && ratio > 1.0
	if !scaleUpWithUnready && est.missing == 0 {
		if tol.within(ratio) {
			est.replicas = currentReplicas
			return est, nil
		}
		est.replicas = ceilReplicas(ratio * float64(est.ready))
		return est, nil
	}

	// Fill the gaps pessimistically for the direction of the change:
	// missing pods use nothing on a scale-up and their whole request (or the
	// target when it is above 100%) on a scale-down; unready pods use
	// nothing on a scale-up.
	fallback := int64(max(100, m.utilization))
	for i, g := range groups {
		switch {
		case g == groupMissing && ratio < 1.0:
			samples[i] = podSample{has: true, value: requests[i] * fallback / 100}
		case g == groupMissing && ratio > 1.0:
			samples[i] = podSample{has: true}
		case g == groupUnready && scaleUpWithUnready:
			samples[i] = podSample{has: true}
		}
	}
	newRatio, _, _, err := utilizationRatio(samples, requests, m.utilization)
	if err != nil {
		return est, err
	}
	est.replicas = recomputedReplicas(currentReplicas, ratio, newRatio, samples, tol)
	return est, nil
}

// plainReplicas is calcPlainMetricReplicas for an AverageValue target.
func (rc replicaCalculator) plainReplicas(est resourceEstimate, target int64, currentReplicas int32, tol tolerances, samples []podSample, groups []podGroup) (resourceEstimate, error) {
	ratio, usage := usageRatio(samples, target)
	est.average = usage

	scaleUpWithUnready := est.unready > 0 && ratio > 1.0
	if !scaleUpWithUnready && est.missing == 0 {
		if tol.within(ratio) {
			est.replicas = currentReplicas
			return est, nil
		}
		est.replicas = ceilReplicas(ratio * float64(est.ready))
		return est, nil
	}

	// As for utilization, except that a missing pod on a scale-down is
	// assumed to use exactly the target.
	for i, g := range groups {
		switch {
		case g == groupMissing && ratio < 1.0:
			samples[i] = podSample{has: true, value: target}
		case g == groupMissing && ratio > 1.0:
			samples[i] = podSample{has: true}
		case g == groupUnready && scaleUpWithUnready:
			samples[i] = podSample{has: true}
		}
	}
	newRatio, _ := usageRatio(samples, target)
	est.replicas = recomputedReplicas(currentReplicas, ratio, newRatio, samples, tol)
	return est, nil
}

// recomputedReplicas is the end of both calculators once the gaps are
// filled: keep the current scale when the new ratio is within tolerance or
// points the other way, or when the new count would move against the ratio.
func recomputedReplicas(currentReplicas int32, ratio, newRatio float64, samples []podSample, tol tolerances) int32 {
	if tol.within(newRatio) || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return currentReplicas
	}
	n := 0
	for _, s := range samples {
		if s.has {
			n++
		}
	}
	newReplicas := ceilReplicas(newRatio * float64(n))
	if (newRatio < 1.0 && newReplicas > currentReplicas) || (newRatio > 1.0 && newReplicas < currentReplicas) {
		return currentReplicas
	}
	return newReplicas
}
