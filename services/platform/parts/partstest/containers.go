package partstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/shoplab/shoplab/services/platform/parts"
)

// The images the container fall-back runs: the same parts, at the same
// versions, as `shoplab deps up` (PostgreSQL 15, Apache Kafka 4.4 KRaft,
// moto 5.2 on one thread), so a suite sees the same behaviour from either.
// moto rather than the LocalStack module: LocalStack images after 4.14.0
// need an auth token, and the host parts are moto.
const (
	postgresImage = "postgres:15.8-alpine"
	kafkaImage    = "apache/kafka:4.4.0"
	motoImage     = "motoserver/moto:5.2.1"
)

// dockerProbeTimeout bounds the check for a Docker engine: without one a
// suite must skip at once, never hang.
const dockerProbeTimeout = 5 * time.Second

var (
	dockerOnce sync.Once
	dockerErr  error

	pgC    lazyContainer
	kafkaC lazyContainer
	motoC  lazyContainer

	startedMu sync.Mutex
	started   []testcontainers.Container
)

// dockerHealthy asks testcontainers whether a Docker engine answers, once
// per test binary and within dockerProbeTimeout.
func dockerHealthy() error {
	dockerOnce.Do(func() {
		done := make(chan error, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Errorf("testcontainers: %v", r)
				}
			}()
			p, err := testcontainers.NewDockerProvider()
			if err != nil {
				done <- err
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), dockerProbeTimeout)
			defer cancel()
			done <- p.Health(ctx) // Health closes the provider
		}()
		select {
		case dockerErr = <-done:
		case <-time.After(dockerProbeTimeout):
			dockerErr = fmt.Errorf("no answer within %s", dockerProbeTimeout)
		}
		if dockerErr != nil {
			dockerErr = fmt.Errorf("no healthy Docker engine: %w", dockerErr)
		}
	})
	return dockerErr
}

// lazyContainer starts one container the first time a test asks and hands
// every later test the same address.
type lazyContainer struct {
	once sync.Once
	addr string
	err  error
}

func (l *lazyContainer) get(start func(ctx context.Context) (testcontainers.Container, string, error)) (string, error) {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c, addr, err := start(ctx)
		if c != nil {
			startedMu.Lock()
			started = append(started, c)
			startedMu.Unlock()
		}
		l.addr, l.err = addr, err
	})
	return l.addr, l.err
}

// fromEnvOrContainer returns the value of the SHOPLAB_TEST_* variable, else
// the address of a container started once per test binary, else skips
// saying what is missing.
func fromEnvOrContainer(tb testing.TB, envVar, what string, l *lazyContainer, start func(ctx context.Context) (testcontainers.Container, string, error)) string {
	tb.Helper()
	if v := os.Getenv(envVar); v != "" {
		return v
	}
	if err := dockerHealthy(); err != nil {
		tb.Skipf("no %s: %v and %s unset; run `eval \"$(shoplab deps up --print-env)\"`", what, err, envVar)
	}
	addr, err := l.get(start)
	if err != nil {
		tb.Fatalf("start a %s container: %v", what, err)
	}
	return addr
}

// Main runs a package's tests and then terminates the containers they
// started; without it testcontainers' reaper removes them when the test
// binary exits. Use as: func TestMain(m *testing.M) { partstest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	Terminate()
	os.Exit(code)
}

// Terminate stops every container this package started.
func Terminate() {
	startedMu.Lock()
	defer startedMu.Unlock()
	var errs []error
	for _, c := range started {
		errs = append(errs, testcontainers.TerminateContainer(c))
	}
	started = nil
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "partstest: terminate containers:", err)
	}
}

func startPostgres(ctx context.Context) (testcontainers.Container, string, error) {
	c, err := tcpostgres.Run(ctx, postgresImage,
		tcpostgres.WithUsername("postgres"), tcpostgres.WithPassword("postgres"), tcpostgres.WithDatabase("postgres"),
		tcpostgres.BasicWaitStrategies())
	if err != nil {
		return c, "", err
	}
	dsn, err := c.ConnectionString(ctx, "sslmode=disable")
	return c, dsn, err
}

// startKafka runs one KRaft node. A client must reach it at the address it
// advertises, which must be known before the start, so the host port is
// picked here and bound to the container's listener.
func startKafka(ctx context.Context) (testcontainers.Container, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c, err := testcontainers.Run(ctx, kafkaImage,
		testcontainers.WithExposedPorts(fmt.Sprintf("%d:9092/tcp", port)),
		testcontainers.WithEnv(map[string]string{
			"KAFKA_NODE_ID":                                  "1",
			"KAFKA_PROCESS_ROLES":                            "broker,controller",
			"KAFKA_LISTENERS":                                "PLAINTEXT://:9092,CONTROLLER://:9093",
			"KAFKA_ADVERTISED_LISTENERS":                     "PLAINTEXT://" + addr,
			"KAFKA_CONTROLLER_LISTENER_NAMES":                "CONTROLLER",
			"KAFKA_LISTENER_SECURITY_PROTOCOL_MAP":           "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"KAFKA_CONTROLLER_QUORUM_VOTERS":                 "1@localhost:9093",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR":         "1",
			"KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
			"KAFKA_TRANSACTION_STATE_LOG_MIN_ISR":            "1",
			"KAFKA_AUTO_CREATE_TOPICS_ENABLE":                "false",
			"KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS":         "0",
		}),
		testcontainers.WithWaitStrategyAndDeadline(2*time.Minute, wait.ForLog("Kafka Server started")))
	if err != nil {
		return c, "", err
	}
	return c, addr, nil
}

// startMoto runs moto on one thread, as `shoplab deps up` does, so
// conditional writes are atomic in both.
func startMoto(ctx context.Context) (testcontainers.Container, string, error) {
	c, err := testcontainers.Run(ctx, motoImage,
		testcontainers.WithExposedPorts("5000/tcp"),
		testcontainers.WithEntrypoint("python3", "-c", parts.MotoSerialLauncher, "0.0.0.0", "5000"),
		testcontainers.WithWaitStrategyAndDeadline(time.Minute, wait.ForHTTP("/moto-api/").WithPort("5000/tcp")))
	if err != nil {
		return c, "", err
	}
	ep, err := c.PortEndpoint(ctx, "5000/tcp", "http")
	return c, ep, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
