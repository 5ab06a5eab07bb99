// Package bundle packs a run directory into one archive that another
// machine can open (journal, report, junit, unit logs, the metrics
// snapshot, the scenario file and the version of the binary that ran it),
// and opens either form again for `shoplab diff`.
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// Names inside a bundle.
const (
	JournalFile  = "journal.json"
	VersionFile  = "version.json"
	ScenarioFile = "scenario.yaml"
	// Ext is a bundle's file name extension.
	Ext = ".tar.gz"
	// maxEntry bounds one file read from a bundle, so a hostile archive
	// cannot fill memory.
	maxEntry = 256 << 20
)

// Version is what built the binary that ran.
type Version struct {
	Module    string `json:"module"`
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Current is this binary's Version.
func Current() Version {
	v := Version{Version: "(devel)", GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Module, v.Version = bi.Main.Path, bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	return v
}

// Write packs every file of runDir, the scenario file and version.json
// into runDir + ".tar.gz" and returns that path.
func Write(runDir, scenarioPath string, v Version) (string, error) {
	out := strings.TrimRight(runDir, string(filepath.Separator)) + Ext
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	now := time.Now()
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: now, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	var names []string
	err := filepath.WalkDir(runDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(runDir, path)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	if !slices.Contains(names, JournalFile) {
		return "", fmt.Errorf("%s has no %s: not a run directory", runDir, JournalFile)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(runDir, filepath.FromSlash(n)))
		if err != nil {
			return "", err
		}
		if err := add(n, data); err != nil {
			return "", err
		}
	}
	if scenarioPath != "" {
		data, err := os.ReadFile(scenarioPath)
		if err != nil {
			return "", fmt.Errorf("scenario file: %w", err)
		}
		if err := add(ScenarioFile, data); err != nil {
			return "", err
		}
	}
	vj, _ := json.MarshalIndent(v, "", "  ")
	if err := add(VersionFile, append(vj, '\n')); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	return out, os.WriteFile(out, buf.Bytes(), 0o644)
}

// Run is an opened run: its journal and, from a bundle, the version.
type Run struct {
	Path    string
	Journal *journal.Journal
	Version *Version          // nil for a run dir (the binary is not recorded there)
	Files   map[string][]byte // every file of a bundle; nil for a run dir
}

// Open reads a run directory or a bundle.
func Open(path string) (*Run, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		j, err := journal.ReadFile(filepath.Join(path, JournalFile))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &Run{Path: path, Journal: j}, nil
	}
	files, err := readTarGz(path)
	if err != nil {
		return nil, fmt.Errorf("%s: not a run bundle: %w", path, err)
	}
	data, ok := files[JournalFile]
	if !ok {
		return nil, fmt.Errorf("%s: the bundle has no %s", path, JournalFile)
	}
	j := &journal.Journal{}
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, JournalFile, err)
	}
	r := &Run{Path: path, Journal: j, Files: files}
	if vd, ok := files[VersionFile]; ok {
		v := &Version{}
		if err := json.Unmarshal(vd, v); err == nil {
			r.Version = v
		}
	}
	return r, nil
}

func readTarGz(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > maxEntry {
			return nil, fmt.Errorf("%s is %d bytes, over the %d limit", h.Name, h.Size, maxEntry)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxEntry))
		if err != nil {
			return nil, err
		}
		files[h.Name] = data
	}
}
