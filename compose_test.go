package main

// The docker compose stack, tested without a Docker engine: docker-compose.yml
// is loaded with compose-go (the loader of the docker compose CLI itself) and
// checked against envs/compose.yaml, the `serve` flags, the chaos edges and
// the Prometheus config. Each check is proven to bite by a table of
// deliberate breakages, as argocd/'s tests do.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/shoplab/shoplab/cli"
	"github.com/shoplab/shoplab/envs"
	productdynamo "github.com/shoplab/shoplab/services/product/adapters/dynamodb"
	"github.com/shoplab/shoplab/sim/scenario"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

var update = flag.Bool("update", false, "rewrite compose/toxiproxy/toxiproxy.json and compose/chaos.env from the chaos edges")

// composeProfiles is which service runs in which profile: the core
// (units, Redpanda, LocalStack, PostgreSQL, Flink), chaos, observability,
// logging and load.
var composeProfiles = map[string][]string{
	"core": append(slices.Clone(spec.Units), "redpanda", "redpanda-init", "localstack", "postgres",
		"flink-job", "flink-jobmanager", "flink-taskmanager", "flink-sql-submit"),
	"chaos":         {"toxiproxy"},
	"observability": {"prometheus", "grafana"},
	"logging":       {"fluent-bit", "opensearch", "opensearch-dashboards"},
	"load":          {"k6"},
}

func allProfiles() []string {
	return slices.Sorted(func(yield func(string) bool) {
		for p := range composeProfiles {
			if !yield(p) {
				return
			}
		}
	})
}

// loadComposeWith loads docker-compose.yml as `docker compose --profile ...
// config` would: with the given env files (none: only the inline defaults).
func loadComposeWith(tb testing.TB, profiles []string, envFiles ...string) *types.Project {
	tb.Helper()
	opts := []composecli.ProjectOptionsFn{composecli.WithWorkingDirectory("."), composecli.WithProfiles(profiles)}
	if len(envFiles) > 0 {
		opts = append(opts, composecli.WithEnvFiles(envFiles...), composecli.WithDotEnv)
	}
	o, err := composecli.NewProjectOptions([]string{"docker-compose.yml"}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := o.LoadProject(ctx)
	if err != nil {
		tb.Fatalf("compose-go rejects docker-compose.yml: %v", err)
	}
	return p
}

// loadCompose is the stack with every profile on and the shipped .env.
func loadCompose(tb testing.TB, extraEnvFiles ...string) *types.Project {
	tb.Helper()
	return loadComposeWith(tb, allProfiles(), append([]string{".env"}, extraEnvFiles...)...)
}

// serveFlagNames asks `shoplab serve gateway -h` for the flags serve defines.
func serveFlagNames(tb testing.TB) map[string]bool {
	tb.Helper()
	var out, errb bytes.Buffer
	_ = cli.Run(context.Background(), []string{"shoplab", "serve", "gateway", "-h"}, &out, &errb)
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+--?([a-z0-9-]+)`).FindAllStringSubmatch(errb.String()+out.String(), -1) {
		names[m[1]] = true
	}
	if !names["ops-addr"] || !names["kafka-brokers"] || !names["database-url"] {
		tb.Fatalf("could not read the serve flags from `shoplab serve gateway -h`:\n%s%s", out.String(), errb.String())
	}
	return names
}

// composeWant is everything the stack is checked against.
type composeWant struct {
	env      *envs.Env
	flags    map[string]bool
	prom     promConfig
	edges    []string
	proxies  []toxiproxyProxy
	problems []string
}

func (w *composeWant) fail(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func newComposeWant(tb testing.TB) *composeWant {
	tb.Helper()
	e, err := envs.Load(envs.Compose)
	if err != nil {
		tb.Fatal(err)
	}
	return &composeWant{env: e, flags: serveFlagNames(tb), prom: loadPromConfig(tb), edges: slices.Clone(spec.Edges), proxies: loadProxies(tb)}
}

func sortedServices(p *types.Project) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for n := range p.Services {
			if !yield(n) {
				return
			}
		}
	})
}

// checkCompose runs every static check on p and returns what is wrong.
func checkCompose(p *types.Project, w *composeWant) []string {
	w.problems = nil
	for _, u := range spec.Units {
		if _, ok := p.Services[u]; !ok {
			w.fail("unit %s: no service", u)
		}
	}
	checkProfiles(p, w)
	published := map[string]string{}
	for _, n := range sortedServices(p) {
		s := p.Services[n]
		checkImage(w, n, s.Image)
		oneShot := s.Restart == types.RestartPolicyNo
		// A one-shot (restart: "no") is ready when it has exited 0, which is
		// what service_completed_successfully waits for; every other
		// service needs a healthcheck for service_healthy to mean anything.
		if !oneShot && (s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0) {
			w.fail("service %s: no healthcheck (only one-shot services with restart: \"no\" may go without)", n)
		}
		if s.Deploy == nil || s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes <= 0 {
			w.fail("service %s: no memory limit (deploy.resources.limits.memory)", n)
		}
		if s.Logging == nil || s.Logging.Driver != "json-file" || s.Logging.Options["max-size"] == "" || s.Logging.Options["max-file"] == "" {
			w.fail("service %s: not the shared json-file logging block", n)
		}
		for dep, d := range s.DependsOn {
			dp, ok := p.Services[dep]
			switch {
			case !ok:
				w.fail("service %s: depends on unknown service %s", n, dep)
			case d.Condition == "" || d.Condition == types.ServiceConditionStarted:
				w.fail("service %s: depends_on %s has no condition (want service_healthy or service_completed_successfully)", n, dep)
			case d.Condition == types.ServiceConditionCompletedSuccessfully && dp.Restart != types.RestartPolicyNo:
				w.fail("service %s: waits for %s to complete, but %s is not a one-shot (restart: \"no\")", n, dep, dep)
			case d.Condition == types.ServiceConditionHealthy && dp.Restart == types.RestartPolicyNo:
				w.fail("service %s: waits for one-shot %s to be healthy; want service_completed_successfully", n, dep)
			}
		}
		for _, port := range s.Ports {
			if port.Published == "" {
				w.fail("service %s: port %d published on a random host port", n, port.Target)
				continue
			}
			if port.HostIP != "127.0.0.1" {
				w.fail("service %s: port %s published on %q, want 127.0.0.1 (a testbed, not a server)", n, port.Published, port.HostIP)
			}
			key := port.Published
			if other, dup := published[key]; dup {
				w.fail("service %s: host port %s already published by %s", n, key, other)
			}
			published[key] = n
		}
	}
	for _, u := range spec.Units {
		if s, ok := p.Services[u]; ok {
			checkUnitEnv(w, u, s)
		}
	}
	checkScrape(p, w)
	checkToxiproxy(p, w)
	checkRedpanda(p, w)
	checkMounts(p, w)
	return w.problems
}

func checkProfiles(p *types.Project, w *composeWant) {
	want := map[string]string{}
	for prof, svcs := range composeProfiles {
		for _, s := range svcs {
			want[s] = prof
			if _, ok := p.Services[s]; !ok {
				w.fail("profile %s: no service %s", prof, s)
			}
		}
	}
	for _, n := range sortedServices(p) {
		s := p.Services[n]
		switch {
		case want[n] == "":
			w.fail("service %s: in no profile of the issue's set (add it to composeProfiles)", n)
		case !slices.Equal(s.Profiles, []string{want[n]}):
			w.fail("service %s: profiles %v, want [%s]", n, s.Profiles, want[n])
		}
	}
}

var pinnedTag = regexp.MustCompile(`^[^@:]+:[A-Za-z0-9_][A-Za-z0-9_.-]*(@sha256:[0-9a-f]{64})?$`)

func checkImage(w *composeWant, svc, image string) {
	ref := image
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		ref = image[i+1:]
	}
	switch {
	case image == "":
		w.fail("service %s: no image", svc)
	case !pinnedTag.MatchString(ref):
		w.fail("service %s: image %q is not pinned to a tag", svc, image)
	case strings.HasSuffix(strings.SplitN(ref, "@", 2)[0], ":latest"):
		w.fail("service %s: image %q uses latest", svc, image)
	}
}

// unitEnv is what a unit's SHOPLAB_* variables must be, from envs/compose.yaml
// and the compose network (service name : the target's container port).
func unitEnv(e *envs.Env, unit string) map[string]string {
	brokers := strings.Join(e.Kafka.Brokers, ",")
	want := map[string]string{"SHOPLAB_ENV": e.Name, "SHOPLAB_AWS_REGION": e.AWS.Region, "SHOPLAB_OPS_ADDR": ":8081"}
	if slices.Contains(spec.GRPCUnits, unit) {
		want["SHOPLAB_GRPC_ADDR"] = ":9090"
	}
	if e.Stores.Relational == envs.StorePostgres && e.Postgres.Databases.For(unit) != "" {
		want["SHOPLAB_DATABASE_URL"] = e.Postgres.DSN(e.Postgres.Databases.For(unit), "")
	}
	switch unit {
	case "gateway":
		want["SHOPLAB_USER_ADDR"], want["SHOPLAB_PRODUCT_ADDR"], want["SHOPLAB_ORDER_ADDR"] = "user:9090", "product:9090", "order:9090"
		want["SHOPLAB_HTTP_ADDR"] = ":8080"
	case "product":
		if e.Stores.Catalog == envs.StoreDynamoDB {
			want["SHOPLAB_DYNAMODB_TABLE"], want["SHOPLAB_AWS_ENDPOINT"] = e.AWS.DynamoDB.ProductsTable, e.AWS.Endpoint
		}
	case "order":
		want["SHOPLAB_KAFKA_BROKERS"] = brokers
		want["SHOPLAB_USER_ADDR"], want["SHOPLAB_PRODUCT_ADDR"], want["SHOPLAB_PAYMENT_ADDR"] = "user:9090", "product:9090", "payment:9090"
	case "notification":
		want["SHOPLAB_KAFKA_BROKERS"], want["SHOPLAB_EMAIL"] = brokers, e.Stores.Email
		if e.Stores.Dedup == envs.StoreDynamoDB {
			want["SHOPLAB_DEDUP_TABLE"] = e.AWS.DynamoDB.DedupTable
		}
		if e.Stores.Email == envs.StoreSES {
			want["SHOPLAB_SENDER"] = e.AWS.SES.Sender
		}
		want["SHOPLAB_AWS_ENDPOINT"] = e.AWS.Endpoint
	case "analytics":
		want["SHOPLAB_KAFKA_BROKERS"], want["SHOPLAB_BUCKET"] = brokers, e.AWS.S3.AnalyticsBucket
		want["SHOPLAB_S3_ENDPOINT"], want["SHOPLAB_ANALYTICS_WINDOW"] = e.AWS.Endpoint, e.Analytics.Window.Std().String()
	}
	return want
}

// sameSetting compares a setting, durations by value ("1m" is "1m0s").
func sameSetting(got, want string) bool {
	if got == want {
		return true
	}
	g, err1 := time.ParseDuration(got)
	w, err2 := time.ParseDuration(want)
	return err1 == nil && err2 == nil && g == w
}

func checkUnitEnv(w *composeWant, unit string, s types.ServiceConfig) {
	if !slices.Equal(s.Command, types.ShellCommand{"serve", unit}) {
		w.fail("unit %s: command %q, want [serve %s]", unit, s.Command, unit)
	}
	if s.Build == nil {
		w.fail("unit %s: no build (every unit is the one image of ./Dockerfile)", unit)
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range unitEnv(w.env, unit) {
			if !yield(k) {
				return
			}
		}
	}) {
		want := unitEnv(w.env, unit)[k]
		got := s.Environment[k]
		switch {
		case got == nil:
			w.fail("unit %s: %s is not set (want %q from envs/compose.yaml)", unit, k, want)
		case !sameSetting(*got, want):
			w.fail("unit %s: %s=%q, want %q (envs/compose.yaml)", unit, k, *got, want)
		}
	}
	for k := range s.Environment {
		if !strings.HasPrefix(k, "SHOPLAB_") {
			continue
		}
		if fl := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "SHOPLAB_")), "_", "-"); !w.flags[fl] {
			w.fail("unit %s: %s is no flag of `shoplab serve` (-%s)", unit, k, fl)
		}
	}
}

// promConfig is the part of compose/prometheus/prometheus.yml checked here.
type promConfig struct {
	RuleFiles []string `yaml:"rule_files"`
	Global    struct {
		ScrapeInterval string `yaml:"scrape_interval"`
	} `yaml:"global"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func loadPromConfig(tb testing.TB) promConfig {
	tb.Helper()
	b, err := os.ReadFile("compose/prometheus/prometheus.yml")
	if err != nil {
		tb.Fatal(err)
	}
	var c promConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		tb.Fatalf("compose/prometheus/prometheus.yml: %v", err)
	}
	return c
}

// flinkPromPort is metrics.reporter.prom.port of a Flink service.
func flinkPromPort(s types.ServiceConfig) string {
	if v := s.Environment["FLINK_PROPERTIES"]; v != nil {
		if m := regexp.MustCompile(`(?m)^metrics\.reporter\.prom\.port:\s*(\d+)`).FindStringSubmatch(*v); m != nil {
			return m[1]
		}
	}
	return ""
}

// checkScrape: the shoplab job scrapes exactly every unit's ops port; the
// broker job Redpanda's admin port; the flink job each Flink process's
// reporter port. Nothing else.
func checkScrape(p *types.Project, w *composeWant) {
	if w.prom.Global.ScrapeInterval != "15s" {
		w.fail("prometheus: scrape_interval %q, want 15s (the seed's)", w.prom.Global.ScrapeInterval)
	}
	var units []string
	for _, sc := range w.prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, t := range st.Targets {
				host, port, err := net.SplitHostPort(t)
				s, known := p.Services[host]
				if err != nil || !known {
					w.fail("prometheus job %s: target %s is no service of the stack", sc.JobName, t)
					continue
				}
				switch sc.JobName {
				case "shoplab":
					units = append(units, host)
					if ops := s.Environment["SHOPLAB_OPS_ADDR"]; ops == nil || *ops != ":"+port {
						w.fail("prometheus job shoplab: target %s is not %s's ops port", t, host)
					}
				case "kafka-broker":
					if host != "redpanda" || port != "9644" {
						w.fail("prometheus job kafka-broker: target %s, want redpanda:9644 (its admin API serves /public_metrics)", t)
					}
				case "flink":
					if pp := flinkPromPort(s); pp == "" || pp != port {
						w.fail("prometheus job flink: target %s is not %s's Prometheus reporter port (%q)", t, host, pp)
					}
				default:
					w.fail("prometheus job %s: not a job of the stack", sc.JobName)
				}
			}
		}
	}
	sort.Strings(units)
	if want := slices.Sorted(slices.Values(spec.Units)); !slices.Equal(units, want) {
		w.fail("prometheus job shoplab scrapes %v, want every unit %v", units, want)
	}
	if !slices.ContainsFunc(w.prom.RuleFiles, func(f string) bool { return strings.HasPrefix(f, "/etc/prometheus/rules/") }) {
		w.fail("prometheus: rule_files %v load nothing from /etc/prometheus/rules (dashboards/prometheus/rules)", w.prom.RuleFiles)
	}
}

// toxiproxyProxy is one entry of toxiproxy's -config file.
type toxiproxyProxy struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

func loadProxies(tb testing.TB) []toxiproxyProxy {
	tb.Helper()
	b, err := os.ReadFile("compose/toxiproxy/toxiproxy.json")
	if err != nil {
		tb.Fatal(err)
	}
	var proxies []toxiproxyProxy
	if err := json.Unmarshal(b, &proxies); err != nil {
		tb.Fatalf("compose/toxiproxy/toxiproxy.json: %v", err)
	}
	return proxies
}

func checkToxiproxy(p *types.Project, w *composeWant) {
	s, ok := p.Services["toxiproxy"]
	if !ok {
		w.fail("no toxiproxy service")
		return
	}
	names := make([]string, len(w.proxies))
	ports := map[string]string{}
	for i, px := range w.proxies {
		names[i] = px.Name
		_, port, err := net.SplitHostPort(px.Listen)
		if err != nil || port == "8474" {
			w.fail("toxiproxy proxy %s: listen %q (want 0.0.0.0:<port>, not the API's 8474)", px.Name, px.Listen)
		}
		if other, dup := ports[port]; dup {
			w.fail("toxiproxy proxy %s: port %s already used by %s", px.Name, port, other)
		}
		ports[port] = px.Name
		from, to, _ := strings.Cut(px.Name, "->")
		host, _, _ := net.SplitHostPort(px.Upstream)
		if _, known := p.Services[host]; !known || !slices.Contains(spec.Units, from) {
			w.fail("toxiproxy proxy %s: upstream %s is no service of the stack", px.Name, px.Upstream)
		} else if want := edgeService[to]; want == "" && to != host || want != "" && want != host {
			w.fail("toxiproxy proxy %s: upstream %s is not the edge's target", px.Name, px.Upstream)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(w.edges))) {
		w.fail("toxiproxy.json proxies %v, want the chaos edges %v", names, w.edges)
	}
	api := strings.TrimPrefix(w.env.ToxiproxyAPI, "http://")
	if host, port, _ := net.SplitHostPort(api); host != "toxiproxy" || !slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool {
		return strconv.Itoa(int(pc.Target)) == port
	}) {
		w.fail("envs/compose.yaml toxiproxy_api %q is not the toxiproxy service's published API port", w.env.ToxiproxyAPI)
	}
}

// edgeService is the compose service behind an edge's "to" side when it is
// not a unit of the same name.
var edgeService = map[string]string{"kafka": "redpanda", "postgres": "postgres", "aws": "localstack"}

// redpandaListeners parses --kafka-addr or --advertise-kafka-addr of the
// redpanda command into listener name -> host:port.
func redpandaListeners(s types.ServiceConfig, flagName string) map[string]string {
	m := map[string]string{}
	for _, a := range s.Command {
		v, ok := strings.CutPrefix(a, "--"+flagName+"=")
		if !ok {
			continue
		}
		for _, l := range strings.Split(v, ",") {
			if name, addr, ok := strings.Cut(l, "://"); ok {
				m[name] = addr
			}
		}
	}
	return m
}

// checkRedpanda: the internal listener advertises the env's broker address;
// each Kafka edge's proxy forwards to a listener that advertises the proxy
// itself, so a client that bootstrapped through the proxy stays on it.
func checkRedpanda(p *types.Project, w *composeWant) {
	s, ok := p.Services["redpanda"]
	if !ok {
		w.fail("no redpanda service")
		return
	}
	bind, adv := redpandaListeners(s, "kafka-addr"), redpandaListeners(s, "advertise-kafka-addr")
	if !slices.Contains(w.env.Kafka.Brokers, adv["internal"]) {
		w.fail("redpanda: the internal listener advertises %q, want the env's broker %v", adv["internal"], w.env.Kafka.Brokers)
	}
	byPort := map[string]string{}
	for name, addr := range bind {
		_, port, _ := net.SplitHostPort(addr)
		if other, dup := byPort[port]; dup {
			w.fail("redpanda: listeners %s and %s share port %s", name, other, port)
		}
		byPort[port] = name
	}
	for _, px := range w.proxies {
		if !strings.HasSuffix(px.Name, "->kafka") {
			continue
		}
		_, upPort, _ := net.SplitHostPort(px.Upstream)
		_, listenPort, _ := net.SplitHostPort(px.Listen)
		name := byPort[upPort]
		if name == "" {
			w.fail("toxiproxy proxy %s: upstream %s is no redpanda listener", px.Name, px.Upstream)
			continue
		}
		if want := "toxiproxy:" + listenPort; adv[name] != want {
			w.fail("redpanda listener %s (proxy %s's upstream) advertises %q, want %q: the client would leave the proxy after bootstrap", name, px.Name, adv[name], want)
		}
	}
}

// mount returns the source of the bind mount at target, relative to the
// project directory, or "".
func mount(p *types.Project, svc, target string) string {
	for _, v := range p.Services[svc].Volumes {
		if v.Target == target {
			if rel, err := filepath.Rel(p.WorkingDir, v.Source); err == nil && v.Type == types.VolumeTypeBind {
				return filepath.ToSlash(rel)
			}
			return v.Source
		}
	}
	return ""
}

// checkMounts: the files each part reads are the ones this repository
// ships (the dashboards' files are written by the dashboards' own tests).
func checkMounts(p *types.Project, w *composeWant) {
	for _, m := range []struct{ svc, target, source string }{
		{"prometheus", "/etc/prometheus/prometheus.yml", "compose/prometheus/prometheus.yml"},
		{"prometheus", "/etc/prometheus/rules", "dashboards/prometheus/rules"},
		{"grafana", "/etc/grafana/provisioning", "dashboards/grafana/provisioning"},
		{"grafana", "/var/lib/grafana/dashboards", "dashboards/grafana/dashboards"},
		{"toxiproxy", "/config/toxiproxy.json", "compose/toxiproxy/toxiproxy.json"},
		{"localstack", "/etc/localstack/init/ready.d/shoplab.sh", "compose/localstack/init.sh"},
		{"postgres", "/docker-entrypoint-initdb.d/10-shoplab.sql", "compose/postgres/init.sql"},
		{"flink-job", "/src", "services/analytics/flink"},
		{"k6", "/scripts", "scenarios/k6"},
	} {
		if _, ok := p.Services[m.svc]; !ok {
			continue
		}
		if got := mount(p, m.svc, m.target); got != m.source {
			w.fail("service %s: %s is mounted from %q, want ./%s", m.svc, m.target, got, m.source)
		}
	}
}

func TestCompose(t *testing.T) {
	w := newComposeWant(t)
	for _, pr := range checkCompose(loadCompose(t), w) {
		t.Error(pr)
	}
}

// TestComposeCatchesBreakages breaks a fresh load of the stack in one way
// each and wants the checks to name it.
func TestComposeCatchesBreakages(t *testing.T) {
	base := newComposeWant(t)
	str := func(s string) *string { return &s }
	edit := func(p *types.Project, name string, f func(s *types.ServiceConfig)) {
		s := p.Services[name]
		f(&s)
		p.Services[name] = s
	}
	tests := []struct {
		name    string
		breakIt func(p *types.Project, w *composeWant)
		want    string
	}{
		{"latest image", func(p *types.Project, _ *composeWant) {
			edit(p, "redpanda", func(s *types.ServiceConfig) { s.Image = "redpandadata/redpanda:latest" })
		}, "uses latest"},
		{"untagged image", func(p *types.Project, _ *composeWant) {
			edit(p, "prometheus", func(s *types.ServiceConfig) { s.Image = "prom/prometheus" })
		}, "not pinned"},
		{"no healthcheck", func(p *types.Project, _ *composeWant) {
			edit(p, "order", func(s *types.ServiceConfig) { s.HealthCheck = nil })
		}, "order: no healthcheck"},
		{"disabled healthcheck", func(p *types.Project, _ *composeWant) {
			edit(p, "postgres", func(s *types.ServiceConfig) { s.HealthCheck.Disable = true })
		}, "postgres: no healthcheck"},
		{"no memory limit", func(p *types.Project, _ *composeWant) {
			edit(p, "grafana", func(s *types.ServiceConfig) { s.Deploy = nil })
		}, "grafana: no memory limit"},
		{"dependency without condition", func(p *types.Project, _ *composeWant) {
			p.Services["gateway"].DependsOn["user"] = types.ServiceDependency{Condition: types.ServiceConditionStarted, Required: true}
		}, "depends_on user has no condition"},
		{"init not one-shot", func(p *types.Project, _ *composeWant) {
			edit(p, "redpanda-init", func(s *types.ServiceConfig) { s.Restart = "on-failure" })
		}, "is not a one-shot"},
		{"waits for a one-shot to be healthy", func(p *types.Project, _ *composeWant) {
			p.Services["order"].DependsOn["redpanda-init"] = types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: true}
		}, "want service_completed_successfully"},
		{"wrong table", func(p *types.Project, _ *composeWant) {
			p.Services["product"].Environment["SHOPLAB_DYNAMODB_TABLE"] = str("products")
		}, "SHOPLAB_DYNAMODB_TABLE"},
		{"wrong sender", func(p *types.Project, _ *composeWant) {
			p.Services["notification"].Environment["SHOPLAB_SENDER"] = str("noreply@example.com")
		}, "notification: SHOPLAB_SENDER"},
		{"missing broker", func(p *types.Project, _ *composeWant) {
			delete(p.Services["analytics"].Environment, "SHOPLAB_KAFKA_BROKERS")
		}, "analytics: SHOPLAB_KAFKA_BROKERS is not set"},
		{"wrong window", func(p *types.Project, _ *composeWant) {
			p.Services["analytics"].Environment["SHOPLAB_ANALYTICS_WINDOW"] = str("30s")
		}, "SHOPLAB_ANALYTICS_WINDOW"},
		{"wrong database", func(p *types.Project, _ *composeWant) {
			p.Services["order"].Environment["SHOPLAB_DATABASE_URL"] = str("postgres://shoplab@postgres:5432/shoplab_user?connect_timeout=3&sslmode=disable")
		}, "order: SHOPLAB_DATABASE_URL"},
		{"env file renames a bucket", func(_ *types.Project, w *composeWant) {
			e := *w.env
			e.AWS.S3.AnalyticsBucket = "renamed"
			w.env = &e
		}, "SHOPLAB_BUCKET"},
		{"unknown flag", func(p *types.Project, _ *composeWant) {
			p.Services["user"].Environment["SHOPLAB_KAFKA_BROKER"] = str("redpanda:9092")
		}, "no flag of `shoplab serve`"},
		{"unit not serve", func(p *types.Project, _ *composeWant) {
			edit(p, "payment", func(s *types.ServiceConfig) { s.Command = types.ShellCommand{"serve", "order"} })
		}, "unit payment: command"},
		{"duplicate port", func(p *types.Project, _ *composeWant) {
			edit(p, "user", func(s *types.ServiceConfig) {
				s.Ports = append(s.Ports, types.ServicePortConfig{HostIP: "127.0.0.1", Published: "8080", Target: 9999})
			})
		}, "already published"},
		{"port on every interface", func(p *types.Project, _ *composeWant) {
			edit(p, "postgres", func(s *types.ServiceConfig) { s.Ports[0].HostIP = "" })
		}, "want 127.0.0.1"},
		{"missing proxy", func(_ *types.Project, w *composeWant) { w.proxies = w.proxies[1:] }, "want the chaos edges"},
		{"new edge", func(_ *types.Project, w *composeWant) { w.edges = append(w.edges, "gateway->payment") }, "want the chaos edges"},
		{"proxy to the wrong target", func(_ *types.Project, w *composeWant) {
			for i := range w.proxies {
				if w.proxies[i].Name == "order->payment" {
					w.proxies[i].Upstream = "product:9090"
				}
			}
		}, "is not the edge's target"},
		{"kafka proxy to the internal listener", func(_ *types.Project, w *composeWant) {
			for i := range w.proxies {
				if w.proxies[i].Name == "order->kafka" {
					w.proxies[i].Upstream = "redpanda:9092"
				}
			}
		}, "would leave the proxy after bootstrap"},
		{"two proxies on one port", func(_ *types.Project, w *composeWant) { w.proxies[1].Listen = w.proxies[0].Listen }, "already used by"},
		{"scrape target not ops port", func(_ *types.Project, w *composeWant) {
			w.prom.ScrapeConfigs[0].StaticConfigs[0].Targets = append(slices.Clone(w.prom.ScrapeConfigs[0].StaticConfigs[0].Targets[1:]), "gateway:8080")
		}, "not gateway's ops port"},
		{"unit not scraped", func(_ *types.Project, w *composeWant) {
			tg := w.prom.ScrapeConfigs[0].StaticConfigs[0].Targets
			w.prom.ScrapeConfigs[0].StaticConfigs[0].Targets = slices.Clone(tg[:len(tg)-1])
		}, "want every unit"},
		{"flink reporter port", func(p *types.Project, _ *composeWant) {
			edit(p, "flink-taskmanager", func(s *types.ServiceConfig) {
				s.Environment = maps(s.Environment)
				s.Environment["FLINK_PROPERTIES"] = str("metrics.reporter.prom.port: 9250\n")
			})
		}, "reporter port"},
		{"no rules", func(_ *types.Project, w *composeWant) { w.prom.RuleFiles = nil }, "load nothing from /etc/prometheus/rules"},
		{"unit missing", func(p *types.Project, _ *composeWant) { delete(p.Services, "payment") }, "unit payment: no service"},
		{"no logging block", func(p *types.Project, _ *composeWant) {
			edit(p, "k6", func(s *types.ServiceConfig) { s.Logging = nil })
		}, "k6: not the shared json-file logging"},
		{"wrong profile", func(p *types.Project, _ *composeWant) {
			edit(p, "grafana", func(s *types.ServiceConfig) { s.Profiles = []string{"core"} })
		}, "grafana: profiles"},
		{"service in no profile", func(p *types.Project, _ *composeWant) {
			s := types.ServiceConfig{Name: "jaeger"}
			s.Image = "jaegertracing/all-in-one:1.60.0"
			p.Services["jaeger"] = s
		}, "jaeger: in no profile"},
		{"grafana dashboards elsewhere", func(p *types.Project, _ *composeWant) {
			edit(p, "grafana", func(s *types.ServiceConfig) {
				s.Volumes = slices.Clone(s.Volumes)
				s.Volumes[1].Source = filepath.Join(p.WorkingDir, "compose/grafana")
			})
		}, "/var/lib/grafana/dashboards is mounted from"},
		{"toxiproxy API not published", func(p *types.Project, _ *composeWant) {
			edit(p, "toxiproxy", func(s *types.ServiceConfig) { s.Ports = nil })
		}, "toxiproxy_api"},
	}
	loaded := loadCompose(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// WithServicesTransform hands each service over deep-copied, so
			// a breakage never leaks into the next case.
			p, err := loaded.WithServicesTransform(func(_ string, s types.ServiceConfig) (types.ServiceConfig, error) { return s, nil })
			if err != nil {
				t.Fatal(err)
			}
			w := *base
			w.edges, w.proxies = slices.Clone(base.edges), slices.Clone(base.proxies)
			w.prom = loadPromConfig(t)
			tt.breakIt(p, &w)
			problems := checkCompose(p, &w)
			if !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, tt.want) }) {
				t.Errorf("breakage not caught: want a problem containing %q, got %q", tt.want, problems)
			}
		})
	}
	w := *base
	w.prom = loadPromConfig(t)
	if problems := checkCompose(loaded, &w); len(problems) > 0 {
		t.Errorf("a breakage leaked into the loaded project: %q", problems)
	}
}

func maps(m types.MappingWithEquals) types.MappingWithEquals {
	c := types.MappingWithEquals{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

// TestComposePinsAgree: the inline defaults pin the same images as .env, so
// the file runs the same stack with or without it.
func TestComposePinsAgree(t *testing.T) {
	with, without := loadCompose(t), loadComposeWith(t, allProfiles())
	for _, n := range sortedServices(with) {
		if a, b := with.Services[n].Image, without.Services[n].Image; a != b {
			t.Errorf("service %s: .env pins %s, the inline default %s", n, a, b)
		}
	}
}

// TestComposeProfilesLoadAlone: the core profile loads on its own (the
// toxiproxy dependency is optional), and each other profile with core.
// docker compose does the same with the project compose-go returns.
func TestComposeProfilesLoadAlone(t *testing.T) {
	// docker compose drops an optional dependency on a service the
	// profiles leave out; a required one would stop the core-only stack.
	core := loadComposeWith(t, []string{"core"}, ".env").WithoutUnresolvedOptionalDependencies()
	if got, want := len(core.Services), len(composeProfiles["core"]); got != want {
		t.Errorf("--profile core: %d services, want %d", got, want)
	}
	for _, n := range sortedServices(core) {
		for dep := range core.Services[n].DependsOn {
			if _, ok := core.Services[dep]; !ok {
				t.Errorf("--profile core: %s requires %s, which the core profile does not run", n, dep)
			}
		}
	}
	for _, prof := range allProfiles() {
		p := loadComposeWith(t, []string{"core", prof}, ".env")
		for _, s := range composeProfiles[prof] {
			if _, ok := p.Services[s]; !ok {
				t.Errorf("--profile core --profile %s: no %s", prof, s)
			}
		}
	}
}

// published returns the host address compose publishes a service's
// container port on, or "".
func published(p *types.Project, svc string, target uint32) string {
	for _, pc := range p.Services[svc].Ports {
		if pc.Target == target && pc.Published != "" {
			return net.JoinHostPort(pc.HostIP, pc.Published)
		}
	}
	return ""
}

// TestComposeStackAddresses: the addresses `shoplab run --env compose`
// drives (scenario.ComposeStack) are the ports docker-compose.yml
// publishes: each unit's ops and gRPC port, the gateway, toxiproxy's API.
func TestComposeStackAddresses(t *testing.T) {
	p := loadCompose(t)
	st := scenario.ComposeStack
	want := func(what, got, svc string, port uint32, scheme string) {
		t.Helper()
		pub := published(p, svc, port)
		if pub == "" || got != scheme+pub {
			t.Errorf("ComposeStack %s = %q, docker-compose.yml publishes %s:%d on %q", what, got, svc, port, pub)
		}
	}
	want("gateway", st.Gateway, "gateway", 8080, "http://")
	want("toxiproxy", st.Toxiproxy, "toxiproxy", 8474, "http://")
	for _, u := range spec.Units {
		want("ops["+u+"]", st.Ops[u], u, 8081, "http://")
	}
	for _, u := range spec.GRPCUnits {
		want("grpc["+u+"]", st.GRPC[u], u, 9090, "")
	}
	if st.Project != p.Name {
		t.Errorf("ComposeStack acts on the containers of project %q; docker-compose.yml is project %q", st.Project, p.Name)
	}
	if len(st.Ops) != len(spec.Units) || len(st.GRPC) != len(spec.GRPCUnits) {
		t.Errorf("ComposeStack lists %d ops and %d gRPC addresses, want %d and %d", len(st.Ops), len(st.GRPC), len(spec.Units), len(spec.GRPCUnits))
	}
}

// chaosArtifacts derives toxiproxy.json and chaos.env from the edge list:
// proxy i listens on 21000+i; chaos.env sets <FROM>_<TO>_ADDR, the variable
// docker-compose.yml interpolates into the unit's setting, to it. A Kafka
// edge's proxy forwards to redpanda's listener on the same port, which
// advertises the proxy (see checkRedpanda).
func chaosArtifacts(edges []string) ([]toxiproxyProxy, string) {
	var proxies []toxiproxyProxy
	var env strings.Builder
	env.WriteString("# Generated by `go test -run TestChaosArtifacts -update .` from the chaos\n# edges (sim/scenario/spec.Edges). Use with --env-file .env --env-file\n# compose/chaos.env --profile chaos: every edge then crosses its proxy.\n")
	for i, e := range slices.Sorted(slices.Values(edges)) {
		from, to, _ := strings.Cut(e, "->")
		port := strconv.Itoa(21000 + i)
		up := to + ":9090"
		switch to {
		case "kafka":
			up = "redpanda:" + port
		case "postgres":
			up = "postgres:5432"
		case "aws":
			up = "localstack:4566"
		}
		proxies = append(proxies, toxiproxyProxy{Name: e, Listen: "0.0.0.0:" + port, Upstream: up, Enabled: true})
		fmt.Fprintf(&env, "%s_%s_ADDR=toxiproxy:%s\n", strings.ToUpper(from), strings.ToUpper(to), port)
	}
	return proxies, env.String()
}

// TestChaosArtifacts: toxiproxy.json and chaos.env are what the edge list
// makes of them (-update rewrites them when an edge is added).
func TestChaosArtifacts(t *testing.T) {
	proxies, env := chaosArtifacts(spec.Edges)
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false) // "order->payment", as the engine names it
	enc.SetIndent("", "  ")
	if err := enc.Encode(proxies); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"compose/toxiproxy/toxiproxy.json": js.Bytes(), "compose/chaos.env": []byte(env)}
	for path, want := range files {
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale (the chaos edges changed?): run `go test -run TestChaosArtifacts -update .`", path)
		}
	}
}

// TestComposeChaosRouting: with compose/chaos.env every edge's client dials
// its own proxy, waits for toxiproxy, and the proxy forwards to the address
// the client uses without chaos.env.
func TestComposeChaosRouting(t *testing.T) {
	plain, chaos := loadCompose(t), loadCompose(t, "compose/chaos.env")
	byName := map[string]toxiproxyProxy{}
	for _, px := range loadProxies(t) {
		byName[px.Name] = px
	}
	setting := map[string][]string{"kafka": {"SHOPLAB_KAFKA_BROKERS"}, "postgres": {"SHOPLAB_DATABASE_URL"},
		"aws": {"SHOPLAB_AWS_ENDPOINT", "SHOPLAB_S3_ENDPOINT"}}
	for _, e := range spec.Edges {
		from, to, _ := strings.Cut(e, "->")
		px, ok := byName[e]
		if !ok {
			t.Errorf("edge %s: no proxy", e)
			continue
		}
		_, port, _ := net.SplitHostPort(px.Listen)
		keys := setting[to]
		if keys == nil {
			keys = []string{"SHOPLAB_" + strings.ToUpper(to) + "_ADDR"}
		}
		found := false
		for _, k := range keys {
			v, before := chaos.Services[from].Environment[k], plain.Services[from].Environment[k]
			if v == nil || before == nil || !strings.Contains(*v, "toxiproxy:"+port) {
				continue
			}
			found = true
			// Without chaos.env the same setting names the target; the
			// Kafka proxy forwards to a listener of the same broker.
			target := px.Upstream
			if to == "kafka" {
				target = strings.Join(newComposeWant(t).env.Kafka.Brokers, ",")
			}
			if *before != strings.Replace(*v, "toxiproxy:"+port, target, 1) {
				t.Errorf("edge %s: %s is %q with chaos.env and %q without; the proxy forwards to %s", e, k, *v, *before, px.Upstream)
			}
		}
		if !found {
			t.Errorf("edge %s: with chaos.env, %s's %v does not dial toxiproxy:%s", e, from, keys, port)
		}
		if d, dep := chaos.Services[from].DependsOn["toxiproxy"]; !dep || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("edge %s: %s does not wait for a healthy toxiproxy", e, from)
		}
	}
}

// TestComposeInitMatchesEnv: the init services create exactly the names of
// envs/compose.yaml, with the key schemas the adapters use, and the Flink
// job is orders.sql rendered with the env's topics.
func TestComposeInitMatchesEnv(t *testing.T) {
	e, err := envs.Load(envs.Compose)
	if err != nil {
		t.Fatal(err)
	}
	p := loadCompose(t)
	initCmd := strings.Join(p.Services["redpanda-init"].Command, " ")
	for _, tp := range e.Kafka.Topics.All() {
		want := fmt.Sprintf("rpk topic create %s -p %d -r %d -X brokers=%s", tp.Name, tp.Partitions, tp.Replication, strings.Join(e.Kafka.Brokers, ","))
		if !strings.Contains(initCmd, want) {
			t.Errorf("redpanda-init: no %q", want)
		}
	}
	if e.Kafka.CreateTopics || e.AWS.CreateResources || e.Postgres.CreateDatabases {
		t.Error("envs/compose.yaml asks the units to create their resources; the compose init services do")
	}
	sql, _ := os.ReadFile("compose/postgres/init.sql")
	for _, db := range []string{e.Postgres.Databases.User, e.Postgres.Databases.Order, e.Postgres.Databases.Payment} {
		if !strings.Contains(string(sql), "CREATE DATABASE "+db+" OWNER "+e.Postgres.User+";") {
			t.Errorf("compose/postgres/init.sql: database %s is not created", db)
		}
	}
	if pu := p.Services["postgres"].Environment["POSTGRES_USER"]; pu == nil || *pu != e.Postgres.User {
		t.Errorf("postgres: POSTGRES_USER is not the env's user %s", e.Postgres.User)
	}
	sh, _ := os.ReadFile("compose/localstack/init.sh")
	for what, want := range map[string]string{
		"products table":  "--table-name " + e.AWS.DynamoDB.ProductsTable + " ",
		"dedup table":     "--table-name " + e.AWS.DynamoDB.DedupTable + " ",
		"bucket":          "s3 mb s3://" + e.AWS.S3.AnalyticsBucket + "\n",
		"sender":          "--email-address " + e.AWS.SES.Sender + "\n",
		"products key":    "--key-schema AttributeName=PK,KeyType=HASH AttributeName=SK,KeyType=RANGE",
		"catalog index":   "IndexName=" + productdynamo.IndexCatalog + ",",
		"category index":  "IndexName=" + productdynamo.IndexByCategory + ",",
		"dedup key":       "--key-schema AttributeName=event_id,KeyType=HASH",
		"dedup ttl":       "AttributeName=expires_at",
		"readiness token": "touch /tmp/shoplab-resources-ready",
	} {
		if !strings.Contains(string(sh), want) {
			t.Errorf("compose/localstack/init.sh: the %s (%q) is not created", what, strings.TrimSpace(want))
		}
	}
	if hc := p.Services["localstack"].HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "/tmp/shoplab-resources-ready") {
		t.Error("localstack healthcheck should wait for the init script's marker")
	}
	if hc := p.Services["postgres"].HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), e.Postgres.Databases.Payment) {
		t.Error("postgres healthcheck should wait for the last database the init script creates")
	}
	job := strings.Join(p.Services["flink-job"].Command, " ")
	for _, want := range []string{"--sql /src/orders.sql", "--set brokers=" + strings.Join(e.Kafka.Brokers, ","), "--set input_topic=" + e.Kafka.Topics.Orders.Name,
		"--set output_topic=" + e.Kafka.Topics.AnalyticsResults.Name, fmt.Sprintf("--set window_ms=%d", e.Analytics.Window.Std().Milliseconds()), "> /job/orders.sql"} {
		if !strings.Contains(job, want) {
			t.Errorf("flink-job: no %q in %q", want, job)
		}
	}
	if m := regexp.MustCompile(`--set late_topic=(\S+)`).FindStringSubmatch(job); m == nil || !strings.Contains(initCmd, "rpk topic create "+m[1]+" ") {
		t.Errorf("flink-job's late topic is not created by redpanda-init")
	}
	if got := strings.Join(p.Services["flink-sql-submit"].Command, " "); !strings.HasSuffix(got, "-f /job/orders.sql") {
		t.Errorf("flink-sql-submit runs %q, want the rendered orders.sql", got)
	}
	if _, err := os.Stat("services/analytics/flink/orders.sql"); err != nil {
		t.Error(err)
	}
	k6 := strings.Join(p.Services["k6"].Command, " ")
	m := regexp.MustCompile(`/scripts/(\S+)$`).FindStringSubmatch(k6)
	if m == nil {
		t.Fatalf("k6 command %q runs no script of /scripts", k6)
	}
	if _, err := os.Stat(filepath.Join("scenarios/k6", m[1])); err != nil {
		t.Errorf("k6 runs %s by default: %v (regenerate with `shoplab k6 --all`)", m[1], err)
	}
}

// dockerEngine reports why no Docker engine is usable, or "" when one is.
func dockerEngine(ctx context.Context) string {
	if _, err := exec.LookPath("docker"); err != nil {
		return "no docker CLI on PATH"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Sprintf("`docker info` fails (%v): %s", err, bytes.TrimSpace(out))
	}
	if err := exec.CommandContext(ctx, "docker", "compose", "version").Run(); err != nil {
		return "no `docker compose` plugin"
	}
	return ""
}

// TestComposeSmoke brings the core and chaos profiles up where a Docker
// engine answers and runs scenarios against the stack: the demo and
// payment-latency with `shoplab run --env compose` (load, the latency fault
// through the toxiproxy container's API, the kill through the Docker API,
// every invariant reconciled), then payment-latency's k6 script (probes as
// thresholds; k6 exits 0 when they hold).
func TestComposeSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole compose stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if why := dockerEngine(ctx); why != "" {
		t.Skipf("the compose smoke test needs a Docker engine with the compose plugin: %s; the static tests above ran instead", why)
	}
	compose := func(ctx context.Context, env []string, args ...string) ([]byte, error) {
		base := []string{"compose", "--env-file", ".env", "--env-file", "compose/chaos.env", "--profile", "core", "--profile", "chaos"}
		cmd := exec.CommandContext(ctx, "docker", append(base, args...)...)
		cmd.Env = append(os.Environ(), env...)
		return cmd.CombinedOutput()
	}
	if out, err := compose(ctx, nil, "up", "--build", "--wait", "--wait-timeout", "900"); err != nil {
		t.Fatalf("docker compose up --wait: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer dcancel()
		_, _ = compose(dctx, nil, "down", "-v")
	})
	for _, sc := range []string{"scenarios/demo.yaml", "scenarios/payment-latency.yaml"} {
		var run bytes.Buffer
		if err := cli.Run(ctx, []string{"shoplab", "run", "--env", "compose", "--short", "--out", t.TempDir(), sc}, &run, &run); err != nil {
			t.Fatalf("shoplab run --env compose %s: %v\n%s", sc, err, run.String())
		}
	}
	out, err := compose(ctx, []string{"SCENARIO=payment-latency"}, "--profile", "load", "run", "--rm", "k6")
	if err != nil {
		t.Fatalf("k6 payment-latency against the stack: %v\n%s", err, out)
	}
	t.Logf("k6 payment-latency:\n%s", out)
}
