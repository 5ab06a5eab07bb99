package parts

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/IBM/sarama"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// The broker's Maven module, config template and exporter rules live in
// the repo beside this file and are copied into the state dir.
//
//go:embed kafka/pom.xml kafka/server.properties.tmpl kafka/jmx-exporter.yaml
var kafkaFiles embed.FS

// The artifacts the broker runs: pom.xml pins the broker; the JMX exporter
// agent is fetched on its own so it stays off the broker's classpath.
const (
	kafkaJar        = "kafka_2.13-4.4.0.jar"
	jmxAgentVersion = "1.0.1"
	jmxAgentJar     = "jmx_prometheus_javaagent-" + jmxAgentVersion + ".jar"
)

// kafkaPart runs one KRaft node (broker and controller) from Maven
// Central's jars, on the env file's first broker address with the
// controller on the next port.
type kafkaPart struct {
	o          *Owner
	host       string
	port       int
	stateDir   string
	jmxPort    int
	heap       string
	properties string // rendered server.properties
}

func newKafka(o *Owner) (*kafkaPart, error) {
	host, port, err := loopbackAddr("kafka.brokers[0]", o.cfg.Spec.KafkaBroker)
	if err != nil {
		return nil, err
	}
	if port == 65535 {
		return nil, errs.InvalidField("kafka.brokers[0]", "port %d leaves no port for the controller (port+1)", port)
	}
	k := &kafkaPart{o: o, host: host, port: port, stateDir: filepath.Join(o.cfg.StateDir, Kafka), jmxPort: o.cfg.KafkaJMXExporter, heap: "512m"}
	props, err := renderServerProperties(k.addr(), k.controllerAddr(), filepath.Join(k.stateDir, "data"))
	if err != nil {
		return nil, err
	}
	k.properties = props
	return k, nil
}

func (k *kafkaPart) name() string { return Kafka }
func (k *kafkaPart) addr() string { return net.JoinHostPort(k.host, strconv.Itoa(k.port)) }
func (k *kafkaPart) controllerAddr() string {
	return net.JoinHostPort(k.host, strconv.Itoa(k.port+1))
}
func (k *kafkaPart) jmxAddr() string { return net.JoinHostPort(k.host, strconv.Itoa(k.jmxPort)) }
func (k *kafkaPart) ports() []string {
	p := []string{k.addr(), k.controllerAddr()}
	if k.jmxPort > 0 {
		p = append(p, k.jmxAddr())
	}
	return p
}
func (k *kafkaPart) dir() string         { return k.stateDir }
func (k *kafkaPart) libDir() string      { return filepath.Join(k.stateDir, "lib") }
func (k *kafkaPart) agentDir() string    { return filepath.Join(k.stateDir, "agent") }
func (k *kafkaPart) propsPath() string   { return filepath.Join(k.stateDir, "server.properties") }
func (k *kafkaPart) marker() string      { return k.propsPath() }
func (k *kafkaPart) jmxConfig() string   { return filepath.Join(k.stateDir, "jmx-exporter.yaml") }
func (k *kafkaPart) formatStamp() string { return filepath.Join(k.stateDir, "data", "meta.properties") }

func (k *kafkaPart) note() string {
	n := "controller " + k.controllerAddr()
	if k.jmxPort > 0 {
		n += "; JMX exporter http://" + k.jmxAddr() + "/metrics"
	}
	return n
}

// renderServerProperties fills the repo's template.
func renderServerProperties(broker, controller, logDir string) (string, error) {
	raw, err := kafkaFiles.ReadFile("kafka/server.properties.tmpl")
	if err != nil {
		return "", err
	}
	t, err := template.New("server.properties").Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, struct{ BrokerAddr, ControllerAddr, LogDir string }{broker, controller, logDir})
	return b.String(), err
}

func (k *kafkaPart) needJars() bool {
	if !fileExists(filepath.Join(k.libDir(), kafkaJar)) {
		return true
	}
	return k.jmxPort > 0 && !fileExists(filepath.Join(k.agentDir(), jmxAgentJar))
}

func (k *kafkaPart) prereqs() []*prereq {
	prs := []*prereq{{
		what:    "java (a JRE, 17 or newer)",
		present: func() bool { _, err := exec.LookPath("java"); return err == nil },
		install: []string{"sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y default-jre-headless"},
		apt:     true,
	}}
	if k.needJars() {
		prs = append(prs, &prereq{
			what:    "mvn (Maven, to fetch the Kafka jars once)",
			present: func() bool { _, err := exec.LookPath("mvn"); return err == nil },
			install: []string{"sh", "-c", "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y maven"},
			apt:     true,
		})
	}
	return prs
}

// prepare fetches the jars once, writes the configs and formats the log
// directory once (again only if the controller's address changed).
func (k *kafkaPart) prepare(ctx context.Context) error {
	for _, f := range []struct{ src, dst string }{
		{"kafka/pom.xml", filepath.Join(k.stateDir, "pom.xml")},
		{"kafka/jmx-exporter.yaml", k.jmxConfig()},
	} {
		b, err := kafkaFiles.ReadFile(f.src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.dst, b, 0o644); err != nil {
			return err
		}
	}
	if !fileExists(filepath.Join(k.libDir(), kafkaJar)) {
		k.o.progress("kafka: fetching the broker's jars with Maven into %s (once)", k.libDir())
		if err := k.mvn(ctx, "-f", filepath.Join(k.stateDir, "pom.xml"), "dependency:copy-dependencies", "-DoutputDirectory="+k.libDir()); err != nil {
			return err
		}
	}
	if k.jmxPort > 0 && !fileExists(filepath.Join(k.agentDir(), jmxAgentJar)) {
		k.o.progress("kafka: fetching the Prometheus JMX exporter agent %s (once)", jmxAgentVersion)
		if err := k.mvn(ctx, "-f", filepath.Join(k.stateDir, "pom.xml"), "dependency:copy",
			"-Dartifact=io.prometheus.jmx:jmx_prometheus_javaagent:"+jmxAgentVersion, "-DoutputDirectory="+k.agentDir()); err != nil {
			return err
		}
	}
	old, _ := os.ReadFile(k.propsPath())
	if err := os.WriteFile(k.propsPath(), []byte(k.properties), 0o644); err != nil {
		return err
	}
	// The standalone format writes the controller's endpoint into the log,
	// so a new address needs a new (empty) log; the data is a testbed's.
	if fileExists(k.formatStamp()) && string(old) != k.properties {
		k.o.progress("kafka: listener addresses changed; formatting a fresh log dir")
		if err := os.RemoveAll(filepath.Join(k.stateDir, "data")); err != nil {
			return err
		}
	}
	if fileExists(k.formatStamp()) {
		return nil
	}
	id, err := kafkaClusterID()
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "java", "-cp", filepath.Join(k.libDir(), "*"), "kafka.tools.StorageTool",
		"format", "--standalone", "-t", id, "-c", k.propsPath()).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kafka storage format: %w\n%s", err, lastLines(string(out), 15))
	}
	return nil
}

func (k *kafkaPart) mvn(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "mvn", append([]string{"-q", "-B"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mvn %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 20))
	}
	return nil
}

// kafkaClusterID is a random Kafka Uuid in its base64 form; like Kafka's
// own, it never starts with '-', which a command line would take for a flag.
func kafkaClusterID() (string, error) {
	for {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		id := base64.RawURLEncoding.EncodeToString(b)
		if !strings.HasPrefix(id, "-") {
			return id, nil
		}
	}
}

func (k *kafkaPart) command() *exec.Cmd {
	args := []string{"-Xmx" + k.heap, "-Xms" + k.heap}
	if k.jmxPort > 0 {
		args = append(args, fmt.Sprintf("-javaagent:%s=%s:%s", filepath.Join(k.agentDir(), jmxAgentJar), k.jmxAddr(), k.jmxConfig()))
	}
	args = append(args, "-cp", filepath.Join(k.libDir(), "*"), "kafka.Kafka", k.propsPath())
	return exec.Command("java", args...)
}

func (k *kafkaPart) start(_ context.Context, log *os.File) (*proc, error) {
	return spawn(k.command(), log)
}

// ready asks the broker for cluster metadata over the Kafka protocol and
// wants itself listed at its advertised address.
func (k *kafkaPart) ready(ctx context.Context) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = "shoplab-deps"
	d := 3 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = max(time.Until(dl), 100*time.Millisecond)
	}
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = d, d, d
	b := sarama.NewBroker(k.addr())
	if err := b.Open(cfg); err != nil {
		return err
	}
	defer b.Close()
	resp, err := b.GetMetadata(&sarama.MetadataRequest{Version: 7})
	if err != nil {
		return err
	}
	for _, m := range resp.Brokers {
		if m.Addr() == k.addr() {
			return nil
		}
	}
	return fmt.Errorf("metadata lists %d brokers, not %s", len(resp.Brokers), k.addr())
}

func (k *kafkaPart) stop(ctx context.Context, pid int) error {
	// A controlled shutdown of one node takes a few seconds.
	return terminate(ctx, pid, 30*time.Second)
}
