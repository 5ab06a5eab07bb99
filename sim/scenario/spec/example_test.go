package spec_test

import (
	"fmt"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/spec"
)

func Example() {
	s, err := spec.Load("../../../scenarios/payment-latency.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Name, s.TotalDuration(), s.Load.RateAt(10*time.Second), "it/s")
	const grace = 5 * time.Second
	for _, span := range s.Phases(grace) {
		fmt.Printf("%s %v-%v\n", span.Phase, span.From, span.To)
	}
	for _, f := range s.Faults {
		for _, cf := range f.Chaos() {
			fmt.Println("at", f.At, "apply", cf.Type, "on", cf.Target, "for", cf.Duration)
		}
	}
	p := s.SteadyState[0]
	fmt.Println(p.Name, p.Condition(), "checked during:", p.Applies(spec.PhaseDuring))

	short := s.Scale(0.25) // what --short runs
	fmt.Println("short:", short.TotalDuration(), short.Faults[0].At, short.Faults[0].Duration)
	fmt.Println("the HPA twin runs", short.Original().TotalDuration())
	// Output:
	// payment-latency 1m30s 20 it/s
	// before 0s-30s
	// during 30s-1m0s
	// recovering 1m0s-1m5s
	// after 1m5s-1m30s
	// at 30s apply latency on order->payment for 30s
	// checkout-p95 latency_p95{journey="checkout"} <= 900ms checked during: true
	// short: 22.5s 7.5s 7.5s
	// the HPA twin runs 1m30s
}

func ExampleParse() {
	_, err := spec.Parse("payment-latency.yaml", []byte(`version: 1
name: payment-latency
description: a typo
load: {executor: constant-arrival-rate, rate: 20, duration: 90s, journeys: {checkout: 1}}
faults:
  - {name: slow-payments, at: 30s, duration: 30s, target: order->payment, type: latecny, attributes: {latency: 400ms}}
  - {name: slow-payments, at: 80s, duration: 30s, target: order->payment, type: latency, attributes: {latency: 400ms}}
`))
	fmt.Println(err)
	// Output:
	// payment-latency.yaml:6: faults[0].type: unknown fault type "latecny" (did you mean "latency"?)
	// payment-latency.yaml:7: faults[1].duration: the fault ends at 1m50s, after the load ends (1m30s)
	// payment-latency.yaml:7: faults[1].name: fault name "slow-payments" is also used by faults[0]
}

func ExampleWorkload_RateAt() {
	load := spec.Workload{
		Executor:  spec.RampingArrivalRate,
		StartRate: 5,
		Stages: []spec.Stage{
			{Target: 150, Duration: spec.Duration(30 * time.Second)},
			{Target: 0, Duration: spec.Duration(10 * time.Second)},
		},
	}
	for _, at := range []time.Duration{0, 15 * time.Second, 30 * time.Second, 35 * time.Second, 40 * time.Second} {
		fmt.Printf("%v: %.1f it/s\n", at, load.RateAt(at))
	}
	// Output:
	// 0s: 5.0 it/s
	// 15s: 77.5 it/s
	// 30s: 150.0 it/s
	// 35s: 75.0 it/s
	// 40s: 0.0 it/s
}
