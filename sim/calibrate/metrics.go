package calibrate

import (
	"context"
	"fmt"
	"io"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
)

// The RED metrics every unit exports (services/platform/metrics).
const (
	metricRequests       = "shoplab_requests_total"
	metricServerDuration = "shoplab_request_duration_seconds"
	metricClientDuration = "shoplab_client_call_duration_seconds"
)

// Served is what one unit's metrics say it served, as counters: diff two
// scrapes to get a window's.
type Served struct {
	// Requests is the number of requests the unit served, every transport,
	// method and status together.
	Requests float64
	// ServerSeconds is the total time those requests took, from the unit's
	// request duration histogram.
	ServerSeconds float64
	// ClientSeconds is the total time the unit waited on its own calls to
	// other units, from its client call histogram.
	ClientSeconds float64
	// ClientCalls is the number of those calls.
	ClientCalls float64
}

// OwnSeconds is the mean time a request spent in the unit itself, without
// waiting on its callees: its CPU, its own I/O and its queueing. 0 without
// requests.
func (s Served) OwnSeconds() float64 {
	if s.Requests <= 0 {
		return 0
	}
	return max(0, s.ServerSeconds-s.ClientSeconds) / s.Requests
}

func (s Served) minus(o Served) Served {
	return Served{Requests: s.Requests - o.Requests, ServerSeconds: s.ServerSeconds - o.ServerSeconds,
		ClientSeconds: s.ClientSeconds - o.ClientSeconds, ClientCalls: s.ClientCalls - o.ClientCalls}
}

func (s Served) plus(o Served) Served {
	return Served{Requests: s.Requests + o.Requests, ServerSeconds: s.ServerSeconds + o.ServerSeconds,
		ClientSeconds: s.ClientSeconds + o.ClientSeconds, ClientCalls: s.ClientCalls + o.ClientCalls}
}

// ParseServed reads a Prometheus text exposition (the ops API's GET
// /metrics, which holds every unit's registry) into counters by unit.
func ParseServed(r io.Reader) (map[string]Served, error) {
	p := expfmt.NewTextParser(prommodel.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := map[string]Served{}
	add := func(name string, f func(s *Served, m *dto.Metric)) {
		fam := families[name]
		if fam == nil {
			return
		}
		for _, m := range fam.GetMetric() {
			unit := labelValue(m, UnitLabel)
			if unit == "" {
				continue
			}
			s := out[unit]
			f(&s, m)
			out[unit] = s
		}
	}
	add(metricRequests, func(s *Served, m *dto.Metric) { s.Requests += m.GetCounter().GetValue() })
	add(metricServerDuration, func(s *Served, m *dto.Metric) { s.ServerSeconds += m.GetHistogram().GetSampleSum() })
	add(metricClientDuration, func(s *Served, m *dto.Metric) {
		s.ClientSeconds += m.GetHistogram().GetSampleSum()
		s.ClientCalls += float64(m.GetHistogram().GetSampleCount())
	})
	return out, nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// scrapeServed scrapes every unit's own ops API (GET /metrics) and merges
// what they served. The units' registries are read one by one rather than
// through the cloud's aggregated GET /metrics, which fails while several
// registries export the same promhttp handler counter.
func scrapeServed(ctx context.Context, hc *http.Client, opsAddrs map[string]string) (map[string]Served, error) {
	out := map[string]Served{}
	for unit, addr := range opsAddrs {
		got, err := scrapeOne(ctx, hc, "http://"+addr+"/metrics")
		if err != nil {
			return nil, fmt.Errorf("metrics of %s: %w", unit, err)
		}
		for u, s := range got {
			out[u] = out[u].plus(s)
		}
	}
	return out, nil
}

func scrapeOne(ctx context.Context, hc *http.Client, url string) (map[string]Served, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ParseServed(resp.Body)
}

// servedBetween is after minus before, unit by unit.
func servedBetween(before, after map[string]Served) map[string]Served {
	out := map[string]Served{}
	for unit, a := range after {
		out[unit] = a.minus(before[unit])
	}
	return out
}
