output "cluster_name" {
  description = "Dataproc cluster name."
  value       = google_dataproc_cluster.flink.name
}

output "job_id" {
  description = "Dataproc job ID of the running analytics job."
  value       = google_dataproc_job.analytics.reference[0].job_id
}

output "service_account_email" {
  description = "Service account of the cluster VMs."
  value       = google_service_account.flink.email
}

output "service_account_unique_id" {
  description = "Numeric ID of that service account: the audience an AWS role for MSK/S3 access trusts (README)."
  value       = google_service_account.flink.unique_id
}

output "flink_version" {
  description = "Flink version of the cluster."
  value       = var.flink_version
}
