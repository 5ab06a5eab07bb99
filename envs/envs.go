// Package envs reads the environment files in this directory (local, host,
// compose, aws-dev, aws-prod): where each part of the platform runs and
// what the parts are called. The files are embedded, so the binary knows an
// env by its name; a path loads any other file with the same rules.
//
// An env file holds addresses, names, sizes and choices, never secrets: the
// PostgreSQL password comes from PGPASSWORD (read by the CLI), AWS
// credentials from the standard chain. The names here (topics, tables,
// bucket, sender, databases) are the project's one source of truth; the
// Terraform and compose tests compare theirs against them.
package envs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/sim/scenario/spec"
)

//go:embed *.yaml
var files embed.FS

//go:embed schema.json
var schemaJSON []byte

// SchemaID is the $id of schema.json.
const SchemaID = "https://github.com/shoplab/shoplab/envs/schema.json"

// Shipped env names.
const (
	Local   = "local"
	Host    = "host"
	Compose = "compose"
	AWSDev  = "aws-dev"
	AWSProd = "aws-prod"
)

// Store choices.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
	StoreDynamoDB = "dynamodb"
	StoreEmbedded = "embedded"
	StoreS3       = "s3"
	StoreMailbox  = "mailbox"
	StoreSES      = "ses"
)

// Env is one environment file.
type Env struct {
	Name         string    `yaml:"name" spec:"required"`
	Kafka        Kafka     `yaml:"kafka" spec:"required"`
	Postgres     *Postgres `yaml:"postgres"`
	Stores       Stores    `yaml:"stores" spec:"required"`
	AWS          AWS       `yaml:"aws" spec:"required"`
	Analytics    Analytics `yaml:"analytics" spec:"required"`
	Faults       string    `yaml:"faults" spec:"required"` // embedded, toxiproxy or none
	ToxiproxyAPI string    `yaml:"toxiproxy_api"`          // the toxiproxy HTTP API when faults: toxiproxy
	// ScenarioMaxRate caps a scenario's arrival rate on this env
	// (iterations/s; 0 = no cap): a run whose load peaks higher is scaled
	// down as a whole (spec.Scenario.CapRate), because the env's parts
	// cannot serve more, not because the scenario asks less.
	ScenarioMaxRate float64 `yaml:"scenario_max_rate"`
	// ScenarioLatencyFactor multiplies a scenario's latency bounds on this
	// env (0 or 1 = as written; spec.Scenario.ScaleLatency): emulated parts
	// on a shared machine have a tail the platform does not, and a budget
	// written for the platform should not judge the emulator. Error
	// budgets and invariants are never scaled.
	ScenarioLatencyFactor float64 `yaml:"scenario_latency_factor"`
	File                  string  `yaml:"-"` // where it was loaded from ("envs/host.yaml")
}

// Kafka is the broker side of an env.
type Kafka struct {
	Embedded     bool     `yaml:"embedded"`      // kfake in-process
	Brokers      []string `yaml:"brokers"`       // bootstrap brokers host:port
	CreateTopics bool     `yaml:"create_topics"` // create Topics at start (existing = fine)
	TLS          bool     `yaml:"tls"`
	SASL         string   `yaml:"sasl"` // "" or aws_msk_iam
	Topics       Topics   `yaml:"topics" spec:"required"`
}

// Topics are the env's topics, by role.
type Topics struct {
	Orders           Topic `yaml:"orders" spec:"required"`
	AnalyticsResults Topic `yaml:"analytics_results" spec:"required"`
	OrdersDLQ        Topic `yaml:"orders_dlq" spec:"required"`
}

// All lists the topics in a fixed order.
func (t Topics) All() []Topic { return []Topic{t.Orders, t.AnalyticsResults, t.OrdersDLQ} }

// Topic is one topic and its size.
type Topic struct {
	Name        string `yaml:"name" spec:"required"`
	Partitions  int    `yaml:"partitions" spec:"required"`
	Replication int    `yaml:"replication" spec:"required"`
}

// Postgres is the relational store (the RDS role).
type Postgres struct {
	Address          string        `yaml:"address" spec:"required"`
	User             string        `yaml:"user" spec:"required"`
	SSLMode          string        `yaml:"sslmode" spec:"required"`
	CreateDatabases  bool          `yaml:"create_databases"`
	Databases        Databases     `yaml:"databases" spec:"required"`
	Pool             Pool          `yaml:"pool"`
	StatementTimeout spec.Duration `yaml:"statement_timeout"`
	ConnectTimeout   spec.Duration `yaml:"connect_timeout"`
}

// Databases names each relational unit's database.
type Databases struct {
	User    string `yaml:"user" spec:"required"`
	Order   string `yaml:"order" spec:"required"`
	Payment string `yaml:"payment" spec:"required"`
}

// For returns the database of unit ("" for a unit without one).
func (d Databases) For(unit string) string {
	switch unit {
	case "user":
		return d.User
	case "order":
		return d.Order
	case "payment":
		return d.Payment
	}
	return ""
}

// Pool sizes each unit's connection pool.
type Pool struct {
	MaxConns int `yaml:"max_conns"`
	MinConns int `yaml:"min_conns"`
}

// Stores picks the adapter behind each port.
type Stores struct {
	Relational string `yaml:"relational" spec:"required"` // sqlite | postgres
	Catalog    string `yaml:"catalog" spec:"required"`    // sqlite | dynamodb
	Dedup      string `yaml:"dedup" spec:"required"`      // sqlite | dynamodb
	Objects    string `yaml:"objects" spec:"required"`    // embedded | s3
	Email      string `yaml:"email" spec:"required"`      // mailbox | ses
}

// AWS is the AWS API side (real AWS or an emulator at Endpoint).
type AWS struct {
	Region          string   `yaml:"region" spec:"required"`
	Endpoint        string   `yaml:"endpoint"` // "" means the real AWS
	CreateResources bool     `yaml:"create_resources"`
	DynamoDB        DynamoDB `yaml:"dynamodb"`
	S3              S3Names  `yaml:"s3" spec:"required"`
	SES             SESNames `yaml:"ses" spec:"required"`
}

// DynamoDB names the tables.
type DynamoDB struct {
	ProductsTable string `yaml:"products_table"`
	DedupTable    string `yaml:"dedup_table"`
}

// S3Names names the bucket.
type S3Names struct {
	AnalyticsBucket string `yaml:"analytics_bucket" spec:"required"`
}

// SESNames names the email sender.
type SESNames struct {
	Sender string `yaml:"sender" spec:"required"`
}

// Analytics engines.
const (
	EngineGo    = "go"
	EngineFlink = "flink"
)

// DefaultLateTopic is where the Flink job writes its late events when the
// env names no other topic.
const DefaultLateTopic = "analytics-late"

// Analytics picks the stream engine.
type Analytics struct {
	Engine string        `yaml:"engine" spec:"required"` // go | flink
	Window spec.Duration `yaml:"window"`
	// LateTopic is the Flink job's side output of late events (the reader
	// of analytics-results attaches them to windows); default analytics-late.
	LateTopic string `yaml:"late_topic"`
}

// LateTopicName is the late topic, defaulted.
func (a Analytics) LateTopicName() string {
	if a.LateTopic == "" {
		return DefaultLateTopic
	}
	return a.LateTopic
}

// IsLocal reports whether e is the all-embedded env (or nil).
func (e *Env) IsLocal() bool {
	return e == nil || e.Kafka.Embedded && e.Stores.Relational == StoreSQLite && e.Stores.Catalog == StoreSQLite &&
		e.Stores.Dedup == StoreSQLite && e.Stores.Objects == StoreEmbedded && e.Stores.Email == StoreMailbox
}

// Names lists the shipped envs.
func Names() []string {
	ents, _ := fs.Glob(files, "*.yaml")
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e, ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Load returns the shipped env called nameOrPath, or reads the file at
// nameOrPath when it has a path separator or a .yaml/.yml/.json suffix.
// Every problem is reported as file:line: field: message.
func Load(nameOrPath string) (*Env, error) {
	if nameOrPath == "" {
		nameOrPath = Local
	}
	if !strings.ContainsAny(nameOrPath, `/\`) && filepath.Ext(nameOrPath) == "" {
		data, err := files.ReadFile(nameOrPath + ".yaml")
		if err != nil {
			return nil, errs.E(errs.NotFound, "no env %q (shipped: %s; or give a file path)", nameOrPath, strings.Join(Names(), ", "))
		}
		return Parse("envs/"+nameOrPath+".yaml", data)
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Wrap(errs.NotFound, err, "no env file %s", nameOrPath)
		}
		return nil, errs.Wrap(errs.Internal, err, "read env file %s", nameOrPath)
	}
	return Parse(nameOrPath, data)
}

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) { return spec.CompileSchema(SchemaID, schemaJSON) })

// Schema returns the JSON Schema of an env file.
func Schema() []byte { return slices.Clone(schemaJSON) }

// Parse reads an env file's bytes; file labels its problems.
func Parse(file string, data []byte) (*Env, error) {
	sch, err := compiled()
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "env schema")
	}
	var e Env
	if err := spec.DecodeStrict(file, data, sch, &e, e.validate); err != nil {
		return nil, err
	}
	e.File = file
	return &e, nil
}

// validate holds the rules the schema cannot say.
func (e *Env) validate() []spec.Problem {
	var ps []spec.Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, spec.Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	k := e.Kafka
	switch {
	case k.Embedded && len(k.Brokers) > 0:
		add("kafka.brokers", "must be empty when kafka.embedded is true")
	case !k.Embedded && len(k.Brokers) == 0:
		add("kafka.brokers", "required unless kafka.embedded is true")
	}
	for i, b := range k.Brokers {
		if err := checkHostPort(b); err != nil {
			add(fmt.Sprintf("kafka.brokers[%d]", i), "%v", err)
		}
	}
	want := map[string]string{"orders": events.TopicOrders, "analytics_results": events.TopicAnalyticsResults, "orders_dlq": events.TopicOrdersDLQ}
	for role, t := range map[string]Topic{"orders": k.Topics.Orders, "analytics_results": k.Topics.AnalyticsResults, "orders_dlq": k.Topics.OrdersDLQ} {
		if t.Name != want[role] {
			add("kafka.topics."+role+".name", "must be %q: the units publish and consume that topic", want[role])
		}
	}
	if e.Analytics.Engine == EngineFlink && k.Embedded {
		add("analytics.engine", "flink needs a real Kafka broker: the job runs in its own JVM and cannot reach the embedded one (set kafka.brokers, or use engine go)")
	}
	if lt := e.Analytics.LateTopic; lt != "" {
		for role, t := range map[string]Topic{"orders": k.Topics.Orders, "analytics_results": k.Topics.AnalyticsResults, "orders_dlq": k.Topics.OrdersDLQ} {
			if t.Name == lt {
				add("analytics.late_topic", "%q is already kafka.topics.%s", lt, role)
			}
		}
	}
	if e.Stores.Relational == StorePostgres && e.Postgres == nil {
		add("postgres", "required when stores.relational is postgres")
	}
	if p := e.Postgres; p != nil {
		if err := checkHostPort(p.Address); err != nil {
			add("postgres.address", "%v", err)
		}
		if p.Pool.MinConns > p.Pool.MaxConns && p.Pool.MaxConns > 0 {
			add("postgres.pool.min_conns", "%d is more than max_conns %d", p.Pool.MinConns, p.Pool.MaxConns)
		}
	}
	if e.AWS.Endpoint != "" {
		if u, err := url.Parse(e.AWS.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("aws.endpoint", "%q is not an http(s) URL such as http://127.0.0.1:15000", e.AWS.Endpoint)
		} else if err := checkHostPort(u.Host); err != nil {
			add("aws.endpoint", "%v", err)
		}
	}
	if e.Stores.Catalog == StoreDynamoDB && e.AWS.DynamoDB.ProductsTable == "" {
		add("aws.dynamodb.products_table", "required when stores.catalog is dynamodb")
	}
	if e.Stores.Dedup == StoreDynamoDB && e.AWS.DynamoDB.DedupTable == "" {
		add("aws.dynamodb.dedup_table", "required when stores.dedup is dynamodb")
	}
	if e.Faults == "toxiproxy" && e.ToxiproxyAPI == "" {
		add("toxiproxy_api", "required when faults is toxiproxy")
	}
	return ps
}

// checkHostPort accepts host:port with a port in 1..65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not a host:port address", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be 1-65535", s)
	}
	return nil
}

// Where names a field of the env for a message: "envs/host.yaml: postgres.address 127.0.0.1:15432".
func (e *Env) Where(field, value string) string {
	f := e.File
	if f == "" {
		f = "env " + e.Name
	}
	return fmt.Sprintf("%s: %s %s", f, field, value)
}

// DSN is the PostgreSQL URL of unit's database; password comes from the
// caller (PGPASSWORD), never the file. database "" gives the maintenance
// database "postgres".
func (p *Postgres) DSN(database, password string) string {
	if database == "" {
		database = "postgres"
	}
	u := url.URL{Scheme: "postgres", Host: p.Address, Path: "/" + database}
	if password != "" {
		u.User = url.UserPassword(p.User, password)
	} else {
		u.User = url.User(p.User)
	}
	q := url.Values{}
	q.Set("sslmode", p.SSLMode)
	if t := p.ConnectTimeout.Std(); t > 0 {
		q.Set("connect_timeout", strconv.Itoa(max(1, int(t/time.Second))))
	}
	u.RawQuery = q.Encode()
	return u.String()
}
