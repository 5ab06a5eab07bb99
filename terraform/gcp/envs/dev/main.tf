# gcp-dev: the Flink analytics job of aws-dev on Dataproc. flink_version must
# equal services/analytics/flink/pom.xml's flink.version and the Flink of
# image_version (terraform/tfcheck tests both).
locals {
  env    = "dev"
  name   = "shoplab-${local.env}"
  labels = { project = "shoplab", env = local.env, managed-by = "terraform" }

  # Dataproc 3.0.x images ship Flink 2.2.0 (README, image table).
  image_version = "3.0.3-debian13"
  flink_version = "2.2.0"

  # Names shared with envs/aws-dev.yaml.
  topics = { orders = "orders", analytics_results = "analytics-results" }
  bucket = "shoplab-dev-analytics"
}

module "gcs" {
  source                    = "../../modules/gcs"
  bucket_name               = "${local.name}-flink-${var.project}"
  location                  = var.region
  force_destroy             = true
  checkpoint_retention_days = 3
  job_jar_path              = var.job_jar_path
  labels                    = local.labels
}

module "dataproc" {
  source              = "../../modules/dataproc"
  name                = local.name
  project             = var.project
  region              = var.region
  subnetwork          = var.subnetwork
  image_version       = local.image_version
  flink_version       = local.flink_version
  master_machine_type = "n2-standard-2"
  worker_machine_type = "n2-standard-2"
  worker_count        = 2
  bucket_name         = module.gcs.bucket_name
  checkpoint_uri      = module.gcs.checkpoint_uri
  job_jar_uri         = module.gcs.job_jar_uri
  # The launcher's own arguments (Launcher.java): --set name=value per
  # variable of orders.sql; the rest keep the job's defaults. The launcher
  # refused the old --brokers/--input-topic flags ("unknown argument").
  # archive_bucket names the archive for when the job gets one; orders.sql
  # has no archive sink today and no ${archive_bucket}, so it is unused.
  job_args = [
    "--set", "brokers=${var.kafka_bootstrap_brokers}",
    "--set", "input_topic=${local.topics.orders}",
    "--set", "output_topic=${local.topics.analytics_results}",
    "--set", "archive_bucket=${local.bucket}",
  ]
  job_properties = { "parallelism.default" = "1" }
  labels         = local.labels
}
