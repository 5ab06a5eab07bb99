package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The committed dashboards are what the definitions render.
func TestCommittedDashboardsAreCurrent(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "grafana", "dashboards")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./dashboards)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./dashboards", name)
		}
	}
	on, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(on) != len(files) {
		t.Errorf("%d dashboard files on disk, the definitions render %d: run go generate ./dashboards", len(on), len(files))
	}
}
