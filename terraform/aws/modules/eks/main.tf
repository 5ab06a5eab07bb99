# EKS with one managed node group. Its max_size is what the HPA maxima of
# argocd/overlays/prod need (terraform/README.md has the arithmetic and
# terraform/tfcheck tests it against the rendered overlay).
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "21.10.1"

  name               = var.name
  kubernetes_version = var.kubernetes_version

  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  endpoint_public_access                   = var.endpoint_public_access
  enable_cluster_creator_admin_permissions = true

  # eks-pod-identity-agent backs the per-unit IAM roles (module iam).
  addons = {
    coredns                = {}
    kube-proxy             = {}
    vpc-cni                = { before_compute = true }
    eks-pod-identity-agent = { before_compute = true }
  }

  eks_managed_node_groups = {
    default = {
      ami_type       = "AL2023_x86_64_STANDARD"
      instance_types = [var.node_instance_type]
      capacity_type  = var.node_capacity_type
      min_size       = var.node_min_size
      max_size       = var.node_max_size
      desired_size   = var.node_min_size
    }
  }

  tags = var.tags
}
