package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The committed PrometheusRules are what the rules files render.
func TestCommittedPrometheusRulesAreCurrent(t *testing.T) {
	files, err := render(filepath.Join("..", "..", "..", "dashboards", "prometheus", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "shoplab")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./argocd)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./argocd", name)
		}
	}
	on, _ := filepath.Glob(filepath.Join(dir, "prometheusrule-*.yaml"))
	if len(on) != len(files) {
		t.Errorf("%d PrometheusRule files on disk, the rules render %d: run go generate ./argocd", len(on), len(files))
	}
}

func TestPrometheusRuleRefusesOtherKeys(t *testing.T) {
	for src, want := range map[string]string{
		"groups: []\nrule_files: [x]\n": "only a top-level groups key",
		"rules: []\n":                   "only a top-level groups key",
		"groups: [\n":                   "yaml",
	} {
		if _, err := prometheusRule("x", "x.yml", []byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", src, err, want)
		}
	}
}
