package app_test

import (
	"testing"

	"github.com/shoplab/shoplab/services/platform/metrics"
)

// counter returns the value of the counter name whose only variable label
// has value labelValue, or 0 when it was never incremented.
func counter(t *testing.T, reg *metrics.Registry, name, labelValue string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "unit" && l.GetValue() == labelValue {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
