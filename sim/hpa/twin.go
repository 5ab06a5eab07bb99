package hpa

import (
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// epoch is the instant a Twin's simulated time 0 stands for. Only
// differences of time matter; a fixed epoch keeps Decisions reproducible.
var epoch = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// MaxTwinReplicas bounds the pods a Twin simulates, one by one.
const MaxTwinReplicas = 10_000

// twinName is the key of a Twin's only HPA in its Controller.
const twinName = "twin"

// Twin is one HPA and its workload: a Controller and a Simulator on one
// simulated clock. A load model drives it with one Step per sync period.
type Twin struct {
	spec    hpaSpec
	ctrl    *Controller
	sim     *Simulator
	stepped bool
	last    time.Duration
}

// TwinOption configures a Twin.
type TwinOption func(*Config)

// WithConfig replaces the controller's flags (DefaultConfig otherwise).
func WithConfig(cfg Config) TwinOption {
	return func(c *Config) { *c = cfg }
}

// NewTwin returns a Twin for the HPA spec, whose workload starts with
// initialReplicas pods that are long ready.
func NewTwin(spec *autoscalingv2.HorizontalPodAutoscalerSpec, initialReplicas int32, profile PodProfile, opts ...TwinOption) (*Twin, error) {
	cfg := DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	ctrl, err := NewController(cfg)
	if err != nil {
		return nil, err
	}
	hs, err := compileSpec(spec, cfg, "hpa.spec")
	if err != nil {
		return nil, err
	}
	if hs.maxReplicas > MaxTwinReplicas {
		return nil, errs.InvalidField("hpa.spec.maxReplicas", "is %d; the twin simulates every pod and takes at most %d", hs.maxReplicas, MaxTwinReplicas)
	}
	if initialReplicas > MaxTwinReplicas {
		return nil, errs.InvalidField("initial_replicas", "is %d; the twin takes at most %d", initialReplicas, MaxTwinReplicas)
	}
	profile, err = fitProfile(hs, profile)
	if err != nil {
		return nil, err
	}
	sim, err := NewSimulator(profile, initialReplicas, epoch)
	if err != nil {
		return nil, err
	}
	return &Twin{spec: hs, ctrl: ctrl, sim: sim}, nil
}

// fitProfile names the pod's container after the HPA's ContainerResource
// metrics when the profile leaves it open, and refuses a profile whose pods
// could never satisfy a metric (a Utilization target without a request, a
// container the pods do not have): the controller would just fail every sync.
func fitProfile(spec hpaSpec, p PodProfile) (PodProfile, error) {
	for _, m := range spec.metrics {
		if m.container == "" {
			continue
		}
		if p.Container == "" {
			p.Container = m.container
		}
		if m.container != p.Container {
			return p, errs.InvalidField("pod.container", "is %q, but a ContainerResource metric reads container %q", p.Container, m.container)
		}
	}
	for _, m := range spec.metrics {
		if m.hasAverageValue {
			continue
		}
		if m.resource == corev1.ResourceCPU && p.CPURequestMilli == 0 {
			return p, errs.InvalidField("pod.cpu_request_millicores", "must be greater than 0 for a cpu Utilization metric")
		}
		if m.resource == corev1.ResourceMemory && p.MemoryRequestBytes == 0 {
			return p, errs.InvalidField("pod.memory_request_bytes", "must be greater than 0 for a memory Utilization metric")
		}
	}
	return p, nil
}

// Step is what happened at one sync of a Twin.
type Step struct {
	At time.Duration
	// ReplicasBefore is the scale the controller found; Ready how many of
	// those pods were Ready.
	ReplicasBefore int32
	Ready          int
	Decision       Decision
	// Replicas is the scale after the sync.
	Replicas int32
}

// SyncPeriod returns the controller's sync period, the interval at which a
// driver should call Step.
func (t *Twin) SyncPeriod() time.Duration { return t.ctrl.cfg.SyncPeriod }

// Replicas returns the workload's current scale.
func (t *Twin) Replicas() int32 { return t.sim.Replicas() }

// Ready returns how many pods are Ready at now (time since the simulation
// started). Pods turn Ready whenever their startup ends, between syncs, so a
// driver that models the load in finer steps than the sync period asks here.
func (t *Twin) Ready(now time.Duration) int { return t.sim.Ready(epoch.Add(now)) }

// Step runs the controller's sync at now (time since the simulation
// started) with the workload under demand d, and applies its decision.
// Each call must be later than the previous one.
func (t *Twin) Step(now time.Duration, d Demand) (Step, error) {
	if t.stepped && now <= t.last {
		return Step{}, errs.InvalidField("now", "must be after the previous step (%s), got %s", t.last, now)
	}
	if now < 0 {
		return Step{}, errs.InvalidField("now", "must not be negative, got %s", now)
	}
	if err := d.validate(); err != nil {
		return Step{}, err
	}
	t.stepped, t.last = true, now

	at := epoch.Add(now)
	obs := t.sim.Observe(at, d)
	step := Step{At: now, ReplicasBefore: obs.Replicas, Ready: t.sim.Ready(at)}
	step.Decision = t.ctrl.sync(at, twinName, t.spec, obs)
	t.sim.Scale(at, step.Decision.DesiredReplicas)
	step.Replicas = t.sim.Replicas()
	return step, nil
}

// Run steps a fresh twin at 0, SyncPeriod, 2*SyncPeriod, ... up to until
// inclusive, asking demand for the load at each sync.
func (t *Twin) Run(until time.Duration, demand func(time.Duration) Demand) ([]Step, error) {
	if until < 0 {
		return nil, errs.InvalidField("until", "must not be negative, got %s", until)
	}
	period := t.SyncPeriod()
	steps := make([]Step, 0, until/period+1)
	for now := time.Duration(0); now <= until; now += period {
		s, err := t.Step(now, demand(now))
		if err != nil {
			return steps, fmt.Errorf("step at %s: %w", now, err)
		}
		steps = append(steps, s)
	}
	return steps, nil
}
