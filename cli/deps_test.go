package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/jackc/pgx/v5"

	"github.com/shoplab/shoplab/services/platform/parts"
)

// The heavy test's ports: this package's own range, never the dev parts'.
const (
	depsPGPort    = 41432
	depsKafkaPort = 41092 // controller on 41093
	depsJMXPort   = 41094
	depsMotoPort  = 41500
	depsForeign   = 41501
)

func depsEnvFile(t *testing.T, pg, kafka, moto int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "env.yaml")
	body := fmt.Sprintf(`name: deps-test
kafka:
  brokers: [127.0.0.1:%d]
postgres:
  address: 127.0.0.1:%d
  user: shoplab
  create_databases: true
  databases: {user: shoplab_user, order: shoplab_order}
aws:
  region: us-east-1
  endpoint: http://127.0.0.1:%d
`, kafka, pg, moto)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runDepsCmd(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, lookup: func(string) (string, bool) { return "", false }}
	err := run(ctx, e, append([]string{"shoplab", "deps"}, args...))
	return out.String(), err
}

// stateDirForPostgres is a temp dir the postgres OS user can reach when
// we are root (t.TempDir is 0700), so the cluster's data stays inside it.
func stateDirForPostgres(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	return dir
}

// seedKafkaJars hard-links the broker's jars from the default state dir,
// when `shoplab deps up` filled it, so this test skips the Maven step.
func seedKafkaJars(t *testing.T, state string) {
	def, err := parts.DefaultStateDir(os.LookupEnv)
	if err != nil {
		return
	}
	src := filepath.Join(def, "kafka", "lib")
	jars, _ := filepath.Glob(filepath.Join(src, "*.jar"))
	if len(jars) == 0 {
		return
	}
	dst := filepath.Join(state, "kafka", "lib")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, j := range jars {
		if err := os.Link(j, filepath.Join(dst, filepath.Base(j))); err != nil {
			_ = os.RemoveAll(dst) // different filesystems: let Maven fill it
			return
		}
	}
}

func skipWithoutHostParts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the real parts take ~30-60s to start")
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java not found: install a JRE (apt-get install -y default-jre-headless)")
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		t.Skip("mvn not found: install Maven (apt-get install -y maven); it fetches the Kafka jars once")
	}
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/initdb"); err != nil {
		if _, err := exec.LookPath("pg_config"); err != nil {
			t.Skip("PostgreSQL 15 not found: apt-get install -y postgresql-15")
		}
	}
	if _, err := parts.MotoCommand("127.0.0.1", 0); err != nil {
		t.Skipf("%v", err)
	}
	for _, p := range []int{depsPGPort, depsKafkaPort, depsKafkaPort + 1, depsJMXPort, depsMotoPort, depsForeign} {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Skipf("port %d is taken (a previous run's parts? `shoplab deps down` with its state dir): %v", p, err)
		}
		_ = ln.Close()
	}
}

var pidRE = regexp.MustCompile(`(?m)^(postgres|kafka|aws)\s+\S+\s+(.+?)\s+pid (\d+|-)`)

// partLines returns state and pid per part of a `deps` table.
func partLines(out string) map[string][2]string {
	got := map[string][2]string{}
	for _, m := range pidRE.FindAllStringSubmatch(out, -1) {
		got[m[1]] = [2]string{m[2], m[3]}
	}
	return got
}

func exportsOf(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasPrefix(line, "export ") {
			got[k] = strings.Trim(v, "'")
		}
	}
	return got
}

// TestDepsUpStatusDownForReal starts the three real parts on this
// package's ports, checks each over its own protocol, then checks that up
// is idempotent, status reports them, a foreign process on a port is
// refused and never killed, and down stops exactly what up started.
func TestDepsUpStatusDownForReal(t *testing.T) {
	skipWithoutHostParts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	state := stateDirForPostgres(t)
	seedKafkaJars(t, state)
	envFile := depsEnvFile(t, depsPGPort, depsKafkaPort, depsMotoPort)
	common := []string{"--env", envFile, "--state-dir", state, "--kafka-jmx-exporter", strconv.Itoa(depsJMXPort), "--timeout", "240s"}
	t.Cleanup(func() {
		if out, err := runDepsCmd(context.Background(), append([]string{"down"}, common...)...); err != nil {
			t.Logf("cleanup down: %v\n%s", err, out)
		}
	})

	begin := time.Now()
	out, err := runDepsCmd(ctx, append([]string{"up"}, common...)...)
	if err != nil {
		t.Fatalf("deps up: %v\n%s", err, out)
	}
	t.Logf("deps up took %.1fs:\n%s", time.Since(begin).Seconds(), out)
	first := partLines(out)
	for _, p := range parts.Names {
		if first[p][0] != string(parts.StateStarted) || first[p][1] == "-" {
			t.Fatalf("%s: %v after up, want started with a pid\n%s", p, first[p], out)
		}
	}
	exp := exportsOf(out)

	checkPostgres(ctx, t, exp["SHOPLAB_TEST_POSTGRES_DSN"])
	checkKafka(t, exp["SHOPLAB_TEST_KAFKA_BROKERS"])
	checkMoto(ctx, t, exp["SHOPLAB_TEST_AWS_ENDPOINT"])
	if want := fmt.Sprintf("127.0.0.1:%d", depsJMXPort); exp["SHOPLAB_TEST_KAFKA_JMX"] != want {
		t.Errorf("SHOPLAB_TEST_KAFKA_JMX = %q, want %s", exp["SHOPLAB_TEST_KAFKA_JMX"], want)
	}
	checkJMX(ctx, t, fmt.Sprintf("http://127.0.0.1:%d/metrics", depsJMXPort))

	out, err = runDepsCmd(ctx, append([]string{"up"}, common...)...)
	if err != nil {
		t.Fatalf("second deps up: %v\n%s", err, out)
	}
	for p, st := range partLines(out) {
		if st[0] != string(parts.StateAlreadyRunning) || st[1] != first[p][1] {
			t.Errorf("second up: %s is %v, want already running as pid %s", p, st, first[p][1])
		}
	}
	out, err = runDepsCmd(ctx, append([]string{"status"}, common...)...)
	if err != nil {
		t.Fatalf("deps status: %v\n%s", err, out)
	}
	if st := partLines(out); len(st) != 3 || st["postgres"][0] != "running" || st["kafka"][0] != "running" || st["aws"][0] != "running" {
		t.Errorf("status = %v\n%s", st, out)
	}

	checkForeignProcessIsLeftAlone(ctx, t)

	out, err = runDepsCmd(ctx, append([]string{"down"}, common...)...)
	if err != nil {
		t.Fatalf("deps down: %v\n%s", err, out)
	}
	for p, st := range partLines(out) {
		if st[0] != string(parts.StateStopped) {
			t.Errorf("down: %s is %v, want stopped", p, st)
		}
		pid, _ := strconv.Atoi(first[p][1])
		if err := syscall.Kill(pid, 0); err == nil && !zombie(pid) {
			t.Errorf("%s: pid %d still alive after down", p, pid)
		}
	}
	for _, port := range []int{depsPGPort, depsKafkaPort, depsKafkaPort + 1, depsJMXPort, depsMotoPort} {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("port %d still bound after down: %v", port, err)
			continue
		}
		_ = ln.Close()
	}
	out, _ = runDepsCmd(ctx, append([]string{"status"}, common...)...)
	if st := partLines(out); st["postgres"][0] != "not running" || st["kafka"][0] != "not running" || st["aws"][0] != "not running" {
		t.Errorf("status after down = %v\n%s", st, out)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) || b[i+2] != 'Z' {
		return false
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(tasks) <= 1 // a leader whose other threads still run is alive
}

func checkPostgres(ctx context.Context, t *testing.T, admin string) {
	t.Helper()
	if admin == "" {
		t.Fatal("no SHOPLAB_TEST_POSTGRES_DSN export")
	}
	dsn := strings.Replace(admin, "/postgres?", "/shoplab_order?", 1)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the env file's database: %v", err)
	}
	defer conn.Close(context.Background())
	var user string
	var super bool
	if err := conn.QueryRow(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &super); err != nil {
		t.Fatal(err)
	}
	if user != "shoplab" || !super {
		t.Errorf("connected as %s (superuser %v), want shoplab, a superuser", user, super)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func checkKafka(t *testing.T, brokers string) {
	t.Helper()
	if brokers == "" {
		t.Fatal("no SHOPLAB_TEST_KAFKA_BROKERS export")
	}
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 10
	admin, err := sarama.NewClusterAdmin(strings.Split(brokers, ","), cfg)
	if err != nil {
		t.Fatalf("kafka admin: %v", err)
	}
	defer admin.Close()
	if err := admin.CreateTopic("deps-check", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	prod, err := sarama.NewSyncProducer(strings.Split(brokers, ","), cfg)
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer prod.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "deps-check", Value: sarama.StringEncoder("hello")})
		if err == nil {
			if off != 0 {
				t.Errorf("first record at offset %d, want 0", off)
			}
			break
		}
		// The new topic's leader may take a moment to be known.
		if time.Now().After(deadline) {
			t.Fatalf("idempotent acks=all produce: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Topics are never created on first use.
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "deps-never-created", Value: sarama.StringEncoder("x")}); err == nil {
		t.Error("produce to an uncreated topic succeeded: auto.create.topics.enable is not false")
	}
}

func checkMoto(ctx context.Context, t *testing.T, endpoint string) {
	t.Helper()
	if endpoint == "" {
		t.Fatal("no SHOPLAB_TEST_AWS_ENDPOINT export")
	}
	db := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("shoplab", "shoplab", ""),
	})
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("deps-check"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("dynamodb create table on moto: %v", err)
	}
	put := func() error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String("deps-check"), Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a"}},
			ConditionExpression: aws.String("attribute_not_exists(id)"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	if err := put(); err == nil {
		t.Fatal("second conditional put of the same key succeeded")
	}
}

func checkJMX(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("JMX exporter: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("kafka_server_brokertopicmetrics_messagesinpersec")) {
		t.Errorf("JMX exporter: %s, %d bytes, no kafka_server_brokertopicmetrics_messagesinpersec", resp.Status, len(body))
	}
}

// checkForeignProcessIsLeftAlone points a second state dir's aws part at
// a port a foreign process holds: up must refuse naming the port and the
// part, and down must leave the process alone.
func checkForeignProcessIsLeftAlone(ctx context.Context, t *testing.T) {
	t.Helper()
	cmd := exec.Command("python3", "-c", "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1', int(__import__('sys').argv[1])))\ns.listen()\ntime.sleep(120)", strconv.Itoa(depsForeign))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(depsForeign), time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("foreign listener did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	state := t.TempDir()
	args := []string{"--env", depsEnvFile(t, depsPGPort, depsKafkaPort, depsForeign), "--state-dir", state, "--only", "aws"}
	out, err := runDepsCmd(ctx, append([]string{"up"}, args...)...)
	if err == nil || !strings.Contains(err.Error(), "aws") || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", depsForeign)) {
		t.Errorf("up on a foreign port: %v, want an error naming aws and the port\n%s", err, out)
	}
	if out, err := runDepsCmd(ctx, append([]string{"down"}, args...)...); err != nil {
		t.Errorf("down: %v\n%s", err, out)
	}
	select {
	case <-done:
		t.Error("the foreign process died")
	default:
	}
}
