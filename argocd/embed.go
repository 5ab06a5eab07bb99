package argocd

import "embed"

// Tree holds apps/, base/ and overlays/ so that a binary (the HPA twin in
// `shoplab hpa`) renders the very manifests ArgoCD deploys without needing
// the checkout: RenderFS(Tree, "overlays/prod").
//
//go:embed apps base overlays
var Tree embed.FS
