package bundle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoplab/shoplab/sim/scenario/bundle"
	"github.com/shoplab/shoplab/sim/scenario/journal"
)

func TestWriteAndOpenABundle(t *testing.T) {
	dir := t.TempDir()
	runDir := filepath.Join(dir, "baseline-20261203")
	j := &journal.Journal{Scenario: "baseline", Verdict: journal.Pass}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := j.WriteFile(filepath.Join(runDir, bundle.JournalFile)); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"report.html": "<html>", "junit.xml": "<testsuites/>", "units.log": "{}\n", "metrics.prom": "shoplab_up 1\n"} {
		if err := os.WriteFile(filepath.Join(runDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scen := filepath.Join(dir, "baseline.yaml")
	if err := os.WriteFile(scen, []byte("name: baseline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path, err := bundle.Write(runDir, scen, bundle.Version{Module: "github.com/shoplab/shoplab", Version: "v0.0.0-test", GoVersion: "go1.26"})
	if err != nil {
		t.Fatal(err)
	}
	if path != runDir+".tar.gz" {
		t.Errorf("bundle path %s", path)
	}
	r, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Journal.Scenario != "baseline" || r.Version == nil || r.Version.Version != "v0.0.0-test" {
		t.Errorf("opened %+v version %+v", r.Journal, r.Version)
	}
	for _, name := range []string{"journal.json", "report.html", "junit.xml", "units.log", "metrics.prom", "scenario.yaml", "version.json"} {
		if _, ok := r.Files[name]; !ok {
			t.Errorf("bundle lacks %s", name)
		}
	}
	// The run dir opens the same way.
	d, err := bundle.Open(runDir)
	if err != nil || d.Journal.Scenario != "baseline" {
		t.Fatalf("open run dir: %v %+v", err, d)
	}
}

func TestOpenRefusesWhatIsNotARun(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "x.tar.gz")
	_ = os.WriteFile(notTar, []byte("hello"), 0o644)
	if _, err := bundle.Open(notTar); err == nil || !strings.Contains(err.Error(), "not a run bundle") {
		t.Errorf("a text file: %v", err)
	}
	if _, err := bundle.Open(dir); err == nil {
		t.Error("an empty dir opened as a run")
	}
	if _, err := bundle.Write(dir, "", bundle.Current()); err == nil || !strings.Contains(err.Error(), "not a run directory") {
		t.Errorf("bundling an empty dir: %v", err)
	}
}
