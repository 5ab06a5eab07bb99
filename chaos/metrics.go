package chaos

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	faultActiveDesc = prometheus.NewDesc("shoplab_chaos_fault_active",
		"1 for each fault in effect, by id, name, type and target: Grafana draws them as annotations.",
		[]string{"id", "name", "type", "target"}, nil)
	faultsActiveDesc = prometheus.NewDesc("shoplab_chaos_faults_active",
		"Faults in effect.", nil, nil)
)

// Collector exports the faults in effect at scrape time, so dashboards can
// overlay them on what they did; it reads Active and holds no state.
func (e *Engine) Collector() prometheus.Collector { return faultCollector{e} }

type faultCollector struct{ e *Engine }

func (c faultCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- faultActiveDesc
	ch <- faultsActiveDesc
}

func (c faultCollector) Collect(ch chan<- prometheus.Metric) {
	active := c.e.Active()
	ch <- prometheus.MustNewConstMetric(faultsActiveDesc, prometheus.GaugeValue, float64(len(active)))
	for _, f := range active {
		ch <- prometheus.MustNewConstMetric(faultActiveDesc, prometheus.GaugeValue, 1, f.ID, f.Fault.Name, f.Fault.Type, f.Fault.Target)
	}
}
