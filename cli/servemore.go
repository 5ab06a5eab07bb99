package cli

import (
	"context"
	"flag"
	"log/slog"

	"github.com/shoplab/shoplab/services/notification/lambdamain"
	"github.com/shoplab/shoplab/services/platform/config"
	"github.com/shoplab/shoplab/services/platform/metrics"

	analyticsunit "github.com/shoplab/shoplab/services/analytics/unit"
	notificationunit "github.com/shoplab/shoplab/services/notification/unit"
)

// buildServedMore builds the event-driven units, which serve no gRPC.
func buildServedMore(ctx context.Context, name string, f serveFlags, log *slog.Logger, reg *metrics.Registry, brokers []string) (served, error) {
	switch name {
	case "notification":
		return notificationunit.New(ctx, notificationunit.Config{OpsAddr: f.opsAddr, DataDir: f.dataDir, KafkaBrokers: brokers,
			DedupTable: f.dedupTable, Email: f.email, Sender: f.sender, AWSEndpoint: f.awsEndpoint, AWSRegion: f.awsRegion,
			CreateResources: f.createResources},
			notificationunit.Deps{Log: log, Metrics: reg})
	case "analytics":
		// The S3 client comes from the SDK's default chain (IRSA on EKS,
		// static keys for LocalStack), pointed at -s3-endpoint when set.
		return analyticsunit.New(ctx, analyticsunit.Config{OpsAddr: f.opsAddr, DataDir: f.dataDir, KafkaBrokers: brokers,
			Window: f.window, Bucket: f.bucket, S3Endpoint: f.s3Endpoint, S3Region: f.awsRegion, CreateBucket: f.s3Endpoint != ""},
			analyticsunit.Deps{Log: log, Metrics: reg})
	}
	return nil, unknownUnit(name)
}

// runLambda runs a unit under the AWS Lambda runtime, as the AWS deployment
// does. Outside Lambda the runtime API is absent and aws-lambda-go would
// exit the process, so that is checked first and reported as an error.
func runLambda(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "notification" {
		return usageError("usage: shoplab lambda notification [flags]: only the notification unit runs on Lambda")
	}
	fs := e.bridge(flag.NewFlagSet("shoplab lambda notification", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	var cfg lambdamain.Config
	fs.StringVar(&cfg.Region, "region", "", "AWS region (default: the SDK chain, AWS_REGION inside Lambda)")
	fs.StringVar(&cfg.Endpoint, "aws-endpoint", "", "AWS API endpoint override (moto_server or LocalStack)")
	fs.StringVar(&cfg.DedupTable, "dedup-table", "shoplab-notifications-sent", "DynamoDB table of sent events")
	fs.StringVar(&cfg.Sender, "sender", "", "verified SES sender address")
	fs.StringVar(&cfg.ConfigurationSet, "ses-configuration-set", "", "SES configuration set")
	fs.DurationVar(&cfg.ClaimLease, "claim-lease", 0, "dedup claim lease (default: the handler's)")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "debug, info, warn or error")
	if err := config.Parse(fs, args[1:], e.lookup); err != nil {
		return usageError("%v", err)
	}
	if _, ok := e.lookup("AWS_LAMBDA_RUNTIME_API"); !ok {
		return usageError("AWS_LAMBDA_RUNTIME_API is not set: `shoplab lambda notification` runs inside AWS Lambda (or its runtime interface emulator); locally use `shoplab serve notification` or `shoplab up`")
	}
	return lambdamain.StartLambda(ctx, cfg)
}
