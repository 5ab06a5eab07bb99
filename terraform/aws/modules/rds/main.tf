# RDS PostgreSQL for the units that own relational data (user, order,
# payment), one database each. RDS creates only the first database (db_name:
# values() orders by key, so the order unit's); the others are created once
# from the databases output (terraform/README.md, step 3), because a postgresql provider here would need a network path into
# the private subnets from wherever terraform runs.
module "db" {
  source  = "terraform-aws-modules/rds/aws"
  version = "6.12.0"

  identifier = var.name

  engine               = "postgres"
  engine_version       = var.engine_version
  family               = "postgres${split(".", var.engine_version)[0]}"
  major_engine_version = split(".", var.engine_version)[0]
  instance_class       = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.allocated_storage * 4

  db_name  = values(var.databases)[0]
  username = var.master_username
  port     = 5432

  # The master password lives in Secrets Manager, never in state or code;
  # units connect with RDS IAM tokens (rds-db:connect in module iam).
  manage_master_user_password         = true
  iam_database_authentication_enabled = true

  multi_az               = var.multi_az
  create_db_subnet_group = true
  subnet_ids             = var.subnet_ids
  vpc_security_group_ids = [aws_security_group.db.id]

  backup_retention_period = var.backup_retention_days
  deletion_protection     = var.deletion_protection
  skip_final_snapshot     = !var.deletion_protection

  tags = var.tags
}

resource "aws_security_group" "db" {
  name_prefix = "${var.name}-db-"
  description = "PostgreSQL from the EKS nodes only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "db_from_nodes" {
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = var.client_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  description                  = "PostgreSQL from the EKS nodes"
}
