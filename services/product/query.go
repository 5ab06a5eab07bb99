package product

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Paging and search bounds.
const (
	DefaultLimit  = 20
	MaxLimit      = 100
	MaxQueryLen   = 200
	MaxQueryWords = 8
)

// Query selects a page of the catalog in id order. Every store adapter
// implements exactly these semantics.
type Query struct {
	// Category keeps only products of that category; empty keeps all.
	Category string
	// Words, when any, keep only products where every word (lower-case) is a
	// substring of SearchText.
	Words []string
	// AfterID starts the page after this id; empty starts at the beginning.
	AfterID string
	// Limit is the most products returned; at least 1.
	Limit int
}

// PageLimit turns a requested page size into the one to use: 0 means
// DefaultLimit, and anything outside 1..MaxLimit is refused.
func PageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 1 || n > MaxLimit:
		return 0, errs.InvalidField("limit", "limit must be 1..%d (0 means %d), got %d", MaxLimit, DefaultLimit, n)
	}
	return n, nil
}

// NormalizeCategory trims and lower-cases a category filter; categories are
// lower-case words, so "Books" finds the books.
func NormalizeCategory(c string) (string, error) {
	c = strings.ToLower(strings.TrimSpace(c))
	if len(c) > MaxCategoryLen || !utf8.ValidString(c) {
		return "", errs.InvalidField("category", "category must be valid UTF-8 of at most %d bytes", MaxCategoryLen)
	}
	return c, nil
}

// ParseQuery splits a search query into its lower-cased words, dropping
// repeats. The error names field "query" (the REST edge calls it "q" and
// renames it).
func ParseQuery(q string) ([]string, error) {
	if len(q) > MaxQueryLen || !utf8.ValidString(q) {
		return nil, errs.InvalidField("query", "query must be valid UTF-8 of at most %d bytes", MaxQueryLen)
	}
	fields := strings.Fields(strings.ToLower(q))
	if len(fields) == 0 {
		return nil, errs.InvalidField("query", "query must hold at least one word")
	}
	words := make([]string, 0, len(fields))
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if !seen[f] {
			seen[f] = true
			words = append(words, f)
		}
	}
	if len(words) > MaxQueryWords {
		return nil, errs.InvalidField("query", "query may hold at most %d distinct words, got %d", MaxQueryWords, len(words))
	}
	return words, nil
}

// cursorPrefix versions the cursor format and makes random base64 that
// happens to decode fail loudly instead of silently starting mid-catalog.
const cursorPrefix = "after:"

// EncodeCursor returns the opaque cursor of the page that follows lastID.
func EncodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + lastID))
}

// DecodeCursor returns the id a cursor continues after; the empty cursor
// means the first page. A cursor this package did not make is refused.
func DecodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", errs.InvalidField("cursor", "cursor is not one this service returned")
	}
	id, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || id == "" || len(id) > MaxIDLen || !utf8.ValidString(id) {
		return "", errs.InvalidField("cursor", "cursor is not one this service returned")
	}
	return id, nil
}
