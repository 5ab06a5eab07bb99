package model

import (
	"fmt"
	"math"
	"slices"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Sample is one calibration measurement: one unit's processes under a fixed
// open-model load of journeys, over a window of time.
type Sample struct {
	Unit string `json:"unit"`
	// Rates is the journey iterations per second offered during the window;
	// journeys that never reach the unit are ignored for its costs.
	Rates map[string]float64 `json:"rates"`
	// Seconds is the length of the window.
	Seconds float64 `json:"seconds"`
	// Pods is how many processes of the unit served the load and shared it;
	// 0 means 1. CPUSeconds and MemoryBytes are their totals.
	Pods int `json:"pods,omitempty"`
	// CPUSeconds is the CPU time (user plus system) the unit used in the window.
	CPUSeconds float64 `json:"cpu_seconds"`
	// MemoryBytes is the unit's mean resident memory (or working set) over
	// the window; 0 means not measured.
	MemoryBytes float64 `json:"memory_bytes,omitempty"`
	// InFlight is the mean number of requests in flight in the unit; 0 means
	// not measured, and then it is the request rate times LatencySeconds
	// (Little's law).
	InFlight float64 `json:"in_flight,omitempty"`
	// LatencySeconds is the mean time a call spent in the unit, without the
	// time it waited on the unit's own downstream calls; 0 means not
	// measured. Calibrate well below saturation, so that it is service time,
	// not queueing.
	LatencySeconds float64 `json:"latency_seconds,omitempty"`
}

func (s Sample) pods() float64 {
	if s.Pods <= 0 {
		return 1
	}
	return float64(s.Pods)
}

// Fit builds a measured profile of the platform (DefaultJourneys, every unit
// of Units) from calibration samples.
//
// For each unit, CPU is a linear model of the journey rates: cores used =
// pods x idle + sum over journeys of rate x CPU seconds per iteration. Its
// coefficients are the non-negative least-squares solution over the
// samples, each weighted by its length. Only the journeys that reach the
// unit in the call graph get a coefficient (the others cost it nothing by
// construction), so measuring each journey alone plus one idle window is
// enough; with one journey alone, the fit is that division. The samples must
// pin every coefficient down (an idle window, or two rates of a journey, to
// tell idle from work); otherwise Fit says what is missing.
//
// Memory per pod is fitted the same way on the request rate and the
// requests in flight per pod; service time is the mean measured latency,
// weighted by requests.
func Fit(samples []Sample) (Profile, error) {
	p := Profile{
		Version:  Version,
		Source:   SourceMeasured,
		Note:     fmt.Sprintf("fitted by model.Fit from %d samples", len(samples)),
		Units:    map[string]UnitCost{},
		Journeys: DefaultJourneys(),
	}
	byUnit := map[string][]Sample{}
	for i, s := range samples {
		if err := p.checkSample(s); err != nil {
			return Profile{}, fmt.Errorf("sample %d: %w", i, err)
		}
		byUnit[s.Unit] = append(byUnit[s.Unit], s)
	}
	perUnit := CallsPerIteration(p.Journeys)
	for _, unit := range Units() {
		ss := byUnit[unit]
		if len(ss) == 0 {
			return Profile{}, errs.E(errs.Invalid, "no sample of unit %s", unit)
		}
		var reaching []string
		for _, j := range sortedKeys(p.Journeys) {
			if perUnit[j][unit] > 0 {
				reaching = append(reaching, j)
			}
		}
		u, err := fitUnit(unit, ss, reaching, p)
		if err != nil {
			return Profile{}, err
		}
		p.Units[unit] = u
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("fitted profile: %w", err)
	}
	return p, nil
}

func (p Profile) checkSample(s Sample) error {
	if !slices.Contains(Units(), s.Unit) {
		return errs.InvalidField("unit", "is %q, not one of %v", s.Unit, Units())
	}
	if !(s.Seconds > 0) || math.IsInf(s.Seconds, 0) {
		return errs.InvalidField("seconds", "must be positive, got %g", s.Seconds)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"cpu_seconds", s.CPUSeconds}, {"memory_bytes", s.MemoryBytes}, {"in_flight", s.InFlight}, {"latency_seconds", s.LatencySeconds}} {
		if !finiteNonNegative(f.v) {
			return errs.InvalidField(f.name, "must be a non-negative number, got %g", f.v)
		}
	}
	if s.Pods < 0 {
		return errs.InvalidField("pods", "must not be negative, got %d", s.Pods)
	}
	for _, j := range sortedKeys(s.Rates) {
		if _, ok := p.Journeys[j]; !ok {
			return errs.InvalidField("rates."+j, "is not a journey (known: %v)", sortedKeys(p.Journeys))
		}
		if !finiteNonNegative(s.Rates[j]) {
			return errs.InvalidField("rates."+j, "must be a non-negative number, got %g", s.Rates[j])
		}
	}
	return nil
}

func fitUnit(unit string, ss []Sample, reaching []string, p Profile) (UnitCost, error) {
	// CPU: columns [pods, rate of each reaching journey], rows weighted by
	// sqrt(seconds) so a long window counts as much as several short ones.
	cols := 1 + len(reaching)
	var a [][]float64
	var y []float64
	for _, s := range ss {
		w := math.Sqrt(s.Seconds)
		row := make([]float64, cols)
		row[0] = w * s.pods()
		for k, j := range reaching {
			row[1+k] = w * s.Rates[j]
		}
		a = append(a, row)
		y = append(y, w*s.CPUSeconds/s.Seconds)
	}
	if _, ok := leastSquares(a, y, allColumns(cols)); !ok {
		names := append([]string{"idle"}, reaching...)
		return UnitCost{}, errs.E(errs.Invalid,
			"the samples of unit %s cannot tell its CPU costs %v apart: measure each journey alone, and idle (or each journey at two rates)", unit, names)
	}
	cpu := nonNegativeLeastSquares(a, y)
	u := UnitCost{
		IdleCPUMillicores:      1000 * cpu[0],
		CPUSecondsPerIteration: map[string]float64{},
	}
	for k, j := range reaching {
		u.CPUSecondsPerIteration[j] = cpu[1+k]
	}

	// Memory per pod: columns [1, requests in flight per pod, rps per pod].
	// In flight and rps move together at low load, so the fit may put all
	// of the load-dependent part on one of them; either predicts the same
	// within the calibrated range.
	a, y = nil, nil
	var latencyWeight, latencySum float64
	for _, s := range ss {
		rps := p.RequestRate(unit, s.Rates)
		if s.LatencySeconds > 0 {
			n := rps * s.Seconds
			latencySum += n * s.LatencySeconds
			latencyWeight += n
		}
		if s.MemoryBytes == 0 {
			continue
		}
		inFlight := s.InFlight
		if inFlight == 0 {
			inFlight = rps * s.LatencySeconds
		}
		w := math.Sqrt(s.Seconds)
		a = append(a, []float64{w, w * inFlight / s.pods(), w * rps / s.pods()})
		y = append(y, w*s.MemoryBytes/s.pods())
	}
	if len(a) == 0 {
		return UnitCost{}, errs.E(errs.Invalid, "no sample of unit %s measured memory", unit)
	}
	if latencyWeight == 0 {
		return UnitCost{}, errs.E(errs.Invalid, "no sample of unit %s measured latency under load", unit)
	}
	mem := nonNegativeLeastSquares(a, y)
	u.MemoryBaseBytes = int64(math.Round(mem[0]))
	u.MemoryPerInflightBytes = int64(math.Round(mem[1]))
	u.MemoryPerRPSBytes = int64(math.Round(mem[2]))
	u.ServiceSeconds = latencySum / latencyWeight
	return u, nil
}

func allColumns(n int) []int {
	cols := make([]int, n)
	for i := range cols {
		cols[i] = i
	}
	return cols
}

// nonNegativeLeastSquares minimises |a x - y| subject to x >= 0. The
// problems here have a handful of columns, so it tries every support: the
// optimum is the unconstrained solution on some support whose coefficients
// are all non-negative, and the best such candidate is the optimum. Ties go
// to the smaller support, so collinear columns do not share a cost by
// accident. Columns outside the chosen support are 0.
func nonNegativeLeastSquares(a [][]float64, y []float64) []float64 {
	n := len(a[0])
	best := make([]float64, n)
	bestResidual := dot(y, y)
	bestSize := 0
	for mask := 1; mask < 1<<n; mask++ {
		var cols []int
		for c := range n {
			if mask&(1<<c) != 0 {
				cols = append(cols, c)
			}
		}
		x, ok := leastSquares(a, y, cols)
		if !ok || slices.ContainsFunc(x, func(v float64) bool { return v < 0 }) {
			continue
		}
		full := make([]float64, n)
		for k, c := range cols {
			full[c] = x[k]
		}
		r := residual(a, y, full)
		// A relative margin keeps rounding noise from choosing a bigger support.
		if r < bestResidual*(1-1e-9) || (r <= bestResidual*(1+1e-9) && len(cols) < bestSize) {
			best, bestResidual, bestSize = full, r, len(cols)
		}
	}
	return best
}

// leastSquares solves min |a[:, cols] x - y| by the normal equations on
// columns scaled to unit length (which keeps them well conditioned for the
// small, positive problems here). ok is false when the columns are linearly
// dependent or all zero.
func leastSquares(a [][]float64, y []float64, cols []int) ([]float64, bool) {
	n := len(cols)
	scale := make([]float64, n)
	for k, c := range cols {
		s := 0.0
		for _, row := range a {
			s += row[c] * row[c]
		}
		if s == 0 {
			return nil, false
		}
		scale[k] = math.Sqrt(s)
	}
	// m = [AᵀA | Aᵀy] over the scaled columns.
	m := make([][]float64, n)
	for i := range n {
		m[i] = make([]float64, n+1)
		for j := range n {
			for _, row := range a {
				m[i][j] += row[cols[i]] * row[cols[j]]
			}
			m[i][j] /= scale[i] * scale[j]
		}
		for r, row := range a {
			m[i][n] += row[cols[i]] * y[r]
		}
		m[i][n] /= scale[i]
	}
	// Gaussian elimination with partial pivoting. With unit columns the
	// diagonal starts at 1, so a tiny pivot means a dependent column.
	for i := range n {
		p := i
		for r := i + 1; r < n; r++ {
			if math.Abs(m[r][i]) > math.Abs(m[p][i]) {
				p = r
			}
		}
		if math.Abs(m[p][i]) < 1e-10 {
			return nil, false
		}
		m[i], m[p] = m[p], m[i]
		for r := range n {
			if r == i {
				continue
			}
			f := m[r][i] / m[i][i]
			for c := i; c <= n; c++ {
				m[r][c] -= f * m[i][c]
			}
		}
	}
	x := make([]float64, n)
	for i := range n {
		x[i] = m[i][n] / m[i][i] / scale[i]
	}
	return x, true
}

func residual(a [][]float64, y, x []float64) float64 {
	r := 0.0
	for i, row := range a {
		d := dot(row, x) - y[i]
		r += d * d
	}
	return r
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
