package app_test

import (
	"testing"

	"github.com/shoplab/shoplab/services/platform/metrics"
)

// counter returns the value of the counter name whose only variable label
// has value labelValue ("" for a counter without one), or 0 when unset.
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
			match := labelValue == ""
			for _, l := range m.GetLabel() {
				if l.GetName() != "unit" && l.GetValue() == labelValue {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
