// Package argocd renders the kustomize tree that ArgoCD deploys to EKS and
// decodes the objects in it, so that tests and the HPA twin (sim/hpa) read
// exactly what the cluster would get.
package argocd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Render runs kustomize on a directory on disk (an overlay such as
// "argocd/overlays/prod", or any kustomization) and returns the objects as
// multi-document YAML, the same output as `kubectl kustomize`.
func Render(overlayDir string) ([]byte, error) {
	return render(filesys.MakeFsOnDisk(), overlayDir)
}

// RenderFS is Render over a file system such as Tree; dir is relative to
// its root, e.g. "overlays/prod".
func RenderFS(fsys fs.FS, dir string) ([]byte, error) {
	// kustomize reads through its own FileSystem interface, so the tree is
	// copied into its in-memory one; the tree is a few dozen small files.
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return mem.MkdirAll(path.Join("/", p))
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/", p), b)
	})
	if err != nil {
		return nil, fmt.Errorf("copy manifests: %w", err)
	}
	return render(mem, path.Join("/", dir))
}

func render(fsys filesys.FileSystem, dir string) ([]byte, error) {
	// Default options are kubectl's: built-in plugins only, and files must
	// stay under their kustomization's root.
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return out, nil
}

// HPAs returns the autoscaling/v2 HorizontalPodAutoscalers in rendered
// YAML, decoded strictly: an unknown field is an error, not a silent zero.
// An HPA of another API version is an error too, because the twin models
// only autoscaling/v2 semantics (behavior, stabilisation windows).
func HPAs(rendered []byte) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	return decodeKind[autoscalingv2.HorizontalPodAutoscaler](rendered, "autoscaling/v2", "HorizontalPodAutoscaler")
}

// Deployments returns the apps/v1 Deployments in rendered YAML, decoded
// strictly.
func Deployments(rendered []byte) ([]appsv1.Deployment, error) {
	return decodeKind[appsv1.Deployment](rendered, "apps/v1", "Deployment")
}

// decodeKind decodes every document of the given kind into T, refusing
// unknown fields and documents of that kind under another apiVersion.
func decodeKind[T any](rendered []byte, apiVersion, kind string) ([]T, error) {
	var out []T
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if head.Kind != kind {
			continue
		}
		if head.APIVersion != apiVersion {
			return nil, fmt.Errorf("%s %s: apiVersion %s, want %s", kind, head.Metadata.Name, head.APIVersion, apiVersion)
		}
		var obj T
		if err := yaml.UnmarshalStrict(doc, &obj); err != nil {
			return nil, fmt.Errorf("%s %s: %w", kind, head.Metadata.Name, err)
		}
		out = append(out, obj)
	}
}
