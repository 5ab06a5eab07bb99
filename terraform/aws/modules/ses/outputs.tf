output "sender" {
  description = "Sender address."
  value       = aws_sesv2_email_identity.sender.email_identity
}

output "identity_arn" {
  description = "ARN of the identity, the resource of ses:SendEmail."
  value       = aws_sesv2_email_identity.sender.arn
}
