package calibrate

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/hpa/model"
)

// Prediction is a profile's CPU prediction for one unit under a measured
// window's load, next to what the unit used.
type Prediction struct {
	Unit      string
	Predicted float64 // millicores, model.Profile.PredictCPU at the window's rates
	Measured  float64 // millicores, Window.Millicores
}

// RelativeError is |predicted - measured| / measured.
func (p Prediction) RelativeError() float64 {
	if p.Measured == 0 {
		return math.Inf(1)
	}
	return math.Abs(p.Predicted-p.Measured) / p.Measured
}

// Predict compares p's prediction with every unit of the model in w.
func Predict(p model.Profile, w Window) []Prediction {
	var out []Prediction
	for _, unit := range model.Units() {
		out = append(out, Prediction{Unit: unit, Predicted: p.PredictCPU(unit, w.Rates), Measured: w.Millicores(unit)})
	}
	return out
}

// WritePredictions prints predictions as a table; units measured below
// floor millicores are marked as not checked.
func WritePredictions(w io.Writer, preds []Prediction, floor float64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "unit\tpredicted m\tmeasured m\terror\t\t")
	for _, p := range preds {
		note := ""
		if p.Measured < floor {
			note = fmt.Sprintf("below %gm: not checked", floor)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%+.0f%%\t%s\t\n", p.Unit, p.Predicted, p.Measured, 100*(p.Predicted-p.Measured)/max(p.Measured, 1e-9), note)
	}
	return tw.Flush()
}

// WriteTable prints, per window, each unit's CPU and requests, and then
// the fitted profile p. CPU per iteration and per request is net of the
// unit's idle CPU (the mean over the idle windows).
func WriteTable(w io.Writer, res *Result, p model.Profile) error {
	idle := map[string]float64{} // millicores
	var idleSeconds float64
	for _, win := range res.Windows {
		if win.Name == Idle {
			for k, v := range win.Apportioned() {
				idle[k] += 1000 * v
			}
			idleSeconds += win.Seconds
		}
	}
	for k := range idle {
		idle[k] /= idleSeconds
	}
	graph := model.CallsPerIteration(model.DefaultJourneys())
	units := append(model.Units(), cloud.Notification, cloud.Analytics)
	for _, win := range res.Windows {
		cpu := win.Apportioned()
		if win.Name == Idle {
			fmt.Fprintf(w, "\n%s: %.1f s", win.Name, win.Seconds)
		} else {
			fmt.Fprintf(w, "\n%s: %.1f it/s for %.1f s, %d iterations (%d failed, %d dropped)",
				win.Name, win.TotalRate(), win.Seconds, win.Iterations, win.Failures, win.Dropped)
		}
		fmt.Fprintf(w, "; process CPU %.0fm, %.0f%% of it in profile samples; process heap %.1f MB\n", 1000*win.CPU.Total()/win.Seconds, 100*win.Coverage, win.HeapBytes/1e6)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  unit\tCPU m\tCPU ms/iter\trequests\treq/iter\tgraph\tCPU ms/req\town ms/req\t")
		var drift []string
		for _, unit := range units {
			m := 1000 * cpu[unit] / win.Seconds
			if win.Name == Idle || win.Iterations == 0 {
				fmt.Fprintf(tw, "  %s\t%.1f\t\t\t\t\t\t\t\n", unit, m)
				continue
			}
			net := max(0, m-idle[unit]) * win.Seconds // CPU ms net of idle
			perIter := net / float64(win.Iterations)
			if !slices.Contains(model.Units(), unit) {
				// notification and analytics serve Kafka, not requests.
				fmt.Fprintf(tw, "  %s\t%.1f\t%.3f\t\t\t\t\t\t\n", unit, m, perIter)
				continue
			}
			s := win.Served[unit]
			reqPerIter := s.Requests / float64(win.Iterations)
			perReq, own := "-", "-"
			if s.Requests > 0 {
				perReq = fmt.Sprintf("%.3f", net/s.Requests)
				own = fmt.Sprintf("%.3f", 1000*s.OwnSeconds())
			}
			g := graphCalls(graph, win.Rates, unit)
			if math.Abs(reqPerIter-g) > 0.1*max(g, 0.1) {
				drift = append(drift, fmt.Sprintf("%s %.2f (graph %.2f)", unit, reqPerIter, g))
			}
			fmt.Fprintf(tw, "  %s\t%.1f\t%.3f\t%.0f\t%.2f\t%.2f\t%s\t%s\t\n", unit, m, perIter, s.Requests, reqPerIter, g, perReq, own)
		}
		fmt.Fprintf(tw, "  %s\t%.1f\t\t\t\t\t\t\t\n", "not a unit", 1000*cpu[Unlabeled]/win.Seconds)
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "  (not a unit: the load generator, Kafka, S3, the ops API; shared out: runtime %.1fm, gRPC client transports %.1fm)\n",
			1000*win.CPU[Runtime]/win.Seconds, 1000*win.CPU[GRPCClient]/win.Seconds)
		if len(drift) > 0 {
			fmt.Fprintf(w, "  ! requests per iteration differ from the call graph (model.DefaultJourneys): %s\n", strings.Join(drift, ", "))
		}
	}
	return WriteProfile(w, p)
}

// graphCalls is the calls per iteration the call graph routes to unit
// under rates.
func graphCalls(graph map[string]map[string]float64, rates map[string]float64, unit string) float64 {
	var calls, total float64
	for j, r := range rates {
		calls += r * graph[j][unit]
		total += r
	}
	if total == 0 {
		return 0
	}
	return calls / total
}

// WriteProfile prints a profile's CPU costs and service times.
func WriteProfile(w io.Writer, p model.Profile) error {
	journeys := slices.Sorted(maps.Keys(p.Journeys))
	fmt.Fprintf(w, "\nprofile (%s): CPU ms per iteration\n", p.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "  unit\tidle m\t")
	for _, j := range journeys {
		fmt.Fprintf(tw, "%s\t", j)
	}
	fmt.Fprintln(tw, "service ms\t")
	for _, unit := range slices.Sorted(maps.Keys(p.Units)) {
		u := p.Units[unit]
		fmt.Fprintf(tw, "  %s\t%.1f\t", unit, u.IdleCPUMillicores)
		for _, j := range journeys {
			if c, ok := u.CPUSecondsPerIteration[j]; ok {
				fmt.Fprintf(tw, "%.3f\t", 1000*c)
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintf(tw, "%.3f\t\n", 1000*u.ServiceSeconds)
	}
	return tw.Flush()
}
