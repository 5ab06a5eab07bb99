package tfcheck

// ProviderSpec is what a pinned provider offers, as far as this repository
// uses it.
type ProviderSpec struct {
	Source      string
	Version     string // the constraint every module pins
	Resources   []string
	DataSources []string
}

// Providers is a committed list, not a downloaded schema: no provider can be
// fetched where the checks run. Each type here was checked by hand against
// the provider's documentation for the pinned major version. A resource type
// that is not listed fails CheckModules; add it here only after checking the
// provider offers it at the pinned version.
var Providers = map[string]ProviderSpec{
	"hashicorp/aws": {
		Source:  "hashicorp/aws",
		Version: "~> 6.0",
		Resources: []string{
			"aws_dynamodb_table",
			"aws_eks_pod_identity_association",
			"aws_iam_role",
			"aws_iam_role_policy",
			"aws_lambda_event_source_mapping",
			"aws_s3_bucket",
			"aws_s3_bucket_lifecycle_configuration",
			"aws_s3_bucket_public_access_block",
			"aws_s3_bucket_server_side_encryption_configuration",
			"aws_s3_bucket_versioning",
			"aws_security_group",
			"aws_sesv2_email_identity",
			"aws_vpc_security_group_egress_rule",
			"aws_vpc_security_group_ingress_rule",
		},
		DataSources: []string{
			"aws_caller_identity",
			"aws_iam_policy_document",
			"aws_partition",
			"aws_region",
		},
	},
	"hashicorp/google": {
		Source:  "hashicorp/google",
		Version: "~> 7.0",
		Resources: []string{
			"google_dataproc_cluster",
			"google_dataproc_job",
			"google_project_iam_member",
			"google_service_account",
			"google_storage_bucket",
			"google_storage_bucket_iam_member",
			"google_storage_bucket_object",
		},
	},
	"hashicorp/helm": {
		Source:    "hashicorp/helm",
		Version:   "~> 2.17",
		Resources: []string{"helm_release"},
	},
	"Mongey/kafka": {
		Source:    "Mongey/kafka",
		Version:   "~> 0.10",
		Resources: []string{"kafka_topic"},
	},
}
