terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    kafka = {
      source  = "Mongey/kafka"
      version = "~> 0.10"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.17"
    }
  }

  # One state key per env; S3-native lock files (no DynamoDB lock table).
  backend "s3" {
    bucket       = "shoplab-terraform-state"
    key          = "aws/prod/terraform.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
