package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Load reads and parses the scenario file at path; problems name the file
// as path.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errs.Wrap(errs.NotFound, err, "no scenario file %s", path)
		}
		return nil, errs.Wrap(errs.Internal, err, "read scenario %s", path)
	}
	return Parse(path, data)
}

// LoadDir loads every *.yaml file in dir, sorted by name. It reports the
// problems of every file that does not load.
func LoadDir(dir string) ([]*Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "list scenarios in %s", dir)
	}
	sort.Strings(paths)
	var out []*Scenario
	var bad []error
	for _, p := range paths {
		s, err := Load(p)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(bad...)
}

// Parse reads a scenario from data, YAML or JSON. name labels its problems,
// usually the file's path. The result is valid (see Validate) and has its
// defaults filled in.
//
// The document is checked against the JSON Schema and by the Go rules; a
// problem either finds is reported once, at its field and line, the Go
// rules' wording first (it is the more specific).
func Parse(name string, data []byte) (*Scenario, error) {
	root, prob := parseYAML(data)
	if prob != nil {
		return nil, &Error{File: name, Problems: []Problem{*prob}}
	}
	tree := newTree(root)
	s, ps := decodeAndValidate(root, tree)
	for _, sp := range schemaProblems(tree.value) {
		if !coveredBy(ps, sp.Path) {
			ps = append(ps, sp)
		}
	}
	if len(ps) > 0 {
		for i := range ps {
			if ps[i].Line == 0 {
				ps[i].Line = tree.line(ps[i].Path)
			}
		}
		return nil, &Error{File: name, Problems: sortProblems(ps)}
	}
	s.present = nil
	s.setDefaults()
	return s, nil
}

// decodeAndValidate applies the Go rules alone: strict decoding, then, if
// that went well, Validate's checks.
func decodeAndValidate(root *yaml.Node, tree *tree) (*Scenario, problems) {
	var s Scenario
	var ps problems
	dec := decoder{problems: &ps, present: map[string]bool{}}
	dec.decode("", root, reflect.ValueOf(&s).Elem())
	ps = append(ps, tree.problems...)
	if len(ps) == 0 {
		s.present = dec.present
		ps = append(ps, s.validate()...)
	}
	return &s, ps
}

func coveredBy(ps problems, path string) bool {
	for _, p := range ps {
		if covers(p.Path, path) {
			return true
		}
	}
	return false
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads exactly one YAML document.
func parseYAML(data []byte) (*yaml.Node, *Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Problem{Line: 1, Message: "empty file: a scenario needs at least version, name, description and load"}
		}
		return nil, yamlProblem(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &Problem{Line: next.Line, Message: "a scenario file holds one YAML document; remove this \"---\" and what follows"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlProblem(err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
		return nil, &Problem{Line: 1, Message: "empty file: a scenario needs at least version, name, description and load"}
	}
	if expandedSize(doc.Content[0], map[*yaml.Node]int{}) > maxNodes {
		return nil, &Problem{Line: 1, Message: fmt.Sprintf("more than %d values once aliases are expanded: is an alias nested in itself?", maxNodes)}
	}
	return doc.Content[0], nil
}

// maxNodes bounds a document's size with its aliases expanded, so that
// nested aliases (a "billion laughs") cannot make the loader work forever.
const maxNodes = 100_000

// expandedSize counts the nodes of n with aliases expanded, stopping soon
// after maxNodes.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = maxNodes + 1 // an alias of itself counts as too big
	size := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		size += expandedSize(n.Alias, memo)
	}
	for _, c := range n.Content {
		if size > maxNodes {
			break
		}
		size += expandedSize(c, memo)
	}
	memo[n] = size
	return size
}

func yamlProblem(err error) *Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Problem{Line: line, Message: "invalid YAML: " + m[2]}
	}
	return &Problem{Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// tree is a YAML document as the JSON value the schema validates, with the
// line of every field path.
type tree struct {
	value    any
	lines    map[string]int
	problems []Problem // keys that JSON cannot hold, duplicate keys, merges
}

func newTree(root *yaml.Node) *tree {
	t := &tree{lines: map[string]int{"": root.Line}}
	t.value = t.convert("", root, 0)
	return t
}

// line returns the line of path, or of its nearest ancestor in the file.
func (t *tree) line(path string) int {
	for {
		if l, ok := t.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return t.lines[""]
		}
		path = path[:i]
	}
}

func (t *tree) convert(path string, n *yaml.Node, depth int) any {
	if depth > 100 {
		return nil // aliases can nest without end; the decoder reports it
	}
	switch n.Kind {
	case yaml.AliasNode:
		return t.convert(path, n.Alias, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				t.problems = append(t.problems, Problem{Line: k.Line, Path: path, Message: "keys must be plain words, not " + describeNode(k)})
				continue
			}
			if k.Tag == "!!merge" {
				t.problems = append(t.problems, Problem{Line: k.Line, Path: path, Message: "merge keys (<<) are not supported; write the fields out"})
				continue
			}
			p := field(path, k.Value)
			if _, dup := m[k.Value]; dup {
				t.problems = append(t.problems, Problem{Line: k.Line, Path: p, Message: fmt.Sprintf("%q is set twice (also line %d)", k.Value, t.lines[p])})
				continue
			}
			t.lines[p] = k.Line
			m[k.Value] = t.convert(p, v, depth+1)
		}
		return m
	case yaml.SequenceNode:
		a := make([]any, len(n.Content))
		for i, c := range n.Content {
			p := index(path, i)
			t.lines[p] = c.Line
			a[i] = t.convert(p, c, depth+1)
		}
		return a
	}
	return scalarJSON(n)
}

// scalarJSON is a YAML scalar as encoding/json would hold it, numbers as
// json.Number so that integers stay integers.
func scalarJSON(n *yaml.Node) any {
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if n.Decode(&u) == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	return n.Value
}

// decoder fills Go values from YAML nodes strictly: an unknown key, a
// value of the wrong type or a missing required field is a problem at its
// path and line. Struct fields use their yaml tag; a `spec:"required"` tag
// makes a key required, `spec:"nonzero"` refuses an explicit zero.
type decoder struct {
	problems *problems
	present  map[string]bool // the paths of the fields the document sets
	depth    int
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problems.addAt(n.Line, path, format, args...)
}

func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) bool {
	if n.Kind == yaml.AliasNode {
		if d.depth > 100 {
			d.fail(n, path, "aliases nest too deep")
			return false
		}
		d.depth++
		defer func() { d.depth-- }()
		return d.decode(path, n.Alias, v)
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.Interface {
		d.fail(n, path, "is empty (null): give it a value or remove the key")
		return false
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.fail(n, path, "%v", err)
			return false
		}
		return true
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if !d.decode(path, n, nv.Elem()) {
			return false
		}
		v.Set(nv)
		return true
	case reflect.Struct:
		return d.decodeStruct(path, n, v)
	case reflect.Map:
		return d.decodeMap(path, n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list, not %s", describeNode(n))
			return false
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		ok := true
		for i, c := range n.Content {
			ok = d.decode(index(path, i), c, s.Index(i)) && ok
		}
		v.Set(s)
		return ok
	case reflect.Interface:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a single value, not %s", describeNode(n))
			return false
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.fail(n, path, "%v", err)
			return false
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
		return true
	}
	return d.decodeScalar(path, n, v)
}

func (d *decoder) decodeScalar(path string, n *yaml.Node, v reflect.Value) bool {
	var want string
	switch v.Kind() {
	case reflect.String:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			v.SetString(n.Value)
			return true
		}
		want = "a string"
	case reflect.Bool:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
			var b bool
			if n.Decode(&b) == nil {
				v.SetBool(b)
				return true
			}
		}
		want = "true or false"
	case reflect.Int, reflect.Int64:
		var f float64
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") && n.Decode(&f) == nil &&
			f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			v.SetInt(int64(f))
			return true
		}
		want = "an integer"
	case reflect.Uint64:
		var u uint64
		if n.Kind == yaml.ScalarNode && n.Tag == "!!int" && n.Decode(&u) == nil {
			v.SetUint(u)
			return true
		}
		want = "a non-negative integer"
	case reflect.Float64:
		var f float64
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") && n.Decode(&f) == nil &&
			!math.IsNaN(f) && !math.IsInf(f, 0) {
			v.SetFloat(f)
			return true
		}
		want = "a number"
	default:
		d.fail(n, path, "cannot hold a %s", v.Type())
		return false
	}
	d.fail(n, path, "must be %s, not %s", want, describeNode(n))
	return false
}

func (d *decoder) decodeMap(path string, n *yaml.Node, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, not %s", describeNode(n))
		return false
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			ok = false // the tree reports it
			continue
		}
		p := field(path, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key())).IsValid() {
			ok = false // the tree reports it
			continue
		}
		ev := reflect.New(v.Type().Elem()).Elem()
		if !d.decode(p, val, ev) {
			ok = false
			continue
		}
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
	}
	v.Set(m)
	return ok
}

// structField is a field a struct's YAML form may hold.
type structField struct {
	key      string
	index    []int
	required bool
	nonzero  bool
}

func structFields(t reflect.Type) []structField {
	var out []structField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" && f.Anonymous {
			for _, sf := range structFields(f.Type) {
				sf.index = append([]int{i}, sf.index...)
				out = append(out, sf)
			}
			continue
		}
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		rules := f.Tag.Get("spec")
		out = append(out, structField{key: name, index: []int{i},
			required: strings.Contains(rules, "required"), nonzero: strings.Contains(rules, "nonzero")})
	}
	return out
}

func (d *decoder) decodeStruct(path string, n *yaml.Node, v reflect.Value) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, not %s", describeNode(n))
		return false
	}
	fields := structFields(v.Type())
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	seen := map[string]bool{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" || seen[k.Value] {
			ok = false // the tree reports it
			continue
		}
		seen[k.Value] = true
		p := field(path, k.Value)
		j := slicesIndex(keys, k.Value)
		if j < 0 {
			d.fail(k, p, "%s", unknown("field", k.Value, keys))
			ok = false
			continue
		}
		d.present[p] = true
		fv := v.FieldByIndex(fields[j].index)
		if !d.decode(p, val, fv) {
			ok = false
			continue
		}
		if fields[j].nonzero && fv.IsZero() {
			if fv.Kind() == reflect.String {
				d.fail(val, p, "must not be empty (leave it out instead)")
			} else {
				d.fail(val, p, "must not be zero (leave it out instead)")
			}
			ok = false
		}
	}
	for _, f := range fields {
		if f.required && !seen[f.key] {
			d.fail(n, field(path, f.key), "required")
			ok = false
		}
	}
	return ok
}

func slicesIndex(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
