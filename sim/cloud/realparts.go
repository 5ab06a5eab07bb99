package cloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// Edge names of the real parts: each unit reaches them through its own
// proxy, "<unit>->postgres", "<unit>->aws" and "<unit>->kafka" (for a
// cluster, "<unit>->kafka-<broker id>" for every broker but the first).
const (
	EdgePostgres = "postgres"
	EdgeAWS      = "aws"
	EdgeKafka    = "kafka"
)

// AWSWiring is the optional Wiring capability that puts faults into the AWS
// SDK's HTTP transport (the chaos engine's aws_error).
type AWSWiring interface {
	AWSHTTPClient(unit string) aws.HTTPClient
}

// PGWiring is the optional Wiring capability that traces a unit's
// PostgreSQL statements (the chaos engine's storage_latency).
type PGWiring interface {
	PGTracer(unit string) pgx.QueryTracer
}

// kafkaRoute is one broker and the edge that carries a unit's connections
// to it: the addresses clients may dial for it (bootstrap and advertised)
// all go to that edge's proxy.
type kafkaRoute struct {
	to       string   // edge target: "kafka", "kafka-2", ...
	upstream string   // the broker's advertised address
	addrs    []string // addresses a client may dial for this broker
}

// PartError is a real part that cannot be reached at start: the env file's
// field, the address, and what went wrong.
type PartError struct {
	Env   *envs.Env
	Field string // "postgres.address", "kafka.brokers[0]", "aws.endpoint"
	Addr  string
	Err   error
}

func (e *PartError) Error() string {
	msg := e.Env.Where(e.Field, e.Addr) + ": " + shortNetErr(e.Err)
	if e.Env.Name == envs.Host {
		msg += "; run shoplab deps up"
	}
	return msg
}

func (e *PartError) Unwrap() error { return e.Err }

// shortNetErr keeps the words that matter of a dial error.
func shortNetErr(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "no answer within the connect timeout"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "cannot resolve " + dns.Name
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connectTimeout bounds every start-up check of a real part.
func (c *Cloud) connectTimeout() time.Duration {
	if p := c.cfg.Env.Postgres; p != nil && p.ConnectTimeout.Std() > 0 {
		return p.ConnectTimeout.Std()
	}
	return 3 * time.Second
}

// preflight dials every address of the env once, so that a wrong or dead
// address fails the start within seconds, naming the field.
func (c *Cloud) preflight(ctx context.Context) error {
	e := c.cfg.Env
	type check struct{ field, addr string }
	var checks []check
	if !e.Kafka.Embedded {
		for i, b := range e.Kafka.Brokers {
			checks = append(checks, check{fmt.Sprintf("kafka.brokers[%d]", i), b})
		}
	}
	if e.Stores.Relational == envs.StorePostgres {
		checks = append(checks, check{"postgres.address", e.Postgres.Address})
	}
	if c.usesAWS() && e.AWS.Endpoint != "" {
		u, _ := url.Parse(e.AWS.Endpoint) // validated by envs
		checks = append(checks, check{"aws.endpoint", hostPort(u)})
	}
	d := net.Dialer{Timeout: c.connectTimeout()}
	for _, ch := range checks {
		conn, err := d.DialContext(ctx, "tcp", ch.addr)
		if err != nil {
			return &PartError{Env: e, Field: ch.field, Addr: ch.addr, Err: err}
		}
		_ = conn.Close()
	}
	if e.Kafka.TLS || e.Kafka.SASL != "" {
		return fmt.Errorf("%s: kafka.tls and kafka.sasl are not supported by the in-process env; run the units with shoplab serve in that env's cluster", e.Where("kafka", "brokers"))
	}
	return nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Hostname() + ":443"
	}
	return u.Hostname() + ":80"
}

func (c *Cloud) usesAWS() bool {
	s := c.cfg.Env.Stores
	return s.Catalog == envs.StoreDynamoDB || s.Dedup == envs.StoreDynamoDB || s.Objects == envs.StoreS3 || s.Email == envs.StoreSES
}

// startRealKafka creates the env's topics (an existing one is fine) before
// any producer starts, waits until every partition has a leader, and
// records the brokers the cluster advertises.
func (c *Cloud) startRealKafka(ctx context.Context) error {
	e := c.cfg.Env
	cfg := kafkax.ConsumerConfig("shoplab-admin")
	cfg.Net.DialTimeout = c.connectTimeout()
	cfg.Metadata.Retry.Max = 1
	client, err := sarama.NewClient(e.Kafka.Brokers, cfg)
	if err != nil {
		return &PartError{Env: e, Field: "kafka.brokers", Addr: fmt.Sprint(e.Kafka.Brokers), Err: err}
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return &PartError{Env: e, Field: "kafka.brokers", Addr: fmt.Sprint(e.Kafka.Brokers), Err: err}
	}
	existing, err := admin.ListTopics()
	if err != nil {
		return &PartError{Env: e, Field: "kafka.brokers", Addr: fmt.Sprint(e.Kafka.Brokers), Err: err}
	}
	roles := []string{"orders", "analytics_results", "orders_dlq"}
	for i, t := range e.Kafka.Topics.All() {
		field := "kafka.topics." + roles[i] + ".name"
		if _, ok := existing[t.Name]; ok {
			continue
		}
		if !e.Kafka.CreateTopics {
			return fmt.Errorf("%s: no such topic on %v and kafka.create_topics is false", e.Where(field, t.Name), e.Kafka.Brokers)
		}
		err := admin.CreateTopic(t.Name, &sarama.TopicDetail{NumPartitions: int32(t.Partitions), ReplicationFactor: int16(t.Replication)}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("%s: create on %v: %w", e.Where(field, t.Name), e.Kafka.Brokers, err)
		}
	}
	// The first produce to a new topic may see NOT_LEADER until the
	// controller has elected leaders: wait for them here instead.
	deadline := time.Now().Add(15 * time.Second)
	for _, t := range e.Kafka.Topics.All() {
		for {
			err := leadersReady(client, t.Name)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: partitions have no leader after 15s: %w", e.Where("kafka.topics", t.Name), err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	brokers := client.Brokers()
	sort.Slice(brokers, func(i, j int) bool { return brokers[i].ID() < brokers[j].ID() })
	c.kafkaAddrs = e.Kafka.Brokers
	c.kafkaRoutes = nil
	for i, b := range brokers {
		to := EdgeKafka
		if i > 0 {
			to = EdgeKafka + "-" + strconv.Itoa(int(b.ID()))
		}
		c.kafkaRoutes = append(c.kafkaRoutes, kafkaRoute{to: to, upstream: b.Addr(), addrs: []string{b.Addr()}})
	}
	if len(c.kafkaRoutes) == 0 {
		return fmt.Errorf("%s: the cluster lists no brokers", e.Where("kafka.brokers", fmt.Sprint(e.Kafka.Brokers)))
	}
	// A bootstrap address that is not what a broker advertises (a DNS
	// name, a load balancer) still goes through an edge: the first's.
	for _, bs := range e.Kafka.Brokers {
		if !c.routed(bs) {
			c.kafkaRoutes[0].addrs = append(c.kafkaRoutes[0].addrs, bs)
		}
	}
	if c.ownDir || c.cfg.RunID != "" {
		// A fresh env gets fresh consumer groups that start at the end of
		// the shared topics: what earlier runs left there is not this
		// run's, and would count as emails and sales for unknown orders.
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.groupSuffix = "-" + hex.EncodeToString(b[:])
		if c.cfg.RunID != "" {
			c.groupSuffix = "-" + c.cfg.RunID
		}
		for _, g := range []string{Notification, Analytics} {
			if err := commitAtEnd(ctx, client, admin, g+c.groupSuffix, e.Kafka.Topics.Orders.Name); err != nil {
				return fmt.Errorf("kafka: start group %s at the end of %s: %w", g+c.groupSuffix, e.Kafka.Topics.Orders.Name, err)
			}
		}
	}
	return nil
}

func (c *Cloud) routed(addr string) bool {
	for _, r := range c.kafkaRoutes {
		for _, a := range r.addrs {
			if a == addr {
				return true
			}
		}
	}
	return false
}

func leadersReady(client sarama.Client, topic string) error {
	if err := client.RefreshMetadata(topic); err != nil {
		return err
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return err
	}
	if len(parts) == 0 {
		return fmt.Errorf("no partitions yet")
	}
	for _, p := range parts {
		if _, err := client.Leader(topic, p); err != nil {
			return fmt.Errorf("partition %d: %w", p, err)
		}
	}
	return nil
}

// commitAtEnd commits group's offsets at the current end of every
// partition of topic, and reads them back. A broker that has just started
// may not coordinate groups yet (its offsets topic is being created): it
// retries for up to 20 s.
func commitAtEnd(ctx context.Context, client sarama.Client, admin sarama.ClusterAdmin, group, topic string) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := tryCommitAtEnd(client, admin, group, topic)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		_ = client.RefreshCoordinator(group)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func tryCommitAtEnd(client sarama.Client, admin sarama.ClusterAdmin, group, topic string) error {
	parts, err := client.Partitions(topic)
	if err != nil {
		return err
	}
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		return err
	}
	defer om.Close()
	want := map[int32]int64{}
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return err
		}
		pom, err := om.ManagePartition(topic, p)
		if err != nil {
			return err
		}
		pom.MarkOffset(end, "")
		want[p] = end
		pom.AsyncClose()
	}
	om.Commit()
	got, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		return err
	}
	for p, end := range want {
		b := got.GetBlock(topic, p)
		if b == nil || b.Err != sarama.ErrNoError || b.Offset != end {
			return fmt.Errorf("partition %d: offset not committed yet", p)
		}
	}
	return nil
}

// createDatabases makes the relational units' databases exist (when the
// env asks for it) and checks that each answers.
func (c *Cloud) createDatabases(ctx context.Context) error {
	p := c.cfg.Env.Postgres
	ctx, cancel := context.WithTimeout(ctx, 3*c.connectTimeout())
	defer cancel()
	if c.cfg.Env.Postgres.CreateDatabases {
		conn, err := pgx.Connect(ctx, p.DSN("", c.cfg.PGPassword))
		if err != nil {
			return &PartError{Env: c.cfg.Env, Field: "postgres.address", Addr: p.Address, Err: err}
		}
		defer conn.Close(context.WithoutCancel(ctx))
		for _, unit := range []string{User, Order, Payment} {
			db := p.Databases.For(unit)
			_, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
			var pe *pgconn.PgError
			if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // duplicate_database
				return fmt.Errorf("%s: create: %w", c.cfg.Env.Where("postgres.databases."+unit, db), err)
			}
		}
	}
	for _, unit := range []string{User, Order, Payment} {
		db := p.Databases.For(unit)
		conn, err := pgx.Connect(ctx, p.DSN(db, c.cfg.PGPassword))
		if err != nil {
			return fmt.Errorf("%s: %w", c.cfg.Env.Where("postgres.databases."+unit, db), err)
		}
		_ = conn.Close(ctx)
	}
	return nil
}

// pgEdge returns unit's DSN and a dialer that sends its connections through
// the "<unit>->postgres" edge (the DSN keeps the real address, so logs and
// errors name it).
func (c *Cloud) pgEdge(unit string) (dsn string, dial func(ctx context.Context, network, addr string) (net.Conn, error), err error) {
	p := c.cfg.Env.Postgres
	via, err := c.cfg.Wiring.Edge(unit, EdgePostgres, p.Address)
	if err != nil {
		return "", nil, err
	}
	d := &net.Dialer{Timeout: c.connectTimeout(), KeepAlive: 30 * time.Second}
	dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == p.Address {
			addr = via
		}
		return d.DialContext(ctx, network, addr)
	}
	return p.DSN(p.Databases.For(unit), c.cfg.PGPassword), dial, nil
}

// awsEndpoint returns the AWS endpoint unit must use: its "<unit>->aws"
// proxy in front of the env's endpoint, or "" for the real AWS (no proxy:
// TLS to AWS's own names cannot be redirected).
func (c *Cloud) awsEndpoint(unit string) (string, error) {
	if c.cfg.Env.AWS.Endpoint == "" {
		return "", nil
	}
	u, _ := url.Parse(c.cfg.Env.AWS.Endpoint)
	via, err := c.cfg.Wiring.Edge(unit, EdgeAWS, hostPort(u))
	if err != nil {
		return "", err
	}
	return u.Scheme + "://" + via, nil
}

// awsHTTPClient is unit's AWS SDK transport: the wiring's (with its
// faults) or a plain one with a deadline.
func (c *Cloud) awsHTTPClient(unit string) aws.HTTPClient {
	if w, ok := c.cfg.Wiring.(AWSWiring); ok {
		return w.AWSHTTPClient(unit)
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// pgTracer is unit's statement tracer, nil without one.
func (c *Cloud) pgTracer(unit string) pgx.QueryTracer {
	if w, ok := c.cfg.Wiring.(PGWiring); ok {
		return w.PGTracer(unit)
	}
	return nil
}

// realS3Client is analytics' client of the env's S3, through its AWS edge.
// The emulator accepts any keys; against AWS the standard chain applies
// (analyticsunit builds that client itself when this returns nil).
func (c *Cloud) realS3Client(unit string) (*s3.Client, string, error) {
	ep, err := c.awsEndpoint(unit)
	if err != nil {
		return nil, "", err
	}
	if ep == "" {
		return nil, "", nil
	}
	return s3.New(s3.Options{
		Region:                     c.cfg.Env.AWS.Region,
		BaseEndpoint:               aws.String(ep),
		UsePathStyle:               true,
		HTTPClient:                 c.awsHTTPClient(unit),
		Credentials:                credentials.NewStaticCredentialsProvider("shoplab", "shoplab", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}), ep, nil
}

// Parts describes where each real part of the env is, for `shoplab up`.
func (c *Cloud) Parts() []Part {
	e := c.cfg.Env
	if e == nil || e.IsLocal() {
		return []Part{{Name: "kafka", Where: fmt.Sprint(c.kafkaAddrs), How: "embedded (kfake)"},
			{Name: "objects", Where: c.S3Endpoint(), How: "embedded (gofakes3)"}}
	}
	var out []Part
	if e.Kafka.Embedded {
		out = append(out, Part{Name: "kafka", Where: fmt.Sprint(c.kafkaAddrs), How: "embedded (kfake)"})
	} else {
		for _, r := range c.kafkaRoutes {
			out = append(out, Part{Name: r.to, Where: r.upstream, How: "Kafka broker, edges <unit>->" + r.to})
		}
	}
	if e.Stores.Relational == envs.StorePostgres {
		out = append(out, Part{Name: "postgres", Where: e.Postgres.Address, How: fmt.Sprintf("PostgreSQL, databases %s/%s/%s, edges <unit>->postgres",
			e.Postgres.Databases.User, e.Postgres.Databases.Order, e.Postgres.Databases.Payment)})
	} else {
		out = append(out, Part{Name: "relational", Where: c.dataDir, How: "SQLite"})
	}
	if c.usesAWS() {
		where := e.AWS.Endpoint
		if where == "" {
			where = "AWS " + e.AWS.Region
		}
		out = append(out, Part{Name: "aws", Where: where, How: fmt.Sprintf("catalog %s, dedup %s, objects %s (bucket %s), email %s (sender %s), edges <unit>->aws",
			e.Stores.Catalog, e.Stores.Dedup, e.Stores.Objects, c.bucket, e.Stores.Email, e.AWS.SES.Sender)})
	}
	if e.Stores.Objects == envs.StoreEmbedded {
		out = append(out, Part{Name: "objects", Where: c.S3Endpoint(), How: "embedded (gofakes3)"})
	}
	return out
}

// Part is one part of a running env.
type Part struct {
	Name  string `json:"name"`
	Where string `json:"where"`
	How   string `json:"how"`
}
