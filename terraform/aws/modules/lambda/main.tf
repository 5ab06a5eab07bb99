# The notification unit as a Lambda on MSK events: the shoplab binary in a
# zip on provided.al2023 (terraform/README.md "Lambda package"). Failed
# batches go to the orders-dlq topic on the same cluster.
module "function" {
  source  = "terraform-aws-modules/lambda/aws"
  version = "8.1.0"

  function_name = var.function_name
  description   = "shoplab notification: order confirmations from the orders topic"
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = ["x86_64"]
  timeout       = var.timeout_seconds
  memory_size   = var.memory_mb

  create_package         = false
  local_existing_package = var.package_zip

  environment_variables = {
    SHOPLAB_DEDUP_TABLE = var.dedup_table_name
    SHOPLAB_SES_SENDER  = var.sender
    SHOPLAB_LOG_LEVEL   = var.log_level
  }

  vpc_subnet_ids         = var.subnet_ids
  vpc_security_group_ids = [aws_security_group.function.id]
  attach_network_policy  = true

  attach_policy_json = true
  policy_json        = var.policy_json

  cloudwatch_logs_retention_in_days = var.log_retention_days

  tags = merge(var.tags, { "shoplab/image" = var.source_image })
}

resource "aws_security_group" "function" {
  name_prefix = "${var.function_name}-"
  description = "Notification Lambda: egress only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "function_all" {
  security_group_id = aws_security_group.function.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  description       = "MSK, DynamoDB and SES through the VPC and the NAT"
}

resource "aws_lambda_event_source_mapping" "orders" {
  function_name     = module.function.lambda_function_arn
  event_source_arn  = var.msk_cluster_arn
  topics            = [var.source_topic]
  starting_position = var.starting_position
  batch_size        = var.batch_size

  amazon_managed_kafka_event_source_config {
    consumer_group_id = var.consumer_group
  }

  # Kafka on-failure destinations need provisioned pollers.
  provisioned_poller_config {
    minimum_pollers = 1
    maximum_pollers = var.max_pollers
  }

  destination_config {
    on_failure {
      destination_arn = "kafka://${var.dlq_topic}"
    }
  }
}
