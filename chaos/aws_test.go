package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// fakeAWS answers every request with an empty JSON object and counts them.
func fakeAWS(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func awsConfig(url string, hc aws.HTTPClient, attempts int) aws.Config {
	return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url), HTTPClient: hc, RetryMaxAttempts: attempts,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

func TestAWSErrorThrottlesDynamoDBAsTheSDKKnowsIt(t *testing.T) {
	e := MustEngine(t, WithSeed(7))
	srv, hits := fakeAWS(t)
	db := dynamodb.NewFromConfig(awsConfig(srv.URL, e.AWSHTTPClient("product"), 1))
	put := func() error {
		_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"),
			Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "1"}}})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("no fault: %v", err)
	}
	id := MustApply(t, e, Fault{Name: "throttle", Target: "product->aws", Type: AWSError})
	err := put()
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) || !strings.Contains(pte.ErrorMessage(), InjectedMessage) {
		t.Fatalf("err = %v, want ProvisionedThroughputExceededException", err)
	}
	if hits.Load() != 1 {
		t.Errorf("the throttled call reached the server: %d requests", hits.Load())
	}
	// The SDK treats it as throttling and retries: with 3 attempts it is
	// still refused and still never reaches the server.
	db3 := dynamodb.NewFromConfig(awsConfig(srv.URL, e.AWSHTTPClient("product"), 3))
	if _, err := db3.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "1"}}}); !errors.As(err, &pte) || !strings.Contains(err.Error(), "attempts") {
		t.Errorf("retried err = %v", err)
	}
	MustRemove(t, e, id)
	if err := put(); err != nil {
		t.Fatalf("after removal: %v", err)
	}
}

// TestAWSErrorPassesTheSDKsChecksum: an injected DynamoDB error carries
// the X-Amz-Crc32 header real DynamoDB sends, so the SDK's response
// checksum holds and it logs nothing (without the header it warned once
// per throttled call, 154 lines in one CI scenario).
func TestAWSErrorPassesTheSDKsChecksum(t *testing.T) {
	e := MustEngine(t, WithSeed(7))
	srv, _ := fakeAWS(t)
	var logged []string
	cfg := awsConfig(srv.URL, e.AWSHTTPClient("product"), 1)
	cfg.Logger = logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		logged = append(logged, fmt.Sprintf(string(c)+" "+format, v...))
	})
	db := dynamodb.NewFromConfig(cfg)
	MustApply(t, e, Fault{Name: "throttle", Target: "product->aws", Type: AWSError})
	for range 3 {
		_, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"),
			Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "1"}}})
		var pte *types.ProvisionedThroughputExceededException
		if !errors.As(err, &pte) {
			t.Fatalf("err = %v, want ProvisionedThroughputExceededException", err)
		}
	}
	if len(logged) != 0 {
		t.Fatalf("the SDK logged %d lines, want none: %q", len(logged), logged)
	}
}

func TestAWSErrorRateOperationAndSeed(t *testing.T) {
	run := func(seed int64) string {
		e := MustEngine(t, WithSeed(seed))
		srv, _ := fakeAWS(t)
		db := dynamodb.NewFromConfig(awsConfig(srv.URL, e.AWSHTTPClient("product"), 1))
		MustApply(t, e, Fault{Name: "flaky", Target: "product->aws", Type: AWSError, Attributes: map[string]any{"rate": 0.4, "operation": "PutItem"}})
		var b strings.Builder
		for range 40 {
			_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("t"),
				Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "1"}}})
			if err != nil {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
			if _, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
				t.Fatalf("DescribeTable is not PutItem, yet failed: %v", err)
			}
		}
		return b.String()
	}
	p := run(3)
	if want := expectedHits(3, "flaky", 0.4, 40); p != want {
		t.Errorf("pattern %s, want %s", p, want)
	}
	if !strings.Contains(p, "x") || !strings.Contains(p, ".") {
		t.Errorf("rate 0.4 gave %s", p)
	}
}

func TestAWSErrorOnS3IsXML(t *testing.T) {
	e := MustEngine(t)
	srv, _ := fakeAWS(t)
	cfg := awsConfig(srv.URL, e.AWSHTTPClient("analytics"), 1)
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	MustApply(t, e, Fault{Target: "analytics->aws", Type: AWSError, Attributes: map[string]any{"error": "SlowDown", "status": 503}})
	var api smithy.APIError
	_, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
	if !errors.As(err, &api) || api.ErrorCode() != "SlowDown" {
		t.Fatalf("err = %v, want SlowDown", err)
	}
}

func TestAWSErrorValidation(t *testing.T) {
	e := MustEngine(t)
	for _, tc := range []struct {
		f     Fault
		field string
	}{
		{Fault{Target: "product", Type: AWSError}, "target"},
		{Fault{Target: "product->order", Type: AWSError}, "target"},
		{Fault{Target: "product->aws", Type: AWSError, Attributes: map[string]any{"status": 200}}, "attributes.status"},
		{Fault{Target: "product->aws", Type: AWSError, Attributes: map[string]any{"rate": 2}}, "attributes.rate"},
	} {
		if err := tc.f.Validate(); errs.FieldOf(err) != tc.field {
			t.Errorf("%+v: err %v, want field %s", tc.f, err, tc.field)
		}
	}
	// A well-formed fault on an edge nobody hooked is refused by the engine.
	if _, err := e.Apply(context.Background(), Fault{Target: "user->aws", Type: AWSError}); errs.FieldOf(err) != "target" {
		t.Errorf("unhooked edge: %v", err)
	}
}
