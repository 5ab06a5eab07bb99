package main

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The Grafana dashboard model written here is schemaVersion 39 (Grafana
// 10.4 and 11.0; later versions migrate it on load). Only the fields that
// version reads are written; dashboards.Check validates the same ones.
const schemaVersion = 39

// datasource is the provisioned Prometheus datasource every panel uses:
// grafana/provisioning/datasources/prometheus.yaml locally and in compose,
// kube-prometheus-stack's default datasource (uid prometheus) in the cluster.
var datasource = map[string]string{"type": "prometheus", "uid": "prometheus"}

// board is a dashboard as the definitions write it.
type board struct {
	uid, title, description string
	tags                    []string
	chaosAnnotations        bool // overlay the active chaos faults
	rows                    []row
}

type row struct {
	title  string
	panels []panel
}

// panel is one visualisation. kind is a Grafana panel type; w is its width
// in grid columns (24 per line), 0 meaning 12.
type panel struct {
	title, kind, unit, description string
	w, h                           int
	targets                        []target
}

type target struct {
	expr, legend string
}

func ts(title, unit string, targets ...target) panel {
	return panel{title: title, kind: "timeseries", unit: unit, targets: targets}
}

func stat(title, unit string, targets ...target) panel {
	return panel{title: title, kind: "stat", unit: unit, w: 6, h: 4, targets: targets}
}

func q(expr, legend string) target { return target{expr: expr, legend: legend} }

func (p panel) wide() panel           { p.w = 24; return p }
func (p panel) width(w int) panel     { p.w = w; return p }
func (p panel) desc(d string) panel   { p.description = d; return p }
func (p panel) as(kind string) panel  { p.kind = kind; return p }
func (b board) withChaos() board      { b.chaosAnnotations = true; return b }
func r(title string, ps ...panel) row { return row{title: title, panels: ps} }
func (b board) add(rows ...row) board { b.rows = append(b.rows, rows...); return b }
func newBoard(uid, title, d string, tags ...string) board {
	return board{uid: uid, title: title, description: d, tags: append([]string{"shoplab"}, tags...)}
}

// chaosAnnotation marks each active fault of the chaos engine: the engine
// exports shoplab_chaos_fault_active (1 per active fault) on the ops
// /metrics, so a Prometheus annotation query draws a region per fault.
var chaosAnnotation = map[string]any{
	"datasource":      datasource,
	"enable":          true,
	"expr":            "max by (id, type, target) (shoplab_chaos_fault_active)",
	"iconColor":       "red",
	"name":            "Chaos faults",
	"step":            "15s",
	"tagKeys":         "type,target",
	"textFormat":      "fault {{id}}",
	"titleFormat":     "{{type}} on {{target}}",
	"useValueForTime": false,
}

// render turns b into the dashboard JSON, laying panels out left to right
// and top to bottom in rows.
func (b board) render() ([]byte, error) {
	annotations := []any{map[string]any{
		"builtIn":    1,
		"datasource": map[string]string{"type": "grafana", "uid": "-- Grafana --"},
		"enable":     true,
		"hide":       true,
		"iconColor":  "rgba(0, 211, 255, 1)",
		"name":       "Annotations & Alerts",
		"type":       "dashboard",
	}}
	if b.chaosAnnotations {
		annotations = append(annotations, chaosAnnotation)
	}
	var panels []any
	id, y := 1, 0
	for _, rw := range b.rows {
		panels = append(panels, map[string]any{
			"collapsed": false,
			"gridPos":   grid(1, 24, 0, y),
			"id":        id,
			"panels":    []any{},
			"title":     rw.title,
			"type":      "row",
		})
		id++
		y++
		x, lineH := 0, 0
		for _, p := range rw.panels {
			w, h := p.w, p.h
			if w == 0 {
				w = 12
			}
			if h == 0 {
				h = 8
			}
			if x+w > 24 {
				x, y, lineH = 0, y+lineH, 0
			}
			panels = append(panels, p.render(id, grid(h, w, x, y)))
			id++
			x += w
			lineH = max(lineH, h)
		}
		y += lineH
	}
	d := map[string]any{
		"annotations":          map[string]any{"list": annotations},
		"description":          b.description,
		"editable":             true,
		"fiscalYearStartMonth": 0,
		"graphTooltip":         1,
		"id":                   nil,
		"links": []any{map[string]any{
			"asDropdown": true, "icon": "external link", "includeVars": false, "keepTime": true,
			"tags": []string{"shoplab"}, "targetBlank": false, "title": "shoplab", "type": "dashboards",
		}},
		"panels":        panels,
		"refresh":       "30s",
		"schemaVersion": schemaVersion,
		"tags":          b.tags,
		"templating":    map[string]any{"list": []any{}},
		"time":          map[string]string{"from": "now-1h", "to": "now"},
		"timepicker":    map[string]any{},
		"timezone":      "browser",
		"title":         b.title,
		"uid":           b.uid,
		"version":       1,
		"weekStart":     "",
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", b.uid, err)
	}
	return buf.Bytes(), nil
}

func grid(h, w, x, y int) map[string]int { return map[string]int{"h": h, "w": w, "x": x, "y": y} }

func (p panel) render(id int, pos map[string]int) map[string]any {
	targets := make([]any, len(p.targets))
	for i, t := range p.targets {
		targets[i] = map[string]any{
			"datasource":   datasource,
			"editorMode":   "code",
			"expr":         t.expr,
			"legendFormat": t.legend,
			"range":        true,
			"refId":        string(rune('A' + i)),
		}
	}
	out := map[string]any{
		"datasource": datasource,
		"fieldConfig": map[string]any{
			"defaults":  map[string]any{"unit": p.unit},
			"overrides": []any{},
		},
		"gridPos": pos,
		"id":      id,
		"targets": targets,
		"title":   p.title,
		"type":    p.kind,
	}
	if p.description != "" {
		out["description"] = p.description
	}
	switch p.kind {
	case "timeseries":
		out["options"] = map[string]any{
			"legend":  map[string]any{"calcs": []string{}, "displayMode": "list", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"},
		}
	case "stat":
		out["options"] = map[string]any{
			"colorMode": "value", "graphMode": "area", "justifyMode": "auto", "orientation": "auto",
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"textMode":      "auto",
		}
	case "table":
		out["options"] = map[string]any{"cellHeight": "sm", "showHeader": true}
		for _, t := range targets {
			t.(map[string]any)["format"] = "table"
			t.(map[string]any)["instant"] = true
			t.(map[string]any)["range"] = false
		}
	}
	return out
}
