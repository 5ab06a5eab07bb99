# The sender of the order confirmation mails. An email identity is verified
# by clicking the link AWS sends; a new account is in the SES sandbox until
# production access is requested (README step 3).
resource "aws_sesv2_email_identity" "sender" {
  email_identity = var.sender
  tags           = var.tags
}
