package calibrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"

	"github.com/google/pprof/profile"
)

// UnitLabel is the pprof label sim/cloud puts on every goroutine a unit
// starts (pprof.Do around the unit's Run).
const UnitLabel = "unit"

// Buckets of CPU time that carry no unit label.
const (
	// Runtime is the Go runtime's own work, on no goroutine of the program:
	// GC mark workers, the sweeper, the scavenger, the scheduler. It serves
	// every goroutine, so it is shared out in proportion to CPU (see
	// Window.UnitCPU).
	Runtime = "(runtime)"
	// GRPCClient is gRPC's client transports (the HTTP/2 reader and
	// writer of each connection). They belong to the calling units, but
	// their goroutines are started with the connection, outside the
	// unit's labelled Run, so the label does not reach them.
	GRPCClient = "(grpc client)"
	// Unlabeled is everything else without a unit label: the load
	// generator, the embedded Kafka and S3, the ops API.
	Unlabeled = "(unlabeled)"
)

// grpcClientTransport marks the functions of gRPC's client transport.
const grpcClientTransport = "google.golang.org/grpc/internal/transport.(*http2Client)"

// CPU is CPU time in seconds by unit label, with the Runtime, GRPCClient
// and Unlabeled buckets for the samples without one.
type CPU map[string]float64

// Total is the CPU time of every bucket.
func (c CPU) Total() float64 {
	t := 0.0
	for _, v := range c {
		t += v
	}
	return t
}

// Apportioned returns the CPU of each unit (and of Unlabeled) with the
// shared buckets charged to them: GRPCClient in proportion to the gRPC
// calls each unit made (clientCalls), Runtime in proportion to CPU. In a
// pod of its own a unit pays its own scheduler and garbage collector, and
// GC work grows with the allocation rate, which follows CPU closely enough
// for a cost model. Unlabeled keeps its share, so the units are not
// charged for the load generator's garbage.
func (c CPU) Apportioned(clientCalls map[string]float64) CPU {
	out := CPU{}
	for k, v := range c {
		if k != Runtime && k != GRPCClient {
			out[k] = v
		}
	}
	calls := 0.0
	for _, n := range clientCalls {
		calls += n
	}
	if calls > 0 {
		for u, n := range clientCalls {
			out[u] += c[GRPCClient] * n / calls
		}
	} else {
		out[Unlabeled] += c[GRPCClient]
	}
	base := out.Total()
	if base > 0 {
		for k, v := range out {
			out[k] = v + c[Runtime]*v/base
		}
	} else if c[Runtime] > 0 {
		out[Unlabeled] += c[Runtime]
	}
	return out
}

// SplitCPUProfile sums a CPU profile (the pprof protobuf that
// runtime/pprof writes) by the unit label.
func SplitCPUProfile(r io.Reader) (CPU, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("parse the CPU profile: %w", err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" && st.Unit == "nanoseconds" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, errors.New("not a CPU profile: no cpu/nanoseconds sample type")
	}
	out := CPU{}
	for _, s := range p.Sample {
		seconds := float64(s.Value[idx]) / 1e9
		switch units := s.Label[UnitLabel]; {
		case len(units) > 0:
			out[units[0]] += seconds
		case onlyRuntime(s):
			out[Runtime] += seconds
		case inFunction(s, grpcClientTransport):
			out[GRPCClient] += seconds
		default:
			out[Unlabeled] += seconds
		}
	}
	return out, nil
}

// onlyRuntime tells a sample whose every frame is the runtime's own.
func onlyRuntime(s *profile.Sample) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function == nil {
				continue
			}
			if n := line.Function.Name; !strings.HasPrefix(n, "runtime.") && !strings.HasPrefix(n, "internal/runtime/") {
				return false
			}
		}
	}
	return true
}

// inFunction tells a sample with a frame whose function name starts with prefix.
func inFunction(s *profile.Sample, prefix string) bool {
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			if line.Function != nil && strings.HasPrefix(line.Function.Name, prefix) {
				return true
			}
		}
	}
	return false
}

// cpuProfiler makes sure one window at a time owns the process's CPU
// profiler (there is one per process).
var cpuProfiler sync.Mutex

// DefaultProfileHz is the CPU profile's sampling rate.
//
// On Linux the profiler arms a CPU timer per thread, and the kernel checks
// those timers on its scheduler tick (CONFIG_HZ: 250 Hz on most distro
// kernels, 100 or 1000 on some): a thread gets at most one signal per tick,
// whatever the rate asked for. So the samples never add up to the CPU the
// process used (measured on a 250 Hz kernel: about 96% of it at 100 Hz,
// 75% at 250 Hz, 50% at 500 Hz for a busy thread), and profileCPU scales
// them to the process's CPU time from getrusage: the rate only sets how
// many samples share that time out, and the tick rate is where more stop
// helping. At 250 Hz a unit using 0.3 s of CPU in a window is split from
// about 60 samples, ±13%; at runtime/pprof's 100 Hz from 30, ±18%.
const DefaultProfileHz = 250

// profileCPU runs f under a CPU profile of the whole process, sampled hz
// times a second of CPU, and returns the CPU time split by unit, scaled so
// that the buckets add up to the CPU time the kernel accounted to the
// process over f (see DefaultProfileHz), and the share of that time the
// profile's samples covered before scaling (0 when it could not be read).
//
// runtime/pprof always asks for 100 Hz; another rate is set just before
// it, and the runtime then prints "cannot set cpu profile rate until
// previous profile has finished" on stderr. The profile records the rate
// in force.
func profileCPU(hz int, f func() error) (CPU, float64, error) {
	cpuProfiler.Lock()
	defer cpuProfiler.Unlock()
	if hz > 0 && hz != 100 {
		runtime.SetCPUProfileRate(hz)
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		// Another profile owns the profiler, and the rate above did not
		// take: leave it alone.
		return nil, 0, fmt.Errorf("start the CPU profile (is another one running, go test -cpuprofile?): %w", err)
	}
	before, okBefore := processCPU()
	err := f()
	after, okAfter := processCPU()
	pprof.StopCPUProfile()
	if err != nil {
		return nil, 0, err
	}
	cpu, err := SplitCPUProfile(&buf)
	if err != nil {
		return nil, 0, err
	}
	if !okBefore || !okAfter || after <= before {
		return cpu, 0, nil
	}
	return cpu.scaledTo(after - before), cpu.Total() / (after - before), nil
}

// scaledTo returns c with every bucket scaled so that they add up to
// total; c itself when it holds nothing to scale.
func (c CPU) scaledTo(total float64) CPU {
	sum := c.Total()
	if sum <= 0 || total <= 0 {
		return c
	}
	out := CPU{}
	for k, v := range c {
		out[k] = v * total / sum
	}
	return out
}
