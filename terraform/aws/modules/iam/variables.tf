variable "name_prefix" {
  type        = string
  description = "Prefix of the role names, e.g. shoplab-dev."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster of the Pod Identity associations."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the units (argocd/base kustomization namespace)."
}

variable "units" {
  type = map(object({
    service_account     = string
    dynamodb_table_arns = list(string)
    s3_bucket_arns      = list(string)
    rds_connect         = bool
    ses_send            = bool
    kafka_read_topics   = list(string)
    kafka_write_topics  = list(string)
    kafka_groups        = list(string)
  }))
  description = "Units that run in EKS, by name: their service account (as argocd/base) and what they may touch."
}

variable "lambda_unit_name" {
  type        = string
  description = "Name of the unit that runs as a Lambda (notification)."
}

variable "lambda_unit" {
  type = object({
    service_account     = string
    dynamodb_table_arns = list(string)
    s3_bucket_arns      = list(string)
    rds_connect         = bool
    ses_send            = bool
    kafka_read_topics   = list(string)
    kafka_write_topics  = list(string)
    kafka_groups        = list(string)
  })
  description = "What the Lambda unit may touch; service_account is unused there and left empty."
}

variable "rds_resource_id" {
  type        = string
  description = "DbiResourceId of the RDS instance, for rds-db:connect."
}

variable "rds_db_user" {
  type        = string
  description = "Database user the units connect as with an IAM token."
}

variable "ses_identity_arn" {
  type        = string
  description = "SES identity the senders may use."
}

variable "msk_cluster_name" {
  type        = string
  description = "MSK cluster name, for kafka-cluster resource ARNs."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
