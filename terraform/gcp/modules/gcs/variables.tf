variable "bucket_name" {
  type        = string
  description = "Bucket of the Flink jar and checkpoints, e.g. shoplab-dev-flink."
}

variable "location" {
  type        = string
  description = "Bucket location (the Dataproc region)."
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform delete a non-empty bucket (dev only)."
}

variable "checkpoint_retention_days" {
  type        = number
  description = "Age in days after which checkpoint objects are deleted."
}

variable "job_jar_path" {
  type        = string
  description = "Local path of the shaded Flink job jar (services/analytics/flink, mvn package)."
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource."
}
