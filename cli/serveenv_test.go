package cli

import (
	"context"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

// The host env fills what the command line leaves unset; a flag given
// explicitly wins.
func TestServeEnvFillsUnsetFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	fs.StringVar(&f.env, "env", "local", "")
	fs.StringVar(&f.kafkaBrokers, "kafka-brokers", "localhost:9092", "")
	fs.StringVar(&f.databaseURL, "database-url", "", "")
	fs.StringVar(&f.dynamoDBTable, "dynamodb-table", "", "")
	fs.StringVar(&f.awsEndpoint, "aws-endpoint", "", "")
	if err := fs.Parse([]string{"--env", "host", "--aws-endpoint", "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	e, err := applyServeEnv("order", fs, &f, "")
	if err != nil || e == nil {
		t.Fatalf("applyServeEnv: %v (env %v)", err, e)
	}
	if f.kafkaBrokers != strings.Join(e.Kafka.Brokers, ",") {
		t.Errorf("kafka brokers %q, want the env's %v", f.kafkaBrokers, e.Kafka.Brokers)
	}
	if want := e.Postgres.DSN(e.Postgres.Databases.Order, ""); f.databaseURL != want {
		t.Errorf("database url %q, want %q", f.databaseURL, want)
	}
	if f.dynamoDBTable != e.AWS.DynamoDB.ProductsTable {
		t.Errorf("dynamodb table %q, want %q", f.dynamoDBTable, e.AWS.DynamoDB.ProductsTable)
	}
	if f.awsEndpoint != "http://127.0.0.1:1" {
		t.Errorf("the explicit --aws-endpoint was overwritten: %q", f.awsEndpoint)
	}
}

// `serve user --env FILE` runs the user unit on the env's PostgreSQL,
// creating its database first.
func TestServeUserOnPostgresEnv(t *testing.T) {
	dsn := partstest.Postgres(t) // skips, saying why, without a PostgreSQL
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../envs/host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := partstest.UniqueName("serve_user_")
	text := strings.Replace(string(raw), "address: 127.0.0.1:15432", "address: "+u.Host, 1)
	text = strings.Replace(text, "user: shoplab_user,", "user: "+db+",", 1)
	path := filepath.Join(t.TempDir(), "env.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	grpcAddr, opsAddr := freeAddr(t), freeAddr(t)
	stop := serveUntilReady(t, func(string) (string, bool) { return "", false }, opsAddr,
		"user", "--env", path, "--grpc-addr", grpcAddr, "--ops-addr", opsAddr, "--log-level", "error")
	stop()
	admin := os.Getenv(partstest.EnvPostgresDSN)
	conn, err := pgx.Connect(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil || !exists {
		t.Errorf("database %s of the env file: exists=%v err=%v", db, exists, err)
	}
	if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("drop %s: %v", db, err)
	}
}
