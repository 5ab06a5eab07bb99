# One bucket for the Flink job's jar (jars/) and its checkpoints and
# savepoints (checkpoints/). Uniform access, no public access; old
# checkpoints are deleted because Flink only restores from the latest ones.
resource "google_storage_bucket" "flink" {
  name                        = var.bucket_name
  location                    = var.location
  force_destroy               = var.force_destroy
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = false
  }

  lifecycle_rule {
    condition {
      age            = var.checkpoint_retention_days
      matches_prefix = ["checkpoints/"]
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "job_jar" {
  name   = "jars/${basename(var.job_jar_path)}"
  bucket = google_storage_bucket.flink.name
  source = var.job_jar_path
}
