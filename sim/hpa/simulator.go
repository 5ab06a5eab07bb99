package hpa

import (
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// PodProfile describes the pods of one workload: what they request and how a
// new pod comes up. A new pod is Pending, then Running but not ready for
// RunningBeforeReady, becomes Ready Startup after its creation, and has its
// first metric MetricWindow after that.
type PodProfile struct {
	// CPURequestMilli and MemoryRequestBytes are the pod's requests; 0 means
	// none, which fails Utilization targets on that resource.
	CPURequestMilli    int64
	MemoryRequestBytes int64
	// Startup is the time from creation to the Ready condition.
	Startup time.Duration
	// RunningBeforeReady is the end part of Startup during which the pod is
	// Running but not Ready; before it the pod is Pending. With no metric
	// yet, the controller counts a Running pod as missing and a Pending one
	// as unready, which differ on a scale-down.
	RunningBeforeReady time.Duration
	// MetricWindow is the time from Ready to the first metric, which then
	// covers [Ready, Ready+MetricWindow].
	MetricWindow time.Duration
	// Container is the name of the pod's single container ("app" if empty).
	Container string
}

func (p PodProfile) container() string {
	if p.Container == "" {
		return "app"
	}
	return p.Container
}

func (p PodProfile) validate() error {
	switch {
	case p.CPURequestMilli < 0:
		return errs.InvalidField("pod.cpu_request_millicores", "must not be negative, got %d", p.CPURequestMilli)
	case p.MemoryRequestBytes < 0:
		return errs.InvalidField("pod.memory_request_bytes", "must not be negative, got %d", p.MemoryRequestBytes)
	case p.Startup < 0:
		return errs.InvalidField("pod.startup_seconds", "must not be negative, got %s", p.Startup)
	case p.RunningBeforeReady < 0 || p.RunningBeforeReady > p.Startup:
		return errs.InvalidField("pod.running_before_ready_seconds", "must be between 0 and startup (%s), got %s", p.Startup, p.RunningBeforeReady)
	case p.MetricWindow < 0:
		return errs.InvalidField("pod.metric_window_seconds", "must not be negative, got %s", p.MetricWindow)
	}
	return nil
}

// Demand is the load on a workload at one instant.
type Demand struct {
	// CPUMilli is the total CPU the workload uses, in millicores, shared
	// evenly by its ready pods.
	CPUMilli int64
	// MemoryBytesPerPod is the memory each ready pod uses.
	MemoryBytesPerPod int64
}

func (d Demand) validate() error {
	if d.CPUMilli < 0 {
		return errs.InvalidField("demand.cpu_millicores", "must not be negative, got %d", d.CPUMilli)
	}
	if d.MemoryBytesPerPod < 0 {
		return errs.InvalidField("demand.memory_bytes_per_pod", "must not be negative, got %d", d.MemoryBytesPerPod)
	}
	return nil
}

// longAgo places the pods a simulation starts with far enough in the past
// that no start-up rule applies to them.
const longAgo = 24 * time.Hour

// simPod is one pod of the simulated workload.
type simPod struct {
	name    string
	created time.Time
	running time.Time // phase Running from here
	ready   time.Time // Ready from here
	metric  time.Time // metrics-server has a sample from here
}

// Simulator owns the pods of one workload: it creates and removes them as
// the scale changes, and tells what the controller would observe of them
// under a demand. It does not read the clock; every call says when it is.
type Simulator struct {
	profile PodProfile
	pods    []simPod // oldest first
	nextID  int
}

// NewSimulator returns a workload with initialReplicas pods that have been
// ready, with metrics, for long before start.
func NewSimulator(profile PodProfile, initialReplicas int32, start time.Time) (*Simulator, error) {
	if err := profile.validate(); err != nil {
		return nil, err
	}
	if initialReplicas < 0 {
		return nil, errs.InvalidField("initial_replicas", "must not be negative, got %d", initialReplicas)
	}
	s := &Simulator{profile: profile}
	old := start.Add(-longAgo)
	for range initialReplicas {
		s.pods = append(s.pods, simPod{name: s.newName(), created: old, running: old, ready: old, metric: old})
	}
	return s, nil
}

func (s *Simulator) newName() string {
	s.nextID++
	return "pod-" + strconv.Itoa(s.nextID)
}

// Replicas returns the number of pods, which is also the target's
// spec.replicas: pods appear and vanish as soon as the scale changes.
func (s *Simulator) Replicas() int32 { return int32(len(s.pods)) }

// Ready returns how many pods are Ready at now.
func (s *Simulator) Ready(now time.Time) int {
	n := 0
	for i := range s.pods {
		if !now.Before(s.pods[i].ready) {
			n++
		}
	}
	return n
}

// Scale sets the number of pods at now: new pods are created at now, and
// the newest pods are removed first.
func (s *Simulator) Scale(now time.Time, replicas int32) {
	for int32(len(s.pods)) > replicas {
		s.pods = s.pods[:len(s.pods)-1]
	}
	p := s.profile
	for int32(len(s.pods)) < replicas {
		ready := now.Add(p.Startup)
		s.pods = append(s.pods, simPod{
			name:    s.newName(),
			created: now,
			running: ready.Add(-p.RunningBeforeReady),
			ready:   ready,
			metric:  ready.Add(p.MetricWindow),
		})
	}
}

// Observe returns what the controller sees at now under demand d: the
// scale, each pod's phase and readiness, and the usage metrics-server
// reports for the pods that have a metric. Ready pods share d.CPUMilli
// evenly (the remainder, one millicore each, to the oldest) whether or not
// their metric is out yet.
func (s *Simulator) Observe(now time.Time, d Demand) Observation {
	p := s.profile
	ready := s.Ready(now)
	var share, remainder int64
	if ready > 0 {
		share, remainder = d.CPUMilli/int64(ready), d.CPUMilli%int64(ready)
	}
	pods := make([]Pod, len(s.pods))
	for i := range s.pods {
		sp := &s.pods[i]
		pod := Pod{
			Name:      sp.name,
			Phase:     corev1.PodPending,
			StartTime: sp.created,
			Ready:     ReadyCondition{Status: corev1.ConditionFalse, LastTransitionTime: sp.created},
			Containers: []Container{{
				Name:               p.container(),
				CPURequestMilli:    p.CPURequestMilli,
				MemoryRequestBytes: p.MemoryRequestBytes,
			}},
		}
		if !now.Before(sp.running) {
			pod.Phase = corev1.PodRunning
		}
		if !now.Before(sp.ready) {
			pod.Ready = ReadyCondition{Status: corev1.ConditionTrue, LastTransitionTime: sp.ready}
			cpu := share
			if remainder > 0 {
				cpu++
				remainder--
			}
			pod.Containers[0].CPUUsageMilli = cpu
			pod.Containers[0].MemoryUsageBytes = d.MemoryBytesPerPod
			if !now.Before(sp.metric) {
				pod.Metrics = PodMetrics{Available: true, Timestamp: now, Window: p.MetricWindow}
			}
		}
		pods[i] = pod
	}
	return Observation{Replicas: s.Replicas(), Pods: pods}
}
