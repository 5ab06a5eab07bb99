package spec

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// CompileSchema compiles a JSON Schema (draft 2020-12) registered under id,
// for DecodeStrict. Other YAML files of the project (envs/) use it so that
// they are checked the way a scenario is.
func CompileSchema(id string, schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(id, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	return c.Compile(id)
}

// DecodeStrict fills v (a pointer to a struct) from one YAML document with
// the scenario loader's rules: unknown keys, wrong types, missing
// `spec:"required"` fields, duplicate keys and merges are problems at their
// field and line; the document is also checked against sch (nil skips it).
// When both pass, check (if not nil) runs on the decoded value and its
// problems get the line of their path. The error is an *Error naming file.
func DecodeStrict(file string, data []byte, sch *jsonschema.Schema, v any, check func() []Problem) error {
	root, prob := parseYAML(data)
	if prob != nil {
		if prob.Message == "empty file: a scenario needs at least version, name, description and load" {
			prob.Message = "empty file"
		}
		return &Error{File: file, Problems: []Problem{*prob}}
	}
	t := newTree(root)
	var ps problems
	dec := decoder{problems: &ps, present: map[string]bool{}}
	dec.decode("", root, reflect.ValueOf(v).Elem())
	ps = append(ps, t.problems...)
	if sch != nil {
		for _, sp := range schemaProblemsWith(sch, t.value) {
			if !coveredBy(ps, sp.Path) {
				ps = append(ps, sp)
			}
		}
	}
	if len(ps) == 0 && check != nil {
		ps = append(ps, check()...)
	}
	if len(ps) == 0 {
		return nil
	}
	for i := range ps {
		if ps[i].Line == 0 {
			ps[i].Line = t.line(ps[i].Path)
		}
	}
	return &Error{File: file, Problems: sortProblems(ps)}
}
