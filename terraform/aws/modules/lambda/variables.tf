variable "function_name" {
  type        = string
  description = "Function name, e.g. shoplab-dev-notification."
}

variable "package_zip" {
  type        = string
  description = "Path of the zip holding bootstrap (see README, Lambda package)."
}

variable "source_image" {
  type        = string
  description = "Image whose shoplab binary the zip carries (the one argocd deploys), tagged on the function."
}

variable "timeout_seconds" {
  type        = number
  description = "Function timeout."
}

variable "memory_mb" {
  type        = number
  description = "Function memory in MB."
}

variable "log_level" {
  type        = string
  description = "debug, info, warn or error."
}

variable "log_retention_days" {
  type        = number
  description = "CloudWatch log retention."
}

variable "dedup_table_name" {
  type        = string
  description = "DynamoDB dedup table the handler claims events in."
}

variable "sender" {
  type        = string
  description = "Verified SES sender."
}

variable "policy_json" {
  type        = string
  description = "Least-privilege policy of the function role (module iam, unit notification)."
}

variable "msk_cluster_arn" {
  type        = string
  description = "Event source: the MSK cluster."
}

variable "source_topic" {
  type        = string
  description = "Topic the function consumes (orders)."
}

variable "dlq_topic" {
  type        = string
  description = "On-failure destination topic on the same cluster (orders-dlq)."
}

variable "consumer_group" {
  type        = string
  description = "Kafka consumer group of the event source mapping."
}

variable "starting_position" {
  type        = string
  description = "TRIM_HORIZON (every retained order gets its mail) or LATEST."
}

variable "batch_size" {
  type        = number
  description = "Records per invocation."
}

variable "max_pollers" {
  type        = number
  description = "Upper bound of provisioned event pollers."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the function."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the function."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
