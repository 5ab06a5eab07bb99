package dashboards_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/dashboards"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/load"
)

// TestDashboardsAgainstLivePrometheus starts the platform (shoplab up's
// cloud with the chaos engine), drives a short load with faults that make
// every unit answer some server errors, runs a real Prometheus with the
// shipped config and rules (its targets rewritten, 1 s scrapes), and then
// evaluates every dashboard query and every rule through the HTTP API.
// A query must parse and return at least one non-NaN sample; every metric
// name it reads must be exported. Panels whose exporter does not run here
// are listed, never passed.
func TestDashboardsAgainstLivePrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the live dashboard test runs the platform and Prometheus for ~1 minute")
	}
	_, promtool := needPrometheus(t)
	root, _ := filepath.Abs(".")
	rules, _ := filepath.Glob(filepath.Join(root, "prometheus", "rules", "*.yml"))
	run(t, promtool, "check", "config", filepath.Join(root, "prometheus", "prometheus.yml"))
	run(t, promtool, append([]string{"check", "rules"}, rules...)...)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	engine, err := chaos.New(chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cloud.New(ctx, cloud.Config{GatewayAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		AnalyticsWindow: 2 * time.Second, AnalyticsIdle: 2 * time.Second, Chaos: engine})
	if err != nil {
		_ = engine.Close()
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done; _ = c.Close() })
	if err := c.WaitReady(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	opsHost := strings.TrimPrefix(c.OpsURL(), "http://")

	targets := map[string]string{"shoplab": opsHost}
	notHere := map[string]string{
		"kafka-broker": "the embedded env runs kfake, which has no JMX: TestBrokerAndFlinkDashboardsAgainstLivePrometheus (live_host_test.go) checks it on the host broker",
		"flink":        "the Go engine runs here: TestBrokerAndFlinkDashboardsAgainstLivePrometheus (live_host_test.go) checks the Flink job's reporter",
		"kubernetes":   "kube-state-metrics and cAdvisor need a Kubernetes cluster",
		"node":         "prometheus-node-exporter is not installed (apt-get install -y prometheus-node-exporter)",
	}
	if bin, err := exec.LookPath("prometheus-node-exporter"); err == nil {
		addr := freeAddr(t)
		startProc(t, ctx, bin, "--web.listen-address="+addr, "--collector.disable-defaults",
			"--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.filesystem", "--collector.diskstats")
		targets["node"] = addr
		delete(notHere, "node")
	}
	prom := startPrometheus(t, ctx, targets, nil)
	start := prom.start
	// Registrations (the Prepare below) are the only password hashes: let
	// Prometheus see the counters before them.
	waitFor(t, ctx, 15*time.Second, "a first scrape of the platform", func() bool {
		v, _ := prom.query(`up{job="shoplab"}`, start, time.Now())
		return v.nonNaN > 1 && v.max == 1
	})

	// Load, with faults in the middle: server errors in every unit that
	// serves requests, so the error panels have something to draw.
	lr, err := load.New(load.Config{BaseURL: c.GatewayURL(), Executor: load.ConstantArrivalRate, Rate: 15, Duration: 20 * time.Second,
		Customers: 10, Seed: 7, Journeys: map[string]float64{load.JourneyBrowse: 40, load.JourneySearch: 20, load.JourneyCheckout: 30, load.JourneyDeclinedCheckout: 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	if err := lr.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(6 * time.Second)
		for _, f := range []chaos.Fault{
			{Name: "user-errors", Target: "user", Type: chaos.GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.2}},
			{Name: "product-errors", Target: "product", Type: chaos.GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.2}},
			{Name: "order-errors", Target: "order", Type: chaos.GRPCError, Attributes: map[string]any{"code": "INTERNAL", "rate": 0.2}},
			{Name: "payment-errors", Target: "payment", Type: chaos.GRPCError, Attributes: map[string]any{"code": "UNAVAILABLE", "rate": 0.3}},
			{Name: "gateway-errors", Target: "gateway", Type: chaos.HTTPError, Attributes: map[string]any{"status": 503, "rate": 0.1}},
		} {
			f.Duration = 6 * time.Second
			if _, err := engine.Apply(ctx, f); err != nil {
				t.Errorf("apply %s: %v", f.Name, err)
			}
		}
	}()
	res, err := lr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %d requests, error rate %.3f", res.Total.Requests, res.Total.ErrorRate)
	prom.waitScraped(t, ctx, 30*time.Second, "a closed analytics window in Prometheus", "sum(shoplab_analytics_windows_closed_total)", 1)
	time.Sleep(3 * time.Second) // a few scrapes after the load

	checked, unverified := prom.checkQueries(t, "5s", func(q dashboards.Query) (bool, string) {
		for job := range exportersOf(q.Expr) {
			if why, ok := notHere[job]; ok {
				return false, why
			}
		}
		return true, ""
	})
	names := prom.names(t)
	end := time.Now()
	// Every rule parses (Prometheus loaded and evaluated it) and reads
	// only exported metrics.
	var rr struct {
		Data struct {
			Groups []struct {
				Rules []struct{ Name, Query, Health, LastError string }
			}
		}
	}
	waitFor(t, ctx, 10*time.Second, "rules evaluated", func() bool {
		if err := getJSON(prom.url+"/api/v1/rules", &rr); err != nil {
			return false
		}
		for _, g := range rr.Data.Groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" {
					return false
				}
			}
		}
		return true
	})
	nrules := 0
	for _, g := range rr.Data.Groups {
		for _, r := range g.Rules {
			nrules++
			if r.Health != "ok" {
				t.Errorf("rule %s: health %s: %s", r.Name, r.Health, r.LastError)
			}
			if _, err := prom.query(r.Query, start, end); err != nil {
				t.Errorf("rule %s: %v", r.Name, err)
			}
			for _, n := range dashboards.MetricNames(r.Query) {
				if !names[n] {
					t.Errorf("rule %s reads %s, which nothing exports", r.Name, n)
				}
			}
		}
	}
	if nrules == 0 {
		t.Error("Prometheus loaded no rules")
	}
	t.Logf("verified %d dashboard queries and %d rules live; %d queries NOT verified here:\n  %s", checked, nrules, len(unverified), strings.Join(unverified, "\n  "))
}
