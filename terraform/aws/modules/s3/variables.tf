variable "bucket_name" {
  type        = string
  description = "Analytics archive bucket (aws.s3.analytics_bucket in the env file)."
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy a non-empty bucket (dev only)."
}

variable "infrequent_access_after_days" {
  type        = number
  description = "Age in days after which archived windows move to STANDARD_IA."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
