package hpa

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Bounds that keep a replay's times inside time.Duration and its output
// reasonable: a year of simulated time, a million syncs.
const (
	maxReplaySeconds = 366 * 24 * 3600
	maxReplaySyncs   = 1_000_000
)

// ReplayInput is a replay file: an HPA manifest, the workload's pods and a
// recorded demand. Times are whole seconds from the start.
type ReplayInput struct {
	HPA             *autoscalingv2.HorizontalPodAutoscaler `json:"hpa"`
	InitialReplicas int32                                  `json:"initial_replicas"`
	Pod             ReplayPod                              `json:"pod"`
	// Demand is a step function: each point holds until the next, and a
	// field a point leaves out keeps its previous value (0 at first).
	Demand []ReplayDemand `json:"demand"`
	// Until is the time of the last sync (inclusive); syncs run at 0, 15,
	// 30, ... seconds (the sync period).
	Until int64 `json:"until"`
	// Controller overrides the controller's flags.
	Controller *ReplayController `json:"controller,omitempty"`
}

// ReplayPod is the pod profile of a replay file.
type ReplayPod struct {
	CPURequestMillicores int64 `json:"cpu_request_millicores"`
	MemoryRequestBytes   int64 `json:"memory_request_bytes"`
	// StartupSeconds is creation to Ready; the pod is Pending until then,
	// except for its last RunningBeforeReadySeconds.
	StartupSeconds            int64 `json:"startup_seconds"`
	RunningBeforeReadySeconds int64 `json:"running_before_ready_seconds,omitempty"`
	// MetricWindowSeconds is Ready to the first metric.
	MetricWindowSeconds int64  `json:"metric_window_seconds"`
	Container           string `json:"container,omitempty"`
}

// ReplayDemand is one point of the demand.
type ReplayDemand struct {
	T                 int64  `json:"t"`
	CPUMillicores     *int64 `json:"cpu_millicores,omitempty"`
	MemoryBytesPerPod *int64 `json:"memory_bytes_per_pod,omitempty"`
}

// ReplayController holds the controller flags a replay may override.
type ReplayController struct {
	SyncPeriodSeconds              *int64   `json:"sync_period_seconds,omitempty"`
	Tolerance                      *float64 `json:"tolerance,omitempty"`
	CPUInitializationPeriodSeconds *int64   `json:"cpu_initialization_period_seconds,omitempty"`
	InitialReadinessDelaySeconds   *int64   `json:"initial_readiness_delay_seconds,omitempty"`
	DownscaleStabilizationSeconds  *int64   `json:"downscale_stabilization_seconds,omitempty"`
}

func (rc *ReplayController) config() Config {
	cfg := DefaultConfig()
	if rc == nil {
		return cfg
	}
	secs := func(p *int64, into *time.Duration) {
		if p != nil {
			*into = time.Duration(*p) * time.Second
		}
	}
	secs(rc.SyncPeriodSeconds, &cfg.SyncPeriod)
	secs(rc.CPUInitializationPeriodSeconds, &cfg.CPUInitializationPeriod)
	secs(rc.InitialReadinessDelaySeconds, &cfg.InitialReadinessDelay)
	secs(rc.DownscaleStabilizationSeconds, &cfg.DownscaleStabilizationWindow)
	if rc.Tolerance != nil {
		cfg.Tolerance = *rc.Tolerance
	}
	return cfg
}

// ReplayResult is the outcome of a replay, one step per sync.
type ReplayResult struct {
	Steps []ReplayStep `json:"steps"`
}

// ReplayStep is one sync of a replay.
type ReplayStep struct {
	T              int64 `json:"t"`
	ReplicasBefore int32 `json:"replicas_before"`
	Ready          int   `json:"ready"`
	// Utilization is the average utilization (percent of request) of each
	// Utilization metric, keyed "cpu", "memory", or "container/cpu" for a
	// ContainerResource metric.
	Utilization map[string]int32 `json:"utilization,omitempty"`
	// Average is the average usage per counted pod of each metric, same
	// keys: millicores for CPU, bytes for memory.
	Average map[string]int64 `json:"average,omitempty"`
	// Desired is the metrics' proposal before stabilization and limits;
	// absent when the metrics were not evaluated.
	Desired  *int32 `json:"desired,omitempty"`
	Replicas int32  `json:"replicas"`
	// Reason is the ScalingLimited reason (DesiredWithinRange, ScaleUpLimit,
	// ScaleDownLimit, TooManyReplicas, TooFewReplicas); when the controller
	// skipped the metrics, why (the rescale reason or a ScalingActive reason).
	Reason string `json:"reason,omitempty"`
	// Stabilization is ScaleUpStabilized or ScaleDownStabilized when a
	// stabilization window changed the recommendation.
	Stabilization string `json:"stabilization,omitempty"`
	Error         string `json:"error,omitempty"`
}

// DecodeReplayInput reads a replay file in JSON or YAML. Unknown fields,
// duplicate keys and trailing data are errors.
func DecodeReplayInput(data []byte) (ReplayInput, error) {
	var in ReplayInput
	if err := decodeStrict(data, &in); err != nil {
		return ReplayInput{}, err
	}
	return in, nil
}

// ReplayFile decodes the replay file at path and replays it.
func ReplayFile(path string) (*ReplayResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errs.Wrap(errs.NotFound, err, "replay file %s", path)
		}
		return nil, errs.Wrap(errs.Invalid, err, "replay file %s", path)
	}
	in, err := DecodeReplayInput(data)
	if err != nil {
		return nil, fmt.Errorf("replay file %s: %w", path, err)
	}
	res, err := Replay(in)
	if err != nil {
		return nil, fmt.Errorf("replay file %s: %w", path, err)
	}
	return res, nil
}

// Replay runs the HPA of in against its demand and returns one step per sync.
func Replay(in ReplayInput) (*ReplayResult, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	cfg := in.Controller.config()
	profile := PodProfile{
		CPURequestMilli:    in.Pod.CPURequestMillicores,
		MemoryRequestBytes: in.Pod.MemoryRequestBytes,
		Startup:            time.Duration(in.Pod.StartupSeconds) * time.Second,
		RunningBeforeReady: time.Duration(in.Pod.RunningBeforeReadySeconds) * time.Second,
		MetricWindow:       time.Duration(in.Pod.MetricWindowSeconds) * time.Second,
		Container:          in.Pod.Container,
	}
	twin, err := NewTwin(&in.HPA.Spec, in.InitialReplicas, profile, WithConfig(cfg))
	if err != nil {
		return nil, err
	}
	demand := newStepDemand(in.Demand)
	steps, err := twin.Run(time.Duration(in.Until)*time.Second, demand.at)
	if err != nil {
		return nil, err
	}
	res := &ReplayResult{Steps: make([]ReplayStep, len(steps))}
	for i, s := range steps {
		res.Steps[i] = replayStep(s)
	}
	return res, nil
}

func (in ReplayInput) validate() error {
	if in.HPA == nil {
		return errs.InvalidField("hpa", "is required: an autoscaling/v2 HorizontalPodAutoscaler manifest")
	}
	if in.HPA.APIVersion != "autoscaling/v2" {
		return errs.InvalidField("hpa.apiVersion", "must be autoscaling/v2, got %q", in.HPA.APIVersion)
	}
	if in.HPA.Kind != "HorizontalPodAutoscaler" {
		return errs.InvalidField("hpa.kind", "must be HorizontalPodAutoscaler, got %q", in.HPA.Kind)
	}
	if in.InitialReplicas < 1 {
		return errs.InvalidField("initial_replicas", "must be at least 1, got %d (the controller leaves a target scaled to zero alone)", in.InitialReplicas)
	}
	if in.Until <= 0 || in.Until > maxReplaySeconds {
		return errs.InvalidField("until", "must be between 1 and %d seconds, got %d", maxReplaySeconds, in.Until)
	}
	p := in.Pod
	seconds := []struct {
		name string
		v    *int64
	}{
		{"pod.startup_seconds", &p.StartupSeconds},
		{"pod.running_before_ready_seconds", &p.RunningBeforeReadySeconds},
		{"pod.metric_window_seconds", &p.MetricWindowSeconds},
	}
	if rc := in.Controller; rc != nil {
		seconds = append(seconds, []struct {
			name string
			v    *int64
		}{
			{"controller.sync_period_seconds", rc.SyncPeriodSeconds},
			{"controller.cpu_initialization_period_seconds", rc.CPUInitializationPeriodSeconds},
			{"controller.initial_readiness_delay_seconds", rc.InitialReadinessDelaySeconds},
			{"controller.downscale_stabilization_seconds", rc.DownscaleStabilizationSeconds},
		}...)
	}
	for _, f := range seconds {
		if f.v != nil && (*f.v < 0 || *f.v > maxReplaySeconds) {
			return errs.InvalidField(f.name, "must be between 0 and %d seconds, got %d", maxReplaySeconds, *f.v)
		}
	}
	if len(in.Demand) == 0 {
		return errs.InvalidField("demand", "needs at least one point")
	}
	if in.Demand[0].T != 0 {
		return errs.InvalidField("demand[0].t", "must be 0 (demand is a step function from the start), got %d", in.Demand[0].T)
	}
	for i, d := range in.Demand {
		if i > 0 && d.T <= in.Demand[i-1].T {
			return errs.InvalidField(fmt.Sprintf("demand[%d].t", i), "must be after demand[%d].t (%d): points must be sorted by time, without repeats, got %d", i-1, in.Demand[i-1].T, d.T)
		}
		if d.CPUMillicores != nil && *d.CPUMillicores < 0 {
			return errs.InvalidField(fmt.Sprintf("demand[%d].cpu_millicores", i), "must not be negative, got %d", *d.CPUMillicores)
		}
		if d.MemoryBytesPerPod != nil && *d.MemoryBytesPerPod < 0 {
			return errs.InvalidField(fmt.Sprintf("demand[%d].memory_bytes_per_pod", i), "must not be negative, got %d", *d.MemoryBytesPerPod)
		}
	}
	cfg := in.Controller.config()
	if in.Controller != nil && in.Controller.SyncPeriodSeconds != nil && *in.Controller.SyncPeriodSeconds <= 0 {
		return errs.InvalidField("controller.sync_period_seconds", "must be positive, got %d", *in.Controller.SyncPeriodSeconds)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if syncs := time.Duration(in.Until) * time.Second / cfg.SyncPeriod; syncs >= maxReplaySyncs {
		return errs.InvalidField("until", "makes %d syncs of %s; at most %d are allowed", syncs+1, cfg.SyncPeriod, maxReplaySyncs)
	}
	return nil
}

// stepDemand is a replay's demand with fields carried forward, read in
// increasing time.
type stepDemand struct {
	times  []time.Duration
	values []Demand
	next   int
}

func newStepDemand(points []ReplayDemand) *stepDemand {
	sd := &stepDemand{}
	var cur Demand
	for _, p := range points {
		if p.CPUMillicores != nil {
			cur.CPUMilli = *p.CPUMillicores
		}
		if p.MemoryBytesPerPod != nil {
			cur.MemoryBytesPerPod = *p.MemoryBytesPerPod
		}
		sd.times = append(sd.times, time.Duration(p.T)*time.Second)
		sd.values = append(sd.values, cur)
	}
	return sd
}

// at returns the demand in force at t; calls must not go back in time.
func (sd *stepDemand) at(t time.Duration) Demand {
	for sd.next+1 < len(sd.times) && sd.times[sd.next+1] <= t {
		sd.next++
	}
	return sd.values[sd.next]
}

// Summary returns the step as a replay reports it: the scale, the metrics
// the controller read and the reason it gave.
func (s Step) Summary() ReplayStep { return replayStep(s) }

func replayStep(s Step) ReplayStep {
	d := s.Decision
	rs := ReplayStep{
		T:              int64(s.At / time.Second),
		ReplicasBefore: s.ReplicasBefore,
		Ready:          s.Ready,
		Replicas:       s.Replicas,
	}
	if d.MetricsComputed {
		desired := d.MetricReplicas
		rs.Desired = &desired
	}
	for _, m := range d.Metrics {
		if m.Err != nil {
			continue
		}
		key := string(m.Resource)
		if m.Container != "" {
			key = m.Container + "/" + key
		}
		if m.Utilization != nil {
			if rs.Utilization == nil {
				rs.Utilization = map[string]int32{}
			}
			rs.Utilization[key] = *m.Utilization
		}
		if rs.Average == nil {
			rs.Average = map[string]int64{}
		}
		rs.Average[key] = m.Average()
	}
	switch {
	case d.LimitReason != "":
		rs.Reason = d.LimitReason
	case d.Rescaled:
		rs.Reason = d.RescaleReason
	default:
		if c, ok := d.Condition(autoscalingv2.ScalingActive); ok && c.Status == corev1.ConditionFalse {
			rs.Reason = c.Reason
		}
	}
	if d.StabilizationReason == "ScaleUpStabilized" || d.StabilizationReason == "ScaleDownStabilized" {
		rs.Stabilization = d.StabilizationReason
	}
	if d.Err != nil {
		rs.Error = d.Err.Error()
	}
	return rs
}

// WriteJSON writes the result as JSON with one step per line, the format of
// the replay golden files.
func (r *ReplayResult) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("{\"steps\": [")
	for i, s := range r.Steps {
		line, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n  ")
		bw.Write(line)
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}
