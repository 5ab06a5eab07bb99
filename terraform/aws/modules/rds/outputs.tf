output "address" {
  description = "host:port of the instance (postgres.address in the env file)."
  value       = "${module.db.db_instance_address}:${module.db.db_instance_port}"
}

output "resource_id" {
  description = "DbiResourceId, the resource of rds-db:connect."
  value       = module.db.db_instance_resource_id
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret of the master password."
  value       = module.db.db_instance_master_user_secret_arn
}

output "databases" {
  description = "Database per owning unit."
  value       = var.databases
}
