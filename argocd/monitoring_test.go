package argocd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/shoplab/shoplab/argocd"
	"github.com/shoplab/shoplab/dashboards"
	"github.com/shoplab/shoplab/envs"
	"github.com/shoplab/shoplab/services/platform/logx"
)

const (
	monitoringNS = "monitoring"
	valuesRef    = "values" // the ref through which chart values are read from this repository
	rulesDir     = "../dashboards/prometheus/rules"
)

// clusterScoped are the cluster-scoped kinds the monitoring Applications
// need (verified for the chart by helm template, see the AppProject), so a
// kind here is one the project may allow; anything else is too wide.
var clusterScoped = map[groupKindRef]bool{
	{"", "Namespace"}: true,
	{"apiextensions.k8s.io", "CustomResourceDefinition"}: true,
	{"rbac.authorization.k8s.io", "ClusterRole"}:         true,
	{"rbac.authorization.k8s.io", "ClusterRoleBinding"}:  true,
}

// pinnedChart is an exact chart version: no "*", no "latest", no ranges
// (^1.2, ~1.2, >=1, 1.x) and no pre-release that may move.
var pinnedChart = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// kpsValues is the part of the kube-prometheus-stack values that shoplab
// relies on, decoded loosely (the chart has hundreds of keys).
type kpsValues struct {
	Prometheus struct {
		PrometheusSpec struct {
			ServiceMonitorSelectorNilUsesHelmValues *bool `json:"serviceMonitorSelectorNilUsesHelmValues"`
			PodMonitorSelectorNilUsesHelmValues     *bool `json:"podMonitorSelectorNilUsesHelmValues"`
			RuleSelectorNilUsesHelmValues           *bool `json:"ruleSelectorNilUsesHelmValues"`
		} `json:"prometheusSpec"`
	} `json:"prometheus"`
	Grafana struct {
		Sidecar struct {
			Dashboards struct {
				Enabled          bool   `json:"enabled"`
				Label            string `json:"label"`
				LabelValue       string `json:"labelValue"`
				FolderAnnotation string `json:"folderAnnotation"`
				SearchNamespace  string `json:"searchNamespace"`
			} `json:"dashboards"`
			Datasources struct {
				UID string `json:"uid"`
			} `json:"datasources"`
		} `json:"sidecar"`
	} `json:"grafana"`
}

// object is one rendered Kubernetes object, kept generic.
type object struct {
	header
	Labels      map[string]string
	Annotations map[string]string
	dataKeys    []string // a ConfigMap's data keys
	doc         []byte
}

// newObject decodes the generic parts of one rendered document.
func newObject(doc []byte) (object, error) {
	var o struct {
		header
		Meta struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(doc, &o); err != nil {
		return object{}, err
	}
	var h header
	if err := yaml.Unmarshal(doc, &h); err != nil {
		return object{}, err
	}
	return object{header: h, Labels: o.Meta.Labels, Annotations: o.Meta.Annotations, dataKeys: sortedKeys(o.Data), doc: doc}, nil
}

// clone copies the maps a breakage case may change.
func (o object) clone() object {
	o.Labels, o.Annotations = maps.Clone(o.Labels), maps.Clone(o.Annotations)
	return o
}

func (o object) groupKind() groupKindRef {
	group, _, ok := strings.Cut(o.APIVersion, "/")
	if !ok {
		group = ""
	}
	return groupKindRef{group, o.Kind}
}

// fluentBitConfig is Fluent Bit's YAML configuration, decoded strictly at
// the top; each plugin is a map because its keys depend on the plugin.
type fluentBitConfig struct {
	Service map[string]any `json:"service"`
	Parsers []struct {
		Name       string `json:"name"`
		Format     string `json:"format"`
		TimeKey    string `json:"time_key"`
		TimeFormat string `json:"time_format"`
		TimeKeep   bool   `json:"time_keep"`
	} `json:"parsers"`
	Pipeline struct {
		Inputs  []map[string]any `json:"inputs"`
		Filters []map[string]any `json:"filters"`
		Outputs []map[string]any `json:"outputs"`
	} `json:"pipeline"`
}

// monitoringRaw is what the checks read, as bytes: rendered once, decoded
// afresh for each breakage case.
type monitoringRaw struct {
	apps    []byte
	values  []byte
	renders map[string][]object // Application path (relative to argocd/) -> its rendered objects
	base    []byte
	rules   map[string][]byte // rules file name -> content
}

// monitoring is one decoded setup.
type monitoring struct {
	projects map[string]*appProject
	apps     map[string]*application
	values   kpsValues
	renders  map[string][]object
	base     *manifests
	rules    map[string]any // rules file name -> its groups
}

func loadMonitoringRaw(tb testing.TB) *monitoringRaw {
	tb.Helper()
	raw := &monitoringRaw{renders: map[string][]object{}, rules: map[string][]byte{}}
	var err error
	if raw.apps, err = argocd.Render("apps"); err != nil {
		tb.Fatal(err)
	}
	if raw.values, err = os.ReadFile("monitoring/kube-prometheus-stack/values.yaml"); err != nil {
		tb.Fatal(err)
	}
	if raw.base, err = argocd.Render("base"); err != nil {
		tb.Fatal(err)
	}
	_, apps := argoApps(tb)
	for _, app := range apps {
		if app.Spec.Project != monitoringProject {
			continue
		}
		for _, src := range app.sourcesOf() {
			if src.Path == "" {
				continue
			}
			local := strings.TrimPrefix(src.Path, repoSubdir)
			if _, done := raw.renders[local]; done {
				continue
			}
			out, err := argocd.Render(local)
			if err != nil {
				tb.Fatalf("Application %s: %v", app.Name, err)
			}
			all, err := docs(out)
			if err != nil {
				tb.Fatal(err)
			}
			raw.renders[local] = []object{}
			for _, doc := range all {
				o, err := newObject(doc)
				if err != nil {
					tb.Fatalf("%s: %v", local, err)
				}
				raw.renders[local] = append(raw.renders[local], o)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		raw.rules[filepath.Base(f)] = b
	}
	if len(raw.rules) == 0 {
		tb.Fatalf("no rules files in %s", rulesDir)
	}
	return raw
}

func (raw *monitoringRaw) decode(tb testing.TB) *monitoring {
	tb.Helper()
	m := &monitoring{renders: map[string][]object{}, rules: map[string]any{}}
	m.projects, m.apps = decodeApps(tb, raw.apps)
	if err := yaml.Unmarshal(raw.values, &m.values); err != nil {
		tb.Fatal(err)
	}
	for dir, objs := range raw.renders {
		for _, o := range objs {
			m.renders[dir] = append(m.renders[dir], o.clone())
		}
	}
	var err error
	if m.base, err = parse(raw.base); err != nil {
		tb.Fatal(err)
	}
	for name, b := range raw.rules {
		var f struct {
			Groups any `json:"groups"`
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		m.rules[name] = f.Groups
	}
	return m
}

// checkMonitoring runs every monitoring rule against one decoded setup.
func checkMonitoring(m *monitoring) []error {
	var p problems
	checkAppSources(m, &p)
	checkAppDestinations(m, &p)
	checkGrafanaSidecar(m, &p)
	checkPrometheusRules(m, &p)
	checkRuleJobs(m, &p)
	checkFluentBit(m, &p)
	return p
}

// checkAppSources: every Application's sources are allowed by its project,
// charts are pinned, git paths and value files exist in this checkout, and
// each project allows no repository that nothing uses.
func checkAppSources(m *monitoring, p *problems) {
	used := map[string]map[string]bool{}
	for _, name := range sortedKeys(m.apps) {
		app := m.apps[name]
		proj, ok := m.projects[app.Spec.Project]
		if !ok {
			p.addf("Application %s: project %q is not an AppProject in apps/", name, app.Spec.Project)
			continue
		}
		if used[proj.Name] == nil {
			used[proj.Name] = map[string]bool{}
		}
		srcs := app.sourcesOf()
		if len(srcs) == 0 {
			p.addf("Application %s: no source", name)
		}
		refs := map[string]appSource{}
		for _, src := range srcs {
			if src.Ref != "" {
				refs[src.Ref] = src
			}
		}
		for _, src := range srcs {
			used[proj.Name][src.RepoURL] = true
			if !slices.Contains(proj.Spec.SourceRepos, src.RepoURL) {
				p.addf("Application %s: source %s is not in AppProject %s sourceRepos %v", name, src.RepoURL, proj.Name, proj.Spec.SourceRepos)
			}
			switch {
			case src.Chart != "":
				if !pinnedChart.MatchString(src.TargetRevision) {
					p.addf("Application %s: chart %s version %q is not pinned to an exact release", name, src.Chart, src.TargetRevision)
				}
				if src.Helm == nil || src.Helm.ReleaseName == "" {
					p.addf("Application %s: chart %s has no helm.releaseName, so object names follow the Application's name", name, src.Chart)
				}
				for _, vf := range helmValueFiles(src) {
					ref, file, ok := strings.Cut(strings.TrimPrefix(vf, "$"), "/")
					r, known := refs[ref]
					if !strings.HasPrefix(vf, "$") || !ok || !known || r.RepoURL != repoURL {
						p.addf("Application %s: value file %s is not read through a ref to %s", name, vf, repoURL)
						continue
					}
					if _, err := os.Stat(strings.TrimPrefix(file, repoSubdir)); err != nil || !strings.HasPrefix(file, repoSubdir) {
						p.addf("Application %s: value file %s is not in this checkout", name, vf)
					}
				}
			case src.Path != "":
				if src.RepoURL != repoURL || src.TargetRevision == "" {
					p.addf("Application %s: path %s from %s at %q, want this repository at a revision", name, src.Path, src.RepoURL, src.TargetRevision)
				}
				if _, err := os.Stat(filepath.Join(strings.TrimPrefix(src.Path, repoSubdir), "kustomization.yaml")); err != nil || !strings.HasPrefix(src.Path, repoSubdir) {
					p.addf("Application %s: path %s is not a kustomization in this checkout", name, src.Path)
				}
			case src.Ref != "":
				if src.RepoURL != repoURL {
					p.addf("Application %s: ref %s points at %s, not this repository", name, src.Ref, src.RepoURL)
				}
			default:
				p.addf("Application %s: source %s is neither a chart, a path nor a ref", name, src.RepoURL)
			}
		}
	}
	for _, name := range sortedKeys(m.projects) {
		for _, repo := range m.projects[name].Spec.SourceRepos {
			if !used[name][repo] {
				p.addf("AppProject %s: sourceRepos allows %s, which no Application uses", name, repo)
			}
		}
	}
}

func helmValueFiles(src appSource) []string {
	if src.Helm == nil {
		return nil
	}
	return src.Helm.ValueFiles
}

// checkAppDestinations: the monitoring project stays narrow, and what each
// kustomize path renders fits its Application's destination and project.
func checkAppDestinations(m *monitoring, p *problems) {
	proj := m.projects[monitoringProject]
	if proj == nil {
		p.addf("no AppProject %s", monitoringProject)
		return
	}
	for _, gk := range proj.Spec.ClusterResourceWhitelist {
		if !clusterScoped[gk] {
			p.addf("AppProject %s: clusterResourceWhitelist allows %s (group %q), which no monitoring Application needs", monitoringProject, gk.Kind, gk.Group)
		}
	}
	for _, d := range proj.Spec.Destinations {
		if d.Namespace != monitoringNS {
			p.addf("AppProject %s: destination %+v, want only namespace %s", monitoringProject, d, monitoringNS)
		}
	}
	nsLabels := map[destination]map[string]string{}
	for _, name := range sortedKeys(m.apps) {
		app := m.apps[name]
		if app.Spec.Project != monitoringProject {
			continue
		}
		s := app.Spec
		if !slices.Contains(proj.Spec.Destinations, s.Destination) {
			p.addf("Application %s: destination %+v is not allowed by AppProject %s", name, s.Destination, monitoringProject)
		}
		if !slices.Contains(s.SyncPolicy.SyncOptions, "CreateNamespace=true") {
			p.addf("Application %s: syncOptions %v, want CreateNamespace=true", name, s.SyncPolicy.SyncOptions)
		}
		var labels map[string]string
		if md := s.SyncPolicy.ManagedNamespaceMetadata; md != nil {
			labels = md.Labels
		}
		// Whichever Application syncs first creates the namespace; they
		// must not disagree on its Pod Security level.
		if prev, seen := nsLabels[s.Destination]; seen && !reflect.DeepEqual(prev, labels) {
			p.addf("Application %s: managedNamespaceMetadata labels %v differ from another Application's %v on %+v", name, labels, prev, s.Destination)
		}
		nsLabels[s.Destination] = labels
		for _, src := range app.sourcesOf() {
			if src.Chart != "" && !slices.Contains(s.SyncPolicy.SyncOptions, "ServerSideApply=true") {
				p.addf("Application %s: chart %s without ServerSideApply=true (its CRDs exceed the client-side apply annotation)", name, src.Chart)
			}
			if src.Path == "" {
				continue
			}
			for _, o := range m.renders[strings.TrimPrefix(src.Path, repoSubdir)] {
				gk := o.groupKind()
				if o.Metadata.Namespace == "" {
					if !slices.Contains(proj.Spec.ClusterResourceWhitelist, gk) {
						p.addf("Application %s: renders cluster-scoped %s, which AppProject %s does not allow", name, o, monitoringProject)
					}
					continue
				}
				if o.Metadata.Namespace != s.Destination.Namespace {
					p.addf("Application %s: renders %s outside its destination namespace %s", name, o, s.Destination.Namespace)
				}
				if wl := proj.Spec.NamespaceResourceWhitelist; len(wl) > 0 && !slices.Contains(wl, gk) {
					p.addf("Application %s: renders %s (group %q), which AppProject %s does not allow", name, o, gk.Group, monitoringProject)
				}
			}
		}
	}
}

// dashboardConfigMaps returns the rendered ConfigMaps that carry a
// dashboard: a .json key.
func dashboardConfigMaps(m *monitoring) []object {
	var out []object
	for _, dir := range sortedKeys(m.renders) {
		for _, o := range m.renders[dir] {
			if o.Kind == "ConfigMap" && slices.ContainsFunc(o.dataKeys, func(k string) bool { return strings.HasSuffix(k, ".json") }) {
				out = append(out, o)
			}
		}
	}
	return out
}

// checkGrafanaSidecar: the chart's Grafana finds every dashboard ConfigMap
// (label, namespace, folder annotation), names the datasource the panels
// use, and Prometheus selects unlabelled ServiceMonitors and rules.
func checkGrafanaSidecar(m *monitoring, p *problems) {
	sc := m.values.Grafana.Sidecar
	d := sc.Dashboards
	if !d.Enabled || d.Label == "" {
		p.addf("values: grafana.sidecar.dashboards must be enabled with a label, got %+v", d)
	}
	cms := dashboardConfigMaps(m)
	if len(cms) == 0 {
		p.addf("no dashboard ConfigMaps rendered by the monitoring Applications")
	}
	for _, o := range cms {
		if got, ok := o.Labels[d.Label]; !ok || got != d.LabelValue {
			p.addf("ConfigMap %s: the Grafana sidecar looks for label %s=%q, the ConfigMap has %v", o.Metadata.Name, d.Label, d.LabelValue, o.Labels)
		}
		if d.FolderAnnotation != "" && o.Annotations[d.FolderAnnotation] == "" {
			p.addf("ConfigMap %s: no %s annotation, the sidecar's folderAnnotation", o.Metadata.Name, d.FolderAnnotation)
		}
		if d.SearchNamespace != "ALL" && d.SearchNamespace != o.Metadata.Namespace {
			p.addf("ConfigMap %s: in namespace %s, the sidecar searches %q", o.Metadata.Name, o.Metadata.Namespace, d.SearchNamespace)
		}
	}
	if sc.Datasources.UID != dashboards.DatasourceUID {
		p.addf("values: grafana.sidecar.datasources.uid %q, the dashboards' panels name %q", sc.Datasources.UID, dashboards.DatasourceUID)
	}
	ps := m.values.Prometheus.PrometheusSpec
	for key, v := range map[string]*bool{
		"serviceMonitorSelectorNilUsesHelmValues": ps.ServiceMonitorSelectorNilUsesHelmValues,
		"podMonitorSelectorNilUsesHelmValues":     ps.PodMonitorSelectorNilUsesHelmValues,
		"ruleSelectorNilUsesHelmValues":           ps.RuleSelectorNilUsesHelmValues,
	} {
		if v == nil || *v {
			p.addf("values: prometheus.prometheusSpec.%s must be false, or Prometheus ignores objects without the release label", key)
		}
	}
}

// checkPrometheusRules: the PrometheusRules hold exactly the groups of the
// rules files that promtool and the live test check, one per file.
func checkPrometheusRules(m *monitoring, p *problems) {
	got := map[string]any{}
	for _, objs := range m.renders {
		for _, o := range objs {
			if o.APIVersion+" "+o.Kind != "monitoring.coreos.com/v1 PrometheusRule" {
				continue
			}
			var pr struct {
				Spec struct {
					Groups any `json:"groups"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(o.doc, &pr); err != nil {
				p.addf("%s: %v", o, err)
				continue
			}
			got[o.Metadata.Name] = pr.Spec.Groups
		}
	}
	for _, file := range sortedKeys(m.rules) {
		name := strings.TrimSuffix(file, ".yml")
		groups, ok := got[name]
		if !ok {
			p.addf("rules file %s has no PrometheusRule %s: run go generate ./argocd", file, name)
			continue
		}
		if !reflect.DeepEqual(groups, m.rules[file]) {
			p.addf("PrometheusRule %s: groups differ from dashboards/prometheus/rules/%s: run go generate ./argocd", name, file)
		}
		delete(got, name)
	}
	for name := range got {
		p.addf("PrometheusRule %s is not generated from a rules file", name)
	}
}

var jobMatcher = regexp.MustCompile(`\bjob\s*=\s*"([^"]*)"`)

// checkRuleJobs: a job="..." matcher in a rule must name a job the units'
// ServiceMonitors produce in the cluster (the Service's jobLabel value, or
// the Service name), or the alert can never fire there.
func checkRuleJobs(m *monitoring, p *problems) {
	jobs := map[string]bool{}
	for _, sm := range m.base.serviceMonitors {
		for name, svc := range m.base.services {
			if ok, _ := selects(&sm.Spec.Selector, svc.Labels); !ok {
				continue
			}
			job := name
			if l := sm.Spec.JobLabel; l != "" && svc.Labels[l] != "" {
				job = svc.Labels[l]
			}
			jobs[job] = true
		}
	}
	for _, file := range sortedKeys(m.rules) {
		b, _ := json.Marshal(m.rules[file])
		for _, match := range jobMatcher.FindAllStringSubmatch(strings.ReplaceAll(string(b), `\"`, `"`), -1) {
			if !jobs[match[1]] {
				p.addf("rules %s select job %q, which no ServiceMonitor in argocd/base produces (jobs %v)", file, match[1], sortedKeys(jobs))
			}
		}
	}
}

// checkFluentBit checks each cluster's Fluent Bit render.
func checkFluentBit(m *monitoring, p *problems) {
	n := 0
	for dir, objs := range m.renders {
		env, ok := strings.CutPrefix(dir, "monitoring/fluent-bit/overlays/")
		if !ok {
			continue
		}
		n++
		checkFluentBitRender(dir, env, objs, p)
	}
	if n == 0 {
		p.addf("no Application deploys Fluent Bit")
	}
}

func checkFluentBitRender(dir, env string, objs []object, p *problems) {
	var (
		ds       *appsv1.DaemonSet
		cms      = map[string]*corev1.ConfigMap{}
		sas      = map[string]bool{}
		bindings []rbacv1.ClusterRoleBinding
	)
	for _, o := range objs {
		var err error
		switch o.APIVersion + " " + o.Kind {
		case "apps/v1 DaemonSet":
			if ds != nil {
				p.addf("%s: a second DaemonSet %s", dir, o.Metadata.Name)
			}
			ds = new(appsv1.DaemonSet)
			err = yaml.UnmarshalStrict(o.doc, ds)
		case "v1 ConfigMap":
			cm := new(corev1.ConfigMap)
			err = yaml.UnmarshalStrict(o.doc, cm)
			cms[cm.Name] = cm
		case "v1 ServiceAccount":
			sas[o.Metadata.Name] = true
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			err = yaml.UnmarshalStrict(o.doc, &b)
			bindings = append(bindings, b)
		}
		if err != nil {
			p.addf("%s: %s: %v", dir, o, err)
		}
	}
	if ds == nil || len(ds.Spec.Template.Spec.Containers) != 1 {
		p.addf("%s: want one DaemonSet with one container", dir)
		return
	}
	spec := ds.Spec.Template.Spec
	c := spec.Containers[0]
	if _, tag, ok := strings.Cut(c.Image, ":"); !ok || tag == "" || tag == "latest" || !strings.Contains(tag, ".") {
		p.addf("%s: image %s must pin a release tag", dir, c.Image)
	}
	bound := false
	for _, b := range bindings {
		for _, s := range b.Subjects {
			bound = bound || (s.Kind == "ServiceAccount" && s.Name == spec.ServiceAccountName && s.Namespace == monitoringNS)
		}
	}
	if !sas[spec.ServiceAccountName] || !bound {
		p.addf("%s: serviceAccountName %q is not a rendered ServiceAccount bound by a ClusterRoleBinding", dir, spec.ServiceAccountName)
	}

	// The environment the container sees, from its envFrom ConfigMaps.
	vars := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm := cms[from.ConfigMapRef.Name]
		if cm == nil {
			p.addf("%s: envFrom ConfigMap %s is not rendered", dir, from.ConfigMapRef.Name)
			continue
		}
		for k, v := range cm.Data {
			vars[k] = v
		}
	}
	cfg, hostPathLogs := fluentBitConfigOf(dir, spec, c, cms, p)
	if cfg == nil {
		return
	}
	if !hostPathLogs {
		p.addf("%s: /var/log is not mounted read-only from the node", dir)
	}

	// The OpenSearch host: written once, in the ConfigMap the output reads.
	var outputs []map[string]any
	for _, o := range cfg.Pipeline.Outputs {
		if o["name"] == "opensearch" {
			outputs = append(outputs, o)
		}
	}
	if len(outputs) != 1 {
		p.addf("%s: want one opensearch output, got %d", dir, len(outputs))
		return
	}
	host := fmt.Sprint(outputs[0]["host"])
	name, isVar := strings.CutPrefix(host, "${")
	name = strings.TrimSuffix(name, "}")
	if !isVar || vars[name] == "" {
		p.addf("%s: opensearch host %q must be ${VAR} from an envFrom ConfigMap with a value", dir, host)
	} else {
		for _, o := range objs {
			if n := bytes.Count(o.doc, []byte(vars[name])); n > 0 && !strings.HasPrefix(o.Metadata.Name, "fluent-bit-output") {
				p.addf("%s: the OpenSearch host %s is written again in %s", dir, vars[name], o)
			}
		}
	}
	for k, v := range outputs[0] {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "${") {
			if key := strings.TrimSuffix(strings.TrimPrefix(s, "${"), "}"); vars[key] == "" {
				p.addf("%s: opensearch %s reads ${%s}, which no envFrom ConfigMap sets", dir, k, key)
			}
		}
	}
	if e, err := envs.Load("aws-" + env); err != nil {
		p.addf("%s: %v", dir, err)
	} else if vars["AWS_REGION"] != e.AWS.Region {
		p.addf("%s: AWS_REGION %q, envs/aws-%s.yaml says %q", dir, vars["AWS_REGION"], env, e.AWS.Region)
	}

	checkFluentBitParsing(dir, cfg, p)
}

// fluentBitConfigOf finds the config file the container is started with in
// its mounted ConfigMap, and whether /var/log comes read-only from the node.
func fluentBitConfigOf(dir string, spec corev1.PodSpec, c corev1.Container, cms map[string]*corev1.ConfigMap, p *problems) (*fluentBitConfig, bool) {
	var file string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			file = v
		}
	}
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		vols[v.Name] = v
	}
	var body string
	found, logs := false, false
	for _, vm := range c.VolumeMounts {
		v := vols[vm.Name]
		if v.HostPath != nil && v.HostPath.Path == "/var/log" && vm.MountPath == "/var/log" && vm.ReadOnly {
			logs = true
		}
		if v.ConfigMap == nil || !strings.HasPrefix(file, vm.MountPath+"/") {
			continue
		}
		cm := cms[v.ConfigMap.Name]
		if cm == nil {
			p.addf("%s: volume %s: ConfigMap %s is not rendered", dir, v.Name, v.ConfigMap.Name)
			continue
		}
		body, found = cm.Data[strings.TrimPrefix(file, vm.MountPath+"/")]
	}
	if !found {
		p.addf("%s: the container's --config=%q is not a key of a mounted ConfigMap", dir, file)
		return nil, logs
	}
	cfg := new(fluentBitConfig)
	if err := yaml.UnmarshalStrict([]byte(body), cfg); err != nil {
		p.addf("%s: %s: %v", dir, file, err)
		return nil, logs
	}
	return cfg, logs
}

// checkFluentBitParsing: the container log files are tailed in the CRI
// format, and the units' lines are parsed by a JSON parser whose time key
// and format read what logx writes.
func checkFluentBitParsing(dir string, cfg *fluentBitConfig, p *problems) {
	tailed := false
	for _, in := range cfg.Pipeline.Inputs {
		if in["name"] == "tail" && strings.HasPrefix(fmt.Sprint(in["path"]), "/var/log/containers/") && in["multiline.parser"] == "cri" {
			tailed = true
		}
	}
	if !tailed {
		p.addf("%s: no tail input on /var/log/containers with multiline.parser cri (EKS runs containerd)", dir)
	}
	var parser string
	for _, f := range cfg.Pipeline.Filters {
		// The tail tag kube.* becomes kube.var.log.containers.<pod>_<namespace>_<container>-<id>.log.
		if f["name"] == "parser" && f["key_name"] == "log" && strings.Contains(fmt.Sprint(f["match"]), "_"+namespace+"_") {
			parser = fmt.Sprint(f["parser"])
		}
	}
	if parser == "" {
		p.addf("%s: no parser filter on the log key of the %s namespace's containers", dir, namespace)
		return
	}
	line := logxLine()
	for _, ps := range cfg.Parsers {
		if ps.Name != parser {
			continue
		}
		if ps.Format != "json" {
			p.addf("%s: parser %s format %q, the units log JSON", dir, parser, ps.Format)
		}
		ts, ok := line[ps.TimeKey].(string)
		if !ok {
			p.addf("%s: parser %s time_key %q is not a key of the units' log lines %v", dir, parser, ps.TimeKey, line)
			return
		}
		layout, err := goLayout(ps.TimeFormat)
		if err != nil {
			p.addf("%s: parser %s: %v", dir, parser, err)
			return
		}
		if _, err := time.Parse(layout, ts); err != nil {
			p.addf("%s: parser %s time_format %q does not read logx's time %q: %v", dir, parser, ps.TimeFormat, ts, err)
		}
		return
	}
	p.addf("%s: parser filter names %q, which parsers does not define", dir, parser)
}

// logxLine is one record as the units write it, decoded.
func logxLine() map[string]any {
	var buf bytes.Buffer
	logx.New(&buf, "info").Info("order placed", "unit", "order")
	var rec map[string]any
	_ = json.Unmarshal(buf.Bytes(), &rec)
	return rec
}

// goLayout translates the strptime directives Fluent Bit parsers use into
// a Go time layout: %L is Fluent Bit's fractional seconds, %z an offset or Z.
func goLayout(strptime string) (string, error) {
	repl := map[byte]string{'Y': "2006", 'm': "01", 'd': "02", 'H': "15", 'M': "04", 'S': "05", 'L': "999999999", 'z': "Z07:00"}
	var b strings.Builder
	for i := 0; i < len(strptime); i++ {
		if strptime[i] != '%' {
			b.WriteByte(strptime[i])
			continue
		}
		i++
		if i == len(strptime) {
			return "", fmt.Errorf("time_format %q ends in %%", strptime)
		}
		r, ok := repl[strptime[i]]
		if !ok {
			return "", fmt.Errorf("time_format %q: directive %%%c is not translated here", strptime, strptime[i])
		}
		b.WriteString(r)
	}
	return b.String(), nil
}

// TestMonitoring checks the monitoring Applications, their project, the
// chart values and what the kustomize paths render.
func TestMonitoring(t *testing.T) {
	m := loadMonitoringRaw(t).decode(t)
	for _, err := range checkMonitoring(m) {
		t.Error(err)
	}
	// Each cluster gets every monitoring Application.
	for _, o := range overlays {
		if o.env == "" {
			continue
		}
		for _, base := range []string{"kube-prometheus-stack", "shoplab-monitoring", "fluent-bit"} {
			app := m.apps[base+"-"+o.env]
			if app == nil {
				t.Errorf("no Application %s-%s", base, o.env)
				continue
			}
			if app.Spec.Destination.Name != "shoplab-"+o.env {
				t.Errorf("Application %s-%s deploys to cluster %q", base, o.env, app.Spec.Destination.Name)
			}
		}
	}
}

// TestMonitoringChecksCatchBreakage proves each monitoring rule can fail:
// each case breaks one thing in the committed setup and expects the
// matching complaint.
func TestMonitoringChecksCatchBreakage(t *testing.T) {
	raw := loadMonitoringRaw(t)
	chart := func(m *monitoring, env string) *appSource {
		return &m.apps["kube-prometheus-stack-"+env].Spec.Sources[0]
	}
	// edit rewrites the rendered objects of dir whose document contains
	// from, as if the manifest had been written that way.
	edit := func(m *monitoring, dir, from, to string) {
		for i, o := range m.renders[dir] {
			if bytes.Contains(o.doc, []byte(from)) {
				edited, err := newObject(bytes.ReplaceAll(o.doc, []byte(from), []byte(to)))
				if err != nil {
					panic(fmt.Sprintf("edit %s: %v", dir, err)) // the case itself is wrong
				}
				m.renders[dir][i] = edited
			}
		}
	}
	project := func(m *monitoring) *appProject { return m.projects[monitoringProject] }
	const fbDev = "monitoring/fluent-bit/overlays/dev"
	cases := []struct {
		name   string
		breakM func(m *monitoring)
		want   string
	}{
		{"chart version is a wildcard", func(m *monitoring) { chart(m, "prod").TargetRevision = "*" }, `version "*" is not pinned`},
		{"chart version is latest", func(m *monitoring) { chart(m, "dev").TargetRevision = "latest" }, `version "latest" is not pinned`},
		{"chart version is a range", func(m *monitoring) { chart(m, "dev").TargetRevision = "^88.5.0" }, `version "^88.5.0" is not pinned`},
		{"chart version is a minor series", func(m *monitoring) { chart(m, "dev").TargetRevision = "88.5.x" }, `version "88.5.x" is not pinned`},
		{"chart repo not in the project", func(m *monitoring) {
			p := project(m)
			p.Spec.SourceRepos = slices.DeleteFunc(p.Spec.SourceRepos, func(r string) bool { return strings.Contains(r, "prometheus-community") })
		}, "is not in AppProject shoplab-monitoring sourceRepos"},
		{"an unused repo in the project", func(m *monitoring) {
			p := project(m)
			p.Spec.SourceRepos = append(p.Spec.SourceRepos, "https://fluent.github.io/helm-charts")
		}, "allows https://fluent.github.io/helm-charts, which no Application uses"},
		{"an Application in a missing project", func(m *monitoring) { m.apps["fluent-bit-dev"].Spec.Project = "default" }, `project "default" is not an AppProject`},
		{"destination outside the project", func(m *monitoring) { m.apps["fluent-bit-prod"].Spec.Destination.Namespace = "logging" }, "is not allowed by AppProject shoplab-monitoring"},
		{"project allows another namespace", func(m *monitoring) {
			p := project(m)
			p.Spec.Destinations = append(p.Spec.Destinations, destination{Name: "shoplab-dev", Namespace: "kube-system"})
		}, "want only namespace monitoring"},
		{"project allows a webhook kind", func(m *monitoring) {
			p := project(m)
			p.Spec.ClusterResourceWhitelist = append(p.Spec.ClusterResourceWhitelist, groupKindRef{"admissionregistration.k8s.io", "ValidatingWebhookConfiguration"})
		}, "allows ValidatingWebhookConfiguration"},
		{"project forgets ClusterRole", func(m *monitoring) {
			p := project(m)
			p.Spec.ClusterResourceWhitelist = slices.DeleteFunc(p.Spec.ClusterResourceWhitelist, func(g groupKindRef) bool { return g.Kind == "ClusterRole" })
		}, "renders cluster-scoped ClusterRole /fluent-bit, which AppProject shoplab-monitoring does not allow"},
		{"project forgets a namespaced kind", func(m *monitoring) {
			p := project(m)
			p.Spec.NamespaceResourceWhitelist = slices.DeleteFunc(p.Spec.NamespaceResourceWhitelist, func(g groupKindRef) bool { return g.Kind == "PrometheusRule" })
		}, "renders PrometheusRule monitoring/shoplab (group \"monitoring.coreos.com\"), which AppProject"},
		{"a path renders into another namespace", func(m *monitoring) {
			edit(m, fbDev, "namespace: monitoring", "namespace: default")
			for i, o := range m.renders[fbDev] {
				if o.Metadata.Namespace == monitoringNS {
					m.renders[fbDev][i].Metadata.Namespace = "default"
				}
			}
		}, "outside its destination namespace monitoring"},
		{"value file missing", func(m *monitoring) {
			chart(m, "dev").Helm.ValueFiles = []string{"$values/argocd/monitoring/kube-prometheus-stack/value.yaml"}
		}, "is not in this checkout"},
		{"value file not through the ref", func(m *monitoring) {
			chart(m, "prod").Helm.ValueFiles = []string{"argocd/monitoring/kube-prometheus-stack/values.yaml"}
		}, "is not read through a ref"},
		{"no release name", func(m *monitoring) { chart(m, "prod").Helm.ReleaseName = "" }, "has no helm.releaseName"},
		{"path that is not a kustomization", func(m *monitoring) {
			m.apps["shoplab-monitoring-dev"].Spec.Source.Path = "argocd/monitoring"
		}, "path argocd/monitoring is not a kustomization"},
		{"chart without server-side apply", func(m *monitoring) {
			s := &m.apps["kube-prometheus-stack-dev"].Spec.SyncPolicy
			s.SyncOptions = slices.DeleteFunc(s.SyncOptions, func(o string) bool { return o == "ServerSideApply=true" })
		}, "without ServerSideApply=true"},
		{"namespace labels disagree", func(m *monitoring) {
			m.apps["fluent-bit-dev"].Spec.SyncPolicy.ManagedNamespaceMetadata.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}
		}, "managedNamespaceMetadata labels"},
		{"sidecar label differs", func(m *monitoring) { m.values.Grafana.Sidecar.Dashboards.Label = "grafana-dashboard" }, "the Grafana sidecar looks for label grafana-dashboard"},
		{"sidecar label value differs", func(m *monitoring) { m.values.Grafana.Sidecar.Dashboards.LabelValue = "true" }, `grafana_dashboard="true"`},
		{"dashboard ConfigMap loses its label", func(m *monitoring) {
			for i, o := range m.renders["monitoring/shoplab"] {
				if o.Kind == "ConfigMap" {
					delete(m.renders["monitoring/shoplab"][i].Labels, "grafana_dashboard")
				}
			}
		}, "the Grafana sidecar looks for label grafana_dashboard"},
		{"folder annotation differs", func(m *monitoring) { m.values.Grafana.Sidecar.Dashboards.FolderAnnotation = "grafana-folder" }, "no grafana-folder annotation"},
		{"sidecar searches elsewhere", func(m *monitoring) { m.values.Grafana.Sidecar.Dashboards.SearchNamespace = "grafana" }, `the sidecar searches "grafana"`},
		{"datasource uid differs", func(m *monitoring) { m.values.Grafana.Sidecar.Datasources.UID = "P1809F7CD0C75ACF3" }, "the dashboards' panels name"},
		{"Prometheus ignores unlabelled ServiceMonitors", func(m *monitoring) {
			m.values.Prometheus.PrometheusSpec.ServiceMonitorSelectorNilUsesHelmValues = nil
		}, "serviceMonitorSelectorNilUsesHelmValues must be false"},
		{"PrometheusRule drifts from the rules file", func(m *monitoring) {
			edit(m, "monitoring/shoplab", "for: 10m", "for: 20m")
		}, "groups differ from dashboards/prometheus/rules/shoplab.yml"},
		{"a rules file without a PrometheusRule", func(m *monitoring) { m.rules["kafka.yml"] = m.rules["shoplab.yml"] }, "rules file kafka.yml has no PrometheusRule kafka"},
		{"a PrometheusRule without a rules file", func(m *monitoring) { delete(m.rules, "shoplab.yml") }, "PrometheusRule shoplab is not generated from a rules file"},
		{"rules select a job no ServiceMonitor produces", func(m *monitoring) {
			for _, sm := range m.base.serviceMonitors {
				sm.Spec.JobLabel = ""
			}
		}, `select job "shoplab", which no ServiceMonitor`},
		{"Fluent Bit on a moving tag", func(m *monitoring) {
			edit(m, fbDev, "fluent-bit:5.1.1", "fluent-bit:latest")
		}, "must pin a release tag"},
		{"OpenSearch host written in the pipeline", func(m *monitoring) {
			edit(m, fbDev, "host: ${OPENSEARCH_HOST}", "host: search-shoplab-dev-logs.us-east-1.es.amazonaws.com")
		}, "must be ${VAR} from an envFrom ConfigMap"},
		{"OpenSearch host variable never set", func(m *monitoring) {
			edit(m, fbDev, "${OPENSEARCH_HOST}", "${OPENSEARCH_ENDPOINT}")
		}, "must be ${VAR} from an envFrom ConfigMap"},
		{"OpenSearch host repeated", func(m *monitoring) {
			edit(m, fbDev, "logstash_prefix: ${LOGSTASH_PREFIX}", "logstash_prefix: search-shoplab-dev-logs.us-east-1.es.amazonaws.com")
		}, "is written again in ConfigMap monitoring/fluent-bit-config"},
		{"output reads an unset variable", func(m *monitoring) {
			edit(m, fbDev, "${AWS_REGION}", "${AWS_DEFAULT_REGION}")
		}, "reads ${AWS_DEFAULT_REGION}, which no envFrom ConfigMap sets"},
		{"region off the env file", func(m *monitoring) { edit(m, fbDev, "AWS_REGION: us-east-1", "AWS_REGION: eu-west-1") }, `envs/aws-dev.yaml says "us-east-1"`},
		{"parser time key off slog's", func(m *monitoring) { edit(m, fbDev, "time_key: time", "time_key: ts") }, `time_key "ts" is not a key`},
		{"parser time format off slog's", func(m *monitoring) {
			edit(m, fbDev, `"%Y-%m-%dT%H:%M:%S.%L%z"`, `"%d/%m/%Y %H:%M:%S"`)
		}, "does not read logx's time"},
		{"parser not json", func(m *monitoring) { edit(m, fbDev, "format: json", "format: logfmt") }, `format "logfmt", the units log JSON`},
		{"parser filter on another namespace", func(m *monitoring) { edit(m, fbDev, "*_ecommerce_*", "*_shop_*") }, "no parser filter on the log key"},
		{"parser filter names an undefined parser", func(m *monitoring) { edit(m, fbDev, "parser: shoplab-json", "parser: json") }, `names "json", which parsers does not define`},
		{"docker log format on containerd", func(m *monitoring) { edit(m, fbDev, "multiline.parser: cri", "multiline.parser: docker") }, "multiline.parser cri"},
		{"a typo in the pipeline", func(m *monitoring) { edit(m, fbDev, "pipeline:", "pipline:") }, `unknown field "pipline"`},
		{"logs mounted writable", func(m *monitoring) {
			edit(m, fbDev, "mountPath: /var/log\n          name: varlog\n          readOnly: true", "mountPath: /var/log\n          name: varlog")
		}, "/var/log is not mounted read-only"},
		{"config file not in the ConfigMap", func(m *monitoring) {
			edit(m, fbDev, "--config=/fluent-bit/etc/conf/fluent-bit.yaml", "--config=/fluent-bit/etc/conf/fluent-bit.conf")
		}, "is not a key of a mounted ConfigMap"},
		{"ServiceAccount not bound", func(m *monitoring) {
			edit(m, fbDev, "- kind: ServiceAccount\n  name: fluent-bit", "- kind: ServiceAccount\n  name: fluentbit")
		}, "is not a rendered ServiceAccount bound by a ClusterRoleBinding"},
	}
	if errs := checkMonitoring(raw.decode(t)); len(errs) != 0 {
		t.Fatalf("the committed setup already fails: %v", errs)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := raw.decode(t)
			tc.breakM(m)
			errs := checkMonitoring(m)
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("no complaint containing %q; got %d others: %v", tc.want, len(errs), errs)
		})
	}
}

func TestGoLayout(t *testing.T) {
	got, err := goLayout("%Y-%m-%dT%H:%M:%S.%L%z")
	if want := "2006-01-02T15:04:05.999999999Z07:00"; err != nil || got != want {
		t.Errorf("goLayout = %q, %v; want %q", got, err, want)
	}
	if _, err := goLayout("%s"); err == nil {
		t.Error("an untranslated directive must be an error, not a silent layout")
	}
}
