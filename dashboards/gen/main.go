// Command gen writes the Grafana dashboards of dashboards/grafana/dashboards
// from the definitions in defs.go: go generate ./dashboards (or go run
// ./dashboards/gen -out dashboards/grafana/dashboards). The JSON is
// committed; gen_test.go fails when it is stale.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	out := flag.String("out", "grafana/dashboards", "directory for the dashboard JSON files")
	flag.Parse()
	files, err := render()
	if err == nil {
		err = write(*out, files)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// render returns every dashboard's JSON by file name.
func render() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, b := range boards() {
		js, err := b.render()
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(b.uid, "shoplab-") + ".json"
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("two dashboards write %s", name)
		}
		files[name] = js
	}
	return files, nil
}

// write replaces the JSON files of dir with files.
func write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, keep := files[filepath.Base(p)]; !keep {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
