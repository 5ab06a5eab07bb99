variable "name" {
  type        = string
  description = "Cluster name, e.g. shoplab-dev."
}

variable "kubernetes_version" {
  type        = string
  description = "EKS Kubernetes minor version."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the control plane ENIs and the nodes."
}

variable "endpoint_public_access" {
  type        = bool
  description = "Whether the API server is reachable from the internet (dev: true for kubectl, prod: false)."
}

variable "node_instance_type" {
  type        = string
  description = "EC2 instance type of the managed node group."
}

variable "node_capacity_type" {
  type        = string
  description = "ON_DEMAND or SPOT."
}

variable "node_min_size" {
  type        = number
  description = "Minimum (and initial) node count."
}

variable "node_max_size" {
  type        = number
  description = "Maximum node count: fits every HPA at its maximum (see README)."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
