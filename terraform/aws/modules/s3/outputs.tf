output "bucket_name" {
  description = "Analytics archive bucket name."
  value       = aws_s3_bucket.analytics.id
}

output "bucket_arn" {
  description = "Analytics archive bucket ARN."
  value       = aws_s3_bucket.analytics.arn
}
