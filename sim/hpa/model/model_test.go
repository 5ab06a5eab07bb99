package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// testProfile is a small valid profile of the platform with round numbers.
func testProfile() Profile {
	cost := func(idle, service float64, cpu map[string]float64) UnitCost {
		return UnitCost{IdleCPUMillicores: idle, CPUSecondsPerIteration: cpu, ServiceSeconds: service,
			MemoryBaseBytes: 64 << 20, MemoryPerInflightBytes: 1 << 20, MemoryPerRPSBytes: 1 << 10}
	}
	return Profile{
		Version: Version, Source: SourceEstimated, Note: "test",
		Units: map[string]UnitCost{
			Gateway: cost(5, 0.001, map[string]float64{"browse": 0.001, "search": 0.0005, "checkout": 0.002, "declined_checkout": 0.0015}),
			User:    cost(2, 0.005, map[string]float64{"checkout": 0.01, "declined_checkout": 0.01}),
			Product: cost(4, 0.002, map[string]float64{"browse": 0.002, "search": 0.001, "checkout": 0.003, "declined_checkout": 0.002}),
			Order:   cost(6, 0.004, map[string]float64{"checkout": 0.004, "declined_checkout": 0.003}),
			Payment: cost(2, 0.003, map[string]float64{"checkout": 0.0015, "declined_checkout": 0.001}),
		},
		Journeys: DefaultJourneys(),
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *Profile)
		field  string // "" means valid
	}{
		{"valid", func(*Profile) {}, ""},
		{"version", func(p *Profile) { p.Version = 2 }, "version"},
		{"source", func(p *Profile) { p.Source = "guessed" }, "source"},
		{"negative idle", func(p *Profile) { u := p.Units[User]; u.IdleCPUMillicores = -1; p.Units[User] = u }, "units.user.idle_cpu_millicores"},
		{"zero service time", func(p *Profile) { u := p.Units[Order]; u.ServiceSeconds = 0; p.Units[Order] = u }, "units.order.service_seconds"},
		{"no memory base", func(p *Profile) { u := p.Units[Order]; u.MemoryBaseBytes = 0; p.Units[Order] = u }, "units.order.memory_base_bytes"},
		{"cost for a journey that does not reach the unit", func(p *Profile) { p.Units[Order].CPUSecondsPerIteration["browse"] = 0.001 }, "units.order.cpu_seconds_per_iteration.browse"},
		{"missing cost", func(p *Profile) { delete(p.Units[Payment].CPUSecondsPerIteration, "checkout") }, "units.payment.cpu_seconds_per_iteration"},
		{"unknown callee", func(p *Profile) {
			p.Journeys["search"] = append(p.Journeys["search"], Call{From: Gateway, To: "catalog", PerIteration: 1})
		}, "journeys.search[2].to"},
		{"zero calls", func(p *Profile) { p.Journeys["search"][0].PerIteration = 0 }, "journeys.search[0].per_iteration"},
		{"no entry call", func(p *Profile) { p.Journeys["search"] = p.Journeys["search"][1:] }, "journeys.search"},
		{"cycle", func(p *Profile) {
			p.Journeys["checkout"] = append(p.Journeys["checkout"], Call{From: Payment, To: Order, PerIteration: 1})
		}, "journeys"},
		{"client as a unit", func(p *Profile) { p.Units[Client] = p.Units[User] }, "units.client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProfile()
			tt.change(&p)
			err := p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errs.Is(err, errs.Invalid) || errs.FieldOf(err) != tt.field {
				t.Fatalf("Validate = %v (field %q), want an Invalid error on %s", err, errs.FieldOf(err), tt.field)
			}
		})
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.json")
	want := testProfile()
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the profile:\n got %+v\nwant %+v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("Save left %d files behind, want only the profile", len(entries))
	}
}

func TestDecodeRefusesUnknownFieldsAndTrailingData(t *testing.T) {
	b, err := testProfile().Encode()
	if err != nil {
		t.Fatal(err)
	}
	misspelt := strings.Replace(string(b), `"service_seconds"`, `"service_second"`, 1)
	if _, err := Decode([]byte(misspelt)); err == nil || !strings.Contains(err.Error(), "service_second") {
		t.Fatalf("Decode of a misspelt field = %v, want an error naming it", err)
	}
	if _, err := Decode(append(b, []byte("{}")...)); err == nil {
		t.Fatal("Decode accepted trailing data")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Load of a missing file = %v, want NotFound", err)
	}
}

func TestPredictCPU(t *testing.T) {
	p := testProfile()
	// gateway: 5m idle + 100/s x 1ms + 10/s x 2ms = 5 + 100 + 20 millicores.
	got := p.PredictCPU(Gateway, map[string]float64{"browse": 100, "checkout": 10})
	if math.Abs(got-125) > 1e-9 {
		t.Fatalf("PredictCPU(gateway) = %g, want 125", got)
	}
	// order is not reached by browse: only its checkout rate costs.
	if got := p.PredictCPU(Order, map[string]float64{"browse": 100, "checkout": 10}); math.Abs(got-46) > 1e-9 {
		t.Fatalf("PredictCPU(order) = %g, want 46", got)
	}
	if got := p.PredictCPU("nope", map[string]float64{"browse": 1}); got != 0 {
		t.Fatalf("PredictCPU(unknown unit) = %g, want 0", got)
	}
	// product: browse makes 2.5 calls, checkout 3.
	if got := p.RequestRate(Product, map[string]float64{"browse": 10, "checkout": 2}); math.Abs(got-31) > 1e-9 {
		t.Fatalf("RequestRate(product) = %g, want 31", got)
	}
	if err := p.CheckJourneys([]string{"browse", "window_shopping"}); err == nil || !strings.Contains(err.Error(), "window_shopping") {
		t.Fatalf("CheckJourneys = %v, want an error naming window_shopping", err)
	}
}

func TestCallsPerIterationMatchesTheDocumentedTable(t *testing.T) {
	want := map[string]map[string]float64{
		"browse":            {Gateway: 2.5, Product: 2.5},
		"search":            {Gateway: 1, Product: 1},
		"checkout":          {Gateway: 4, User: 2, Product: 3, Order: 1, Payment: 1},
		"declined_checkout": {Gateway: 2, User: 2, Product: 2, Order: 1, Payment: 1},
	}
	if got := CallsPerIteration(DefaultJourneys()); !reflect.DeepEqual(got, want) {
		t.Fatalf("CallsPerIteration = %v, want %v (keep the table in DefaultJourneys' comment in step)", got, want)
	}
}

// calibrationSamples measures truth the way calibrate does: an idle window,
// then each journey alone at two rates, for every unit, with multiplicative
// noise of the given relative size on CPU and memory.
func calibrationSamples(truth Profile, noise float64, rng *rand.Rand) []Sample {
	jitter := func() float64 { return 1 + noise*(2*rng.Float64()-1) }
	var out []Sample
	loads := []map[string]float64{{}}
	for _, j := range sortedKeys(truth.Journeys) {
		loads = append(loads, map[string]float64{j: 20}, map[string]float64{j: 60})
	}
	for _, unit := range Units() {
		u := truth.Units[unit]
		for _, rates := range loads {
			const seconds = 60.0
			rps := truth.RequestRate(unit, rates)
			latency := u.ServiceSeconds
			inFlight := rps * latency
			out = append(out, Sample{
				Unit: unit, Rates: rates, Seconds: seconds,
				CPUSeconds:     truth.PredictCPU(unit, rates) / 1000 * seconds * jitter(),
				MemoryBytes:    truth.PredictMemory(unit, rps, inFlight) * jitter(),
				LatencySeconds: latency,
			})
		}
	}
	return out
}

func TestFitRecoversExactCosts(t *testing.T) {
	truth := testProfile()
	got, err := Fit(calibrationSamples(truth, 0, rand.New(rand.NewPCG(1, 2))))
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != SourceMeasured || !reflect.DeepEqual(got.Journeys, DefaultJourneys()) {
		t.Fatalf("Fit: source %q, journeys %v; want measured and the default call graph", got.Source, got.Journeys)
	}
	for _, unit := range Units() {
		want, have := truth.Units[unit], got.Units[unit]
		if math.Abs(have.IdleCPUMillicores-want.IdleCPUMillicores) > 1e-6 {
			t.Errorf("%s idle = %g, want %g", unit, have.IdleCPUMillicores, want.IdleCPUMillicores)
		}
		for j, c := range want.CPUSecondsPerIteration {
			if math.Abs(have.CPUSecondsPerIteration[j]-c) > 1e-9 {
				t.Errorf("%s %s = %g, want %g", unit, j, have.CPUSecondsPerIteration[j], c)
			}
		}
		if math.Abs(have.ServiceSeconds-want.ServiceSeconds) > 1e-12 {
			t.Errorf("%s service = %g, want %g", unit, have.ServiceSeconds, want.ServiceSeconds)
		}
		// In flight and rps are collinear here (constant latency), so only the
		// prediction is identifiable, not the split between them.
		for _, rps := range []float64{0, 50, 400} {
			w := truth.PredictMemory(unit, rps, rps*want.ServiceSeconds)
			h := got.PredictMemory(unit, rps, rps*want.ServiceSeconds)
			if math.Abs(h-w) > 1e-5*w { // coefficients are rounded to whole bytes
				t.Errorf("%s memory at %g rps = %g, want %g", unit, rps, h, w)
			}
		}
	}
}

// TestFitPredictsAMixWithin25Percent is the calibration acceptance test on
// synthetic data: fitted on single-journey samples with ±10% noise, the
// profile predicts a mixed load's CPU within 25% for every unit.
func TestFitPredictsAMixWithin25Percent(t *testing.T) {
	truth := testProfile()
	rng := rand.New(rand.NewPCG(7, 7))
	fitted, err := Fit(calibrationSamples(truth, 0.10, rng))
	if err != nil {
		t.Fatal(err)
	}
	mix := map[string]float64{"browse": 40, "search": 15, "checkout": 8, "declined_checkout": 2}
	for _, unit := range Units() {
		want, got := truth.PredictCPU(unit, mix), fitted.PredictCPU(unit, mix)
		if rel := math.Abs(got-want) / want; rel > 0.25 {
			t.Errorf("%s: predicted %.1fm for the mix, truth %.1fm (%.0f%% off)", unit, got, want, 100*rel)
		}
	}
}

func TestFitClampsNegativeCostsToZero(t *testing.T) {
	truth := testProfile()
	u := truth.Units[Payment]
	u.CPUSecondsPerIteration["declined_checkout"] = 0
	truth.Units[Payment] = u
	samples := calibrationSamples(truth, 0, rand.New(rand.NewPCG(1, 1)))
	// Noise that would make an unconstrained fit go negative: the declined
	// runs read a little below idle.
	for i, s := range samples {
		if s.Unit == Payment && s.Rates["declined_checkout"] > 0 {
			samples[i].CPUSeconds -= 0.00002 * s.Rates["declined_checkout"] * s.Seconds
		}
	}
	fitted, err := Fit(samples)
	if err != nil {
		t.Fatal(err)
	}
	if c := fitted.Units[Payment].CPUSecondsPerIteration["declined_checkout"]; c != 0 {
		t.Fatalf("payment declined_checkout = %g, want 0 (a cost is never negative)", c)
	}
}

func TestFitSaysWhatIsMissing(t *testing.T) {
	truth := testProfile()
	all := calibrationSamples(truth, 0, rand.New(rand.NewPCG(1, 1)))
	tests := []struct {
		name    string
		samples []Sample
		want    string
	}{
		{"no samples of a unit", filter(all, func(s Sample) bool { return s.Unit != Payment }), "no sample of unit payment"},
		{"one rate per journey and no idle window", filter(all, func(s Sample) bool {
			for _, r := range s.Rates {
				if r == 60 {
					return false
				}
			}
			return len(s.Rates) > 0
		}), "cannot tell its CPU costs"},
		{"a journey never measured", filter(all, func(s Sample) bool { return s.Rates["search"] == 0 }), "cannot tell its CPU costs"},
		{"no memory", mapSamples(all, func(s Sample) Sample { s.MemoryBytes = 0; return s }), "measured memory"},
		{"unknown journey", append(all[:1:1], Sample{Unit: Order, Seconds: 1, Rates: map[string]float64{"wishlist": 1}}), "rates.wishlist"},
		{"unknown unit", append(all[:1:1], Sample{Unit: "cart", Seconds: 1}), "cart"},
		{"empty window", append(all[:1:1], Sample{Unit: Order}), "seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Fit(tt.samples)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Fit = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func filter(ss []Sample, keep func(Sample) bool) []Sample {
	var out []Sample
	for _, s := range ss {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

func mapSamples(ss []Sample, f func(Sample) Sample) []Sample {
	out := make([]Sample, len(ss))
	for i, s := range ss {
		out[i] = f(s)
	}
	return out
}

func TestQueueAgainstClosedForms(t *testing.T) {
	// M/M/1: W = 1/(μ-λ), and T is exponential with rate μ-λ, so its
	// p-quantile is -ln(1-p)/(μ-λ).
	q := Queue{Servers: 1, ServiceRate: 10, ArrivalRate: 8}
	if got := q.MeanResponse(); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("M/M/1 mean = %g, want 0.5", got)
	}
	if got, want := q.ResponseQuantile(0.95), -math.Log(0.05)/2; math.Abs(got-want) > 1e-6*want {
		t.Errorf("M/M/1 p95 = %g, want %g", got, want)
	}
	if got := q.WaitProbability(); math.Abs(got-0.8) > 1e-12 {
		t.Errorf("M/M/1 wait probability = %g, want ρ = 0.8", got)
	}
	// M/M/2 with a = λ/μ = 1: C = a²/(2-a) / (1 + a + a²/(2-a)) = 1/3.
	q2 := Queue{Servers: 2, ServiceRate: 1, ArrivalRate: 1}
	if got := q2.WaitProbability(); math.Abs(got-1.0/3) > 1e-12 {
		t.Errorf("M/M/2 C(2,1) = %g, want 1/3", got)
	}
	// Mean: C/(cμ-λ) + 1/μ = 1/3 + 1.
	if got := q2.MeanResponse(); math.Abs(got-4.0/3) > 1e-12 {
		t.Errorf("M/M/2 mean = %g, want 4/3", got)
	}
	// Here θ = cμ-λ = μ, the double-root case of the tail.
	p95 := q2.ResponseQuantile(0.95)
	if tail := q2.responseTail(p95, 1.0/3); math.Abs(tail-0.05) > 1e-6 {
		t.Errorf("M/M/2 tail at its p95 = %g, want 0.05", tail)
	}
	if !math.IsInf((Queue{Servers: 2, ServiceRate: 1, ArrivalRate: 2}).MeanResponse(), 1) {
		t.Error("a queue at ρ = 1 has a finite mean response")
	}
	if (Queue{Servers: 3, ServiceRate: 5}).ResponseQuantile(0.95) <= 0 {
		t.Error("an idle queue still takes a service time")
	}
}

func TestQueueQuantileGrowsWithLoadAndShrinksWithServers(t *testing.T) {
	prev := 0.0
	for _, lambda := range []float64{1, 5, 9, 9.9} {
		got := Queue{Servers: 1, ServiceRate: 10, ArrivalRate: lambda}.ResponseQuantile(0.95)
		if got <= prev {
			t.Fatalf("p95 at λ=%g is %g, not above %g", lambda, got, prev)
		}
		prev = got
	}
	few := Queue{Servers: 4, ServiceRate: 10, ArrivalRate: 35}.ResponseQuantile(0.95)
	many := Queue{Servers: 8, ServiceRate: 10, ArrivalRate: 35}.ResponseQuantile(0.95)
	if many >= few {
		t.Fatalf("p95 with 8 servers %g, not below 4 servers' %g", many, few)
	}
}
