package dashboards_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/dashboards"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/load"
)

// hostEnv is the platform on a real broker with the Flink engine; every
// store stays embedded, so the test needs no PostgreSQL or AWS emulator.
const hostEnv = `name: dashboards-host
kafka:
  brokers: [%s]
  create_topics: true
  topics:
    orders: {name: orders, partitions: 3, replication: 1}
    analytics_results: {name: analytics-results, partitions: 1, replication: 1}
    orders_dlq: {name: orders-dlq, partitions: 1, replication: 1}
stores: {relational: sqlite, catalog: sqlite, dedup: sqlite, objects: embedded, email: mailbox}
aws:
  region: us-east-1
  s3: {analytics_bucket: shoplab-analytics}
  ses: {sender: orders@shoplab.local}
analytics: {engine: flink, window: 1m, late_topic: analytics-late}
faults: none
`

// TestBrokerAndFlinkDashboardsAgainstLivePrometheus is the live test of the
// panels TestDashboardsAgainstLivePrometheus cannot feed: it runs the
// platform on the host broker (SHOPLAB_TEST_KAFKA_BROKERS, started by
// `shoplab deps up --kafka-jmx-exporter PORT`, whose exporter is
// SHOPLAB_TEST_KAFKA_JMX) with the Flink engine and its Prometheus
// reporter, drives a short load, and has a real Prometheus scrape the
// units, the JMX exporter and the reporter. Every query that reads a
// broker (kafka_*, jvm_*) or Flink (flink_*) metric must parse, return
// data and read only exported metrics.
func TestBrokerAndFlinkDashboardsAgainstLivePrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the broker and Flink dashboard test runs the platform, a Flink JVM and Prometheus for ~1 minute")
	}
	needPrometheus(t)
	brokers, jmx := os.Getenv(partstest.EnvKafka), os.Getenv(partstest.EnvKafkaJMX)
	if brokers == "" || jmx == "" {
		t.Skipf("needs a host broker with its JMX exporter: %s and %s (eval \"$(shoplab deps up --only kafka --kafka-jmx-exporter 19094 --print-env)\")", partstest.EnvKafka, partstest.EnvKafkaJMX)
	}
	for _, bin := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("the Flink job needs %s on PATH: apt-get install openjdk-17-jdk-headless maven", bin)
		}
	}
	env, err := envs.Parse("dashboards-host.yaml", []byte(fmt.Sprintf(hostEnv, brokers)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	flinkAddr := freeAddr(t)
	_, port, _ := strings.Cut(flinkAddr, ":")
	flinkPort, _ := strconv.Atoi(port)
	c, err := cloud.New(ctx, cloud.Config{GatewayAddr: "127.0.0.1:0", OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		AnalyticsWindow: 2 * time.Second, Env: env, RunID: partstest.UniqueName("d"), FlinkMetricsPort: flinkPort})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done; _ = c.Close() })
	if err := c.WaitReady(ctx, 3*time.Minute); err != nil {
		t.Fatal(err)
	}

	// The JMX exporter walks ~12k attributes per scrape (about a second
	// here): every 3 s, and a rate window of four scrapes, as Grafana's
	// $__rate_interval would be.
	prom := startPrometheus(t, ctx, map[string]string{
		"shoplab": strings.TrimPrefix(c.OpsURL(), "http://"), "kafka-broker": jmx, "flink": flinkAddr,
	}, map[string]time.Duration{"kafka-broker": 3 * time.Second})
	for _, job := range []string{"kafka-broker", "flink"} {
		prom.waitScraped(t, ctx, 60*time.Second, "a first scrape of "+job, fmt.Sprintf(`up{job=%q}`, job), 1)
	}

	lr, err := load.New(load.Config{BaseURL: c.GatewayURL(), Executor: load.ConstantArrivalRate, Rate: 10, Duration: 15 * time.Second,
		Customers: 5, Seed: 11, Journeys: map[string]float64{load.JourneyBrowse: 40, load.JourneyCheckout: 60}})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	if err := lr.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := lr.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load: %d requests, error rate %.3f", res.Total.Requests, res.Total.ErrorRate)
	prom.waitScraped(t, ctx, 30*time.Second, "orders in the broker's topic metrics", `sum(kafka_server_brokertopicmetrics_messagesinpersec{topic="orders"})`, 1)
	prom.waitScraped(t, ctx, 60*time.Second, "a window result written by the Flink job", `sum(flink_taskmanager_job_task_operator_numRecordsSend{operator_name=~"results_sink.*"})`, 1)
	time.Sleep(6 * time.Second) // two broker scrapes after the load

	verified := map[string]int{}
	checked, unverified := prom.checkQueries(t, "12s", func(q dashboards.Query) (bool, string) {
		jobs := exportersOf(q.Expr)
		if !jobs["kafka-broker"] && !jobs["flink"] {
			return false, "not a broker or Flink query"
		}
		for job := range jobs {
			if job != "kafka-broker" && job != "flink" {
				return false, "also reads " + job
			}
			verified[job]++
		}
		return true, ""
	})
	if verified["kafka-broker"] == 0 || verified["flink"] == 0 {
		t.Errorf("verified %v: want queries of both the broker and Flink", verified)
	}
	t.Logf("verified %d broker and Flink queries live (%v); %d other queries left to TestDashboardsAgainstLivePrometheus", checked, verified, len(unverified))
}
