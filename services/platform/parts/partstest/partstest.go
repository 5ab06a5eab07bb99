// Package partstest hands a test suite the real parts it runs on (a
// PostgreSQL database, an AWS API endpoint, Kafka brokers) without the
// suite knowing where they came from: the addresses of running `host`
// parts given in SHOPLAB_TEST_* variables (what `shoplab deps up` prints
// and .ci/run exports), else containers through testcontainers-go where a
// Docker engine is healthy, else a skip that says what is missing.
package partstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The variables that name running parts.
const (
	EnvPostgresDSN = "SHOPLAB_TEST_POSTGRES_DSN"  // an admin DSN: each test gets a database of its own
	EnvAWSEndpoint = "SHOPLAB_TEST_AWS_ENDPOINT"  // an AWS API emulator (moto_server), e.g. http://127.0.0.1:5000
	EnvKafka       = "SHOPLAB_TEST_KAFKA_BROKERS" // comma-separated bootstrap brokers of a real Kafka
	EnvKafkaJMX    = "SHOPLAB_TEST_KAFKA_JMX"     // host:port of that broker's Prometheus JMX exporter (deps up --kafka-jmx-exporter)
)

// AWSRegion is the region every emulator-backed test uses.
const AWSRegion = "us-east-1"

// Postgres returns the DSN of a fresh, empty database that is dropped when
// the test ends.
func Postgres(tb testing.TB) string {
	tb.Helper()
	admin := fromEnvOrContainer(tb, EnvPostgresDSN, "PostgreSQL", &pgC, startPostgres)
	name := "t_" + UniqueName("")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to %s=%s: %v", EnvPostgresDSN, admin, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("%s is not a URL DSN: %v", EnvPostgresDSN, err)
	}
	u.Path = "/" + name
	return u.String()
}

// AWSEndpoint returns the base URL of an AWS API emulator. Tests name
// their tables, buckets and senders with UniqueName so they never meet.
func AWSEndpoint(tb testing.TB) string {
	tb.Helper()
	return fromEnvOrContainer(tb, EnvAWSEndpoint, "AWS API emulator", &motoC, startMoto)
}

// KafkaBrokers returns the bootstrap brokers of a real Kafka. Tests create
// their own topics named with UniqueName.
func KafkaBrokers(tb testing.TB) []string {
	tb.Helper()
	return strings.Split(fromEnvOrContainer(tb, EnvKafka, "Kafka broker", &kafkaC, startKafka), ",")
}

// UniqueName returns prefix followed by 12 random hex digits.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%s", prefix, hex.EncodeToString(b))
}
