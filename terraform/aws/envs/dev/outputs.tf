# What the deploy needs; `shoplab terraform env` turns these into
# envs/aws-dev.yaml.
output "env" {
  description = "Env name (envs/aws-<env>.yaml)."
  value       = "aws-${local.env}"
}

output "region" {
  description = "AWS region."
  value       = local.region
}

output "kafka_bootstrap_brokers" {
  description = "MSK SASL/IAM TLS bootstrap brokers."
  value       = module.msk.bootstrap_brokers
}

output "kafka_topics" {
  description = "Topics with partitions and replication, by env-file key."
  value       = module.msk.topics
}

output "postgres_address" {
  description = "RDS host:port."
  value       = module.rds.address
}

output "postgres_databases" {
  description = "Database per owning unit."
  value       = module.rds.databases
}

output "postgres_master_secret_arn" {
  description = "Secrets Manager secret of the RDS master password (database creation only)."
  value       = module.rds.master_user_secret_arn
}

output "dynamodb_products_table" {
  description = "Catalog/stock table."
  value       = module.dynamodb.products_table_name
}

output "dynamodb_dedup_table" {
  description = "Notification dedup table."
  value       = module.dynamodb.dedup_table_name
}

output "s3_analytics_bucket" {
  description = "Analytics archive bucket."
  value       = module.s3.bucket_name
}

output "ses_sender" {
  description = "SES sender."
  value       = module.ses.sender
}

output "eks_cluster_name" {
  description = "EKS cluster (aws eks update-kubeconfig --name)."
  value       = module.eks.cluster_name
}

output "eks_cluster_endpoint" {
  description = "EKS API server, the destination of the ArgoCD Application."
  value       = module.eks.cluster_endpoint
}

output "unit_role_arns" {
  description = "IAM role per unit (Pod Identity)."
  value       = module.iam.role_arns
}

output "notification_function" {
  description = "Notification Lambda name."
  value       = module.lambda.function_name
}

output "image_repository" {
  description = "Image argocd deploys and the Lambda binary comes from."
  value       = local.image_repository
}

output "alb_ingress_class" {
  description = "IngressClass of the gateway Ingress."
  value       = module.alb.ingress_class
}
