package cloud_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/shoplab/shoplab/services/platform/parts/partstest"
	"github.com/shoplab/shoplab/sim/cloud"
)

// A run with a RunID gets its own databases, tables and bucket on the
// shared parts, named from the env's with the id as suffix, and leaves
// none of them behind.
func TestRunIDScopesAndDropsResources(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform on real parts")
	}
	if !cloud.RealStores {
		t.Skip("this build has no PostgreSQL/DynamoDB adapters")
	}
	env := hostTestEnv(t)
	admin := partstest.Postgres(t) // a DSN on the same server, to look at pg_database
	u, _ := url.Parse(admin)
	env.Postgres.CreateDatabases = true
	env.Postgres.Databases.User, env.Postgres.Databases.Order, env.Postgres.Databases.Payment = "scope_user", "scope_order", "scope_payment"
	id := strings.ToLower(strings.TrimPrefix(partstest.UniqueName("r"), "r"))
	id = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, id)
	if len(id) > 16 {
		id = id[len(id)-16:]
	}
	ctx := context.Background()
	c, err := cloud.New(ctx, cloud.Config{Env: env, RunID: id, AnalyticsWindow: 2 * time.Second})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	wantDBs := []string{"scope_user_" + id, "scope_order_" + id, "scope_payment_" + id}
	wantTables := []string{env.AWS.DynamoDB.ProductsTable + "-" + id, env.AWS.DynamoDB.DedupTable + "-" + id}
	bucket := env.AWS.S3.AnalyticsBucket + "-" + id
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func() int {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = ANY($1)", wantDBs).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	creds := credentials.NewStaticCredentialsProvider("shoplab", "shoplab", "")
	db := dynamodb.New(dynamodb.Options{Region: env.AWS.Region, BaseEndpoint: aws.String(env.AWS.Endpoint), Credentials: creds})
	s3c := s3.New(s3.Options{Region: env.AWS.Region, BaseEndpoint: aws.String(env.AWS.Endpoint), UsePathStyle: true, Credentials: creds})
	tables := func() int {
		n := 0
		for _, tb := range wantTables {
			if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tb)}); err == nil {
				n++
			}
		}
		return n
	}
	bucketExists := func() bool {
		_, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		return err == nil
	}
	if n := count(); n != 3 {
		t.Errorf("while running on %s: %d of the run's databases %v exist, want 3", u.Host, n, wantDBs)
	}
	if n := tables(); n != 2 {
		t.Errorf("while running: %d of the run's tables %v exist, want 2", n, wantTables)
	}
	if !bucketExists() {
		t.Errorf("while running: no bucket %s", bucket)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if n := count(); n != 0 {
		t.Errorf("after Close: %d of the run's databases are left", n)
	}
	if n := tables(); n != 0 {
		t.Errorf("after Close: %d of the run's tables are left", n)
	}
	if bucketExists() {
		t.Errorf("after Close: bucket %s is left", bucket)
	}
}
