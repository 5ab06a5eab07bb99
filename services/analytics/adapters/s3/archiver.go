// Package s3 archives window results to an S3 bucket (AWS S3, LocalStack,
// or gofakes3 in-process).
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// ObjectKey is where the window starting at start is archived:
// windows/<yyyy>/<mm>/<dd>/<window_start RFC 3339>.json, in UTC.
func ObjectKey(start time.Time) string {
	start = start.UTC()
	return fmt.Sprintf("windows/%s/%s.json", start.Format("2006/01/02"), start.Format(time.RFC3339Nano))
}

// ClientConfig locates the S3 API.
type ClientConfig struct {
	Region string
	// Endpoint is an S3-compatible endpoint such as LocalStack's; empty
	// means AWS. Such endpoints get path-style addressing.
	Endpoint string
}

// NewClient builds an S3 client with the SDK's default credential chain.
func NewClient(ctx context.Context, c ClientConfig) (*s3.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(c.Region))
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			o.UsePathStyle = true
			// S3 look-alikes differ in their support of the SDK's default
			// streaming checksums; send them only when S3 requires them.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}), nil
}

// Archiver puts window results into a bucket.
type Archiver struct {
	client *s3.Client
	bucket string
}

var _ app.Archiver = (*Archiver)(nil)

// NewArchiver returns an archiver writing to bucket.
func NewArchiver(client *s3.Client, bucket string) *Archiver {
	return &Archiver{client: client, bucket: bucket}
}

// Archive implements app.Archiver. Putting the same window again overwrites
// it with the same bytes, so retries are harmless.
func (a *Archiver) Archive(ctx context.Context, start time.Time, body []byte) error {
	_, err := a.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(a.bucket),
		Key:         aws.String(ObjectKey(start)),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
	})
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "archive window to s3://%s/%s", a.bucket, ObjectKey(start))
	}
	return nil
}

// EnsureBucket creates the bucket if it does not exist; for local envs,
// where nothing else provisions it.
func (a *Archiver) EnsureBucket(ctx context.Context) error {
	_, err := a.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(a.bucket)})
	if err == nil {
		return nil
	}
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		return errs.Wrap(errs.Unavailable, err, "check bucket %s", a.bucket)
	}
	_, err = a.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(a.bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return errs.Wrap(errs.Unavailable, err, "create bucket %s", a.bucket)
	}
	return nil
}
