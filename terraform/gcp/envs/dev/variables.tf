variable "project" {
  type        = string
  description = "GCP project ID."
}

variable "region" {
  type        = string
  description = "Dataproc and bucket region."
}

variable "subnetwork" {
  type        = string
  description = "Subnetwork of the Dataproc VMs."
}

variable "job_jar_path" {
  type        = string
  description = "Local path of the shaded Flink job jar."
}

variable "kafka_bootstrap_brokers" {
  type        = string
  description = "MSK bootstrap brokers: terraform output kafka_bootstrap_brokers of terraform/aws/envs/<env>."
}
