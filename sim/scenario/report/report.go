// Package report renders a scenario run's journal as report.html, a
// self-contained page with the verdict, charts and tables for people, and
// junit.xml for CI. Both are drawn from the journal alone, so they can
// never disagree with it or with each other, and the same journal always
// renders to the same bytes.
package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shoplab/shoplab/sim/scenario/journal"
)

// File names WriteAll writes.
const (
	JournalFile = "journal.json"
	HTMLFile    = "report.html"
	JUnitFile   = "junit.xml"
)

// WriteAll writes journal.json, report.html and junit.xml into dir,
// creating it if needed. Both reports are rendered before anything is
// written, so a rendering error leaves no half-written file.
func WriteAll(dir string, j *journal.Journal) error {
	var page, junit bytes.Buffer
	if err := WriteHTML(&page, j); err != nil {
		return fmt.Errorf("render %s: %w", HTMLFile, err)
	}
	if err := WriteJUnit(&junit, j); err != nil {
		return fmt.Errorf("render %s: %w", JUnitFile, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := j.WriteFile(filepath.Join(dir, JournalFile)); err != nil {
		return fmt.Errorf("write %s: %w", JournalFile, err)
	}
	if err := os.WriteFile(filepath.Join(dir, HTMLFile), page.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, JUnitFile), junit.Bytes(), 0o644)
}
