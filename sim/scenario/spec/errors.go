package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Problem is one mistake in a scenario: where it is and what is wrong.
type Problem struct {
	Line    int    // 1-based line in the file; 0 when unknown (a Scenario built in Go)
	Path    string // the field at fault, e.g. "faults[0].type"; "" for the file as a whole
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error is a scenario that does not load: every problem found, in file
// order. errs.CodeOf reports errs.Invalid for it, and errs.FieldOf the path
// of its first problem.
type Error struct {
	File     string // as given to Parse or Load; "" for Validate
	Problems []Problem
}

// Error prints one problem a line, as compilers do:
//
//	payment-latency.yaml:14: faults[0].type: unknown fault type "latecny" (did you mean "latency"?)
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case e.File != "" && p.Line > 0:
			fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		case e.File != "":
			b.WriteString(e.File + ": ")
		case p.Line > 0:
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap gives the errs vocabulary's view of the first problem.
func (e *Error) Unwrap() error {
	if len(e.Problems) == 0 {
		return errs.E(errs.Invalid, "invalid scenario")
	}
	p := e.Problems[0]
	return errs.InvalidField(p.Path, "%s", p.Message)
}

// problems collects the problems of one scenario.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) addAt(line int, path, format string, args ...any) {
	*ps = append(*ps, Problem{Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
}

// sortProblems orders problems by line, then path, and drops exact repeats.
func sortProblems(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path))
	})
	return slices.Compact(ps)
}

// field joins a path and a mapping key: "load" + "rate" = "load.rate". A
// key that is not a plain word is quoted: hpa["my unit"].
func field(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// index joins a path and a list index: "faults" + 0 = "faults[0]".
func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// covers reports whether a problem at path a already accounts for one at b:
// the same field, or one inside the other.
func covers(a, b string) bool {
	if a == b {
		return true
	}
	inside := func(child, parent string) bool {
		return strings.HasPrefix(child, parent) && len(child) > len(parent) &&
			(child[len(parent)] == '.' || child[len(parent)] == '[')
	}
	return inside(a, b) || inside(b, a)
}

// suggest returns " (did you mean "x"?)" when one of known is a likely fix
// for a typo in got, else "".
func suggest[S ~string](got string, known []S) string {
	best, bestDist := "", 1<<30
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(string(k))); d < bestDist {
			best, bestDist = string(k), d
		}
	}
	if best == "" || got == "" || bestDist > max(1, min(3, len(got)/2)) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// quoteList writes values as "a", "b" or "c".
func quoteList[S ~string](values []S) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(string(v))
	}
	switch len(q) {
	case 0:
		return "nothing"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
