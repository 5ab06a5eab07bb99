//go:build race

package calibrate_test

// raceEnabled: the race detector multiplies the platform's CPU per request
// several times over, so the heavy test loads it less.
const raceEnabled = true
