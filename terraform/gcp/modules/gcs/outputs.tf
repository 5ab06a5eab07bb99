output "bucket_name" {
  description = "Bucket of the jar and the checkpoints."
  value       = google_storage_bucket.flink.name
}

output "job_jar_uri" {
  description = "gs:// URI of the uploaded job jar."
  value       = "gs://${google_storage_bucket.flink.name}/${google_storage_bucket_object.job_jar.name}"
}

output "checkpoint_uri" {
  description = "gs:// prefix of the Flink checkpoints."
  value       = "gs://${google_storage_bucket.flink.name}/checkpoints"
}
