// Package s3test starts gofakes3 in-process for tests: an S3 API on
// 127.0.0.1 with an in-memory backend and a client pointed at it.
package s3test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Fake is a running gofakes3 server.
type Fake struct {
	// Endpoint is the server's base URL, for clients built elsewhere.
	Endpoint string
	// Client talks to the server: path-style, static credentials.
	Client *s3.Client
	server *httptest.Server
}

// Region is the region the fake's client signs for.
const Region = "us-east-1"

// MustStart starts a fake with the given buckets created and stops it when
// the test ends.
func MustStart(tb testing.TB, buckets ...string) *Fake {
	tb.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	tb.Cleanup(srv.Close)
	f := &Fake{Endpoint: srv.URL, server: srv, Client: NewClient(srv.URL)}
	for _, b := range buckets {
		if _, err := f.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			tb.Fatalf("create bucket %s: %v", b, err)
		}
	}
	return f
}

// NewClient returns a client for an S3 look-alike at endpoint, with static
// credentials and path-style addressing.
func NewClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     Region,
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Close stops the server before the test ends, to simulate an outage.
func (f *Fake) Close() { f.server.Close() }
