package load

import (
	"math"
	"testing"
	"time"
)

func offsets(cfg Config) []time.Duration {
	s := newSchedule(cfg)
	var out []time.Duration
	for off, ok := s.next(); ok; off, ok = s.next() {
		out = append(out, off)
	}
	return out
}

func TestConstantScheduleIsEvenAndMatchesTheIntegral(t *testing.T) {
	for _, tt := range []struct {
		rate float64
		dur  time.Duration
	}{
		{10, time.Second},
		{3, time.Second},
		{2.5, time.Second},
		{2000, 3 * time.Second},
		{0.5, 10 * time.Second},
		{7, 1500 * time.Millisecond},
	} {
		cfg := Config{Executor: ConstantArrivalRate, Rate: tt.rate, Duration: tt.dur}
		offs := offsets(cfg)
		integral := tt.rate * tt.dur.Seconds()
		if want := int(math.Ceil(integral - 1e-9)); len(offs) != want {
			t.Errorf("rate %v for %s: %d iterations, want ceil(%v) = %d", tt.rate, tt.dur, len(offs), integral, want)
		}
		if math.Abs(float64(len(offs))-integral) > 1 {
			t.Errorf("rate %v for %s: %d iterations, more than 1 away from %v", tt.rate, tt.dur, len(offs), integral)
		}
		if offs[0] != 0 {
			t.Errorf("rate %v: first iteration at %s, want 0", tt.rate, offs[0])
		}
		gap := time.Duration(float64(time.Second) / tt.rate)
		for i := 1; i < len(offs); i++ {
			if d := offs[i] - offs[i-1]; d < gap-1 || d > gap+1 {
				t.Fatalf("rate %v: gap %d is %s, want %s", tt.rate, i, d, gap)
			}
		}
		if last := offs[len(offs)-1]; last >= tt.dur {
			t.Errorf("rate %v: last iteration at %s, not before the end %s", tt.rate, last, tt.dur)
		}
	}
}

func rampIntegral(start float64, stages []Stage) float64 {
	var area float64
	from := start
	for _, s := range stages {
		area += s.Duration.Seconds() * (from + s.Target) / 2
		from = s.Target
	}
	return area
}

// rateAt is the instantaneous rate of a ramping config at offset t.
func rateAt(start float64, stages []Stage, t time.Duration) float64 {
	from := start
	var at time.Duration
	for _, s := range stages {
		if t <= at+s.Duration {
			f := float64(t-at) / float64(s.Duration)
			return from + (s.Target-from)*f
		}
		from = s.Target
		at += s.Duration
	}
	return from
}

func TestRampingScheduleFollowsTheRateLikeK6(t *testing.T) {
	for _, tt := range []struct {
		name   string
		start  float64
		stages []Stage
	}{
		{"ramp up", 0, []Stage{{Target: 100, Duration: 2 * time.Second}}},
		{"ramp down", 100, []Stage{{Target: 10, Duration: 2 * time.Second}}},
		{"plateau", 50, []Stage{{Target: 50, Duration: time.Second}}},
		{"up, hold, down", 10, []Stage{{Target: 200, Duration: time.Second}, {Target: 200, Duration: 2 * time.Second}, {Target: 0, Duration: time.Second}}},
		{"idle then ramp", 0, []Stage{{Target: 0, Duration: time.Second}, {Target: 40, Duration: time.Second}}},
		{"fractional", 0.3, []Stage{{Target: 7.7, Duration: 3300 * time.Millisecond}, {Target: 1.1, Duration: 900 * time.Millisecond}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Executor: RampingArrivalRate, StartRate: tt.start, Stages: tt.stages}
			offs := offsets(cfg)
			integral := rampIntegral(tt.start, tt.stages)
			if math.Abs(float64(len(offs))-integral) > 1 {
				t.Fatalf("%d iterations, want %v ±1", len(offs), integral)
			}
			total := stagesDuration(tt.stages)
			for i, off := range offs {
				if off < 0 || off > total || (i > 0 && off < offs[i-1]) {
					t.Fatalf("offset %d = %s out of order or outside [0, %s]", i, off, total)
				}
			}
			// Spacing is 1/rate at the instantaneous rate: the rate at the
			// midpoint of each gap explains the gap within a few percent.
			for i := 1; i < len(offs); i++ {
				gap := (offs[i] - offs[i-1]).Seconds()
				r := rateAt(tt.start, tt.stages, (offs[i]+offs[i-1])/2)
				if r < 5 {
					continue // where the rate is near zero a gap spans a large change of it
				}
				if got := 1 / gap; math.Abs(got-r)/r > 0.05 {
					t.Fatalf("gap %d (%s..%s) is %.4fs, rate %.2f/s, want about %.2f/s", i, offs[i-1], offs[i], gap, got, r)
				}
			}
		})
	}
}

func TestRampingScheduleStartsWhereTheAreaReachesEachIteration(t *testing.T) {
	// From 0 to 10/s over 1s the area is 5t², so iteration i starts at
	// sqrt(i/5): k6 numbers iterations from 1.
	offs := offsets(Config{Executor: RampingArrivalRate, Stages: []Stage{{Target: 10, Duration: time.Second}}})
	if len(offs) != 5 {
		t.Fatalf("%d iterations, want 5", len(offs))
	}
	for i, off := range offs {
		want := time.Duration(math.Sqrt(float64(i+1)/5) * float64(time.Second))
		if d := off - want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("iteration %d at %s, want %s", i+1, off, want)
		}
	}
	// Nothing is scheduled while the rate stays at zero.
	offs = offsets(Config{Executor: RampingArrivalRate, Stages: []Stage{{Target: 0, Duration: time.Second}, {Target: 20, Duration: time.Second}}})
	if len(offs) != 10 || offs[0] < time.Second {
		t.Errorf("idle first stage: %d iterations starting at %v, want 10 after 1s", len(offs), offs)
	}
}
