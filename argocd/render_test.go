package argocd_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/argocd"
)

// TestRenderFSMatchesDisk: the embedded tree the HPA twin renders is the
// tree on disk, byte for byte.
func TestRenderFSMatchesDisk(t *testing.T) {
	for _, dir := range []string{"base", "overlays/dev", "overlays/prod", "apps"} {
		t.Run(dir, func(t *testing.T) {
			disk, err := argocd.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			embedded, err := argocd.RenderFS(argocd.Tree, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(disk, embedded) {
				t.Errorf("RenderFS(Tree, %q) differs from Render(%q)", dir, dir)
			}
		})
	}
}

func TestRenderMissingDir(t *testing.T) {
	if _, err := argocd.Render("overlays/staging"); err == nil {
		t.Error("Render of a missing overlay: want an error")
	}
	if _, err := argocd.RenderFS(argocd.Tree, "overlays/staging"); err == nil {
		t.Error("RenderFS of a missing overlay: want an error")
	}
}

// TestHPAsAndDeployments covers the API the HPA twin uses: the prod render
// yields the three HPAs and the five Deployments, each HPA's target among
// them with its CPU and memory requests.
func TestHPAsAndDeployments(t *testing.T) {
	out, err := argocd.Render("overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	hpas, err := argocd.HPAs(out)
	if err != nil {
		t.Fatal(err)
	}
	deps, err := argocd.Deployments(out)
	if err != nil {
		t.Fatal(err)
	}
	var hpaNames, depNames []string
	for _, h := range hpas {
		hpaNames = append(hpaNames, h.Name)
	}
	requests := map[string]bool{}
	for _, d := range deps {
		depNames = append(depNames, d.Name)
		r := d.Spec.Template.Spec.Containers[0].Resources.Requests
		requests[d.Name] = !r.Cpu().IsZero() && !r.Memory().IsZero()
	}
	slices.Sort(hpaNames)
	slices.Sort(depNames)
	if want := []string{"order", "payment", "product"}; !slices.Equal(hpaNames, want) {
		t.Errorf("HPAs %v, want %v", hpaNames, want)
	}
	if want := []string{"gateway", "order", "payment", "product", "user"}; !slices.Equal(depNames, want) {
		t.Errorf("Deployments %v, want %v", depNames, want)
	}
	for _, h := range hpas {
		if !requests[h.Spec.ScaleTargetRef.Name] {
			t.Errorf("HPA %s: target %s not found with requests", h.Name, h.Spec.ScaleTargetRef.Name)
		}
		if h.Spec.Behavior == nil || h.Spec.Behavior.ScaleUp == nil || h.Spec.Behavior.ScaleDown == nil {
			t.Errorf("HPA %s: behavior lost in decoding", h.Name)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	cases := map[string]struct {
		doc  string
		want string
	}{
		"unknown HPA field": {`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: order}
spec: {maxReplicas: 3, maxReplica: 4}
`, `unknown field "maxReplica"`},
		"HPA of another version": {`apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: order}
spec: {maxReplicas: 3}
`, "apiVersion autoscaling/v1, want autoscaling/v2"},
		"duplicate key": {`apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: order}
spec:
  maxReplicas: 3
  maxReplicas: 4
`, "already set"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := argocd.HPAs([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("HPAs: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Other kinds are skipped, not decoded into the wrong type.
	mixed := "apiVersion: v1\nkind: Service\nmetadata: {name: order}\nspec: {selector: {a: b}}\n---\n" +
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: order}\nspec: {replicas: 2}\n"
	hpas, err := argocd.HPAs([]byte(mixed))
	if err != nil || len(hpas) != 0 {
		t.Errorf("HPAs of a doc without HPAs: %d, %v", len(hpas), err)
	}
	deps, err := argocd.Deployments([]byte(mixed))
	if err != nil || len(deps) != 1 || *deps[0].Spec.Replicas != 2 {
		t.Errorf("Deployments: %+v, %v", deps, err)
	}
}
