# aws-prod: every name below must equal envs/aws-prod.yaml and argocd/overlays/prod
# (terraform/tfcheck tests it). Sized for the HPA maxima (terraform/README.md).
locals {
  env    = "prod"
  name   = "shoplab-${local.env}"
  region = "us-east-1"
  azs    = ["us-east-1a", "us-east-1b", "us-east-1c"]
  tags   = { project = "shoplab", env = local.env, managed-by = "terraform" }

  # The image argocd deploys; the Lambda zip carries the same binary.
  image_repository = "ghcr.io/shoplab/shoplab"
  image_tag        = "0.1.0"

  namespace = "ecommerce"

  products_table = "${local.name}-products"
  dedup_table    = "${local.name}-notification-dedup"
  bucket         = "${local.name}-analytics"
  sender         = "orders@prod.shoplab.example"
  db_user        = "shoplab"
  databases      = { user = "shoplab_user", order = "shoplab_order", payment = "shoplab_payment" }

  topics = {
    orders            = { name = "orders", partitions = 12, replication = 3 }
    analytics_results = { name = "analytics-results", partitions = 1, replication = 3 }
    orders_dlq        = { name = "orders-dlq", partitions = 1, replication = 3 }
  }

  no_access = {
    dynamodb_table_arns = [], s3_bucket_arns = [], rds_connect = false, ses_send = false
    kafka_read_topics   = [], kafka_write_topics = [], kafka_groups = []
  }
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  cidr               = "10.30.0.0/16"
  azs                = local.azs
  single_nat_gateway = false
  tags               = local.tags
}

module "eks" {
  source                 = "../../modules/eks"
  name                   = local.name
  kubernetes_version     = "1.33"
  vpc_id                 = module.network.vpc_id
  subnet_ids             = module.network.private_subnet_ids
  endpoint_public_access = false
  node_instance_type     = "m6i.large"
  node_capacity_type     = "ON_DEMAND"
  node_min_size          = 3
  node_max_size          = 9
  tags                   = local.tags
}

module "rds" {
  source                   = "../../modules/rds"
  name                     = local.name
  engine_version           = "16.4"
  instance_class           = "db.r6g.large"
  allocated_storage        = 100
  databases                = local.databases
  master_username          = local.db_user
  multi_az                 = true
  backup_retention_days    = 14
  deletion_protection      = true
  vpc_id                   = module.network.vpc_id
  subnet_ids               = module.network.private_subnet_ids
  client_security_group_id = module.eks.node_security_group_id
  tags                     = local.tags
}

module "dynamodb" {
  source                 = "../../modules/dynamodb"
  products_table_name    = local.products_table
  dedup_table_name       = local.dedup_table
  point_in_time_recovery = true
  deletion_protection    = true
  tags                   = local.tags
}

module "s3" {
  source                       = "../../modules/s3"
  bucket_name                  = local.bucket
  force_destroy                = false
  infrequent_access_after_days = 30
  tags                         = local.tags
}

module "ses" {
  source = "../../modules/ses"
  sender = local.sender
  tags   = local.tags
}

module "msk" {
  source               = "../../modules/msk"
  name                 = local.name
  kafka_version        = "3.9.x"
  broker_count         = 3
  broker_instance_type = "kafka.m7g.large"
  broker_volume_gib    = 200
  replication          = 3
  retention_hours      = 168
  topics               = local.topics
  vpc_id               = module.network.vpc_id
  vpc_cidr             = module.network.vpc_cidr
  subnet_ids           = module.network.private_subnet_ids
  tags                 = local.tags
}

module "iam" {
  source           = "../../modules/iam"
  name_prefix      = local.name
  cluster_name     = module.eks.cluster_name
  namespace        = local.namespace
  rds_resource_id  = module.rds.resource_id
  rds_db_user      = local.db_user
  ses_identity_arn = module.ses.identity_arn
  msk_cluster_name = module.msk.cluster_name
  tags             = local.tags

  units = {
    gateway = merge(local.no_access, { service_account = "gateway" })
    user    = merge(local.no_access, { service_account = "user", rds_connect = true })
    product = merge(local.no_access, { service_account = "product", dynamodb_table_arns = [module.dynamodb.products_table_arn] })
    order = merge(local.no_access, {
      service_account    = "order"
      rds_connect        = true
      kafka_write_topics = [local.topics.orders.name]
    })
    payment = merge(local.no_access, { service_account = "payment", rds_connect = true })
  }

  lambda_unit_name = "notification"
  lambda_unit = merge(local.no_access, {
    service_account     = ""
    dynamodb_table_arns = [module.dynamodb.dedup_table_arn]
    ses_send            = true
    kafka_read_topics   = [local.topics.orders.name]
    kafka_write_topics  = [local.topics.orders_dlq.name]
    kafka_groups        = ["shoplab-notification"]
  })
}

module "lambda" {
  source             = "../../modules/lambda"
  function_name      = "${local.name}-notification"
  package_zip        = var.lambda_package_zip
  source_image       = "${local.image_repository}:${local.image_tag}"
  timeout_seconds    = 60
  memory_mb          = 512
  log_level          = "info"
  log_retention_days = 30
  dedup_table_name   = module.dynamodb.dedup_table_name
  sender             = module.ses.sender
  policy_json        = module.iam.lambda_policy_json
  msk_cluster_arn    = module.msk.cluster_arn
  source_topic       = local.topics.orders.name
  dlq_topic          = local.topics.orders_dlq.name
  consumer_group     = "shoplab-notification"
  starting_position  = "TRIM_HORIZON"
  batch_size         = 50
  max_pollers        = 12
  vpc_id             = module.network.vpc_id
  subnet_ids         = module.network.private_subnet_ids
  tags               = local.tags
}

module "alb" {
  source        = "../../modules/alb"
  cluster_name  = module.eks.cluster_name
  vpc_id        = module.network.vpc_id
  region        = local.region
  chart_version = "1.13.4"
  tags          = local.tags
}
