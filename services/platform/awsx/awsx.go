// Package awsx builds the AWS SDK config the units share: one region, an
// optional endpoint override for an emulator (moto_server, LocalStack) and
// an HTTP client the wiring may wrap (chaos L7 injects throttling there).
package awsx

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// DefaultRegion is the region when none is given.
const DefaultRegion = "us-east-1"

// HTTPTimeout bounds one AWS API call when the wiring gives no client.
const HTTPTimeout = 10 * time.Second

// Options selects where the SDK talks to.
type Options struct {
	Region   string         // "" means DefaultRegion
	Endpoint string         // "" means the real AWS; else the emulator's base URL
	HTTP     aws.HTTPClient // nil means the SDK's client with HTTPTimeout
}

// Config loads the SDK config. Against the real AWS it uses the default
// credential chain (env, profile, role); against an emulator it uses fixed
// static credentials, which emulators accept and which keep a developer's
// real keys out of the requests.
func Config(ctx context.Context, o Options) (aws.Config, error) {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(o.Region),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(HTTPTimeout)),
	}
	if o.Endpoint != "" {
		opts = append(opts,
			config.WithBaseEndpoint(o.Endpoint),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("shoplab", "shoplab", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, errs.Wrap(errs.Unavailable, err, "load aws config")
	}
	// Set after loading: the loader would try to fit an AWS_CA_BUNDLE into
	// the client, which a wrapping client cannot take.
	if o.HTTP != nil {
		cfg.HTTPClient = o.HTTP
	}
	return cfg, nil
}
