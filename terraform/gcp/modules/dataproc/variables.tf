variable "name" {
  type        = string
  description = "Cluster name, e.g. shoplab-dev."
}

variable "project" {
  type        = string
  description = "GCP project ID."
}

variable "region" {
  type        = string
  description = "Dataproc region."
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork of the cluster VMs (needs Private Google Access and a route to MSK)."
}

variable "image_version" {
  type        = string
  description = "Dataproc image; its Flink must equal flink_version (see README, image table)."
}

variable "flink_version" {
  type        = string
  description = "Flink version the image ships and the job is built against."
}

variable "master_machine_type" {
  type        = string
  description = "Machine type of the master (JobManager)."
}

variable "worker_machine_type" {
  type        = string
  description = "Machine type of the workers (TaskManagers)."
}

variable "worker_count" {
  type        = number
  description = "Primary workers (at least 2)."
}

variable "bucket_name" {
  type        = string
  description = "Bucket of the jar and checkpoints (module gcs)."
}

variable "checkpoint_uri" {
  type        = string
  description = "gs:// prefix of checkpoints (module gcs)."
}

variable "job_jar_uri" {
  type        = string
  description = "gs:// URI of the job jar (module gcs)."
}

variable "job_args" {
  type        = list(string)
  description = "Arguments of the Flink job (brokers, topics, bucket)."
}

variable "job_properties" {
  type        = map(string)
  description = "Flink properties of the job submission, e.g. parallelism.default."
}

variable "labels" {
  type        = map(string)
  description = "Labels put on every resource."
}
