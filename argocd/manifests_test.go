package argocd_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/shoplab/shoplab/argocd"
	"github.com/shoplab/shoplab/services/api/shoplabv1"
	"github.com/shoplab/shoplab/services/platform/grpcx"
)

const (
	namespace = "ecommerce"
	imageRepo = "ghcr.io/shoplab/shoplab"
	partOf    = "shoplab"
	nameLabel = "app.kubernetes.io/name"
	partLabel = "app.kubernetes.io/part-of"
	opsPort   = 8081
)

// unitSpec is what the original design (seed/original-readme.md) and
// ARCHITECTURE.md say about a unit that runs in Kubernetes.
type unitSpec struct {
	minReplicas, maxReplicas int32
	hpaOn                    corev1.ResourceName // "" when scaled by hand
	apiPortName              string
	apiPort                  int32
	grpcService              string   // its gRPC API; the readiness probe asks grpc.health.v1 for it
	calls                    []string // units it calls over gRPC
	database                 bool     // owns relational data: SHOPLAB_DATABASE_URL
	jwt                      bool     // signs/verifies tokens: SHOPLAB_JWT_KEY
}

var design = map[string]unitSpec{
	"gateway": {minReplicas: 1, maxReplicas: 5, apiPortName: "http", apiPort: 8080, calls: []string{"user", "product", "order"}, jwt: true},
	"user":    {minReplicas: 1, maxReplicas: 3, apiPortName: "grpc", apiPort: 9090, grpcService: shoplabv1.UserService_ServiceDesc.ServiceName, database: true},
	"product": {minReplicas: 2, maxReplicas: 8, hpaOn: corev1.ResourceMemory, apiPortName: "grpc", apiPort: 9090, grpcService: shoplabv1.ProductService_ServiceDesc.ServiceName},
	"order":   {minReplicas: 2, maxReplicas: 10, hpaOn: corev1.ResourceCPU, apiPortName: "grpc", apiPort: 9090, grpcService: shoplabv1.OrderService_ServiceDesc.ServiceName, calls: []string{"user", "product", "payment"}, database: true},
	"payment": {minReplicas: 2, maxReplicas: 8, hpaOn: corev1.ResourceCPU, apiPortName: "grpc", apiPort: 9090, grpcService: shoplabv1.PaymentService_ServiceDesc.ServiceName, database: true},
}

// overlays are the directories ArgoCD deploys, with the environment each
// one must configure. The base is rendered too, with no environment.
var overlays = []struct{ dir, env string }{
	{"base", ""},
	{"overlays/dev", "dev"},
	{"overlays/prod", "prod"},
}

// serviceMonitor is the subset of monitoring.coreos.com/v1 ServiceMonitor
// the manifests use. It is decoded strictly like the k8s.io/api types, so a
// typo (intervall:) fails; a field outside the subset fails too, and the
// answer is to add it here on purpose.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

type groupKind struct{ group, kind string }

// manifests is one rendered overlay, every object decoded into its type.
type manifests struct {
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	serviceAccounts map[string]*corev1.ServiceAccount
	pdbs            map[string]*policyv1.PodDisruptionBudget
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	serviceMonitors map[string]*serviceMonitor
	kinds           map[groupKind]bool
	namespaces      map[string]bool
}

// docs splits multi-document YAML, dropping empty documents.
func docs(rendered []byte) ([][]byte, error) {
	var out [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(rendered)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			out = append(out, doc)
		}
	}
}

type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func (h header) String() string {
	return fmt.Sprintf("%s %s/%s", h.Kind, h.Metadata.Namespace, h.Metadata.Name)
}

// strictInto decodes doc into a new T, refusing unknown and duplicate
// fields, and files it under its name.
func strictInto[T any](into map[string]*T, name string, doc []byte) error {
	if _, dup := into[name]; dup {
		return fmt.Errorf("duplicate object %q", name)
	}
	obj := new(T)
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	into[name] = obj
	return nil
}

// parse decodes every object of a render. Any kind the tests do not know
// is an error: it would reach the cluster unchecked (and the AppProject
// would refuse it anyway). A Secret is refused outright: secrets are
// referenced by name, never committed.
func parse(rendered []byte) (*manifests, error) {
	m := &manifests{
		deployments:     map[string]*appsv1.Deployment{},
		services:        map[string]*corev1.Service{},
		configMaps:      map[string]*corev1.ConfigMap{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		hpas:            map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		serviceMonitors: map[string]*serviceMonitor{},
		kinds:           map[groupKind]bool{},
		namespaces:      map[string]bool{},
	}
	all, err := docs(rendered)
	if err != nil {
		return nil, err
	}
	for _, doc := range all {
		var h header
		if err := yaml.Unmarshal(doc, &h); err != nil {
			return nil, err
		}
		name := h.Metadata.Name
		if name == "" {
			return nil, fmt.Errorf("%s: no metadata.name", h)
		}
		switch h.APIVersion + " " + h.Kind {
		case "v1 ConfigMap":
			err = strictInto(m.configMaps, name, doc)
		case "v1 Service":
			err = strictInto(m.services, name, doc)
		case "v1 ServiceAccount":
			err = strictInto(m.serviceAccounts, name, doc)
		case "apps/v1 Deployment":
			err = strictInto(m.deployments, name, doc)
		case "policy/v1 PodDisruptionBudget":
			err = strictInto(m.pdbs, name, doc)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			err = strictInto(m.hpas, name, doc)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			err = strictInto(m.serviceMonitors, name, doc)
		case "v1 Secret":
			err = errors.New("a Secret is committed; reference it by name and create it outside git")
		default:
			err = errors.New("unexpected kind: add it to parse and to the AppProject's namespaceResourceWhitelist on purpose")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h, err)
		}
		group, _, _ := strings.Cut(h.APIVersion, "/")
		if !strings.Contains(h.APIVersion, "/") {
			group = "" // the core group: apiVersion "v1"
		}
		m.kinds[groupKind{group, h.Kind}] = true
		m.namespaces[h.Metadata.Namespace] = true
	}
	return m, nil
}

// mustRender renders dir (relative to argocd/) and decodes it.
func mustRender(tb testing.TB, dir string) (*manifests, []byte) {
	tb.Helper()
	out, err := argocd.Render(dir)
	if err != nil {
		tb.Fatalf("render %s: %v", dir, err)
	}
	m, err := parse(out)
	if err != nil {
		tb.Fatalf("decode %s: %v", dir, err)
	}
	return m, out
}

// problems collects every broken rule of a render, so one run reports all.
type problems []error

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Errorf(format, args...))
}

// check runs every rule against one render; env is "" for the base.
func check(m *manifests, env string) []error {
	var p problems
	checkNamespaces(m, &p)
	checkDeployments(m, &p)
	checkImage(m, env != "", &p)
	checkServices(m, &p)
	checkPDBs(m, &p)
	checkServiceMonitors(m, &p)
	checkScaling(m, &p)
	checkConfig(m, env, &p)
	return p
}

func checkNamespaces(m *manifests, p *problems) {
	for ns := range m.namespaces {
		if ns != namespace {
			p.addf("an object is in namespace %q, want %q", ns, namespace)
		}
	}
}

// selects reports whether a non-empty selector matches the labels. An empty
// selector selects everything in the namespace, which is always a mistake
// here.
func selects(sel *metav1.LabelSelector, lbls map[string]string) (bool, error) {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false, errors.New("empty selector")
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(lbls)), nil
}

func selectsMap(sel map[string]string, lbls map[string]string) (bool, error) {
	return selects(&metav1.LabelSelector{MatchLabels: sel}, lbls)
}

func checkDeployments(m *manifests, p *problems) {
	for name := range m.deployments {
		if _, ok := design[name]; !ok {
			p.addf("Deployment %s is not a unit that runs in Kubernetes (notification is a Lambda, analytics runs on Flink)", name)
		}
	}
	for _, name := range sortedKeys(design) {
		d, ok := m.deployments[name]
		if !ok {
			p.addf("no Deployment for unit %s", name)
			continue
		}
		want := design[name]
		if d.Labels[nameLabel] != name || d.Labels[partLabel] != partOf {
			p.addf("Deployment %s: labels %v, want %s=%s and %s=%s", name, d.Labels, nameLabel, name, partLabel, partOf)
		}
		pod := d.Spec.Template.Labels
		if pod[nameLabel] != name || pod[partLabel] != partOf {
			p.addf("Deployment %s: pod labels %v, want %s=%s and %s=%s", name, pod, nameLabel, name, partLabel, partOf)
		}
		if ok, err := selects(d.Spec.Selector, pod); err != nil || !ok {
			p.addf("Deployment %s: selector %v does not select its own pod labels %v (%v)", name, d.Spec.Selector, pod, err)
		}
		spec := d.Spec.Template.Spec
		if sa := spec.ServiceAccountName; sa == "" || m.serviceAccounts[sa] == nil {
			p.addf("Deployment %s: serviceAccountName %q is not a rendered ServiceAccount", name, sa)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			p.addf("Deployment %s: mounts a Kubernetes API token it never uses", name)
		}
		for _, tsc := range spec.TopologySpreadConstraints {
			if ok, err := selects(tsc.LabelSelector, pod); err != nil || !ok {
				p.addf("Deployment %s: topology spread on %s does not select its pods", name, tsc.TopologyKey)
			}
		}
		if len(spec.InitContainers) != 0 || len(spec.Containers) != 1 {
			p.addf("Deployment %s: want exactly one container, got %d (+%d init)", name, len(spec.Containers), len(spec.InitContainers))
			continue
		}
		c := spec.Containers[0]
		if len(c.Command) != 0 || !slices.Equal(c.Args, []string{"serve", name}) {
			p.addf("Deployment %s: command %q args %q, want the image entrypoint with args [serve %s]", name, c.Command, c.Args, name)
		}
		checkPorts(name, c, want, p)
		checkResources(name, c, p)
		checkProbes(name, c, want, p)
		checkSecurity(name, spec, c, p)
		checkTmp(name, spec, c, p)
		checkGoMemLimit(name, c, p)
	}
}

func checkPorts(name string, c corev1.Container, want unitSpec, p *problems) {
	ports := map[string]int32{}
	for _, cp := range c.Ports {
		ports[cp.Name] = cp.ContainerPort
	}
	if ports[want.apiPortName] != want.apiPort {
		p.addf("Deployment %s: container port %s = %d, want %d", name, want.apiPortName, ports[want.apiPortName], want.apiPort)
	}
	if ports["ops"] != opsPort {
		p.addf("Deployment %s: container port ops = %d, want %d", name, ports["ops"], opsPort)
	}
}

func checkResources(name string, c corev1.Container, p *problems) {
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		switch {
		case !hasReq || req.IsZero():
			p.addf("Deployment %s: no %s request", name, r)
		case !hasLim || lim.IsZero():
			p.addf("Deployment %s: no %s limit", name, r)
		case lim.Cmp(req) < 0:
			p.addf("Deployment %s: %s limit %s below request %s", name, r, lim.String(), req.String())
		}
	}
}

// probePath returns the path of an httpGet probe on the ops port.
func probePath(pr *corev1.Probe) (string, bool) {
	if pr == nil || pr.HTTPGet == nil {
		return "", false
	}
	port := pr.HTTPGet.Port
	onOps := (port.Type == intstr.String && port.StrVal == "ops") || (port.Type == intstr.Int && port.IntVal == opsPort)
	return pr.HTTPGet.Path, onOps
}

// grpcProbe returns the service of a native gRPC probe and whether it is
// on port.
func grpcProbe(pr *corev1.Probe, port int32) (string, bool) {
	if pr == nil || pr.GRPC == nil {
		return "", false
	}
	return ptrDeref(pr.GRPC.Service), pr.GRPC.Port == port
}

func ptrDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkProbes: a gRPC unit is probed over grpc.health.v1 on its API port,
// readiness by its API service (NOT_SERVING while its store is down) and
// startup and liveness by grpcx.LivenessService (which ignores the store:
// restarts cannot fix a database); the gateway over HTTP on the ops port.
func checkProbes(name string, c corev1.Container, want unitSpec, p *problems) {
	if want.grpcService != "" {
		for _, pr := range []struct {
			kind    string
			probe   *corev1.Probe
			service string
		}{
			{"startupProbe", c.StartupProbe, grpcx.LivenessService},
			{"readinessProbe", c.ReadinessProbe, want.grpcService},
			{"livenessProbe", c.LivenessProbe, grpcx.LivenessService},
		} {
			if svc, onAPI := grpcProbe(pr.probe, want.apiPort); svc != pr.service || !onAPI {
				p.addf("Deployment %s: %s must be grpc service %q on port %d, got service %q (on port %d: %t)",
					name, pr.kind, pr.service, want.apiPort, svc, want.apiPort, onAPI)
			}
		}
		return
	}
	if path, onOps := probePath(c.ReadinessProbe); path != "/readyz" || !onOps {
		p.addf("Deployment %s: readinessProbe must be httpGet /readyz on the ops port, got path %q (on ops: %t)", name, path, onOps)
	}
	if path, onOps := probePath(c.LivenessProbe); path != "/healthz" || !onOps {
		p.addf("Deployment %s: livenessProbe must be httpGet /healthz on the ops port, got path %q (on ops: %t)", name, path, onOps)
	}
}

// checkSecurity checks the effective settings: a container value overrides
// the pod's.
func checkSecurity(name string, spec corev1.PodSpec, c corev1.Container, p *problems) {
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}
	nonRoot := psc.RunAsNonRoot
	if csc.RunAsNonRoot != nil {
		nonRoot = csc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		p.addf("Deployment %s: runAsNonRoot is not true", name)
	}
	seccomp := psc.SeccompProfile
	if csc.SeccompProfile != nil {
		seccomp = csc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		p.addf("Deployment %s: seccomp profile is not RuntimeDefault", name)
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		p.addf("Deployment %s: readOnlyRootFilesystem is not true", name)
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		p.addf("Deployment %s: allowPrivilegeEscalation is not false", name)
	}
	if csc.Privileged != nil && *csc.Privileged {
		p.addf("Deployment %s: privileged", name)
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) != 0 {
		p.addf("Deployment %s: capabilities must drop ALL and add none, got %+v", name, csc.Capabilities)
	}
}

// checkTmp: with a read-only root, /tmp must be a writable emptyDir.
func checkTmp(name string, spec corev1.PodSpec, c corev1.Container, p *problems) {
	for _, vm := range c.VolumeMounts {
		if vm.MountPath != "/tmp" {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == vm.Name && v.EmptyDir != nil && !vm.ReadOnly {
				return
			}
		}
	}
	p.addf("Deployment %s: no writable emptyDir mounted at /tmp", name)
}

// checkGoMemLimit: the memory HPA target and the limit headroom are chosen
// on the assumption that the Go soft limit is the memory request.
func checkGoMemLimit(name string, c corev1.Container, p *problems) {
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
			e.ValueFrom.ResourceFieldRef.Resource == "requests.memory" {
			return
		}
	}
	p.addf("Deployment %s: GOMEMLIMIT does not come from requests.memory", name)
}

// checkImage: the platform is one image; overlays pin an explicit tag.
func checkImage(m *manifests, wantTag bool, p *problems) {
	images := map[string]bool{}
	for _, d := range m.deployments {
		for _, c := range slices.Concat(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers) {
			images[c.Image] = true
		}
	}
	if len(images) != 1 {
		p.addf("want one image for every container, got %v", sortedKeys(images))
		return
	}
	for image := range images {
		repo, tag, hasTag := strings.Cut(image, ":")
		if strings.Contains(image, "@") {
			repo, _, _ = strings.Cut(image, "@")
			hasTag, tag = true, "digest"
		}
		if repo != imageRepo {
			p.addf("image %s, want repository %s", image, imageRepo)
		}
		if wantTag && (!hasTag || tag == "" || tag == "latest") {
			p.addf("image %s: an overlay must pin an immutable tag (ArgoCD only rolls pods when the manifest changes)", image)
		}
	}
}

// podsOf returns the Deployments whose pods a selector matches.
func podsOf(m *manifests, sel map[string]string) []string {
	var out []string
	for name, d := range m.deployments {
		if ok, _ := selectsMap(sel, d.Spec.Template.Labels); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func checkServices(m *manifests, p *problems) {
	for name, svc := range m.services {
		if _, err := selectsMap(svc.Spec.Selector, nil); err != nil {
			p.addf("Service %s: %v", name, err)
			continue
		}
		targets := podsOf(m, svc.Spec.Selector)
		if !slices.Equal(targets, []string{name}) {
			p.addf("Service %s: selector %v selects the pods of %v, want exactly Deployment %s", name, svc.Spec.Selector, targets, name)
			continue
		}
		if svc.Labels[nameLabel] != name {
			p.addf("Service %s: label %s=%q, want %q (ServiceMonitors select on it)", name, nameLabel, svc.Labels[nameLabel], name)
		}
		c := m.deployments[name].Spec.Template.Spec.Containers
		for _, sp := range svc.Spec.Ports {
			if !targetsContainerPort(sp, c) {
				p.addf("Service %s: port %s targets %s, which no container of Deployment %s exposes", name, sp.Name, sp.TargetPort.String(), name)
			}
		}
	}
	for _, name := range sortedKeys(design) {
		svc, ok := m.services[name]
		if !ok {
			p.addf("no Service for unit %s", name)
			continue
		}
		want := design[name]
		if port, ok := servicePort(svc, want.apiPortName); !ok || port.Port != want.apiPort {
			p.addf("Service %s: no port %s=%d", name, want.apiPortName, want.apiPort)
		}
		if port, ok := servicePort(svc, "ops"); !ok || port.Port != opsPort {
			p.addf("Service %s: no port ops=%d", name, opsPort)
		}
	}
}

func servicePort(svc *corev1.Service, name string) (corev1.ServicePort, bool) {
	for _, sp := range svc.Spec.Ports {
		if sp.Name == name {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}

func targetsContainerPort(sp corev1.ServicePort, containers []corev1.Container) bool {
	target := sp.TargetPort
	if target.Type == intstr.Int && target.IntVal == 0 {
		target = intstr.FromInt32(sp.Port) // unset targetPort means port
	}
	for _, c := range containers {
		for _, cp := range c.Ports {
			if (target.Type == intstr.String && cp.Name == target.StrVal) ||
				(target.Type == intstr.Int && cp.ContainerPort == target.IntVal) {
				return true
			}
		}
	}
	return false
}

func checkPDBs(m *manifests, p *problems) {
	for name, pdb := range m.pdbs {
		if _, err := selects(pdb.Spec.Selector, nil); err != nil {
			p.addf("PodDisruptionBudget %s: %v", name, err)
			continue
		}
		targets := podsOf(m, pdb.Spec.Selector.MatchLabels)
		if len(pdb.Spec.Selector.MatchExpressions) == 0 && !slices.Equal(targets, []string{name}) {
			p.addf("PodDisruptionBudget %s: selects the pods of %v, want exactly Deployment %s", name, targets, name)
		}
		// maxUnavailable, and never 0: a budget that allows no eviction
		// blocks every node drain.
		mu := pdb.Spec.MaxUnavailable
		if pdb.Spec.MinAvailable != nil || mu == nil || (mu.Type == intstr.Int && mu.IntVal < 1) || (mu.Type == intstr.String && (mu.StrVal == "0%" || mu.StrVal == "")) {
			p.addf("PodDisruptionBudget %s: want maxUnavailable >= 1 and no minAvailable, got maxUnavailable %v minAvailable %v",
				name, intOrStr(mu), intOrStr(pdb.Spec.MinAvailable))
		}
	}
	for _, name := range sortedKeys(design) {
		if m.pdbs[name] == nil {
			p.addf("no PodDisruptionBudget for unit %s", name)
		}
	}
}

func intOrStr(v *intstr.IntOrString) string {
	if v == nil {
		return "unset"
	}
	return v.String()
}

func checkServiceMonitors(m *manifests, p *problems) {
	// Every ServiceMonitor, a unit's or not, scrapes a rendered Service by
	// a port name that Service has; one that selects nothing scrapes
	// nothing, and nobody notices.
	for _, name := range sortedKeys(m.serviceMonitors) {
		sm := m.serviceMonitors[name]
		var targets []string
		for _, svcName := range sortedKeys(m.services) {
			if ok, _ := selects(&sm.Spec.Selector, m.services[svcName].Labels); ok {
				targets = append(targets, svcName)
			}
		}
		if len(targets) == 0 {
			p.addf("ServiceMonitor %s: selects no rendered Service", name)
		}
		for _, svcName := range targets {
			for _, ep := range sm.Spec.Endpoints {
				if _, ok := servicePort(m.services[svcName], ep.Port); !ok {
					p.addf("ServiceMonitor %s: Service %s has no port named %q", name, svcName, ep.Port)
				}
			}
		}
	}
	for _, name := range sortedKeys(design) {
		sm, ok := m.serviceMonitors[name]
		if !ok {
			p.addf("no ServiceMonitor for unit %s", name)
			continue
		}
		svc := m.services[name]
		if svc == nil {
			continue // reported by checkServices
		}
		if ok, err := selects(&sm.Spec.Selector, svc.Labels); err != nil || !ok {
			p.addf("ServiceMonitor %s: selector %v does not select Service %s (labels %v)", name, sm.Spec.Selector.MatchLabels, name, svc.Labels)
		}
		if ns := sm.Spec.NamespaceSelector; ns != nil && !ns.Any && !slices.Contains(ns.MatchNames, namespace) {
			p.addf("ServiceMonitor %s: namespaceSelector excludes %s", name, namespace)
		}
		// A jobLabel the Service lacks makes the operator fall back to the
		// Service name, silently: job="shoplab" in the rules would match
		// nothing.
		if l := sm.Spec.JobLabel; l != "" && svc.Labels[l] == "" {
			p.addf("ServiceMonitor %s: jobLabel %q is a label Service %s does not carry", name, l, name)
		}
		if len(sm.Spec.Endpoints) == 0 {
			p.addf("ServiceMonitor %s: no endpoints", name)
		}
		for _, ep := range sm.Spec.Endpoints {
			sp, ok := servicePort(svc, ep.Port)
			if !ok || sp.Port != opsPort {
				p.addf("ServiceMonitor %s: endpoint port %q is not the ops port of Service %s", name, ep.Port, name)
			}
			if ep.Path != "/metrics" || ep.Interval == "" {
				p.addf("ServiceMonitor %s: endpoint path %q interval %q, want /metrics and an interval", name, ep.Path, ep.Interval)
			}
		}
	}
}

func checkScaling(m *manifests, p *problems) {
	managed := map[string]string{} // Deployment -> HPA
	for name, hpa := range m.hpas {
		ref := hpa.Spec.ScaleTargetRef
		d, ok := m.deployments[ref.Name]
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !ok {
			p.addf("HPA %s: scaleTargetRef %s %s/%s is not a rendered apps/v1 Deployment", name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		}
		if other, dup := managed[ref.Name]; dup {
			p.addf("HPAs %s and %s both scale Deployment %s", name, other, ref.Name)
		}
		managed[ref.Name] = name
		want := design[ref.Name]
		if want.hpaOn == "" {
			p.addf("HPA %s: Deployment %s is scaled by hand in the design", name, ref.Name)
			continue
		}
		min := int32(1)
		if hpa.Spec.MinReplicas != nil {
			min = *hpa.Spec.MinReplicas
		}
		if min < 1 || min > hpa.Spec.MaxReplicas {
			p.addf("HPA %s: minReplicas %d, maxReplicas %d", name, min, hpa.Spec.MaxReplicas)
		}
		if min != want.minReplicas || hpa.Spec.MaxReplicas != want.maxReplicas {
			p.addf("HPA %s: %d-%d replicas, the design says %d-%d", name, min, hpa.Spec.MaxReplicas, want.minReplicas, want.maxReplicas)
		}
		if len(hpa.Spec.Metrics) == 0 {
			p.addf("HPA %s: no metrics", name)
		}
		for _, metric := range hpa.Spec.Metrics {
			if metric.Type != autoscalingv2.ResourceMetricSourceType || metric.Resource == nil || metric.Resource.Name != want.hpaOn {
				p.addf("HPA %s: a %s metric, the design scales on %s", name, metric.Type, want.hpaOn)
				continue
			}
			t := metric.Resource.Target
			if t.Type != autoscalingv2.UtilizationMetricType || t.AverageUtilization == nil || *t.AverageUtilization <= 0 || *t.AverageUtilization > 100 {
				got := "unset"
				if t.AverageUtilization != nil {
					got = strconv.Itoa(int(*t.AverageUtilization))
				}
				p.addf("HPA %s: target %s averageUtilization %s, want a Utilization in (0, 100]", name, t.Type, got)
			}
			// Utilization is usage divided by request: without a request
			// on every container the HPA cannot compute it and does nothing.
			for _, c := range d.Spec.Template.Spec.Containers {
				if q, ok := c.Resources.Requests[want.hpaOn]; !ok || q.IsZero() {
					p.addf("HPA %s: container %s of Deployment %s requests no %s", name, c.Name, ref.Name, want.hpaOn)
				}
			}
		}
		b := hpa.Spec.Behavior
		if b == nil || !deliberate(b.ScaleUp) || !deliberate(b.ScaleDown) {
			p.addf("HPA %s: behavior must set both scaleUp and scaleDown (stabilization window and policies)", name)
		}
	}
	for _, name := range sortedKeys(design) {
		d, ok := m.deployments[name]
		if !ok {
			continue // reported by checkDeployments
		}
		want := design[name]
		_, hasHPA := managed[name]
		switch {
		case want.hpaOn != "" && !hasHPA:
			p.addf("Deployment %s: the design scales it with an HPA on %s, none rendered", name, want.hpaOn)
		case hasHPA && d.Spec.Replicas != nil:
			// ArgoCD's selfHeal would reset the HPA's count on every sync.
			p.addf("Deployment %s: sets replicas (%d) although HPA %s owns the count", name, *d.Spec.Replicas, managed[name])
		case !hasHPA && d.Spec.Replicas == nil:
			p.addf("Deployment %s: scaled by hand but sets no replicas", name)
		case !hasHPA && (*d.Spec.Replicas < want.minReplicas || *d.Spec.Replicas > want.maxReplicas):
			p.addf("Deployment %s: %d replicas, the design allows %d-%d", name, *d.Spec.Replicas, want.minReplicas, want.maxReplicas)
		}
	}
}

func deliberate(r *autoscalingv2.HPAScalingRules) bool {
	return r != nil && r.StabilizationWindowSeconds != nil && len(r.Policies) > 0
}

// envValue is one environment variable as the container will see it.
type envValue struct {
	literal string
	secret  *corev1.SecretKeySelector
	set     bool
}

// effectiveEnv resolves envFrom and env the way the kubelet does: later
// envFrom sources override earlier ones, env overrides envFrom.
func effectiveEnv(m *manifests, name string, c corev1.Container, p *problems) map[string]envValue {
	out := map[string]envValue{}
	for _, from := range c.EnvFrom {
		if from.SecretRef != nil {
			p.addf("Deployment %s: envFrom a whole Secret; reference single keys instead", name)
		}
		if from.ConfigMapRef == nil {
			continue
		}
		cm, ok := m.configMaps[from.ConfigMapRef.Name]
		if !ok {
			p.addf("Deployment %s: envFrom ConfigMap %s is not rendered", name, from.ConfigMapRef.Name)
			continue
		}
		for k, v := range cm.Data {
			out[from.Prefix+k] = envValue{literal: v, set: true}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = envValue{literal: e.Value, set: true}
		case e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = envValue{secret: e.ValueFrom.SecretKeyRef, set: true}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMaps[ref.Name]
			if !ok {
				p.addf("Deployment %s: env %s from ConfigMap %s, not rendered", name, e.Name, ref.Name)
				continue
			}
			out[e.Name] = envValue{literal: cm.Data[ref.Key], set: true}
		default:
			out[e.Name] = envValue{set: true} // downward API
		}
	}
	return out
}

// secretish names env vars whose values must never be literals.
func secretish(key string) bool {
	for _, s := range []string{"DATABASE_URL", "JWT", "PASSWORD", "SECRET", "TOKEN", "CREDENTIAL"} {
		if strings.Contains(key, s) {
			return true
		}
	}
	return false
}

func checkConfig(m *manifests, env string, p *problems) {
	for name, cm := range m.configMaps {
		for k := range cm.Data {
			if secretish(k) {
				p.addf("ConfigMap %s holds %s: secrets belong in a Secret referenced by name", name, k)
			}
		}
	}
	for _, name := range sortedKeys(design) {
		d, ok := m.deployments[name]
		if !ok || len(d.Spec.Template.Spec.Containers) == 0 {
			continue // reported by checkDeployments
		}
		want := design[name]
		vars := effectiveEnv(m, name, d.Spec.Template.Spec.Containers[0], p)
		for k, v := range vars {
			if secretish(k) && v.secret == nil {
				p.addf("Deployment %s: %s is not read from a Secret", name, k)
			}
			if strings.HasSuffix(k, "_ADDR") && v.literal != "" {
				checkAddr(m, name, k, v.literal, p)
			}
		}
		if vars["SHOPLAB_LOG_LEVEL"].literal == "" {
			p.addf("Deployment %s: no SHOPLAB_LOG_LEVEL", name)
		}
		needSecret := func(key string, need bool) {
			v := vars[key]
			if need && (v.secret == nil || v.secret.Name == "" || v.secret.Key == "") {
				p.addf("Deployment %s: %s must come from a named Secret key", name, key)
			}
			if !need && v.set {
				p.addf("Deployment %s: gets %s, which it has no use for", name, key)
			}
		}
		needSecret("SHOPLAB_DATABASE_URL", want.database)
		needSecret("SHOPLAB_JWT_KEY", want.jwt)
		for _, callee := range want.calls {
			key := "SHOPLAB_" + strings.ToUpper(callee) + "_ADDR"
			if !vars[key].set {
				p.addf("Deployment %s: calls %s but has no %s", name, callee, key)
			}
		}
		if env == "" {
			continue
		}
		if got := vars["SHOPLAB_ENV"].literal; got != "aws-"+env {
			p.addf("Deployment %s: SHOPLAB_ENV=%q, want aws-%s", name, got, env)
		}
		if name == "order" { // the outbox relay publishes to Kafka
			brokers := vars["SHOPLAB_KAFKA_BROKERS"].literal
			for b := range strings.SplitSeq(brokers, ",") {
				if host, port, err := net.SplitHostPort(b); err != nil || host == "" || port == "" {
					p.addf("Deployment %s: SHOPLAB_KAFKA_BROKERS=%q is not a host:port list", name, brokers)
					break
				}
			}
		}
	}
}

// checkAddr: an address in config must name a rendered Service and one of
// its ports, so a renamed Service or port cannot silently break a call.
func checkAddr(m *manifests, unit, key, addr string, p *problems) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.addf("Deployment %s: %s=%q is not host:port", unit, key, addr)
		return
	}
	svc, ok := m.services[host]
	if !ok {
		p.addf("Deployment %s: %s=%q names no rendered Service", unit, key, addr)
		return
	}
	n, _ := strconv.Atoi(port)
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) == n {
			return
		}
	}
	p.addf("Deployment %s: %s=%q, Service %s has no port %s", unit, key, addr, host, port)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// quantity parses a resource quantity in test tables.
func quantity(s string) resource.Quantity { return resource.MustParse(s) }

// TestManifests renders the base and both overlays with kustomize, decodes
// every object strictly into its Kubernetes type and checks every rule.
func TestManifests(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.dir, func(t *testing.T) {
			m, _ := mustRender(t, o.dir)
			for _, err := range check(m, o.env) {
				t.Error(err)
			}
		})
	}
}

// TestOverlaySizes pins what each overlay changes, so an edit that breaks
// the merge (a patch that no longer matches a container) is visible.
func TestOverlaySizes(t *testing.T) {
	type size struct {
		replicas int32 // 0: HPA-managed
		cpu, mem string
	}
	want := map[string]map[string]size{
		"overlays/dev": {
			"gateway": {1, "50m", "96Mi"},
			"user":    {1, "50m", "96Mi"},
			"product": {0, "50m", "192Mi"},
			"order":   {0, "100m", "128Mi"},
			"payment": {0, "50m", "96Mi"},
		},
		"overlays/prod": {
			"gateway": {3, "250m", "256Mi"},
			"user":    {2, "250m", "192Mi"},
			"product": {0, "250m", "512Mi"},
			"order":   {0, "500m", "384Mi"},
			"payment": {0, "250m", "256Mi"},
		},
	}
	for dir, units := range want {
		t.Run(dir, func(t *testing.T) {
			m, _ := mustRender(t, dir)
			for name, w := range units {
				d := m.deployments[name]
				if d == nil {
					t.Errorf("no Deployment %s", name)
					continue
				}
				var got int32
				if d.Spec.Replicas != nil {
					got = *d.Spec.Replicas
				}
				if got != w.replicas {
					t.Errorf("%s: replicas %d, want %d", name, got, w.replicas)
				}
				req := d.Spec.Template.Spec.Containers[0].Resources.Requests
				if c := req[corev1.ResourceCPU]; c.Cmp(quantity(w.cpu)) != 0 {
					t.Errorf("%s: cpu request %s, want %s", name, c.String(), w.cpu)
				}
				if mem := req[corev1.ResourceMemory]; mem.Cmp(quantity(w.mem)) != 0 {
					t.Errorf("%s: memory request %s, want %s", name, mem.String(), w.mem)
				}
			}
		})
	}
}

// TestOverlaysDiffer: dev and prod must not deploy the same configuration
// by accident (a merge that silently did nothing).
func TestOverlaysDiffer(t *testing.T) {
	_, dev := mustRender(t, "overlays/dev")
	_, prod := mustRender(t, "overlays/prod")
	for _, s := range []string{"SHOPLAB_ENV: aws-dev", "image: " + imageRepo + ":0.1.0-dev"} {
		if !bytes.Contains(dev, []byte(s)) || bytes.Contains(prod, []byte(s)) {
			t.Errorf("%q: want it in dev only", s)
		}
	}
	for _, s := range []string{"SHOPLAB_ENV: aws-prod", "image: " + imageRepo + ":0.1.0\n"} {
		if !bytes.Contains(prod, []byte(s)) || bytes.Contains(dev, []byte(s)) {
			t.Errorf("%q: want it in prod only", s)
		}
	}
}
