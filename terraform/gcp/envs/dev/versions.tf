terraform {
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
  }

  # One state key (prefix) per env.
  backend "gcs" {
    bucket = "shoplab-terraform-state-gcp"
    prefix = "gcp/dev"
  }
}
