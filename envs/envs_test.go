package envs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

func TestEveryShippedEnvLoads(t *testing.T) {
	names := Names()
	for _, want := range []string{Local, Host, Compose, AWSDev, AWSProd} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Fatalf("Names() = %v, missing %s", names, want)
		}
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			e, err := Load(n)
			if err != nil {
				t.Fatal(err)
			}
			if e.Name != n {
				t.Errorf("name: %q in envs/%s.yaml", e.Name, n)
			}
			top := e.Kafka.Topics
			if top.Orders.Name != events.TopicOrders || top.AnalyticsResults.Name != events.TopicAnalyticsResults || top.OrdersDLQ.Name != events.TopicOrdersDLQ {
				t.Errorf("topics %+v differ from services/api/events", top)
			}
			if e.AWS.S3.AnalyticsBucket == "" || e.AWS.SES.Sender == "" {
				t.Errorf("bucket %q, sender %q", e.AWS.S3.AnalyticsBucket, e.AWS.SES.Sender)
			}
			// The same file read from disk gives the same env.
			d, err := Load(filepath.Join(".", n+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			d.File = e.File
			if d.Name != e.Name || d.AWS != e.AWS {
				t.Errorf("disk %+v != embedded %+v", d, e)
			}
		})
	}
	if !mustLoad(t, Local).IsLocal() || mustLoad(t, Host).IsLocal() {
		t.Error("IsLocal: local must be local, host must not")
	}
}

func TestHostNames(t *testing.T) {
	e := mustLoad(t, Host)
	if e.Postgres.Address != "127.0.0.1:15432" || e.Postgres.Databases.For("order") != "shoplab_order" {
		t.Errorf("postgres %+v", e.Postgres)
	}
	if got := e.Postgres.DSN("shoplab_order", ""); got != "postgres://shoplab@127.0.0.1:15432/shoplab_order?connect_timeout=3&sslmode=disable" {
		t.Errorf("DSN = %s", got)
	}
	if got := e.Postgres.DSN("", "s3cret"); !strings.Contains(got, "shoplab:s3cret@") || !strings.Contains(got, "/postgres?") {
		t.Errorf("DSN with password = %s", got)
	}
	if e.AWS.DynamoDB.ProductsTable != "shoplab-products" || e.Kafka.Brokers[0] != "127.0.0.1:19092" || e.Postgres.StatementTimeout.Std().Seconds() != 5 {
		t.Errorf("host %+v", e)
	}
}

func TestUnknownName(t *testing.T) {
	_, err := Load("hots")
	if err == nil || !strings.Contains(err.Error(), `no env "hots"`) || !strings.Contains(err.Error(), "host") {
		t.Fatalf("err = %v", err)
	}
}

// bad edits host.yaml: it replaces the line starting with old (after its
// indent) by repl, so each case is the shipped file with one mistake.
func bad(t *testing.T, old, repl string) string {
	t.Helper()
	data, err := os.ReadFile("host.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimLeft(l, " "), old) {
			indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
			lines[i] = indent + repl
			return strings.Join(lines, "\n")
		}
	}
	t.Fatalf("no line %q in host.yaml", old)
	return ""
}

func lineOf(t *testing.T, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q", prefix)
	return 0
}

func TestBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name, old, repl, at, want string
	}{
		{"unknown field", "sslmode:", "sslmod: disable", "sslmod:", `postgres.sslmod: unknown field "sslmod" (did you mean "sslmode"?)`},
		{"wrong type", "create_databases:", "create_databases: yes please", "create_databases:", "postgres.create_databases: must be"},
		{"bad address", "address: 127.0.0.1:15432", "address: 127.0.0.1", "address:", `postgres.address: `},
		{"bad port", "address: 127.0.0.1:15432", "address: 127.0.0.1:99999", "address:", `postgres.address: "127.0.0.1:99999": port must be 1-65535`},
		{"bad broker", "brokers:", "brokers: [localhost]", "brokers:", "kafka.brokers[0]: "},
		{"wrong topic", "orders: {name: orders,", "orders: {name: order, partitions: 3, replication: 1}", "orders: {name: order", `kafka.topics.orders.name: must be "orders"`},
		{"bad endpoint", "endpoint:", "endpoint: 127.0.0.1:15000", "endpoint:", "aws.endpoint: "},
		{"bad duration", "statement_timeout:", "statement_timeout: 5", "statement_timeout:", "postgres.statement_timeout: must be a duration"},
		{"bad store", "relational:", "relational: mysql", "relational:", `stores.relational: "mysql" is not one of`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := bad(t, tc.old, tc.repl)
			_, err := Parse("bad.yaml", []byte(text))
			var se *spec.Error
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *spec.Error", err)
			}
			want := "bad.yaml:" + itoa(lineOf(t, text, tc.at)) + ": " + tc.want
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err =\n%v\nwant a line starting\n%s", err, want)
			}
		})
	}
}

func TestMissingRequired(t *testing.T) {
	data, _ := os.ReadFile("host.yaml")
	text := strings.Replace(string(data), "  user: shoplab\n", "", 1)
	_, err := Parse("bad.yaml", []byte(text))
	want := "bad.yaml:" + itoa(lineOf(t, text, "address: 127")) + ": postgres.user: required"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	_, err = Parse("empty.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "empty.yaml:1: empty file") {
		t.Fatalf("empty: %v", err)
	}
}

func TestSchemaCopyIsValidJSONSchema(t *testing.T) {
	if _, err := spec.CompileSchema(SchemaID, Schema()); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustLoad(t *testing.T, name string) *Env {
	t.Helper()
	e, err := Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
