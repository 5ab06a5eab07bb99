output "role_arns" {
  description = "IAM role per unit running in EKS."
  value       = { for k, r in aws_iam_role.unit : k => r.arn }
}

output "lambda_policy_json" {
  description = "Least-privilege policy of the Lambda unit."
  value       = data.aws_iam_policy_document.unit[var.lambda_unit_name].json
}
