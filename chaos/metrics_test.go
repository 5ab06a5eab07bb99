package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// gatherFaults returns the active-fault series as "id name type target",
// and the shoplab_chaos_faults_active value.
func gatherFaults(t *testing.T, reg *prometheus.Registry) (series []string, total float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total = -1
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "shoplab_chaos_faults_active":
				total = m.GetGauge().GetValue()
			case "shoplab_chaos_fault_active":
				l := map[string]string{}
				for _, p := range m.GetLabel() {
					l[p.GetName()] = p.GetValue()
				}
				if v := m.GetGauge().GetValue(); v != 1 {
					t.Errorf("fault %s: value %v, want 1", l["id"], v)
				}
				series = append(series, l["id"]+" "+l["name"]+" "+l["type"]+" "+l["target"])
			}
		}
	}
	return series, total
}

func TestCollectorExportsActiveFaults(t *testing.T) {
	e, err := New(WithAPIAddr(""))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collector())
	if s, n := gatherFaults(t, reg); len(s) != 0 || n != 0 {
		t.Fatalf("no faults: got series %v, total %v; want none and 0", s, n)
	}
	ctx := context.Background()
	_ = e.ServerInterceptors("payment") // what the wiring does when payment starts
	id, err := e.Apply(ctx, Fault{Name: "payment-down", Target: "payment", Type: GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE"}, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s, n := gatherFaults(t, reg)
	if want := id + " payment-down grpc_error payment"; len(s) != 1 || s[0] != want || n != 1 {
		t.Fatalf("one fault: got series %v, total %v; want [%s] and 1", s, n, want)
	}
	if err := e.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s, n := gatherFaults(t, reg); len(s) != 0 || n != 0 {
		t.Fatalf("fault removed: got series %v, total %v; want none and 0", s, n)
	}
}
