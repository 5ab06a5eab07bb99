variable "cluster_name" {
  type        = string
  description = "EKS cluster the controller runs in."
}

variable "vpc_id" {
  type        = string
  description = "VPC the controller creates load balancers in."
}

variable "region" {
  type        = string
  description = "AWS region of the cluster."
}

variable "chart_version" {
  type        = string
  description = "Pinned aws-load-balancer-controller Helm chart version."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
