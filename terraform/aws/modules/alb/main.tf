# The gateway's ALB comes from the AWS Load Balancer Controller, installed
# here (Helm) with its IAM role through Pod Identity. The Ingress object
# itself belongs with the manifests ArgoCD syncs; the controller turns it into
# an internet-facing ALB in the public subnets tagged by module network.
module "controller_identity" {
  source  = "terraform-aws-modules/eks-pod-identity/aws"
  version = "2.6.0"

  name                            = "${var.cluster_name}-aws-lbc"
  attach_aws_lb_controller_policy = true

  associations = {
    controller = {
      cluster_name    = var.cluster_name
      namespace       = "kube-system"
      service_account = "aws-load-balancer-controller"
    }
  }

  tags = var.tags
}

resource "helm_release" "controller" {
  name       = "aws-load-balancer-controller"
  repository = "https://aws.github.io/eks-charts"
  chart      = "aws-load-balancer-controller"
  version    = var.chart_version
  namespace  = "kube-system"

  values = [yamlencode({
    clusterName  = var.cluster_name
    vpcId        = var.vpc_id
    region       = var.region
    replicaCount = 2
    serviceAccount = {
      create = true
      name   = "aws-load-balancer-controller"
    }
  })]

  depends_on = [module.controller_identity]
}
