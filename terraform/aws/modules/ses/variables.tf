variable "sender" {
  type        = string
  description = "Sender address (aws.ses.sender in the env file)."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
