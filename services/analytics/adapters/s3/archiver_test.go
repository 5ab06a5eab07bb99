package s3_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	s3adapter "github.com/shoplab/shoplab/services/analytics/adapters/s3"
	"github.com/shoplab/shoplab/services/analytics/adapters/s3/s3test"
	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestObjectKey(t *testing.T) {
	for _, c := range []struct {
		start time.Time
		want  string
	}{
		{time.Date(2024, 5, 1, 12, 1, 0, 0, time.UTC), "windows/2024/05/01/2024-05-01T12:01:00Z.json"},
		{time.Date(2024, 12, 31, 23, 59, 50, 0, time.FixedZone("x", 3600)), "windows/2024/12/31/2024-12-31T22:59:50Z.json"},
		{time.Date(2024, 5, 1, 0, 0, 0, 250e6, time.UTC), "windows/2024/05/01/2024-05-01T00:00:00.25Z.json"},
	} {
		if got := s3adapter.ObjectKey(c.start); got != c.want {
			t.Errorf("ObjectKey(%s) = %q, want %q", c.start, got, c.want)
		}
	}
}

func TestArchiveToFakeS3(t *testing.T) {
	ctx := context.Background()
	fake := s3test.MustStart(t)
	a := s3adapter.NewArchiver(fake.Client, "analytics")
	if err := a.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureBucket(ctx); err != nil {
		t.Fatalf("second EnsureBucket: %v", err)
	}
	start := time.Date(2024, 5, 1, 12, 1, 0, 0, time.UTC)
	body := []byte(`{"window_start":"2024-05-01T12:01:00Z","order_count":3}`)
	for range 2 { // a retry overwrites with the same bytes
		if err := a.Archive(ctx, start, body); err != nil {
			t.Fatal(err)
		}
	}
	out, err := fake.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("analytics"), Key: aws.String("windows/2024/05/01/2024-05-01T12:01:00Z.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	got, _ := io.ReadAll(out.Body)
	if string(got) != string(body) || aws.ToString(out.ContentType) != "application/json" {
		t.Fatalf("object %q (%s), want %q", got, aws.ToString(out.ContentType), body)
	}

	fake.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Archive(cctx, start, body); !errs.Is(err, errs.Unavailable) {
		t.Fatalf("archive with the store down: %v, want unavailable", err)
	}
}
