variable "name" {
  type        = string
  description = "Instance identifier, e.g. shoplab-dev."
}

variable "engine_version" {
  type        = string
  description = "PostgreSQL version, e.g. 16.4."
}

variable "instance_class" {
  type        = string
  description = "RDS instance class."
}

variable "allocated_storage" {
  type        = number
  description = "Initial storage in GiB; autoscaling goes up to four times this."
}

variable "databases" {
  type        = map(string)
  description = "Database per owning unit (unit => database), as envs/aws-<env>.yaml postgres.databases."
}

variable "master_username" {
  type        = string
  description = "Master user name (postgres.user in the env file)."
}

variable "multi_az" {
  type        = bool
  description = "Standby in a second zone (prod)."
}

variable "backup_retention_days" {
  type        = number
  description = "Automated backup retention in days."
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse deletion and take a final snapshot (prod)."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the instance."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the DB subnet group."
}

variable "client_security_group_id" {
  type        = string
  description = "Security group allowed to connect (the EKS nodes)."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
