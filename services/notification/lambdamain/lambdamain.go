// Package lambdamain runs the notification handler as an AWS Lambda
// function on MSK events (`shoplab lambda notification`), wired to SES for
// email and DynamoDB for the dedup store. The handler is the very one the
// local runner invokes; only the adapters differ.
package lambdamain

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	ddb "github.com/shoplab/shoplab/services/notification/adapters/dynamodb"
	"github.com/shoplab/shoplab/services/notification/adapters/ses"
	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
)

// HTTPTimeout bounds every AWS API call, on top of the handler's per-call
// deadlines, so that a stuck connection cannot eat the function's timeout.
const HTTPTimeout = 15 * time.Second

// Config holds the function's settings, parsed at the edge (the CLI reads
// them from flags or SHOPLAB_* variables set on the function).
type Config struct {
	Region           string        // "" means the SDK's chain (AWS_REGION inside Lambda)
	Endpoint         string        // "" for AWS; a moto_server or LocalStack URL otherwise
	DedupTable       string        // the DynamoDB table of sent events (Terraform's name)
	Sender           string        // verified SES sender; "" means app.DefaultSender
	FallbackDomain   string        // "" skips events without a usable user_email (see notification.Recipient)
	ConfigurationSet string        // SES configuration set; "" for none
	ClaimLease       time.Duration // 0 means app.DefaultClaimLease; keep it above the function timeout's share per record
	LogLevel         string        // "debug", "info", "warn" or "error"
}

// NewHandler builds the handler on SES and DynamoDB clients made from
// awsCfg (credentials and region), pointed at cfg.Endpoint when set.
func NewHandler(cfg Config, awsCfg aws.Config, log *slog.Logger) (*app.Handler, error) {
	if cfg.DedupTable == "" {
		return nil, errs.InvalidField("DedupTable", "is required")
	}
	if cfg.Region != "" {
		awsCfg.Region = cfg.Region
	}
	if awsCfg.Region == "" {
		return nil, errs.InvalidField("Region", "no AWS region configured")
	}
	dynamo := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	sesClient := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	store, err := ddb.New(dynamo, cfg.DedupTable, ddb.Options{})
	if err != nil {
		return nil, err
	}
	return app.NewHandler(app.Config{
		Sender:         cfg.Sender,
		FallbackDomain: cfg.FallbackDomain,
		ClaimLease:     cfg.ClaimLease,
	}, app.Deps{
		Mailer: ses.New(sesClient, ses.Options{ConfigurationSet: cfg.ConfigurationSet}),
		Dedup:  store,
		Log:    log,
	})
}

// StartLambda loads the SDK's default config (the function's role), builds
// the handler and hands it to the Lambda runtime, which serves invocations
// until the process ends. It returns only on a setup error; outside Lambda
// (no runtime API in the environment) the runtime library itself exits the
// process with a message saying so.
func StartLambda(ctx context.Context, cfg Config) error {
	// Lambda ships stderr to CloudWatch Logs.
	log := logx.New(os.Stderr, cfg.LogLevel).With("unit", "notification")
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(HTTPTimeout)),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return errs.Wrap(errs.Unavailable, err, "load aws config")
	}
	h, err := NewHandler(cfg, awsCfg, log)
	if err != nil {
		return err
	}
	lambda.StartWithOptions(h.Handle, lambda.WithContext(ctx))
	return nil
}
