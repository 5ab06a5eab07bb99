output "dataproc_cluster" {
  description = "Dataproc cluster running the Flink job."
  value       = module.dataproc.cluster_name
}

output "flink_job_id" {
  description = "Dataproc job ID of the analytics job."
  value       = module.dataproc.job_id
}

output "flink_bucket" {
  description = "Bucket of the jar and checkpoints."
  value       = module.gcs.bucket_name
}

output "flink_version" {
  description = "Flink version on the cluster."
  value       = module.dataproc.flink_version
}

output "flink_service_account_unique_id" {
  description = "Audience of the AWS web-identity role the job uses for MSK and S3."
  value       = module.dataproc.service_account_unique_id
}
