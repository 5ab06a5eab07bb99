# The catalog/stock table (single-table design on PK/SK: the layout of
# services/product/adapters/dynamodb, which terraform/tfcheck compares with
# this file) and the notification dedup table (event_id, expiring through
# TTL on expires_at). On-demand billing: no capacity to size.
resource "aws_dynamodb_table" "products" {
  name         = var.products_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "PK"
  range_key    = "SK"

  attribute {
    name = "PK"
    type = "S"
  }

  attribute {
    name = "SK"
    type = "S"
  }

  attribute {
    name = "catalog"
    type = "S"
  }

  attribute {
    name = "category"
    type = "S"
  }

  attribute {
    name = "id"
    type = "S"
  }

  # Listing the whole catalog by id (a sparse index: only product items
  # carry "catalog") and one category by id: the Query calls of
  # services/product/adapters/dynamodb.
  global_secondary_index {
    name            = "catalog"
    hash_key        = "catalog"
    range_key       = "id"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "by_category"
    hash_key        = "category"
    range_key       = "id"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags
}

resource "aws_dynamodb_table" "dedup" {
  name         = var.dedup_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "event_id"

  attribute {
    name = "event_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = var.deletion_protection
  tags                        = var.tags
}
