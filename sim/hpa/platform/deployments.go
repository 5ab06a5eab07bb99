// Package platform simulates the platform's Deployments on Kubernetes under a
// scenario's load: the journeys' arrival rates become request rates, CPU and
// memory per unit through a cost profile (package model), each Deployment
// with a HorizontalPodAutoscaler runs through the HPA twin (package hpa),
// the others keep their fixed replicas, and an M/M/c queue per unit
// estimates latency. Check then holds the result against a scenario's hpa
// expectations.
package platform

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/shoplab/shoplab/argocd"
	"github.com/shoplab/shoplab/services/platform/errs"
)

// Deployment is what the simulation needs of one rendered Deployment and of
// the HPA that targets it, if any.
type Deployment struct {
	Name string
	// HPA is the HorizontalPodAutoscaler whose scaleTargetRef names the
	// Deployment; nil for a Deployment scaled by hand.
	HPA *autoscalingv2.HorizontalPodAutoscaler
	// Replicas is spec.replicas (1 when unset, as the API server defaults
	// it); the fixed count when HPA is nil.
	Replicas int32
	// The pod's requests and limits, summed over its containers.
	CPURequestMilli    int64
	CPULimitMilli      int64
	MemoryRequestBytes int64
	MemoryLimitBytes   int64
	// Container is the first container's name, for ContainerResource metrics.
	Container string
	// ReadinessPeriod is the first container's readiness probe period: a
	// new pod runs about that long before the kubelet marks it Ready.
	ReadinessPeriod time.Duration
}

// RenderOverlay renders an overlay with kustomize. A bare name ("prod",
// "dev") is overlays/<name> of the manifests embedded in the binary
// (argocd.Tree); a value with a path separator or a leading "." is a
// kustomization directory on disk.
func RenderOverlay(overlay string) ([]byte, error) {
	if overlay == "" {
		return nil, errs.InvalidField("overlay", "is empty")
	}
	if strings.ContainsRune(overlay, filepath.Separator) || strings.Contains(overlay, "/") || strings.HasPrefix(overlay, ".") {
		if st, err := os.Stat(overlay); err != nil || !st.IsDir() {
			return nil, errs.InvalidField("overlay", "%s is not a directory", overlay)
		}
		return argocd.Render(overlay)
	}
	dir := "overlays/" + overlay
	if st, err := fs.Stat(argocd.Tree, dir); err != nil || !st.IsDir() {
		entries, _ := fs.ReadDir(argocd.Tree, "overlays")
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return nil, errs.InvalidField("overlay", "%q is not an overlay of the embedded manifests (%s); give a directory path for another", overlay, strings.Join(names, ", "))
	}
	return argocd.RenderFS(argocd.Tree, dir)
}

// Deployments decodes the Deployments of rendered manifests and pairs each
// with the HPA that targets it, sorted by name. An HPA whose target is not a
// Deployment of the manifests, two HPAs on one Deployment, and a Deployment
// without a CPU limit (the simulation needs the pods' capacity) are errors.
func Deployments(rendered []byte) ([]Deployment, error) {
	deps, err := argocd.Deployments(rendered)
	if err != nil {
		return nil, err
	}
	hpas, err := argocd.HPAs(rendered)
	if err != nil {
		return nil, err
	}
	out := make([]Deployment, 0, len(deps))
	index := map[string]int{}
	for _, d := range deps {
		dep, err := fromDeployment(d)
		if err != nil {
			return nil, err
		}
		index[dep.Name] = len(out)
		out = append(out, dep)
	}
	for i := range hpas {
		h := &hpas[i]
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" {
			return nil, errs.E(errs.Invalid, "HorizontalPodAutoscaler %s targets a %s; the twin simulates Deployments", h.Name, ref.Kind)
		}
		k, ok := index[ref.Name]
		if !ok {
			return nil, errs.E(errs.Invalid, "HorizontalPodAutoscaler %s targets Deployment %s, which the manifests do not have", h.Name, ref.Name)
		}
		if out[k].HPA != nil {
			return nil, errs.E(errs.Invalid, "Deployment %s has two HorizontalPodAutoscalers, %s and %s; the controller would fight itself", ref.Name, out[k].HPA.Name, h.Name)
		}
		out[k].HPA = h
	}
	slices.SortFunc(out, func(a, b Deployment) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func fromDeployment(d appsv1.Deployment) (Deployment, error) {
	dep := Deployment{Name: d.Name, Replicas: 1}
	if d.Spec.Replicas != nil {
		dep.Replicas = *d.Spec.Replicas
	}
	containers := d.Spec.Template.Spec.Containers
	if len(containers) == 0 {
		return dep, errs.E(errs.Invalid, "Deployment %s has no containers", d.Name)
	}
	dep.Container = containers[0].Name
	dep.ReadinessPeriod = 10 * time.Second // the API server's default periodSeconds
	if p := containers[0].ReadinessProbe; p != nil && p.PeriodSeconds > 0 {
		dep.ReadinessPeriod = time.Duration(p.PeriodSeconds) * time.Second
	}
	for _, c := range containers {
		r := c.Resources
		dep.CPURequestMilli += r.Requests.Cpu().MilliValue()
		dep.MemoryRequestBytes += r.Requests.Memory().Value()
		dep.CPULimitMilli += r.Limits.Cpu().MilliValue()
		dep.MemoryLimitBytes += r.Limits.Memory().Value()
		if r.Limits.Cpu().IsZero() {
			return dep, errs.E(errs.Invalid, "Deployment %s: container %s has no CPU limit; the twin takes a pod's capacity from it", d.Name, c.Name)
		}
	}
	return dep, nil
}

// describeHPA says what an HPA scales on, e.g. "cpu 70%" or "memory 300Mi".
func describeHPA(h *autoscalingv2.HorizontalPodAutoscaler) []string {
	var out []string
	for _, m := range h.Spec.Metrics {
		var name string
		var target autoscalingv2.MetricTarget
		switch {
		case m.Resource != nil:
			name, target = string(m.Resource.Name), m.Resource.Target
		case m.ContainerResource != nil:
			name, target = m.ContainerResource.Container+"/"+string(m.ContainerResource.Name), m.ContainerResource.Target
		default:
			out = append(out, string(m.Type))
			continue
		}
		switch {
		case target.AverageValue != nil:
			out = append(out, fmt.Sprintf("%s %s", name, target.AverageValue.String()))
		case target.AverageUtilization != nil:
			out = append(out, fmt.Sprintf("%s %d%%", name, *target.AverageUtilization))
		default:
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		out = append(out, "cpu 80%") // the API server's default metric
	}
	return out
}
