output "products_table_name" {
  description = "Catalog/stock table name."
  value       = aws_dynamodb_table.products.name
}

output "products_table_arn" {
  description = "Catalog/stock table ARN."
  value       = aws_dynamodb_table.products.arn
}

output "dedup_table_name" {
  description = "Notification dedup table name."
  value       = aws_dynamodb_table.dedup.name
}

output "dedup_table_arn" {
  description = "Notification dedup table ARN."
  value       = aws_dynamodb_table.dedup.arn
}
