package argocd_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/shoplab/shoplab/argocd"
)

// TestKustomizeBuildsEveryDir renders every kustomization with the krusty
// library this package and the HPA twin use, and, where kubectl is on PATH,
// with the kustomize built into kubectl, the path a human takes: both must
// give the same objects. kubectl embeds its own kustomize release, so a
// drift between the two shows up here.
func TestKustomizeBuildsEveryDir(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Log("kubectl is not on PATH: krusty renders only, no comparison with `kubectl kustomize`")
	}
	for _, dir := range kustomizations(t) {
		t.Run(dir, func(t *testing.T) {
			lib, err := argocd.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := objects(t, lib)
			if len(want) == 0 {
				t.Error("no objects rendered")
			}
			if kubectl == "" {
				return
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), kubectl, "kustomize", dir)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
			}
			got := objects(t, stdout.Bytes())
			for key, w := range want {
				g, ok := got[key]
				if !ok {
					t.Errorf("%s: rendered by krusty, missing from kubectl", key)
					continue
				}
				if !reflect.DeepEqual(w, g) {
					wj, _ := json.MarshalIndent(w, "", "  ")
					gj, _ := json.MarshalIndent(g, "", "  ")
					t.Errorf("%s differs\nkrusty:\n%s\nkubectl:\n%s", key, wj, gj)
				}
			}
			for key := range got {
				if _, ok := want[key]; !ok {
					t.Errorf("%s: rendered by kubectl, missing from krusty", key)
				}
			}
		})
	}
}

// kustomizations lists every directory under argocd/ that holds a
// kustomization.yaml, and the dashboards one that monitoring/shoplab builds
// on, so a new directory is rendered both ways without being listed here.
func kustomizations(tb testing.TB) []string {
	tb.Helper()
	dirs := []string{"../dashboards"}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, want := range []string{"base", "overlays/prod", "apps", "monitoring/shoplab", "monitoring/fluent-bit/overlays/prod"} {
		if !slices.Contains(dirs, want) {
			tb.Fatalf("kustomizations %v: missing %s", dirs, want)
		}
	}
	return dirs
}

// objects indexes a render by apiVersion, kind, namespace and name, each
// object as generic JSON so the comparison ignores key order and layout.
func objects(tb testing.TB, rendered []byte) map[string]map[string]any {
	tb.Helper()
	all, err := docs(rendered)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, doc := range all {
		var h header
		if err := yaml.Unmarshal(doc, &h); err != nil {
			tb.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			tb.Fatal(err)
		}
		key := h.APIVersion + " " + h.String()
		if _, dup := out[key]; dup {
			tb.Fatalf("%s rendered twice", key)
		}
		out[key] = obj
	}
	return out
}
