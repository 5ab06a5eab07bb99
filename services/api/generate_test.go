package api_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the protobuf code into a scratch
// copy of this directory and fails if any generated file differs from the
// committed one: the committed code must be what buf makes of the .proto files.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: runs buf, which takes several seconds")
	}
	tmp := t.TempDir()
	// Generate from this module (so `go tool` finds buf and the plugins)
	// into a scratch directory.
	cmd := exec.Command("go", "tool", "buf", "generate", "--output", tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buf generate: %v\n%s", err, out)
	}
	want := map[string][]byte{}
	_ = filepath.WalkDir("shoplabv1", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			want[p], _ = os.ReadFile(p)
		}
		return err
	})
	got := 0
	err := filepath.WalkDir(filepath.Join(tmp, "shoplabv1"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		b, _ := os.ReadFile(p)
		got++
		if !bytes.Equal(b, want[rel]) {
			t.Errorf("%s is stale or missing: run `go generate ./services/api/...` and commit", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Errorf("buf generated %d files, %d are committed", got, len(want))
	}
}
