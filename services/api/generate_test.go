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
	for _, f := range []string{"buf.yaml", "buf.gen.yaml"} {
		copyFile(t, f, filepath.Join(tmp, f))
	}
	if err := os.CopyFS(filepath.Join(tmp, "proto"), os.DirFS("proto")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "buf", "generate")
	cmd.Dir = tmp
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

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
