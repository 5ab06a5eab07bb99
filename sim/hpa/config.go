package hpa

import (
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Config holds the kube-controller-manager flags that shape the controller.
// The zero value is not useful; start from DefaultConfig.
type Config struct {
	// SyncPeriod is --horizontal-pod-autoscaler-sync-period.
	SyncPeriod time.Duration
	// Tolerance is --horizontal-pod-autoscaler-tolerance; an HPA's
	// behavior.scale{Up,Down}.tolerance overrides it per direction.
	Tolerance float64
	// CPUInitializationPeriod is --horizontal-pod-autoscaler-cpu-initialization-period.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay is --horizontal-pod-autoscaler-initial-readiness-delay.
	InitialReadinessDelay time.Duration
	// DownscaleStabilizationWindow is --horizontal-pod-autoscaler-downscale-stabilization;
	// it is the legacy window and the default of behavior.scaleDown.stabilizationWindowSeconds.
	DownscaleStabilizationWindow time.Duration
}

// DefaultConfig returns the upstream defaults of the controller's flags.
func DefaultConfig() Config {
	return Config{
		SyncPeriod:                   15 * time.Second,
		Tolerance:                    0.1,
		CPUInitializationPeriod:      5 * time.Minute,
		InitialReadinessDelay:        30 * time.Second,
		DownscaleStabilizationWindow: 5 * time.Minute,
	}
}

// validate reports flags the controller could not run with.
func (c Config) validate() error {
	switch {
	case c.SyncPeriod <= 0:
		return errs.InvalidField("controller.syncPeriod", "must be positive, got %s", c.SyncPeriod)
	case c.Tolerance < 0:
		return errs.InvalidField("controller.tolerance", "must not be negative, got %g", c.Tolerance)
	case c.CPUInitializationPeriod < 0:
		return errs.InvalidField("controller.cpuInitializationPeriod", "must not be negative, got %s", c.CPUInitializationPeriod)
	case c.InitialReadinessDelay < 0:
		return errs.InvalidField("controller.initialReadinessDelay", "must not be negative, got %s", c.InitialReadinessDelay)
	case c.DownscaleStabilizationWindow < 0:
		return errs.InvalidField("controller.downscaleStabilizationWindow", "must not be negative, got %s", c.DownscaleStabilizationWindow)
	}
	return nil
}
