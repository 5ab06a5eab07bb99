output "function_name" {
  description = "Notification function name."
  value       = module.function.lambda_function_name
}

output "function_arn" {
  description = "Notification function ARN."
  value       = module.function.lambda_function_arn
}

output "event_source_mapping_uuid" {
  description = "UUID of the MSK event source mapping."
  value       = aws_lambda_event_source_mapping.orders.uuid
}
