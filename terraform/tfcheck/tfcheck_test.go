package tfcheck_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/terraform/tfcheck"
)

const repo = "../.."

var eventTopics = []string{events.TopicOrders, events.TopicAnalyticsResults, events.TopicOrdersDLQ}

func TestModules(t *testing.T) {
	tree, err := tfcheck.Load(filepath.Join(repo, "terraform"))
	if err != nil {
		t.Fatal(err)
	}
	// Every module of the layout is there and parsed.
	for _, d := range []string{
		"aws/modules/network", "aws/modules/eks", "aws/modules/rds", "aws/modules/dynamodb", "aws/modules/s3",
		"aws/modules/msk", "aws/modules/lambda", "aws/modules/alb", "aws/modules/ses", "aws/modules/iam",
		"gcp/modules/dataproc", "gcp/modules/gcs",
		"aws/envs/dev", "aws/envs/prod", "gcp/envs/dev", "gcp/envs/prod",
	} {
		if tree.Modules[d] == nil {
			t.Errorf("module %s is missing", d)
		}
	}
	for _, p := range tfcheck.CheckModules(tree) {
		t.Error(p)
	}
}

func TestNoLiteralCredentials(t *testing.T) {
	p, err := tfcheck.CheckCredentials(filepath.Join(repo, "terraform"))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range p {
		t.Error(x)
	}
}

func TestAgreement(t *testing.T) {
	p, err := tfcheck.CheckAgreement(repo, eventTopics)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range p {
		t.Error(x)
	}
}

// TestBreakagesAreCaught mutates a copy of the repository's terraform/,
// envs/ and argocd/ and expects the checks to fail naming what broke.
func TestBreakagesAreCaught(t *testing.T) {
	cases := []struct {
		name   string
		file   string // relative to the copy's root
		old    string // "" appends new to the file
		new    string
		check  string // "modules", "agreement" or "credentials"
		expect string // a finding must contain this
	}{
		{"renamed table", "terraform/aws/envs/dev/main.tf",
			`"${local.name}-products"`, `"${local.name}-catalog"`, "agreement", `"shoplab-dev-catalog"`},
		{"renamed table in the env file", "envs/aws-prod.yaml",
			"dedup_table: shoplab-prod-notification-dedup", "dedup_table: shoplab-prod-dedup", "agreement", "shoplab-prod-dedup"},
		{"topic missing on MSK", "terraform/aws/envs/prod/main.tf",
			`orders_dlq        = { name = "orders-dlq", partitions = 1, replication = 3 }`, "", "agreement", `topic "orders-dlq"`},
		{"partition count differs", "terraform/aws/envs/prod/main.tf",
			"partitions = 12", "partitions = 6", "agreement", "module.msk.topics.orders.partitions"},
		{"topic not in services/api/events", "terraform/aws/envs/dev/main.tf",
			`name = "analytics-results"`, `name = "analytics"`, "agreement", `"analytics"`},
		{"mismatched Flink version", "terraform/gcp/envs/dev/main.tf",
			`flink_version = "2.2.0"`, `flink_version = "2.1.0"`, "agreement", "flink_version"},
		{"job pins another Flink", "services/analytics/flink/pom.xml",
			"<flink.version>2.2.0</flink.version>", "<flink.version>2.3.0</flink.version>", "agreement", `"2.3.0"`},
		{"image without Flink 2", "terraform/gcp/envs/prod/main.tf",
			`"3.0.3-debian13"`, `"2.2.50-debian12"`, "agreement", `"2.2.50-debian12"`},
		{"service account renamed", "terraform/aws/envs/prod/main.tf",
			`service_account = "payment"`, `service_account = "payments"`, "agreement", "module.iam.units.payment.service_account"},
		{"namespace differs", "terraform/aws/envs/dev/main.tf",
			`namespace = "ecommerce"`, `namespace = "shop"`, "agreement", "module.iam.namespace"},
		{"image differs from argocd", "terraform/aws/envs/prod/main.tf",
			`image_tag        = "0.1.0"`, `image_tag        = "0.2.0"`, "agreement", "ghcr.io/shoplab/shoplab:0.2.0"},
		{"node group too small for the HPA maxima", "terraform/aws/envs/prod/main.tf",
			"node_max_size          = 9", "node_max_size          = 5", "agreement", "node_max_size 5 is too small"},
		{"database renamed", "terraform/aws/envs/dev/main.tf",
			`order = "shoplab_order"`, `order = "shoplab_orders"`, "agreement", "module.rds.databases.order"},
		{"sender differs", "terraform/aws/envs/prod/main.tf",
			"orders@prod.shoplab.example", "shop@prod.shoplab.example", "agreement", "module.ses.sender"},
		{"table key differs from the adapter's", "terraform/aws/modules/dynamodb/main.tf",
			`hash_key     = "PK"`, `hash_key     = "pk"`, "agreement", "aws_dynamodb_table.products: key (pk, SK)"},
		{"index the adapter queries is missing", "terraform/aws/modules/dynamodb/main.tf",
			`name            = "by_category"`, `name            = "category-index"`, "agreement", "by_category(category,id,ALL)"},
		{"TTL on another attribute", "terraform/aws/modules/dynamodb/main.tf",
			`attribute_name = "expires_at"`, `attribute_name = "ttl"`, "agreement", `TTL on "ttl"`},
		{"unused variable", "terraform/aws/modules/s3/variables.tf",
			"", "\nvariable \"unused_knob\" {\n  type        = bool\n  description = \"Nothing reads it.\"\n}\n", "modules", `"unused_knob" is declared but never used`},
		{"variable without type or description", "terraform/aws/modules/ses/variables.tf",
			"", "\nvariable \"region\" {}\n", "modules", `"region" has no type`},
		{"module call passes an undeclared variable", "terraform/aws/envs/dev/main.tf",
			`  force_destroy                = true`, "  force_destroy                = true\n  acl = \"private\"", "modules", `passes "acl"`},
		{"module call misses a required variable", "terraform/aws/envs/prod/main.tf",
			"  force_destroy                = false\n", "", "modules", `required variable "force_destroy"`},
		{"output referenced by an env does not exist", "terraform/aws/envs/dev/outputs.tf",
			"module.s3.bucket_name", "module.s3.bucket", "modules", `has no output "bucket"`},
		{"resource type the provider does not offer", "terraform/aws/modules/s3/main.tf",
			"", "\nresource \"aws_s3_bucket_acl_policy\" \"x\" {\n  bucket = aws_s3_bucket.analytics.id\n}\n", "modules", `"aws_s3_bucket_acl_policy"`},
		{"registry module without an exact version", "terraform/aws/modules/network/main.tf",
			`version = "6.0.1"`, `version = "~> 6.0"`, "modules", "must pin an exact version"},
		{"literal access key", "terraform/aws/envs/dev/providers.tf",
			"", "\n# AKIAIOSFODNN7EXAMPLE\n", "credentials", "AWS access key ID"},
		{"literal password", "terraform/aws/modules/rds/main.tf",
			"  port     = 5432\n", "  port     = 5432\n  password = \"hunter22\"\n", "credentials", "literal password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRepo(t)
			path := filepath.Join(dir, tc.file)
			b, err := os.ReadFile(path)
			if err != nil && !(os.IsNotExist(err) && tc.old == "") {
				t.Fatal(err)
			}
			s := string(b)
			if tc.old == "" {
				s += tc.new
			} else {
				if !strings.Contains(s, tc.old) {
					t.Fatalf("%s does not contain %q: the case is stale", tc.file, tc.old)
				}
				s = strings.Replace(s, tc.old, tc.new, 1)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			var found []string
			switch tc.check {
			case "modules":
				tree, err := tfcheck.Load(filepath.Join(dir, "terraform"))
				if err != nil {
					t.Fatal(err)
				}
				found = tfcheck.CheckModules(tree)
			case "agreement":
				found, err = tfcheck.CheckAgreement(dir, eventTopics)
				if err != nil {
					t.Fatal(err)
				}
			case "credentials":
				found, err = tfcheck.CheckCredentials(filepath.Join(dir, "terraform"))
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range found {
				if strings.Contains(f, tc.expect) {
					t.Logf("caught: %s", f)
					return
				}
			}
			t.Errorf("no finding contains %q; findings: %q", tc.expect, found)
		})
	}
}

// copyRepo copies what the checks read into a temporary directory.
func copyRepo(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	for _, d := range []string{"terraform", "envs", "argocd", "services/analytics/flink"} {
		src := filepath.Join(repo, d)
		if _, err := os.Stat(src); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(repo, p)
			out := filepath.Join(dst, rel)
			if e.IsDir() {
				if e.Name() == ".terraform" || e.Name() == "target" {
					return filepath.SkipDir
				}
				return os.MkdirAll(out, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(out, b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestValidateWithProviders runs `terraform init -backend=false` and
// `terraform validate` on every env where the providers are available
// locally. No provider can be downloaded on the CI machines, so it skips
// unless TF_PLUGIN_CACHE_DIR or a CLI config with a filesystem_mirror /
// dev_overrides provides them.
func TestValidateWithProviders(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: terraform validate is a heavy check")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not installed")
	}
	if os.Getenv("SHOPLAB_TF_PROVIDERS") != "1" {
		t.Skip("providers hashicorp/aws ~> 6.0, hashicorp/google ~> 7.0, hashicorp/helm ~> 2.17 and Mongey/kafka ~> 0.10 " +
			"are not available here (no registry access, nothing in TF_PLUGIN_CACHE_DIR); " +
			"set SHOPLAB_TF_PROVIDERS=1 where `terraform init` can install them (registry, filesystem_mirror or dev_overrides)")
	}
	for _, env := range []string{"aws/envs/dev", "aws/envs/prod", "gcp/envs/dev", "gcp/envs/prod"} {
		t.Run(env, func(t *testing.T) {
			dir := filepath.Join(repo, "terraform", env)
			for _, args := range [][]string{{"init", "-backend=false", "-input=false"}, {"validate", "-no-color"}} {
				cmd := exec.Command("terraform", args...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
		})
	}
}
