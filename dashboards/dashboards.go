// Package dashboards holds the Grafana dashboards, the Prometheus scrape
// config and the alert rules of the platform, and reads them back: the
// dashboard model they are written in (Grafana schemaVersion 39), the check
// of that model that stands in for a Grafana that cannot be installed here,
// and the list of every PromQL expression they hold, for the live test
// that evaluates each one against a real Prometheus.
package dashboards

//go:generate go run ./gen -out grafana/dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Files holds the dashboards, the provisioning files and the Prometheus
// config and rules, as committed.
//
//go:embed grafana prometheus
var Files embed.FS

// SchemaVersion is the Grafana dashboard schema the JSON is written in
// (Grafana 10.4 and 11.0; later Grafanas migrate it when they load it).
const SchemaVersion = 39

// DatasourceUID is the uid of the Prometheus datasource every panel names:
// grafana/provisioning/datasources/prometheus.yaml provisions it, and
// kube-prometheus-stack's Grafana gives its default datasource this uid.
const DatasourceUID = "prometheus"

// Dashboard is the part of the Grafana dashboard model that is checked.
type Dashboard struct {
	File          string `json:"-"`
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	ID            *int   `json:"id"`
	Tags          []string
	Time          *struct{ From, To string } `json:"time"`
	Templating    struct {
		List []json.RawMessage `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []Annotation `json:"list"`
	} `json:"annotations"`
	Panels []Panel `json:"panels"`
}

// Annotation is one annotation query.
type Annotation struct {
	Name       string      `json:"name"`
	BuiltIn    int         `json:"builtIn"`
	Datasource *Datasource `json:"datasource"`
	Expr       string      `json:"expr"`
	Enable     bool        `json:"enable"`
}

// Panel is one panel; rows hold no panels of their own while expanded.
type Panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *Datasource `json:"datasource"`
	GridPos    *GridPos    `json:"gridPos"`
	Targets    []Target    `json:"targets"`
	Panels     []Panel     `json:"panels"`
	Collapsed  bool        `json:"collapsed"`
}

// Datasource is a reference to a datasource by type and uid.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *Datasource `json:"datasource"`
}

// Load reads every dashboard of grafana/dashboards.
func Load(fsys fs.FS) ([]Dashboard, error) {
	names, err := fs.Glob(fsys, "grafana/dashboards/*.json")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no dashboards in grafana/dashboards")
	}
	out := make([]Dashboard, 0, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		d.File = path.Base(n)
		out = append(out, d)
	}
	return out, nil
}

// panelTypes are the panel plugins built into Grafana 10.4/11 that the
// dashboards may use.
var panelTypes = map[string]bool{
	"row": true, "timeseries": true, "stat": true, "gauge": true, "table": true,
	"bargauge": true, "text": true, "state-timeline": true, "heatmap": true,
}

var uidRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

// Check validates d against what Grafana's schemaVersion 39 dashboard model
// requires and what the provisioning relies on: uid (Grafana's limit of 40
// characters of [a-zA-Z0-9_-]), title, schemaVersion, a null id (a
// provisioned dashboard must not carry a database id), panel ids unique
// across the dashboard and rows, known panel types, grid positions inside
// the 24 columns that do not overlap, every query naming the provisioned
// Prometheus datasource, refIds unique per panel, and no empty expression.
func Check(d Dashboard) []error {
	var out []error
	bad := func(f string, a ...any) { out = append(out, fmt.Errorf("%s: %s", d.File, fmt.Sprintf(f, a...))) }
	if !uidRE.MatchString(d.UID) {
		bad("uid %q: 1-40 characters of [a-zA-Z0-9_-]", d.UID)
	}
	if strings.TrimSpace(d.Title) == "" {
		bad("title is empty")
	}
	if d.SchemaVersion != SchemaVersion {
		bad("schemaVersion %d, want %d", d.SchemaVersion, SchemaVersion)
	}
	if d.ID != nil {
		bad("id must be null in a provisioned dashboard, got %d", *d.ID)
	}
	if d.Time == nil || d.Time.From == "" || d.Time.To == "" {
		bad("time.from and time.to are required")
	}
	if len(d.Templating.List) != 0 {
		// The live test evaluates queries as written; a variable would
		// need a value it cannot know.
		bad("templating variables are not supported by the live test")
	}
	for i, a := range d.Annotations.List {
		if a.Name == "" {
			bad("annotation %d has no name", i)
		}
		if a.BuiltIn == 1 {
			continue
		}
		if err := checkDS(a.Datasource); err != nil {
			bad("annotation %q: %v", a.Name, err)
		}
		if strings.TrimSpace(a.Expr) == "" {
			bad("annotation %q has no expr", a.Name)
		}
	}
	ids := map[int]string{}
	var boxes []Panel
	var walk func(ps []Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
			if p.ID <= 0 {
				bad("%s: id must be positive", name)
			} else if prev, dup := ids[p.ID]; dup {
				bad("%s: id %d already used by %q", name, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if !panelTypes[p.Type] {
				bad("%s: unknown panel type %q", name, p.Type)
			}
			if strings.TrimSpace(p.Title) == "" {
				bad("panel %d has no title", p.ID)
			}
			switch g := p.GridPos; {
			case g == nil:
				bad("%s: no gridPos", name)
			case g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24:
				bad("%s: gridPos %+v outside the 24-column grid", name, *g)
			default:
				boxes = append(boxes, p)
			}
			if p.Type == "row" {
				if len(p.Targets) != 0 {
					bad("%s: a row has no queries", name)
				}
				if !p.Collapsed && len(p.Panels) != 0 {
					bad("%s: an expanded row must not hold panels", name)
				}
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				bad("%s: no queries", name)
			}
			if err := checkDS(p.Datasource); err != nil {
				bad("%s: %v", name, err)
			}
			refs := map[string]bool{}
			for _, t := range p.Targets {
				if t.RefID == "" || refs[t.RefID] {
					bad("%s: refId %q missing or repeated", name, t.RefID)
				}
				refs[t.RefID] = true
				if err := checkDS(t.Datasource); err != nil {
					bad("%s query %s: %v", name, t.RefID, err)
				}
				if strings.TrimSpace(t.Expr) == "" {
					bad("%s query %s: empty expr", name, t.RefID)
				}
			}
		}
	}
	walk(d.Panels)
	for i := range boxes {
		for j := i + 1; j < len(boxes); j++ {
			a, b := boxes[i].GridPos, boxes[j].GridPos
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				bad("panels %q and %q overlap", boxes[i].Title, boxes[j].Title)
			}
		}
	}
	return out
}

func checkDS(ds *Datasource) error {
	if ds == nil {
		return fmt.Errorf("no datasource")
	}
	if ds.Type != "prometheus" || ds.UID != DatasourceUID {
		return fmt.Errorf("datasource %s/%s, want prometheus/%s (the provisioned one)", ds.Type, ds.UID, DatasourceUID)
	}
	return nil
}

// Query is one PromQL expression of a dashboard: a panel's query or an
// annotation's.
type Query struct {
	Dashboard string // the dashboard's title
	Panel     string // the panel's title, or "annotation: <name>"
	RefID     string
	Expr      string
}

func (q Query) String() string {
	return fmt.Sprintf("dashboard %q panel %q query %s", q.Dashboard, q.Panel, q.RefID)
}

// Queries lists every expression of d.
func Queries(d Dashboard) []Query {
	var out []Query
	for _, a := range d.Annotations.List {
		if a.BuiltIn != 1 && a.Expr != "" {
			out = append(out, Query{Dashboard: d.Title, Panel: "annotation: " + a.Name, RefID: "-", Expr: a.Expr})
		}
	}
	var walk func(ps []Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, t := range p.Targets {
				out = append(out, Query{Dashboard: d.Title, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
		}
	}
	walk(d.Panels)
	return out
}

// metricRE finds the metric names an expression reads: identifiers with
// the prefixes of the exporters the dashboards use. PromQL functions and
// label names never carry these prefixes.
var metricRE = regexp.MustCompile(`\b(?:shoplab|process|go|node|kube|container|kafka|jvm|flink|redpanda)_[a-zA-Z0-9_:]*`)

// MetricNames returns the metric names expr reads, sorted, without repeats.
func MetricNames(expr string) []string {
	// Quoted strings hold label values and regexes, never metric names.
	unquoted := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(expr, `""`)
	seen := map[string]bool{}
	for _, m := range metricRE.FindAllString(unquoted, -1) {
		seen[m] = true
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}
