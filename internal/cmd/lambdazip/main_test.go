package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestPack: one entry named bootstrap, executable, with the binary's bytes,
// and the same zip for the same binary.
func TestPack(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	want := []byte("\x7fELF not really, but bytes")
	if err := os.WriteFile(bin, want, 0o755); err != nil {
		t.Fatal(err)
	}
	out1, out2 := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	for _, out := range []string{out1, out2} {
		if err := pack(out, bin); err != nil {
			t.Fatal(err)
		}
	}
	zr, err := zip.OpenReader(out1)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		t.Fatalf("entries %v, want only bootstrap", zr.File)
	}
	if m := zr.File[0].Mode(); m.Perm() != 0o755 || !m.IsRegular() {
		t.Errorf("bootstrap mode %v, want -rwxr-xr-x", m)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want) {
		t.Errorf("bootstrap content %q, want %q", got, want)
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("two packs of one binary differ")
	}
	if err := pack(filepath.Join(dir, "c.zip"), filepath.Join(dir, "missing")); err == nil {
		t.Error("packing a missing binary succeeded")
	}
}
