package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/kafkax"
)

// applyServeEnv fills the settings of `serve <unit> --env host|FILE` that
// the command line (or SHOPLAB_*) left unset from the env file: the Kafka
// brokers, the unit's PostgreSQL database, the DynamoDB tables, the AWS
// endpoint and region, SES, the bucket. A flag given explicitly wins. It
// returns nil for the local env, whose defaults are the flags' own.
func applyServeEnv(unit string, fs *flag.FlagSet, f *serveFlags, pgPassword string) (*envs.Env, error) {
	e, err := loadEnv(f.env)
	if err != nil || e == nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	def := func(name string, v *string, val string) {
		if !set[name] && val != "" {
			*v = val
		}
	}
	if !e.Kafka.Embedded {
		def("kafka-brokers", &f.kafkaBrokers, strings.Join(e.Kafka.Brokers, ","))
	}
	if e.Stores.Relational == envs.StorePostgres && slices.Contains([]string{"user", "order", "payment"}, unit) {
		def("database-url", &f.databaseURL, e.Postgres.DSN(e.Postgres.Databases.For(unit), pgPassword))
	}
	def("aws-region", &f.awsRegion, e.AWS.Region)
	def("aws-endpoint", &f.awsEndpoint, e.AWS.Endpoint)
	if e.Stores.Catalog == envs.StoreDynamoDB {
		def("dynamodb-table", &f.dynamoDBTable, e.AWS.DynamoDB.ProductsTable)
	}
	if e.Stores.Dedup == envs.StoreDynamoDB {
		def("dedup-table", &f.dedupTable, e.AWS.DynamoDB.DedupTable)
	}
	def("email", &f.email, e.Stores.Email)
	def("sender", &f.sender, e.AWS.SES.Sender)
	def("bucket", &f.bucket, e.AWS.S3.AnalyticsBucket)
	if e.Stores.Objects == envs.StoreS3 {
		def("s3-endpoint", &f.s3Endpoint, e.AWS.Endpoint)
	}
	if !set["create-resources"] {
		f.createResources = e.AWS.CreateResources
	}
	return e, nil
}

// prepareServeEnv creates what the env lets a unit create before it
// starts: its PostgreSQL database (postgres.create_databases) and the
// topics it produces to or consumes (kafka.create_topics), each an
// existing one being fine. Every call has the env's connect timeout.
func prepareServeEnv(ctx context.Context, unit string, e *envs.Env, pgPassword string) error {
	if e.Stores.Relational == envs.StorePostgres && e.Postgres.CreateDatabases && e.Postgres.Databases.For(unit) != "" {
		db := e.Postgres.Databases.For(unit)
		cctx, cancel := context.WithTimeout(ctx, timeoutOr(e.Postgres.ConnectTimeout.Std()))
		defer cancel()
		conn, err := pgx.Connect(cctx, e.Postgres.DSN("", pgPassword))
		if err != nil {
			return fmt.Errorf("%s: %w", e.Where("postgres.address", e.Postgres.Address), err)
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize())
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // duplicate_database
			return fmt.Errorf("%s: create: %w", e.Where("postgres.databases."+unit, db), err)
		}
	}
	if e.Kafka.Embedded || !e.Kafka.CreateTopics || !slices.Contains([]string{"order", "notification", "analytics"}, unit) {
		return nil
	}
	cfg := kafkax.ConsumerConfig("shoplab-admin")
	cfg.Net.DialTimeout = timeoutOr(0)
	cfg.Metadata.Retry.Max = 1
	admin, err := sarama.NewClusterAdmin(e.Kafka.Brokers, cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", e.Where("kafka.brokers", strings.Join(e.Kafka.Brokers, ",")), err)
	}
	defer admin.Close()
	for _, t := range e.Kafka.Topics.All() {
		err := admin.CreateTopic(t.Name, &sarama.TopicDetail{NumPartitions: int32(t.Partitions), ReplicationFactor: int16(t.Replication)}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("%s: create: %w", e.Where("kafka.topics", t.Name), err)
		}
	}
	return nil
}

// timeoutOr is d, or 3 s when the env sets no connect timeout.
func timeoutOr(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return 3 * time.Second
}
