# One IAM role per unit, bound to its Kubernetes service account through EKS
# Pod Identity (no annotation on the ServiceAccount needed, so argocd/ stays
# cloud-agnostic), and a policy that grants exactly the AWS resources the
# unit owns. The notification Lambda's policy is built the same way and
# handed to module lambda.
data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  arn_prefix   = "arn:${data.aws_partition.current.partition}"
  region       = data.aws_region.current.region
  account      = data.aws_caller_identity.current.account_id
  kafka_prefix = "${local.arn_prefix}:kafka:${local.region}:${local.account}"

  all_units = merge(var.units, { (var.lambda_unit_name) = var.lambda_unit })

  # Statements per unit; a unit with none (gateway) gets a role with no
  # policy, so that its pods still have an identity and nothing else.
  statements = {
    for name, u in local.all_units : name => concat(
      length(u.dynamodb_table_arns) == 0 ? [] : [{
        sid       = "DynamoDB"
        actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:TransactWriteItems", "dynamodb:ConditionCheckItem"]
        resources = concat(u.dynamodb_table_arns, [for a in u.dynamodb_table_arns : "${a}/index/*"])
      }],
      length(u.s3_bucket_arns) == 0 ? [] : [{
        sid       = "S3Objects"
        actions   = ["s3:GetObject", "s3:PutObject"]
        resources = [for a in u.s3_bucket_arns : "${a}/*"]
      }],
      !u.rds_connect ? [] : [{
        sid       = "RDSIAMAuth"
        actions   = ["rds-db:connect"]
        resources = ["${local.arn_prefix}:rds-db:${local.region}:${local.account}:dbuser:${var.rds_resource_id}/${var.rds_db_user}"]
      }],
      !u.ses_send ? [] : [{
        sid       = "SESSend"
        actions   = ["ses:SendEmail", "ses:SendRawEmail"]
        resources = [var.ses_identity_arn]
      }],
      length(u.kafka_read_topics) + length(u.kafka_write_topics) == 0 ? [] : [{
        sid       = "KafkaConnect"
        actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
        resources = ["${local.kafka_prefix}:cluster/${var.msk_cluster_name}/*"]
      }],
      length(u.kafka_read_topics) == 0 ? [] : [{
        sid       = "KafkaRead"
        actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
        resources = [for t in u.kafka_read_topics : "${local.kafka_prefix}:topic/${var.msk_cluster_name}/*/${t}"]
      }],
      length(u.kafka_write_topics) == 0 ? [] : [{
        sid       = "KafkaWrite"
        actions   = ["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"]
        resources = [for t in u.kafka_write_topics : "${local.kafka_prefix}:topic/${var.msk_cluster_name}/*/${t}"]
      }],
      length(u.kafka_groups) == 0 ? [] : [{
        sid       = "KafkaGroups"
        actions   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
        resources = [for g in u.kafka_groups : "${local.kafka_prefix}:group/${var.msk_cluster_name}/*/${g}"]
      }],
    )
  }
}

data "aws_iam_policy_document" "unit" {
  for_each = { for name, s in local.statements : name => s if length(s) > 0 }

  dynamic "statement" {
    for_each = each.value
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

data "aws_iam_policy_document" "pod_identity_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "unit" {
  for_each = var.units

  name               = "${var.name_prefix}-${each.key}"
  description        = "shoplab ${each.key}: service account ${var.namespace}/${each.value.service_account}"
  assume_role_policy = data.aws_iam_policy_document.pod_identity_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "unit" {
  for_each = { for name, _ in var.units : name => name if length(local.statements[name]) > 0 }

  name   = "least-privilege"
  role   = aws_iam_role.unit[each.key].id
  policy = data.aws_iam_policy_document.unit[each.key].json
}

resource "aws_eks_pod_identity_association" "unit" {
  for_each = var.units

  cluster_name    = var.cluster_name
  namespace       = var.namespace
  service_account = each.value.service_account
  role_arn        = aws_iam_role.unit[each.key].arn
  tags            = var.tags
}
