variable "name" {
  type        = string
  description = "Cluster name, e.g. shoplab-dev."
}

variable "kafka_version" {
  type        = string
  description = "MSK Kafka version."
}

variable "broker_count" {
  type        = number
  description = "Broker nodes, a multiple of the client subnets."
}

variable "broker_instance_type" {
  type        = string
  description = "MSK broker instance type, e.g. kafka.t3.small."
}

variable "broker_volume_gib" {
  type        = number
  description = "EBS volume per broker in GiB."
}

variable "replication" {
  type        = number
  description = "Default replication factor of the cluster."
}

variable "retention_hours" {
  type        = number
  description = "Retention of every topic in hours."
}

variable "topics" {
  type = map(object({
    name        = string
    partitions  = number
    replication = number
  }))
  description = "Topics by env-file key (kafka.topics in envs/aws-<env>.yaml): name, partitions, replication."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the brokers."
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR allowed to reach the brokers."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the brokers, one per zone."
}

variable "tags" {
  type        = map(string)
  description = "Tags put on every resource."
}
