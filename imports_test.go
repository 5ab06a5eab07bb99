package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestServicesImportNoTestbed enforces the import rule: business code in
// services/ never imports the testbed (sim/, chaos/) or the CLI, so faults
// can only be plugged in by wiring, never asked about by a handler.
func TestServicesImportNoTestbed(t *testing.T) {
	const mod = "github.com/shoplab/shoplab/"
	forbidden := []string{mod + "sim", mod + "chaos", mod + "cli"}
	checked := 0
	err := filepath.WalkDir("services", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if p == bad || strings.HasPrefix(p, bad+"/") {
					t.Errorf("%s imports %s: services/ must not depend on the testbed", path, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files under services/: is the walk broken?", checked)
	}
}
