package load

import (
	"math"
	"time"
)

// schedule yields, in order, the offsets from the start of a run at which
// iterations are due. It is pure arithmetic on the config, so a schedule is
// the same on every run and for every seed.
type schedule interface {
	next() (time.Duration, bool)
}

func newSchedule(cfg Config) schedule {
	if cfg.Executor == RampingArrivalRate {
		return &rampingSchedule{stages: cfg.Stages, from: cfg.StartRate, i: 1}
	}
	return &constantSchedule{rate: cfg.Rate, duration: cfg.Duration}
}

// constantSchedule starts iteration i at i/rate, i = 0, 1, ... while that is
// before the end, as k6's constant-arrival-rate does: ceil(rate*duration)
// iterations, evenly spaced. Offsets are computed from i, never accumulated,
// so they do not drift.
type constantSchedule struct {
	rate     float64
	duration time.Duration
	i        int64
}

func (s *constantSchedule) next() (time.Duration, bool) {
	off := time.Duration(float64(s.i) * float64(time.Second) / s.rate)
	if off >= s.duration {
		return 0, false
	}
	s.i++
	return off, true
}

// rampingSchedule is k6's ramping-arrival-rate: the rate moves linearly
// within each stage, and the i-th iteration (i = 1, 2, ...) starts when the
// area under the rate curve reaches i. Spacing is therefore 1/rate at the
// instantaneous rate, and a run starts floor(integral of the rate)
// iterations.
type rampingSchedule struct {
	stages []Stage
	stage  int
	from   float64       // rate at the start of the current stage, per second
	start  time.Duration // offset of the current stage
	done   float64       // area before the current stage
	i      float64       // area at which the next iteration starts
}

// areaEpsilon absorbs float error in the accumulated area, so that a stage
// of exactly 3 iterations does not end at 2.9999999 and lose one.
const areaEpsilon = 1e-9

func (s *rampingSchedule) next() (time.Duration, bool) {
	for s.stage < len(s.stages) {
		st := s.stages[s.stage]
		to := st.Target
		dur := st.Duration.Seconds()
		end := s.done + dur*(s.from+to)/2
		if s.i <= end+areaEpsilon {
			k := s.i - s.done // area needed inside this stage
			var x float64     // seconds into the stage
			if s.from == to {
				x = k / to
			} else {
				// Solve from*x + (to-from)/(2*dur)*x² = k for the root in
				// [0, dur]; the form is k6's, which stays stable when the
				// rate ramps down.
				x = (s.from*dur - noNegativeSqrt(dur*(s.from*s.from*dur+2*k*(to-s.from)))) / (s.from - to)
			}
			x = math.Min(math.Max(x, 0), dur)
			s.i++
			return s.start + time.Duration(x*float64(time.Second)), true
		}
		s.done = end
		s.from = to
		s.start += st.Duration
		s.stage++
	}
	return 0, false
}

// noNegativeSqrt guards against float error pushing a zero argument below
// zero.
func noNegativeSqrt(f float64) float64 {
	if f < 0 {
		return 0
	}
	return math.Sqrt(f)
}
