package argocd

//go:generate go run ./monitoring/gen -rules ../dashboards/prometheus/rules -out monitoring/shoplab

import "embed"

// Tree holds apps/, base/ and overlays/ so that a binary (the HPA twin in
// `shoplab hpa`) renders the very manifests ArgoCD deploys without needing
// the checkout: RenderFS(Tree, "overlays/prod").
//
//go:embed apps base overlays
var Tree embed.FS
