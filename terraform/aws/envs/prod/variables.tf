variable "lambda_package_zip" {
  type        = string
  description = "Path of the notification Lambda zip (bootstrap + shoplab), built as terraform/README.md says."
}
