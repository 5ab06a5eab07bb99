package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/dashboards"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/load"
)

// source is an exporter a panel's metrics come from, found by metric prefix.
type source struct {
	prefixes []string
	why      string // why the live test does not scrape it
}

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
	promBin, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		t.Skip("needs prometheus and promtool on PATH: apt-get install -y prometheus")
	}
	root, _ := filepath.Abs(".")
	rulesGlob := filepath.Join(root, "prometheus", "rules", "*.yml")
	rules, _ := filepath.Glob(rulesGlob)
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
	sources := map[string]source{
		"kafka-broker": {prefixes: []string{"kafka_", "jvm_"}, why: "the embedded env runs kfake, which has no JMX; the host broker with `shoplab deps up --kafka-jmx-exporter` is not started by this test"},
		"flink":        {prefixes: []string{"flink_"}, why: "the Flink job (java, mvn, ~600 MB) is not started by this test"},
		"kubernetes":   {prefixes: []string{"kube_", "container_"}, why: "kube-state-metrics and cAdvisor need a Kubernetes cluster"},
		"node":         {prefixes: []string{"node_"}, why: "prometheus-node-exporter is not installed (apt-get install -y prometheus-node-exporter)"},
	}
	if bin, err := exec.LookPath("prometheus-node-exporter"); err == nil {
		addr := freeAddr(t)
		startProc(t, ctx, bin, "--web.listen-address="+addr, "--collector.disable-defaults",
			"--collector.cpu", "--collector.meminfo", "--collector.loadavg", "--collector.filesystem", "--collector.diskstats")
		targets["node"] = addr
		delete(sources, "node")
	}

	// The shipped config with the test's targets, 1 s scrapes and the
	// shipped rules by absolute path.
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(root, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []string{rulesGlob}
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		name := job["job_name"].(string)
		if addr, ok := targets[name]; ok {
			job["static_configs"] = []any{map[string]any{"targets": []string{addr}}}
			jobs = append(jobs, job)
		}
	}
	cfg["scrape_configs"] = jobs
	dir := t.TempDir()
	out, _ := yaml.Marshal(cfg)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, promtool, "check", "config", cfgFile)
	promAddr := freeAddr(t)
	startProc(t, ctx, promBin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	prom := "http://" + promAddr
	waitFor(t, ctx, 30*time.Second, "Prometheus ready", func() bool {
		resp, err := http.Get(prom + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	start := time.Now()
	// Registrations (the Prepare below) are the only password hashes: let
	// Prometheus see the counters before them.
	waitFor(t, ctx, 15*time.Second, "a first scrape of the platform", func() bool {
		v, _ := query(prom, `up{job="shoplab"}`, start, time.Now())
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
	waitFor(t, ctx, 30*time.Second, "a closed analytics window in Prometheus", func() bool {
		v, _ := query(prom, "sum(shoplab_analytics_windows_closed_total)", start, time.Now())
		return v.nonNaN > 0 && v.max > 0
	})
	time.Sleep(3 * time.Second) // a few scrapes after the load

	names := map[string]bool{}
	var nv struct{ Data []string }
	if err := getJSON(prom+"/api/v1/label/__name__/values", &nv); err != nil {
		t.Fatal(err)
	}
	for _, n := range nv.Data {
		names[n] = true
	}
	end := time.Now()
	ds, err := dashboards.Load(dashboards.Files)
	if err != nil {
		t.Fatal(err)
	}
	var unverified []string
	checked := 0
	for _, d := range ds {
		for _, q := range dashboards.Queries(d) {
			expr := strings.ReplaceAll(q.Expr, "$__rate_interval", "5s")
			if why := missingSource(q.Expr, sources); why != "" {
				// Still parsed: Prometheus answers an error for bad syntax.
				if _, err := query(prom, expr, start, end); err != nil && strings.Contains(err.Error(), "bad_data") {
					t.Errorf("%s does not parse: %v", q, err)
				}
				unverified = append(unverified, fmt.Sprintf("%s: %s", q, why))
				continue
			}
			checked++
			for _, n := range dashboards.MetricNames(q.Expr) {
				if !names[n] {
					t.Errorf("%s reads %s, which nothing exports", q, n)
				}
			}
			v, err := query(prom, expr, start, end)
			if err != nil {
				t.Errorf("%s: %v\n  expr: %s", q, err, q.Expr)
			} else if v.nonNaN == 0 {
				t.Errorf("%s returned no data\n  expr: %s", q, q.Expr)
			}
		}
	}
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
		if err := getJSON(prom+"/api/v1/rules", &rr); err != nil {
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
			if _, err := query(prom, r.Query, start, end); err != nil {
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
	sort.Strings(unverified)
	t.Logf("verified %d dashboard queries and %d rules live; %d queries NOT verified here:\n  %s", checked, nrules, len(unverified), strings.Join(unverified, "\n  "))
}

func missingSource(expr string, sources map[string]source) string {
	for _, n := range dashboards.MetricNames(expr) {
		for _, s := range sources {
			for _, p := range s.prefixes {
				if strings.HasPrefix(n, p) {
					return s.why
				}
			}
		}
	}
	return ""
}

type result struct {
	nonNaN int
	max    float64
}

// query runs a range query over [from, to] at 1 s steps.
func query(prom, expr string, from, to time.Time) (result, error) {
	v := url.Values{"query": {expr}, "start": {ts(from)}, "end": {ts(to)}, "step": {"1"}}
	var r struct {
		Status, ErrorType, Error string
		Data                     struct {
			Result []struct{ Values [][2]any }
		}
	}
	resp, err := http.PostForm(prom+"/api/v1/query_range", v)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		return result{}, fmt.Errorf("decode %s: %w", b, err)
	}
	if r.Status != "success" {
		return result{}, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	out := result{max: math.Inf(-1)}
	for _, s := range r.Data.Result {
		for _, p := range s.Values {
			f, err := strconv.ParseFloat(fmt.Sprint(p[1]), 64)
			if err == nil && !math.IsNaN(f) {
				out.nonNaN++
				out.max = math.Max(out.max, f)
			}
		}
	}
	return out, nil
}

func ts(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }

func getJSON(u string, v any) error {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

func startProc(t *testing.T, ctx context.Context, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && logs.Len() > 0 {
			t.Logf("%s output:\n%s", filepath.Base(name), logs.String())
		}
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitFor(t *testing.T, ctx context.Context, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
