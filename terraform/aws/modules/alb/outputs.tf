output "controller_role_arn" {
  description = "IAM role of the AWS Load Balancer Controller."
  value       = module.controller_identity.iam_role_arn
}

output "ingress_class" {
  description = "IngressClass the gateway's Ingress names."
  value       = "alb"
}
