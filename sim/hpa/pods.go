package hpa

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Observation is what the controller reads about its target at one sync: the
// scale subresource's spec.replicas and the pods its selector matches, with
// the metrics the resource metrics API (metrics-server) returns for them.
type Observation struct {
	// Replicas is the target's scale.spec.replicas, the "current replicas"
	// of every rule.
	Replicas int32
	Pods     []Pod
}

// Pod is the part of a pod and of its PodMetrics that the controller reads.
type Pod struct {
	Name  string
	Phase corev1.PodPhase
	// Deleting is true when the pod has a deletionTimestamp.
	Deleting bool
	// StartTime is status.startTime; the zero time means unset.
	StartTime time.Time
	// Ready is the pod's Ready condition; a zero Status means the pod has none.
	Ready ReadyCondition
	// Containers lists the containers whose requests count, in order
	// (regular containers and restartable init containers).
	Containers []Container
	// Metrics says whether and when metrics-server sampled the pod.
	Metrics PodMetrics
}

// ReadyCondition is a pod's Ready condition.
type ReadyCondition struct {
	Status             corev1.ConditionStatus
	LastTransitionTime time.Time
}

// Container holds one container's requests and, when the pod has metrics,
// its usage. CPU is in millicores and memory in bytes. A request of 0 means
// the container sets none, which makes Utilization targets fail for the pod.
type Container struct {
	Name               string
	CPURequestMilli    int64
	MemoryRequestBytes int64
	CPUUsageMilli      int64
	MemoryUsageBytes   int64
}

// PodMetrics is the envelope of a PodMetrics object: the usage itself is in
// the containers.
type PodMetrics struct {
	// Available is false when metrics-server returned nothing for the pod.
	Available bool
	// Timestamp is the end of the sample's window.
	Timestamp time.Time
	// Window is the span the usage was averaged over.
	Window time.Duration
}

// milliValue is Quantity.MilliValue for the simulator's units: the
// controller does all its arithmetic on milli-units, so memory bytes are
// multiplied by 1000 before any division truncates.
func milliValue(resource corev1.ResourceName, v int64) int64 {
	if resource == corev1.ResourceMemory {
		return v * 1000
	}
	return v
}

// request returns the container's request for resource in milli-units, and
// whether it is set.
func (c Container) request(resource corev1.ResourceName) (int64, bool) {
	v := c.CPURequestMilli
	if resource == corev1.ResourceMemory {
		v = c.MemoryRequestBytes
	}
	return milliValue(resource, v), v > 0
}

// usage returns the container's usage for resource in milli-units.
func (c Container) usage(resource corev1.ResourceName) int64 {
	if resource == corev1.ResourceMemory {
		return milliValue(resource, c.MemoryUsageBytes)
	}
	return c.CPUUsageMilli
}
