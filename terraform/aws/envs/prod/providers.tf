provider "aws" {
  region = local.region
}

# Topics are created over the Kafka protocol with IAM auth, so terraform must
# run where the brokers are reachable (inside the VPC; README step 2).
provider "kafka" {
  bootstrap_servers = split(",", module.msk.bootstrap_brokers)
  tls_enabled       = true
  sasl_mechanism    = "aws-iam"
  sasl_aws_region   = local.region
}

provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)
    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", local.region]
    }
  }
}
