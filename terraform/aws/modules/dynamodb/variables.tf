variable "products_table_name" {
  type        = string
  description = "Catalog/stock table (aws.dynamodb.products_table in the env file)."
}

variable "dedup_table_name" {
  type        = string
  description = "Notification dedup table (aws.dynamodb.dedup_table in the env file)."
}

variable "point_in_time_recovery" {
  type        = bool
  description = "Continuous backups of the catalog (prod)."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse table deletion (prod)."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
