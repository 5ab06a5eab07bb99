# MSK with IAM auth over TLS (port 9098, kafka.sasl aws_msk_iam in the env
# file) and the topics the units use, with the env file's partition counts.
# Topics go through the Kafka protocol (Mongey/kafka), as MSK has no topic API
# in the AWS provider; the kafka provider is configured by the env root.
module "msk" {
  source  = "terraform-aws-modules/msk-kafka-cluster/aws"
  version = "2.6.0"

  name                   = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count

  broker_node_client_subnets  = var.subnet_ids
  broker_node_instance_type   = var.broker_instance_type
  broker_node_security_groups = [aws_security_group.msk.id]
  broker_node_storage_info = {
    ebs_storage_info = { volume_size = var.broker_volume_gib }
  }

  encryption_in_transit_client_broker = "TLS"
  encryption_in_transit_in_cluster    = true
  client_authentication = {
    sasl = { iam = true }
  }

  # Topics are created here, never by a client (create_topics: false).
  configuration_server_properties = {
    "auto.create.topics.enable"  = false
    "default.replication.factor" = var.replication
    "min.insync.replicas"        = var.replication > 2 ? 2 : 1
  }

  tags = var.tags
}

resource "aws_security_group" "msk" {
  name_prefix = "${var.name}-msk-"
  description = "Kafka IAM/TLS from inside the VPC only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "msk_iam" {
  security_group_id = aws_security_group.msk.id
  cidr_ipv4         = var.vpc_cidr
  ip_protocol       = "tcp"
  from_port         = 9098
  to_port           = 9098
  description       = "Kafka SASL/IAM over TLS from the VPC (EKS pods and the Lambda)"
}

resource "kafka_topic" "this" {
  for_each = var.topics

  name               = each.value.name
  partitions         = each.value.partitions
  replication_factor = each.value.replication

  config = {
    "retention.ms" = tostring(var.retention_hours * 3600 * 1000)
  }

  depends_on = [module.msk]
}
