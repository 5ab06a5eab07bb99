package tfenv_test

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/shoplab/shoplab/terraform/tfenv"
)

// outputJSON is `terraform output -json` of terraform/aws/envs/dev, shaped
// as terraform 1.11 prints it (values as outputs.tf declares them).
const outputJSON = `{
  "env": {"sensitive": false, "type": "string", "value": "aws-dev"},
  "region": {"sensitive": false, "type": "string", "value": "us-east-1"},
  "kafka_bootstrap_brokers": {"sensitive": false, "type": "string", "value": "b-1.shoplab-dev.x1.c2.kafka.us-east-1.amazonaws.com:9098,b-2.shoplab-dev.x1.c2.kafka.us-east-1.amazonaws.com:9098"},
  "kafka_topics": {"sensitive": false, "type": ["map", ["object", {"name": "string"}]], "value": {
    "orders": {"name": "orders", "partitions": 3, "replication": 2},
    "analytics_results": {"name": "analytics-results", "partitions": 1, "replication": 2},
    "orders_dlq": {"name": "orders-dlq", "partitions": 1, "replication": 2}}},
  "postgres_address": {"sensitive": false, "type": "string", "value": "shoplab-dev.abcdef.us-east-1.rds.amazonaws.com:5432"},
  "postgres_databases": {"sensitive": false, "type": ["map", "string"], "value": {"user": "shoplab_user", "order": "shoplab_order", "payment": "shoplab_payment"}},
  "dynamodb_products_table": {"sensitive": false, "type": "string", "value": "shoplab-dev-products"},
  "dynamodb_dedup_table": {"sensitive": false, "type": "string", "value": "shoplab-dev-notification-dedup"},
  "s3_analytics_bucket": {"sensitive": false, "type": "string", "value": "shoplab-dev-analytics"},
  "ses_sender": {"sensitive": false, "type": "string", "value": "orders@dev.shoplab.example"}
}`

func TestApplyFillsAddresses(t *testing.T) {
	env, err := os.ReadFile("../../envs/aws-dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o, err := tfenv.ParseOutputs([]byte(outputJSON))
	if err != nil {
		t.Fatal(err)
	}
	out, err := tfenv.Apply(env, o)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Kafka struct {
			Brokers []string `yaml:"brokers"`
		} `yaml:"kafka"`
		Postgres struct {
			Address string `yaml:"address"`
		} `yaml:"postgres"`
		AWS struct {
			DynamoDB struct {
				ProductsTable string `yaml:"products_table"`
			} `yaml:"dynamodb"`
		} `yaml:"aws"`
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Kafka.Brokers) != 2 || got.Kafka.Brokers[1] != "b-2.shoplab-dev.x1.c2.kafka.us-east-1.amazonaws.com:9098" {
		t.Errorf("brokers = %q", got.Kafka.Brokers)
	}
	if got.Postgres.Address != "shoplab-dev.abcdef.us-east-1.rds.amazonaws.com:5432" {
		t.Errorf("postgres.address = %q", got.Postgres.Address)
	}
	if got.AWS.DynamoDB.ProductsTable != "shoplab-dev-products" {
		t.Errorf("products_table changed: %q", got.AWS.DynamoDB.ProductsTable)
	}
	if !strings.Contains(string(out), "Terraform creates the topics on MSK") {
		t.Error("comments of the env file were lost")
	}
}

func TestApplyRefusesDifferentNames(t *testing.T) {
	env, err := os.ReadFile("../../envs/aws-dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ old, new, field string }{
		{`"value": "shoplab-dev-products"`, `"value": "shoplab-dev-catalog"`, "aws.dynamodb.products_table"},
		{`"value": "aws-dev"`, `"value": "aws-prod"`, "name"},
		{`{"name": "orders-dlq"`, `{"name": "orders-dead"`, "kafka.topics.orders_dlq.name"},
		{`"order": "shoplab_order"`, `"order": "shoplab_orders"`, "postgres.databases.order"},
	} {
		o, err := tfenv.ParseOutputs([]byte(strings.Replace(outputJSON, tc.old, tc.new, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tfenv.Apply(env, o); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want one naming %s", tc.new, err, tc.field)
		}
	}
}

func TestParseOutputsNamesMissingOutput(t *testing.T) {
	_, err := tfenv.ParseOutputs([]byte(strings.Replace(outputJSON, `"ses_sender"`, `"sender"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "ses_sender") {
		t.Fatalf("err = %v, want one naming ses_sender", err)
	}
	if _, err := tfenv.ParseOutputs([]byte("not json")); err == nil {
		t.Fatal("accepted a non-JSON output")
	}
}
