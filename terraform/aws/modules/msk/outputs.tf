output "cluster_arn" {
  description = "MSK cluster ARN: the event source of the notification Lambda."
  value       = module.msk.arn
}

output "cluster_name" {
  description = "MSK cluster name, the resource prefix of kafka-cluster IAM actions."
  value       = var.name
}

output "bootstrap_brokers" {
  description = "Comma-separated SASL/IAM TLS bootstrap brokers (kafka.brokers in the env file)."
  value       = module.msk.bootstrap_brokers_sasl_iam
}

output "topics" {
  description = "Topics created, by env-file key."
  value       = { for k, t in kafka_topic.this : k => { name = t.name, partitions = t.partitions, replication = t.replication_factor } }
}
