//go:build !unix

package calibrate

// processCPU is not available here: profiles are used unscaled.
func processCPU() (float64, bool) { return 0, false }
