output "cluster_name" {
  description = "EKS cluster name, for aws eks update-kubeconfig and Pod Identity."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "API server endpoint."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 CA of the API server."
  value       = module.eks.cluster_certificate_authority_data
}

output "node_security_group_id" {
  description = "Security group of the nodes, allowed into RDS and MSK."
  value       = module.eks.node_security_group_id
}
