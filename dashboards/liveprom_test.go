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

	"github.com/shoplab/shoplab/dashboards"
)

// What the live tests share: a real Prometheus run with the shipped config
// (its targets rewritten), and the evaluation of dashboard queries through
// its HTTP API. live_test.go runs it against the embedded platform,
// live_host_test.go against the host broker's JMX exporter and the Flink
// job's reporter.

// Exporters other than the shoplab process, by the scrape job of
// prometheus/prometheus.yml, and the prefixes of the metrics each exports.
var exporterPrefixes = map[string][]string{
	"kafka-broker": {"kafka_", "jvm_"},
	"flink":        {"flink_"},
	"kubernetes":   {"kube_", "container_"},
	"node":         {"node_"},
}

// exportersOf returns the jobs of exporterPrefixes whose metrics expr reads.
func exportersOf(expr string) map[string]bool {
	out := map[string]bool{}
	for _, n := range dashboards.MetricNames(expr) {
		for job, prefixes := range exporterPrefixes {
			for _, p := range prefixes {
				if strings.HasPrefix(n, p) {
					out[job] = true
				}
			}
		}
	}
	return out
}

// needPrometheus returns the paths of prometheus and promtool, or skips.
func needPrometheus(t *testing.T) (prom, promtool string) {
	t.Helper()
	prom, err1 := exec.LookPath("prometheus")
	promtool, err2 := exec.LookPath("promtool")
	if err1 != nil || err2 != nil {
		t.Skip("needs prometheus and promtool on PATH: apt-get install -y prometheus")
	}
	return prom, promtool
}

// livePrometheus is a Prometheus process the test started.
type livePrometheus struct {
	url   string
	start time.Time // when it became ready: the start of every range query
}

// startPrometheus runs Prometheus with the shipped prometheus.yml, keeping
// only the scrape jobs named in targets (each pointed at its address),
// scraping every 1 s (or the job's entry in slow) and loading the shipped
// rules; promtool checks the rewritten config first.
func startPrometheus(t *testing.T, ctx context.Context, targets map[string]string, slow map[string]time.Duration) *livePrometheus {
	t.Helper()
	promBin, promtool := needPrometheus(t)
	root, _ := filepath.Abs(".")
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(root, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": "1s", "evaluation_interval": "1s"}
	cfg["rule_files"] = []string{filepath.Join(root, "prometheus", "rules", "*.yml")}
	var jobs []any
	for _, j := range cfg["scrape_configs"].([]any) {
		job := j.(map[string]any)
		name := job["job_name"].(string)
		addr, ok := targets[name]
		if !ok {
			continue
		}
		job["static_configs"] = []any{map[string]any{"targets": []string{addr}}}
		if d, ok := slow[name]; ok {
			job["scrape_interval"], job["scrape_timeout"] = d.String(), d.String()
		}
		jobs = append(jobs, job)
	}
	if len(jobs) != len(targets) {
		t.Fatalf("prometheus.yml has %d of the %d scrape jobs %v", len(jobs), len(targets), targets)
	}
	cfg["scrape_configs"] = jobs
	dir := t.TempDir()
	out, _ := yaml.Marshal(cfg)
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, out, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, promtool, "check", "config", cfgFile)
	addr := freeAddr(t)
	startProc(t, ctx, promBin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	p := &livePrometheus{url: "http://" + addr}
	waitFor(t, ctx, 30*time.Second, "Prometheus ready", func() bool {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	p.start = time.Now()
	return p
}

// waitScraped waits until expr has a sample with a value of at least min.
func (p *livePrometheus) waitScraped(t *testing.T, ctx context.Context, d time.Duration, what, expr string, min float64) {
	t.Helper()
	waitFor(t, ctx, d, what, func() bool {
		v, _ := p.query(expr, p.start, time.Now())
		return v.nonNaN > 0 && v.max >= min
	})
}

// names is every metric name Prometheus has scraped.
func (p *livePrometheus) names(t *testing.T) map[string]bool {
	t.Helper()
	var nv struct{ Data []string }
	if err := getJSON(p.url+"/api/v1/label/__name__/values", &nv); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, n := range nv.Data {
		names[n] = true
	}
	return names
}

// checkQueries evaluates every dashboard and annotation query over the
// run so far, $__rate_interval being rateWindow. A query verify accepts
// must parse, return at least one non-NaN sample and read only exported
// metrics; any other must still parse, and is returned (with why verify
// refused it) as not verified here.
func (p *livePrometheus) checkQueries(t *testing.T, rateWindow string, verify func(q dashboards.Query) (ok bool, why string)) (checked int, unverified []string) {
	t.Helper()
	names := p.names(t)
	end := time.Now()
	ds, err := dashboards.Load(dashboards.Files)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		for _, q := range dashboards.Queries(d) {
			expr := strings.ReplaceAll(q.Expr, "$__rate_interval", rateWindow)
			if ok, why := verify(q); !ok {
				// Still parsed: Prometheus answers an error for bad syntax.
				if _, err := p.query(expr, p.start, end); err != nil && strings.Contains(err.Error(), "bad_data") {
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
			v, err := p.query(expr, p.start, end)
			if err != nil {
				t.Errorf("%s: %v\n  expr: %s", q, err, q.Expr)
			} else if v.nonNaN == 0 {
				t.Errorf("%s returned no data\n  expr: %s", q, q.Expr)
			}
		}
	}
	sort.Strings(unverified)
	return checked, unverified
}

type result struct {
	nonNaN int
	max    float64
}

// query runs a range query over [from, to] at 1 s steps.
func (p *livePrometheus) query(expr string, from, to time.Time) (result, error) {
	v := url.Values{"query": {expr}, "start": {ts(from)}, "end": {ts(to)}, "step": {"1"}}
	var r struct {
		Status, ErrorType, Error string
		Data                     struct {
			Result []struct{ Values [][2]any }
		}
	}
	resp, err := http.PostForm(p.url+"/api/v1/query_range", v)
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
