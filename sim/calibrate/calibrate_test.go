package calibrate_test

import (
	"bytes"
	"context"
	"math"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/shoplab/shoplab/profiles"
	"github.com/shoplab/shoplab/sim/calibrate"
	"github.com/shoplab/shoplab/sim/hpa/model"
)

// cpuProfile builds a CPU profile (as runtime/pprof writes it) with one
// sample per entry: its CPU in milliseconds, its unit label ("" for none)
// and its stack, leaf first.
func cpuProfile(t *testing.T, samples []struct {
	ms    int64
	unit  string
	stack []string
}) []byte {
	t.Helper()
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     2_000_000,
	}
	funcs := map[string]*profile.Function{}
	locs := map[string]*profile.Location{}
	for _, s := range samples {
		var stack []*profile.Location
		for _, name := range s.stack {
			if locs[name] == nil {
				f := &profile.Function{ID: uint64(len(funcs) + 1), Name: name}
				funcs[name] = f
				p.Function = append(p.Function, f)
				locs[name] = &profile.Location{ID: uint64(len(locs) + 1), Line: []profile.Line{{Function: f}}}
				p.Location = append(p.Location, locs[name])
			}
			stack = append(stack, locs[name])
		}
		sample := &profile.Sample{Location: stack, Value: []int64{s.ms / 2, s.ms * 1_000_000}}
		if s.unit != "" {
			sample.Label = map[string][]string{calibrate.UnitLabel: {s.unit}}
		}
		p.Sample = append(p.Sample, sample)
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSplitCPUProfileByUnitLabel(t *testing.T) {
	data := cpuProfile(t, []struct {
		ms    int64
		unit  string
		stack []string
	}{
		{300, "gateway", []string{"encoding/json.Marshal", "github.com/shoplab/shoplab/services/gateway/ports.(*handler).listProducts", "runtime.goexit"}},
		{100, "gateway", []string{"runtime.mallocgc", "runtime.goexit"}}, // GC assist on a unit's goroutine is the unit's
		{500, "product", []string{"modernc.org/sqlite.(*conn).step", "runtime.goexit"}},
		{40, "", []string{"runtime.scanobject", "runtime.gcDrain", "runtime.gcBgMarkWorker", "runtime.goexit"}},
		{20, "", []string{"runtime.findRunnable", "runtime.schedule", "runtime.mcall"}},
		{30, "", []string{"syscall.write", "google.golang.org/grpc/internal/transport.(*http2Client).reader", "runtime.goexit"}},
		{200, "", []string{"net/http.(*persistConn).readLoop", "runtime.goexit"}},
	})
	got, err := calibrate.SplitCPUProfile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := calibrate.CPU{"gateway": 0.4, "product": 0.5, calibrate.Runtime: 0.06, calibrate.GRPCClient: 0.03, calibrate.Unlabeled: 0.2}
	if len(got) != len(want) {
		t.Fatalf("SplitCPUProfile = %v, want %v", got, want)
	}
	for k, v := range want {
		if math.Abs(got[k]-v) > 1e-9 {
			t.Errorf("%s = %gs, want %gs", k, got[k], v)
		}
	}
	if _, err := calibrate.SplitCPUProfile(strings.NewReader("not a profile")); err == nil {
		t.Error("SplitCPUProfile accepted garbage")
	}
}

func TestApportionedSharesRuntimeByCPUAndGRPCByCalls(t *testing.T) {
	tests := []struct {
		name  string
		cpu   calibrate.CPU
		calls map[string]float64
		want  calibrate.CPU
	}{
		{"nothing to share", calibrate.CPU{"gateway": 1, calibrate.Unlabeled: 1}, nil, calibrate.CPU{"gateway": 1, calibrate.Unlabeled: 1}},
		{
			"runtime by CPU, the load generator's share kept apart",
			calibrate.CPU{"gateway": 1, "product": 3, calibrate.Unlabeled: 1, calibrate.Runtime: 0.5},
			nil,
			calibrate.CPU{"gateway": 1.1, "product": 3.3, calibrate.Unlabeled: 1.1},
		},
		{
			"gRPC client transports by outgoing calls, before the runtime",
			calibrate.CPU{"gateway": 1, "order": 1, calibrate.GRPCClient: 1, calibrate.Runtime: 0.3},
			map[string]float64{"gateway": 300, "order": 100},
			calibrate.CPU{"gateway": 1.75 * 1.1, "order": 1.25 * 1.1},
		},
		{"no calls: the transports stay unlabeled", calibrate.CPU{"gateway": 1, calibrate.GRPCClient: 0.5}, nil, calibrate.CPU{"gateway": 1, calibrate.Unlabeled: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cpu.Apportioned(tt.calls)
			if math.Abs(got.Total()-tt.cpu.Total()) > 1e-9 {
				t.Errorf("apportioning changed the total: %g, was %g", got.Total(), tt.cpu.Total())
			}
			for k, v := range tt.want {
				if math.Abs(got[k]-v) > 1e-9 {
					t.Errorf("%s = %g, want %g (all: %v)", k, got[k], v, got)
				}
			}
			for k := range got {
				if _, ok := tt.want[k]; !ok && got[k] != 0 {
					t.Errorf("unexpected bucket %s = %g", k, got[k])
				}
			}
		})
	}
}

// The exposition of two units' registries, as their ops APIs serve it.
const exposition = `# HELP shoplab_requests_total Requests served.
# TYPE shoplab_requests_total counter
shoplab_requests_total{code="200",method="GET /api/v1/products",transport="http",unit="gateway"} 30
shoplab_requests_total{code="404",method="GET /api/v1/products/{id}",transport="http",unit="gateway"} 2
shoplab_requests_total{code="OK",method="/shoplab.product.v1.ProductService/ListProducts",transport="grpc",unit="product"} 30
# HELP shoplab_request_duration_seconds Time to serve a request.
# TYPE shoplab_request_duration_seconds histogram
shoplab_request_duration_seconds_bucket{method="GET /api/v1/products",transport="http",unit="gateway",le="+Inf"} 32
shoplab_request_duration_seconds_sum{method="GET /api/v1/products",transport="http",unit="gateway"} 0.32
shoplab_request_duration_seconds_count{method="GET /api/v1/products",transport="http",unit="gateway"} 32
shoplab_request_duration_seconds_bucket{method="/shoplab.product.v1.ProductService/ListProducts",transport="grpc",unit="product",le="+Inf"} 30
shoplab_request_duration_seconds_sum{method="/shoplab.product.v1.ProductService/ListProducts",transport="grpc",unit="product"} 0.06
shoplab_request_duration_seconds_count{method="/shoplab.product.v1.ProductService/ListProducts",transport="grpc",unit="product"} 30
# HELP shoplab_client_call_duration_seconds Outgoing calls.
# TYPE shoplab_client_call_duration_seconds histogram
shoplab_client_call_duration_seconds_bucket{code="OK",method="/shoplab.product.v1.ProductService/ListProducts",target="product",unit="gateway",le="+Inf"} 30
shoplab_client_call_duration_seconds_sum{code="OK",method="/shoplab.product.v1.ProductService/ListProducts",target="product",unit="gateway"} 0.12
shoplab_client_call_duration_seconds_count{code="OK",method="/shoplab.product.v1.ProductService/ListProducts",target="product",unit="gateway"} 30
# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
`

func TestParseServed(t *testing.T) {
	got, err := calibrate.ParseServed(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]calibrate.Served{
		"gateway": {Requests: 32, ServerSeconds: 0.32, ClientSeconds: 0.12, ClientCalls: 30},
		"product": {Requests: 30, ServerSeconds: 0.06},
	}
	if len(got) != len(want) {
		t.Fatalf("ParseServed = %+v, want %+v", got, want)
	}
	for u, w := range want {
		g := got[u]
		if g.Requests != w.Requests || g.ClientCalls != w.ClientCalls || math.Abs(g.ServerSeconds-w.ServerSeconds) > 1e-12 || math.Abs(g.ClientSeconds-w.ClientSeconds) > 1e-12 {
			t.Errorf("%s = %+v, want %+v", u, g, w)
		}
	}
	// The gateway's own time excludes its wait on product: (0.32 - 0.12) / 32.
	if own := got["gateway"].OwnSeconds(); math.Abs(own-0.00625) > 1e-12 {
		t.Errorf("gateway own time = %g, want 0.00625", own)
	}
	if own := (calibrate.Served{}).OwnSeconds(); own != 0 {
		t.Errorf("own time without requests = %g, want 0", own)
	}
}

// windowsOf measures truth the way Calibrate does, without noise: an idle
// window, then each journey alone at rate.
func windowsOf(truth model.Profile, rate float64) []calibrate.Window {
	const seconds = 10.0
	loads := []map[string]float64{{}}
	for _, j := range []string{"browse", "checkout", "declined_checkout", "search"} {
		loads = append(loads, map[string]float64{j: rate})
	}
	var out []calibrate.Window
	for _, rates := range loads {
		w := calibrate.Window{Name: calibrate.Idle, Seconds: seconds, Rates: rates, CPU: calibrate.CPU{}, Served: map[string]calibrate.Served{}}
		for j, r := range rates {
			w.Name = j
			w.Iterations += int64(r * seconds)
		}
		for _, unit := range model.Units() {
			w.CPU[unit] = truth.PredictCPU(unit, rates) / 1000 * seconds
			n := truth.RequestRate(unit, rates) * seconds
			w.Served[unit] = calibrate.Served{Requests: n, ServerSeconds: n * truth.Units[unit].ServiceSeconds}
		}
		w.CPU[calibrate.Unlabeled] = 0.05 * seconds // the load generator: nobody's
		out = append(out, w)
	}
	return out
}

func TestProfileFitsCostsAndKeepsMemory(t *testing.T) {
	truth, err := profiles.Local()
	if err != nil {
		t.Fatal(err)
	}
	base := truth
	base.Units = map[string]model.UnitCost{}
	for u, c := range truth.Units {
		c.MemoryBaseBytes *= 2 // a different memory model, to see it carried over
		c.StartupSeconds = 7
		base.Units[u] = c
	}
	res := &calibrate.Result{Windows: windowsOf(truth, 40)}
	got, err := res.Profile(base, "a note")
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != model.SourceMeasured || got.Note != "a note" {
		t.Errorf("source %q, note %q; want measured and the note given", got.Source, got.Note)
	}
	for _, unit := range model.Units() {
		want, have := truth.Units[unit], got.Units[unit]
		// The profile keeps three significant digits.
		close := func(a, b float64) bool { return math.Abs(a-b) <= 0.005*math.Abs(b)+1e-12 }
		if !close(have.IdleCPUMillicores, want.IdleCPUMillicores) {
			t.Errorf("%s idle = %g, want %g", unit, have.IdleCPUMillicores, want.IdleCPUMillicores)
		}
		for j, c := range want.CPUSecondsPerIteration {
			if !close(have.CPUSecondsPerIteration[j], c) {
				t.Errorf("%s %s = %g, want %g", unit, j, have.CPUSecondsPerIteration[j], c)
			}
		}
		if !close(have.ServiceSeconds, want.ServiceSeconds) {
			t.Errorf("%s service = %g, want %g", unit, have.ServiceSeconds, want.ServiceSeconds)
		}
		b := base.Units[unit]
		if have.MemoryBaseBytes != b.MemoryBaseBytes || have.MemoryPerInflightBytes != b.MemoryPerInflightBytes ||
			have.MemoryPerRPSBytes != b.MemoryPerRPSBytes || have.StartupSeconds != 7 {
			t.Errorf("%s memory and startup = %+v, want the base's %+v", unit, have, b)
		}
	}

	var table strings.Builder
	if err := calibrate.WriteTable(&table, res, got); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"browse: 40.0 it/s for 10.0 s", "CPU ms/iter", "profile (measured)", "declined_checkout"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, table.String())
		}
	}

	missing := base
	missing.Units = map[string]model.UnitCost{model.Gateway: base.Units[model.Gateway]}
	if _, err := res.Profile(missing, ""); err == nil || !strings.Contains(err.Error(), "no unit") {
		t.Errorf("Profile with a base missing units = %v, want an error naming the unit", err)
	}
}

func TestPredictComparesEveryUnit(t *testing.T) {
	truth, err := profiles.Local()
	if err != nil {
		t.Fatal(err)
	}
	w := windowsOf(truth, 40)[1] // browse alone
	preds := calibrate.Predict(truth, w)
	if len(preds) != len(model.Units()) {
		t.Fatalf("Predict gave %d units, want %d", len(preds), len(model.Units()))
	}
	for _, p := range preds {
		if p.Measured > 0 && p.RelativeError() > 1e-9 {
			t.Errorf("%s: predicted %g, measured %g; the truth should predict itself", p.Unit, p.Predicted, p.Measured)
		}
	}
	var out strings.Builder
	if err := calibrate.WritePredictions(&out, preds, 50); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "not checked") {
		t.Errorf("the idle units are not marked as unchecked:\n%s", out.String())
	}
}

// TestProfilerMeasuresLabelledCPU burns CPU on a labelled goroutine and
// expects the profile to find it under that label, in seconds at the
// raised sampling rate.
func TestProfilerMeasuresLabelledCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("burns CPU for half a second")
	}
	const burn = 300 * time.Millisecond
	cpu, _, err := calibrate.ProfileCPU(calibrate.DefaultProfileHz, func() error {
		done := make(chan struct{})
		pprof.Do(context.Background(), pprof.Labels(calibrate.UnitLabel, "burner"), func(context.Context) {
			go func() {
				defer close(done)
				x := 1.0
				for end := time.Now().Add(burn); time.Now().Before(end); {
					for range 1000 {
						x = math.Sqrt(x + 1)
					}
				}
				_ = x
			}()
		})
		<-done
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A busy machine can take the CPU away from the burner; it cannot give
	// it more than the wall time it ran.
	if got := cpu["burner"]; got < 0.3*burn.Seconds() || got > 1.2*burn.Seconds() {
		t.Errorf("the burner used %.3fs of CPU by the profile, want about %.3fs (all: %v)", got, burn.Seconds(), cpu)
	}
}

func TestNoteSaysWhereAndHow(t *testing.T) {
	note := calibrate.Note(calibrate.Config{Rate: 25, Rates: map[string]float64{"search": 30}}, 0, time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC))
	for _, want := range []string{"measured by shoplab calibrate on 2026-05-04", "cores", "browse at 25", "search at 30 iterations/s", "250 Hz", "getrusage", "carried over"} {
		if !strings.Contains(note, want) {
			t.Errorf("the note has no %q: %s", want, note)
		}
	}
}

func TestCalibrateRefusesBadConfig(t *testing.T) {
	for _, cfg := range []calibrate.Config{
		{Rate: -1},
		{Duration: 10 * time.Millisecond},
		{Journeys: []string{"window_shopping"}},
		{Repeats: -2},
		{Rates: map[string]float64{"browse": 0}},
		{Journeys: []string{"browse"}, Rates: map[string]float64{"search": 10}},
	} {
		if _, err := calibrate.Calibrate(context.Background(), nil, cfg); err == nil {
			t.Errorf("Calibrate(%+v) accepted the config", cfg)
		}
	}
}
