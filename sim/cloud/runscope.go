package cloud

// A run's own resources on shared real parts. PostgreSQL, the emulator's
// tables and bucket and the broker's consumer groups outlive a run, so two
// runs on them would read each other's users, orders, stock and emails. With
// Config.RunID set, the env's names (envs/*.yaml stay the base) get the
// run's suffix and the resources are created at start and dropped at Close:
//
//	postgres.databases.<unit>     shoplab_order       -> shoplab_order_<id>
//	aws.dynamodb.*_table          shoplab-products    -> shoplab-products-<id>
//	aws.s3.analytics_bucket       shoplab-analytics   -> shoplab-analytics-<id>
//	consumer groups               notification        -> notification-<id>
//
// Only what the env lets the platform create is scoped: databases when
// postgres.create_databases is true, tables and the bucket when
// aws.create_resources is true and aws.endpoint names an emulator (a run
// never creates tables in a real AWS account). Topics stay the env's: the
// units publish and consume the names in services/api/events, and the
// run's consumer groups start at the end of each topic, so what earlier
// runs left there is not read. Two runs at once on one broker would still
// see each other's events; CI runs the library one scenario at a time.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"

	"github.com/shoplab/shoplab/envs"
)

var runIDPattern = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

// runScope is what a scoped run created and must drop.
type runScope struct {
	databases []string // PostgreSQL databases
	tables    []string // DynamoDB tables
	bucket    string   // S3 bucket ("" if not scoped)
}

// scopeEnv returns a copy of e whose creatable names carry the run's
// suffix, and what to drop at Close.
func scopeEnv(e *envs.Env, id string) (*envs.Env, *runScope, error) {
	if !runIDPattern.MatchString(id) {
		return nil, nil, fmt.Errorf("cloud: RunID %q must be 1-16 lower-case letters or digits", id)
	}
	scoped := *e
	sc := &runScope{}
	if p := e.Postgres; p != nil && p.CreateDatabases && e.Stores.Relational == envs.StorePostgres {
		pc := *p
		pc.Databases = envs.Databases{User: p.Databases.User + "_" + id, Order: p.Databases.Order + "_" + id, Payment: p.Databases.Payment + "_" + id}
		sc.databases = []string{pc.Databases.User, pc.Databases.Order, pc.Databases.Payment}
		scoped.Postgres = &pc
	}
	if e.AWS.CreateResources && e.AWS.Endpoint != "" {
		if e.Stores.Catalog == envs.StoreDynamoDB {
			scoped.AWS.DynamoDB.ProductsTable += "-" + id
			sc.tables = append(sc.tables, scoped.AWS.DynamoDB.ProductsTable)
		}
		if e.Stores.Dedup == envs.StoreDynamoDB {
			scoped.AWS.DynamoDB.DedupTable += "-" + id
			sc.tables = append(sc.tables, scoped.AWS.DynamoDB.DedupTable)
		}
		if e.Stores.Objects == envs.StoreS3 {
			scoped.AWS.S3.AnalyticsBucket += "-" + id
			sc.bucket = scoped.AWS.S3.AnalyticsBucket
		}
	}
	return &scoped, sc, nil
}

// dropRunScope drops what the run created, each part with its own
// deadline; it reports every failure and goes on with the rest.
func (c *Cloud) dropRunScope(ctx context.Context) error {
	sc := c.scope
	if sc == nil {
		return nil
	}
	c.scope = nil
	var problems []error
	if len(sc.databases) > 0 {
		problems = append(problems, c.dropDatabases(ctx, sc.databases))
	}
	if len(sc.tables) > 0 || sc.bucket != "" {
		problems = append(problems, c.dropAWS(ctx, sc))
	}
	return errors.Join(problems...)
}

func (c *Cloud) dropDatabases(ctx context.Context, dbs []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p := c.cfg.Env.Postgres
	conn, err := pgx.Connect(ctx, p.DSN("", c.cfg.PGPassword))
	if err != nil {
		return fmt.Errorf("drop the run's databases %v: %w", dbs, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var problems []error
	for _, db := range dbs {
		// FORCE ends the sessions a killed unit may have left behind.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			problems = append(problems, fmt.Errorf("drop database %s: %w", db, err))
		}
	}
	return errors.Join(problems...)
}

func (c *Cloud) dropAWS(ctx context.Context, sc *runScope) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	e := c.cfg.Env
	creds := credentials.NewStaticCredentialsProvider("shoplab", "shoplab", "")
	var problems []error
	if len(sc.tables) > 0 {
		db := dynamodb.New(dynamodb.Options{Region: e.AWS.Region, BaseEndpoint: aws.String(e.AWS.Endpoint), Credentials: creds})
		for _, t := range sc.tables {
			_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t)})
			var nf *dbtypes.ResourceNotFoundException
			if err != nil && !errors.As(err, &nf) {
				problems = append(problems, fmt.Errorf("delete table %s: %w", t, err))
			}
		}
	}
	if sc.bucket != "" {
		s3c := s3.New(s3.Options{Region: e.AWS.Region, BaseEndpoint: aws.String(e.AWS.Endpoint), UsePathStyle: true, Credentials: creds,
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired, ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired})
		if err := emptyAndDeleteBucket(ctx, s3c, sc.bucket); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

func emptyAndDeleteBucket(ctx context.Context, s3c *s3.Client, bucket string) error {
	pages := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		var nb *s3types.NoSuchBucket
		if errors.As(err, &nb) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("empty bucket %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
				return fmt.Errorf("empty bucket %s: %w", bucket, err)
			}
		}
	}
	if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}
