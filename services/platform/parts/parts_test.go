package parts

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
)

func testSpec() Spec {
	return Spec{
		KafkaBroker: "127.0.0.1:41192", PostgresAddr: "127.0.0.1:41532", PostgresUser: "shoplab",
		Databases: []string{"shoplab_order"}, CreateDatabases: true, AWSEndpoint: "http://127.0.0.1:41600", AWSRegion: "us-east-1",
	}
}

func TestRecordRoundTripAndRemove(t *testing.T) {
	dir := t.TempDir()
	if _, err := readRecord(dir); !os.IsNotExist(err) {
		t.Fatalf("read before write: %v, want not exist", err)
	}
	want := record{PID: 42, Marker: "/x/server.properties", Addr: "127.0.0.1:1", Started: time.Unix(1700000000, 0).UTC()}
	if err := writeRecord(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := readRecord(dir)
	if err != nil || got != want {
		t.Fatalf("read = %+v, %v; want %+v", got, err, want)
	}
	if err := removeRecord(dir); err != nil {
		t.Fatal(err)
	}
	if err := removeRecord(dir); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, recordFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readRecord(dir); err == nil || !strings.Contains(err.Error(), recordFile) {
		t.Fatalf("corrupt record: %v, want an error naming the file", err)
	}
}

// foreign starts a process we pretend not to own and stops it at cleanup.
func foreign(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	return cmd
}

func TestOursNeedsALiveProcessWithTheMarker(t *testing.T) {
	cmd := foreign(t, "sleep", "30")
	pid := cmd.Process.Pid
	// Start returns once the child is forked, and until it has exec'd,
	// /proc shows the test binary's command line: wait for the exec.
	deadline := time.Now().Add(5 * time.Second)
	for !ours(record{PID: pid, Marker: "sleep 30"}) {
		if time.Now().After(deadline) {
			t.Fatal("a live process whose command line has the marker is not ours")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ours(record{PID: pid, Marker: "/state/kafka/server.properties"}) {
		t.Fatal("a process whose command line lacks the marker counts as ours (a reused PID)")
	}
	if ours(record{PID: pid}) {
		t.Fatal("an empty marker matched")
	}
	_ = cmd.Process.Kill()
	deadline = time.Now().Add(5 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if ours(record{PID: pid, Marker: "sleep 30"}) {
		t.Fatal("a killed process is still ours")
	}
}

func TestDownNeverSignalsAProcessItDidNotStart(t *testing.T) {
	state := t.TempDir()
	o, err := New(Config{StateDir: state, Spec: testSpec(), Only: []string{AWS}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := foreign(t, "sleep", "30")
	// A stale record whose PID now belongs to someone else.
	dir := filepath.Join(state, AWS)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeRecord(dir, record{PID: cmd.Process.Pid, Marker: filepath.Join(dir, "moto_serial.py")}); err != nil {
		t.Fatal(err)
	}
	sts, err := o.Down(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sts[0].State != StateNotRunning || !strings.Contains(sts[0].Note, "left alone") {
		t.Fatalf("down = %+v, want not running and left alone", sts[0])
	}
	if !alive(cmd.Process.Pid) {
		t.Fatal("down killed a process it did not start")
	}
	if _, err := readRecord(dir); !os.IsNotExist(err) {
		t.Fatalf("the stale record was kept: %v", err)
	}
}

func TestUpRefusesAPortTakenByAnotherProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	spec := testSpec()
	spec.AWSEndpoint = "http://" + ln.Addr().String()
	o, err := New(Config{StateDir: t.TempDir(), Spec: spec, Only: []string{AWS}})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := o.Up(context.Background())
	if err == nil {
		t.Fatal("up succeeded on a taken port")
	}
	msg := err.Error()
	if !strings.Contains(msg, "aws:") || !strings.Contains(msg, ln.Addr().String()) || !errs.Is(sts[0].Err, errs.Conflict) {
		t.Fatalf("error %q (code %s) does not name the part and the port as a conflict", msg, errs.CodeOf(sts[0].Err))
	}
	st := o.Status(context.Background())
	if st[0].State != StateNotRunning || !strings.Contains(st[0].Note, "taken by a process shoplab did not start") {
		t.Fatalf("status = %+v", st[0])
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"unknown part", func(c *Config) { c.Only = []string{"redis"} }, "only"},
		{"empty state dir", func(c *Config) { c.StateDir = "" }, "state-dir"},
		{"remote postgres", func(c *Config) { c.Spec.PostgresAddr = "10.0.0.5:5432" }, "postgres.address"},
		{"no port", func(c *Config) { c.Spec.KafkaBroker = "127.0.0.1" }, "kafka.brokers[0]"},
		{"bad port", func(c *Config) { c.Spec.KafkaBroker = "127.0.0.1:x" }, "kafka.brokers[0]"},
		{"https endpoint", func(c *Config) { c.Spec.AWSEndpoint = "https://dynamodb.us-east-1.amazonaws.com" }, "aws.endpoint"},
		{"no role", func(c *Config) { c.Spec.PostgresUser = "" }, "postgres.user"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{StateDir: t.TempDir(), Spec: testSpec()}
			tc.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("New = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestServerPropertiesRendering(t *testing.T) {
	o, err := New(Config{StateDir: "/state", Spec: testSpec(), Only: []string{Kafka}})
	if err != nil {
		t.Fatal(err)
	}
	k := o.parts[0].(*kafkaPart)
	for _, want := range []string{
		"process.roles=broker,controller\n",
		"listeners=PLAINTEXT://127.0.0.1:41192,CONTROLLER://127.0.0.1:41193\n",
		"advertised.listeners=PLAINTEXT://127.0.0.1:41192\n",
		"controller.quorum.bootstrap.servers=127.0.0.1:41193\n",
		"log.dirs=/state/kafka/data\n",
		"auto.create.topics.enable=false\n",
	} {
		if !strings.Contains(k.properties, want) {
			t.Errorf("server.properties lacks %q:\n%s", want, k.properties)
		}
	}
	if strings.Contains(k.properties, "{{") {
		t.Errorf("unrendered template action:\n%s", k.properties)
	}
	if got := k.ports(); len(got) != 2 {
		t.Errorf("ports without the exporter = %v", got)
	}
	cmd := strings.Join(k.command().Args, " ")
	if strings.Contains(cmd, "javaagent") || !strings.Contains(cmd, "-Xmx512m") || !strings.Contains(cmd, k.marker()) {
		t.Errorf("command = %s", cmd)
	}

	o, err = New(Config{StateDir: "/state", Spec: testSpec(), Only: []string{Kafka}, KafkaJMXExporter: 41194})
	if err != nil {
		t.Fatal(err)
	}
	k = o.parts[0].(*kafkaPart)
	cmd = strings.Join(k.command().Args, " ")
	if !strings.Contains(cmd, "-javaagent:/state/kafka/agent/"+jmxAgentJar+"=127.0.0.1:41194:/state/kafka/jmx-exporter.yaml") {
		t.Errorf("command with exporter = %s", cmd)
	}
	if got := k.ports(); len(got) != 3 || got[2] != "127.0.0.1:41194" {
		t.Errorf("ports with the exporter = %v", got)
	}
}

func TestKafkaClusterIDIsAKafkaUuid(t *testing.T) {
	for range 200 {
		id, err := kafkaClusterID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 22 || strings.HasPrefix(id, "-") || strings.ContainsAny(id, "+/=") {
			t.Fatalf("cluster id %q is not a 22-char url-safe base64 Uuid", id)
		}
	}
}

func TestEnvNamesEveryPartInOrder(t *testing.T) {
	o, err := New(Config{StateDir: t.TempDir(), Spec: testSpec(), Only: []string{AWS, Postgres, Kafka, AWS}})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"SHOPLAB_TEST_POSTGRES_DSN", "postgres://shoplab@127.0.0.1:41532/postgres?sslmode=disable"},
		{"SHOPLAB_TEST_KAFKA_BROKERS", "127.0.0.1:41192"},
		{"SHOPLAB_TEST_AWS_ENDPOINT", "http://127.0.0.1:41600"},
	}
	checkEnv(t, o.Env(), want)
	// With the JMX exporter, its address follows the broker's.
	o, err = New(Config{StateDir: t.TempDir(), Spec: testSpec(), Only: []string{Kafka}, KafkaJMXExporter: 41194})
	if err != nil {
		t.Fatal(err)
	}
	checkEnv(t, o.Env(), [][2]string{{"SHOPLAB_TEST_KAFKA_BROKERS", "127.0.0.1:41192"}, {"SHOPLAB_TEST_KAFKA_JMX", "127.0.0.1:41194"}})
}

func checkEnv(t *testing.T, got, want [][2]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("env = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("env[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestMissingPrerequisiteNamesItsInstallCommand(t *testing.T) {
	o, err := New(Config{StateDir: t.TempDir(), Spec: testSpec(), Only: []string{AWS}})
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePart{motoPart: o.parts[0].(*motoPart)}
	err = o.ensurePrereqs(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "install it with: python3 -m pip install 'moto[server]'") || !strings.Contains(err.Error(), "--install") {
		t.Fatalf("ensurePrereqs = %v", err)
	}
}

// fakePart is the moto part with a prerequisite that is never there.
type fakePart struct{ *motoPart }

func (f *fakePart) prereqs() []*prereq {
	pr := f.motoPart.prereqs()[0]
	pr.present = func() bool { return false }
	return []*prereq{pr}
}

func TestLogTailKeepsTheLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 40 {
		b.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := logTail(path)
	if !strings.Contains(got, "line 39") || strings.Contains(got, "line 24\n") || !strings.Contains(got, "line 25") {
		t.Fatalf("tail = %q", got)
	}
	if logTail(filepath.Join(t.TempDir(), "none")) != "" {
		t.Fatal("tail of a missing log is not empty")
	}
}
