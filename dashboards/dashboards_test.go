package dashboards_test

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/argocd"
	"github.com/shoplab/shoplab/dashboards"
)

func loadAll(t *testing.T) []dashboards.Dashboard {
	t.Helper()
	ds, err := dashboards.Load(dashboards.Files)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// Every dashboard passes the schemaVersion 39 checks, and the set is the
// one the design names.
func TestDashboardsMatchTheSchema(t *testing.T) {
	ds := loadAll(t)
	uids, titles := map[string]bool{}, map[string]bool{}
	for _, d := range ds {
		for _, err := range dashboards.Check(d) {
			t.Error(err)
		}
		if uids[d.UID] || titles[d.Title] {
			t.Errorf("%s: uid %q or title %q used twice", d.File, d.UID, d.Title)
		}
		uids[d.UID], titles[d.Title] = true, true
		for _, q := range dashboards.Queries(d) {
			if len(dashboards.MetricNames(q.Expr)) == 0 {
				t.Errorf("%s: reads no metric the live test knows: %s", q, q.Expr)
			}
		}
	}
	for _, want := range []string{"shoplab-cluster-health", "shoplab-services", "shoplab-kafka", "shoplab-flink",
		"shoplab-analytics", "shoplab-hpa", "shoplab-chaos", "shoplab-unit-gateway", "shoplab-unit-user",
		"shoplab-unit-product", "shoplab-unit-order", "shoplab-unit-payment", "shoplab-unit-notification", "shoplab-unit-analytics"} {
		if !uids[want] {
			t.Errorf("no dashboard with uid %s", want)
		}
	}
}

// Each deliberate breakage of a valid dashboard is caught.
func TestCheckCatchesBreakages(t *testing.T) {
	raw, err := fs.ReadFile(dashboards.Files, "grafana/dashboards/services.json")
	if err != nil {
		t.Fatal(err)
	}
	breakages := map[string]func(d map[string]any){
		"schemaVersion": func(d map[string]any) { d["schemaVersion"] = 36 },
		"uid":           func(d map[string]any) { d["uid"] = "has spaces and is far longer than forty characters" },
		"id":            func(d map[string]any) { d["id"] = 7 },
		"title":         func(d map[string]any) { d["title"] = "" },
		"already used":  func(d map[string]any) { panel(d, 2)["id"] = panel(d, 1)["id"] },
		"unknown panel": func(d map[string]any) { panel(d, 1)["type"] = "graph-old" },
		"24-column":     func(d map[string]any) { panel(d, 1)["gridPos"].(map[string]any)["x"] = 20.0 },
		"overlap":       func(d map[string]any) { panel(d, 2)["gridPos"] = panel(d, 1)["gridPos"] },
		"want prometheus/prometheus": func(d map[string]any) {
			panel(d, 1)["targets"].([]any)[0].(map[string]any)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		},
		"empty expr":          func(d map[string]any) { panel(d, 1)["targets"].([]any)[0].(map[string]any)["expr"] = " " },
		"missing or repeated": func(d map[string]any) { panel(d, 1)["targets"].([]any)[0].(map[string]any)["refId"] = "" },
		"no queries":          func(d map[string]any) { panel(d, 1)["targets"] = []any{} },
		"templating": func(d map[string]any) {
			d["templating"] = map[string]any{"list": []any{map[string]any{"name": "unit"}}}
		},
		"has no expr": func(d map[string]any) {
			d["annotations"].(map[string]any)["list"].([]any)[1].(map[string]any)["expr"] = ""
		},
	}
	for want, breakIt := range breakages {
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		breakIt(d)
		b, _ := json.Marshal(d)
		var parsed dashboards.Dashboard
		if err := json.Unmarshal(b, &parsed); err != nil {
			t.Fatal(err)
		}
		parsed.File = "services.json"
		errs := dashboards.Check(parsed)
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), want)
		}
		if !found {
			t.Errorf("breakage %q not caught; errors: %v", want, errs)
		}
	}
}

// panel returns the i-th non-row panel of d.
func panel(d map[string]any, i int) map[string]any {
	n := 0
	for _, p := range d["panels"].([]any) {
		pm := p.(map[string]any)
		if pm["type"] == "row" {
			continue
		}
		if n++; n == i {
			return pm
		}
	}
	panic("no such panel")
}

// The provisioned datasource is the one the panels name, and the
// dashboards provider reads the directory compose mounts them in.
func TestProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, URL, Access string
			IsDefault                    bool           `yaml:"isDefault"`
			JSONData                     map[string]any `yaml:"jsonData"`
		}
	}
	readYAML(t, "grafana/provisioning/datasources/prometheus.yaml", &ds)
	if ds.APIVersion != 1 || len(ds.Datasources) != 1 || ds.Datasources[0].UID != dashboards.DatasourceUID ||
		ds.Datasources[0].Type != "prometheus" || !ds.Datasources[0].IsDefault || ds.Datasources[0].URL == "" {
		t.Errorf("datasources: %+v, want one default prometheus datasource with uid %s", ds, dashboards.DatasourceUID)
	}
	var pr struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type string
			DisableDeletion    bool `yaml:"disableDeletion"`
			AllowUIUpdates     bool `yaml:"allowUiUpdates"`
			Options            struct {
				Path                      string
				FoldersFromFilesStructure bool `yaml:"foldersFromFilesStructure"`
			}
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/shoplab.yaml", &pr)
	if pr.APIVersion != 1 || len(pr.Providers) != 1 || pr.Providers[0].Type != "file" || pr.Providers[0].Options.Path != "/var/lib/grafana/dashboards" {
		t.Errorf("dashboard providers: %+v, want one file provider reading /var/lib/grafana/dashboards", pr)
	}
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := fs.ReadFile(dashboards.Files, name)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestMetricNames(t *testing.T) {
	got := dashboards.MetricNames(`histogram_quantile(0.95, sum by (le) (rate(shoplab_request_duration_seconds_bucket{unit="go_x", method=~"node_.*"}[5m]))) / on () node_load1 or vector(0)`)
	if want := []string{"node_load1", "shoplab_request_duration_seconds_bucket"}; !reflect.DeepEqual(got, want) {
		t.Errorf("MetricNames = %v, want %v", got, want)
	}
}

// kustomize renders one ConfigMap per dashboard file, with the label the
// Grafana sidecar of kube-prometheus-stack looks for and the file as is.
func TestKustomizeConfigMaps(t *testing.T) {
	out, err := argocd.Render(".")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(dashboards.Files, "grafana/dashboards/*.json")
	seen := 0
	for _, doc := range strings.Split(string(out), "\n---\n") {
		var cm struct {
			Kind     string
			Metadata struct {
				Name, Namespace string
				Labels          map[string]string
			}
			Data map[string]string
		}
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Kind != "ConfigMap" || cm.Metadata.Labels["grafana_dashboard"] != "1" || cm.Metadata.Namespace != "monitoring" {
			t.Errorf("object %s %s: want a ConfigMap in monitoring labelled grafana_dashboard=1", cm.Kind, cm.Metadata.Name)
			continue
		}
		for name, body := range cm.Data {
			want, err := fs.ReadFile(dashboards.Files, "grafana/dashboards/"+name)
			if err != nil || body != string(want) {
				t.Errorf("ConfigMap %s key %s is not the file grafana/dashboards/%s", cm.Metadata.Name, name, name)
			}
			seen++
		}
	}
	if seen != len(files) {
		t.Errorf("%d dashboards in ConfigMaps, %d files: list every file in kustomization.yaml", seen, len(files))
	}
}
