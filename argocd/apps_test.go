package argocd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/shoplab/shoplab/argocd"
)

const (
	repoURL     = "https://github.com/shoplab/shoplab.git"
	argoNS      = "argocd"
	projectName = "shoplab"
	// monitoringProject fences kube-prometheus-stack, the dashboards and
	// Fluent Bit (monitoring_test.go).
	monitoringProject = "shoplab-monitoring"
	repoSubdir        = "argocd/" // where this package sits in the repository
)

// The subsets of argoproj.io/v1alpha1 AppProject and Application that
// apps/ uses, decoded strictly: a typo (selfHeals:) fails, and a field
// outside the subset is added here on purpose.
type (
	destination struct {
		Server    string `json:"server,omitempty"`
		Name      string `json:"name,omitempty"`
		Namespace string `json:"namespace"`
	}
	groupKindRef struct {
		Group string `json:"group"`
		Kind  string `json:"kind"`
	}
	appProject struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			Description                string         `json:"description,omitempty"`
			SourceRepos                []string       `json:"sourceRepos"`
			Destinations               []destination  `json:"destinations"`
			ClusterResourceWhitelist   []groupKindRef `json:"clusterResourceWhitelist,omitempty"`
			NamespaceResourceWhitelist []groupKindRef `json:"namespaceResourceWhitelist,omitempty"`
		} `json:"spec"`
	}
	// appSource is a git path (kustomize), a Helm chart at a version, or a
	// ref that a chart's valueFiles read through $<ref>.
	appSource struct {
		RepoURL        string `json:"repoURL"`
		TargetRevision string `json:"targetRevision"`
		Path           string `json:"path,omitempty"`
		Chart          string `json:"chart,omitempty"`
		Ref            string `json:"ref,omitempty"`
		Helm           *struct {
			ReleaseName string   `json:"releaseName,omitempty"`
			ValueFiles  []string `json:"valueFiles,omitempty"`
		} `json:"helm,omitempty"`
	}
	application struct {
		metav1.TypeMeta   `json:",inline"`
		metav1.ObjectMeta `json:"metadata"`
		Spec              struct {
			Project     string      `json:"project"`
			Source      *appSource  `json:"source,omitempty"`
			Sources     []appSource `json:"sources,omitempty"`
			Destination destination `json:"destination"`
			SyncPolicy  struct {
				Automated *struct {
					Prune    bool `json:"prune"`
					SelfHeal bool `json:"selfHeal"`
				} `json:"automated"`
				SyncOptions              []string `json:"syncOptions"`
				ManagedNamespaceMetadata *struct {
					Labels map[string]string `json:"labels,omitempty"`
				} `json:"managedNamespaceMetadata,omitempty"`
				Retry *struct {
					Limit   int `json:"limit"`
					Backoff struct {
						Duration    string `json:"duration"`
						Factor      int    `json:"factor"`
						MaxDuration string `json:"maxDuration"`
					} `json:"backoff"`
				} `json:"retry,omitempty"`
			} `json:"syncPolicy"`
			RevisionHistoryLimit *int `json:"revisionHistoryLimit,omitempty"`
		} `json:"spec"`
	}
)

// sourcesOf returns an Application's sources, single or multiple.
func (a *application) sourcesOf() []appSource {
	if a.Spec.Source != nil {
		return append([]appSource{*a.Spec.Source}, a.Spec.Sources...)
	}
	return a.Spec.Sources
}

// argoApps renders apps/ and decodes its objects: the AppProjects and the
// Applications, by name.
func argoApps(tb testing.TB) (map[string]*appProject, map[string]*application) {
	tb.Helper()
	out, err := argocd.Render("apps")
	if err != nil {
		tb.Fatal(err)
	}
	return decodeApps(tb, out)
}

// decodeApps decodes a render of apps/.
func decodeApps(tb testing.TB, out []byte) (map[string]*appProject, map[string]*application) {
	tb.Helper()
	all, err := docs(out)
	if err != nil {
		tb.Fatal(err)
	}
	projects := map[string]*appProject{}
	apps := map[string]*application{}
	for _, doc := range all {
		var h header
		if err := yaml.Unmarshal(doc, &h); err != nil {
			tb.Fatal(err)
		}
		switch h.APIVersion + " " + h.Kind {
		case "argoproj.io/v1alpha1 AppProject":
			err = strictInto(projects, h.Metadata.Name, doc)
		case "argoproj.io/v1alpha1 Application":
			err = strictInto(apps, h.Metadata.Name, doc)
		default:
			err = fmt.Errorf("unexpected kind")
		}
		if err != nil {
			tb.Fatalf("%s: %v", h, err)
		}
		if h.Metadata.Namespace != argoNS {
			tb.Errorf("%s: want namespace %s, where ArgoCD reads its objects", h, argoNS)
		}
	}
	for _, want := range []string{projectName, monitoringProject} {
		if projects[want] == nil {
			tb.Fatalf("no AppProject %s", want)
		}
	}
	if len(projects) != 2 {
		tb.Fatalf("AppProjects %v, want %s and %s: a new project is added here on purpose", sortedKeys(projects), projectName, monitoringProject)
	}
	return projects, apps
}

// TestArgoApplications checks the platform's project and its two
// Applications; monitoring_test.go checks the monitoring ones.
func TestArgoApplications(t *testing.T) {
	projects, all := argoApps(t)
	project := projects[projectName]
	apps := map[string]*application{}
	for name, app := range all {
		if app.Spec.Project == projectName {
			apps[name] = app
		}
	}
	if !slices.Equal(project.Spec.SourceRepos, []string{repoURL}) {
		t.Errorf("AppProject sourceRepos %v, want only %s", project.Spec.SourceRepos, repoURL)
	}
	// CreateNamespace goes through the project: it must allow Namespace.
	if !slices.Equal(project.Spec.ClusterResourceWhitelist, []groupKindRef{{"", "Namespace"}}) {
		t.Errorf("clusterResourceWhitelist %v, want exactly core Namespace", project.Spec.ClusterResourceWhitelist)
	}

	envs := map[string]bool{}
	for _, o := range overlays {
		if o.env == "" {
			continue
		}
		envs[o.env] = true
		t.Run(o.env, func(t *testing.T) {
			app, ok := apps["shoplab-"+o.env]
			if !ok {
				t.Fatalf("no Application shoplab-%s", o.env)
			}
			s := app.Spec
			if s.Project != projectName {
				t.Errorf("project %q, want %s", s.Project, projectName)
			}
			if s.Source == nil || len(s.Sources) != 0 {
				t.Fatalf("sources %+v, want one source", app.sourcesOf())
			}
			if s.Source.RepoURL != repoURL || s.Source.TargetRevision == "" {
				t.Errorf("source %+v, want %s at a revision", s.Source, repoURL)
			}
			if want := repoSubdir + o.dir; s.Source.Path != want {
				t.Errorf("path %q, want %q", s.Source.Path, want)
			}
			// The path must be a kustomization in this checkout.
			local := strings.TrimPrefix(s.Source.Path, repoSubdir)
			if _, err := os.Stat(filepath.Join(local, "kustomization.yaml")); err != nil {
				t.Errorf("path %s: %v", s.Source.Path, err)
			}
			if a := s.SyncPolicy.Automated; a == nil || !a.Prune || !a.SelfHeal {
				t.Errorf("automated sync %+v, want prune and selfHeal", a)
			}
			if !slices.Contains(s.SyncPolicy.SyncOptions, "CreateNamespace=true") {
				t.Errorf("syncOptions %v, want CreateNamespace=true", s.SyncPolicy.SyncOptions)
			}
			if md := s.SyncPolicy.ManagedNamespaceMetadata; md == nil || md.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("the namespace must enforce Pod Security restricted, got %+v", md)
			}
			if !slices.Contains(project.Spec.Destinations, s.Destination) {
				t.Errorf("destination %+v is not allowed by AppProject destinations %+v", s.Destination, project.Spec.Destinations)
			}

			// The Application and the overlay it deploys must agree.
			m, _ := mustRender(t, local)
			for ns := range m.namespaces {
				if ns != s.Destination.Namespace {
					t.Errorf("overlay renders namespace %q, Application deploys to %q", ns, s.Destination.Namespace)
				}
			}
			for gk := range m.kinds {
				if !slices.Contains(project.Spec.NamespaceResourceWhitelist, groupKindRef{gk.group, gk.kind}) {
					t.Errorf("overlay renders %s (group %q), which AppProject %s does not allow", gk.kind, gk.group, projectName)
				}
			}
		})
	}
	for name := range apps {
		if !envs[strings.TrimPrefix(name, "shoplab-")] {
			t.Errorf("Application %s deploys no known overlay", name)
		}
	}
	// Two Applications on one cluster and namespace would fight over the
	// same objects.
	if apps["shoplab-dev"] != nil && apps["shoplab-prod"] != nil &&
		apps["shoplab-dev"].Spec.Destination == apps["shoplab-prod"].Spec.Destination {
		t.Errorf("dev and prod deploy to the same destination %+v", apps["shoplab-dev"].Spec.Destination)
	}
}
