output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr" {
  description = "CIDR of the VPC, for security group rules."
  value       = module.vpc.vpc_cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets: EKS nodes, RDS, MSK, Lambda."
  value       = module.vpc.private_subnets
}

output "public_subnet_ids" {
  description = "Public subnets: the internet-facing ALB."
  value       = module.vpc.public_subnets
}
