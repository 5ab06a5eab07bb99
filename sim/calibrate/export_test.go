package calibrate

// ProfileCPU exposes profileCPU to the external tests.
var ProfileCPU = profileCPU
