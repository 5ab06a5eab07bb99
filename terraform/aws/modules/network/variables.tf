variable "name" {
  type        = string
  description = "Name prefix of the VPC and its subnets, e.g. shoplab-dev."
}

variable "cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC; private subnets are its first /20s."
}

variable "azs" {
  type        = list(string)
  description = "Availability zones, one private and one public subnet each."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway shared by all zones (dev) instead of one per zone (prod)."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
