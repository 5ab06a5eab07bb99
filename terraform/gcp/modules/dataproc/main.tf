# A Dataproc cluster with the FLINK optional component, on an image whose
# Flink equals the job's pinned flink.version (terraform/tfcheck compares
# var.flink_version, the image table in README and the job's pom.xml), and the
# job submission. One master: Dataproc's HA mode does not support Flink HA.
resource "google_service_account" "flink" {
  account_id   = "${var.name}-flink"
  display_name = "shoplab ${var.name} Flink job"
}

resource "google_project_iam_member" "worker" {
  project = var.project
  role    = "roles/dataproc.worker"
  member  = "serviceAccount:${google_service_account.flink.email}"
}

# Read the jar, write checkpoints: this bucket only.
resource "google_storage_bucket_iam_member" "flink_bucket" {
  bucket = var.bucket_name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.flink.email}"
}

resource "google_dataproc_cluster" "flink" {
  name   = var.name
  region = var.region
  labels = merge(var.labels, { flink-version = replace(var.flink_version, ".", "-") })

  cluster_config {
    staging_bucket = var.bucket_name

    master_config {
      num_instances = 1
      machine_type  = var.master_machine_type
      disk_config {
        boot_disk_size_gb = 50
      }
    }

    worker_config {
      num_instances = var.worker_count
      machine_type  = var.worker_machine_type
      disk_config {
        boot_disk_size_gb = 50
      }
    }

    software_config {
      image_version       = var.image_version
      optional_components = ["FLINK"]
      override_properties = {
        "flink:state.checkpoints.dir" = var.checkpoint_uri
        "flink:state.savepoints.dir"  = "${var.checkpoint_uri}/savepoints"
      }
    }

    gce_cluster_config {
      service_account        = google_service_account.flink.email
      service_account_scopes = ["cloud-platform"]
      internal_ip_only       = true
      subnetwork             = var.subnetwork
    }
  }

  depends_on = [google_project_iam_member.worker, google_storage_bucket_iam_member.flink_bucket]
}

resource "google_dataproc_job" "analytics" {
  region       = var.region
  force_delete = true

  placement {
    cluster_name = google_dataproc_cluster.flink.name
  }

  flink_config {
    main_jar_file_uri = var.job_jar_uri
    args              = var.job_args
    properties        = var.job_properties
  }

  labels = var.labels
}
