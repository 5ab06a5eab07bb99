#!/bin/sh
# LocalStack ready hook (/etc/localstack/init/ready.d): the AWS resources of
# envs/compose.yaml (create_resources: false there, so the units find them).
# The compose test checks every name against that file and the key schemas
# against the adapters (services/product/adapters/dynamodb/table.go,
# services/notification/adapters/dynamodb).
set -eu
awslocal dynamodb create-table --table-name shoplab-products \
  --attribute-definitions AttributeName=PK,AttributeType=S AttributeName=SK,AttributeType=S \
    AttributeName=catalog,AttributeType=S AttributeName=category,AttributeType=S AttributeName=id,AttributeType=S \
  --key-schema AttributeName=PK,KeyType=HASH AttributeName=SK,KeyType=RANGE \
  --global-secondary-indexes \
    'IndexName=catalog,KeySchema=[{AttributeName=catalog,KeyType=HASH},{AttributeName=id,KeyType=RANGE}],Projection={ProjectionType=ALL}' \
    'IndexName=by_category,KeySchema=[{AttributeName=category,KeyType=HASH},{AttributeName=id,KeyType=RANGE}],Projection={ProjectionType=ALL}' \
  --billing-mode PAY_PER_REQUEST
awslocal dynamodb create-table --table-name shoplab-notification-dedup \
  --attribute-definitions AttributeName=event_id,AttributeType=S \
  --key-schema AttributeName=event_id,KeyType=HASH \
  --billing-mode PAY_PER_REQUEST
awslocal dynamodb update-time-to-live --table-name shoplab-notification-dedup \
  --time-to-live-specification Enabled=true,AttributeName=expires_at
awslocal s3 mb s3://shoplab-analytics
awslocal ses verify-email-identity --email-address orders@shoplab.local
# The healthcheck waits for this marker, so units start after the resources exist.
touch /tmp/shoplab-resources-ready
