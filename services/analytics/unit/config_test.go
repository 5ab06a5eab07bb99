package unit_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shoplab/shoplab/services/analytics/adapters/s3/s3test"
	"github.com/shoplab/shoplab/services/analytics/unit"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

func TestNewRejectsBadConfig(t *testing.T) {
	fake := s3test.MustStart(t, bucket)
	valid := func() unit.Config {
		return unit.Config{OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(), KafkaBrokers: []string{"127.0.0.1:1"}, Bucket: bucket}
	}
	for name, mutate := range map[string]func(*unit.Config){
		"no data dir":            func(c *unit.Config) { c.DataDir = "" },
		"no brokers":             func(c *unit.Config) { c.KafkaBrokers = nil },
		"no bucket":              func(c *unit.Config) { c.Bucket = "" },
		"sub-millisecond window": func(c *unit.Config) { c.Window = 1500 * time.Microsecond },
		"negative tick":          func(c *unit.Config) { c.TickInterval = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := valid()
			mutate(&cfg)
			u, err := unit.New(context.Background(), cfg, unit.Deps{Metrics: metrics.New("analytics", false), S3: fake.Client})
			if err == nil {
				_ = u.Close()
			}
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("New: %v, want invalid_argument", err)
			}
		})
	}
}

// A unit that never ran still frees its port and database on Close, and
// starts without Kafka (the brokers here do not exist).
func TestNewThenCloseWithoutRun(t *testing.T) {
	fake := s3test.MustStart(t)
	cfg := unit.Config{OpsAddr: "127.0.0.1:0", DataDir: t.TempDir(), KafkaBrokers: []string{"127.0.0.1:1"}, Bucket: "created-at-start", CreateBucket: true}
	u, err := unit.New(context.Background(), cfg, unit.Deps{S3: fake.Client})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.Client.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("created-at-start")}); err != nil {
		t.Fatalf("bucket not created: %v", err)
	}
	addr := u.OpsAddr()
	if err := u.Ready(context.Background()); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("Ready before consuming: %v, want unavailable", err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still held after Close: %v", err)
	}
	_ = ln.Close()
}
