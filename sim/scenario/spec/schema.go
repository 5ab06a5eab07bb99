package spec

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaJSON is the JSON Schema of a scenario file. scenarios/schema.json is
// a copy for editors and tools; a test keeps the two identical.
//
//go:embed schema.json
var schemaJSON []byte

// SchemaID is the schema's $id.
const SchemaID = "https://github.com/shoplab/shoplab/scenarios/schema.json"

// Schema returns the JSON Schema (draft 2020-12) of a scenario file.
func Schema() []byte { return bytes.Clone(schemaJSON) }

var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("scenario schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(SchemaID, doc); err != nil {
		return nil, fmt.Errorf("scenario schema: %w", err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		return nil, fmt.Errorf("scenario schema: %w", err)
	}
	return sch, nil
})

var printer = message.NewPrinter(language.English)

// schemaProblems validates a document (as encoding/json would decode it,
// numbers as json.Number) against the schema.
func schemaProblems(doc any) []Problem {
	sch, err := compiledSchema()
	if err != nil {
		// The schema is embedded and tested: this is a build defect.
		return []Problem{{Message: err.Error()}}
	}
	return schemaProblemsWith(sch, doc)
}

// schemaProblemsWith validates doc against sch.
func schemaProblemsWith(sch *jsonschema.Schema, doc any) []Problem {
	err := sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Problem{{Message: "schema: " + err.Error()}}
	}
	var out []Problem
	collectSchemaProblems(doc, ve, &out)
	return out
}

// collectSchemaProblems turns the leaves of a validation error tree into
// problems at field paths.
func collectSchemaProblems(doc any, e *jsonschema.ValidationError, out *[]Problem) {
	path := instancePath(doc, e.InstanceLocation)
	if _, ok := e.ErrorKind.(*kind.AnyOf); ok && allRequired(e.Causes) {
		var missing []string
		for _, c := range e.Causes {
			missing = append(missing, c.ErrorKind.(*kind.Required).Missing...)
		}
		*out = append(*out, Problem{Path: path, Message: "needs " + strings.Join(missing, ", ") + " or both"})
		return
	}
	if len(e.Causes) > 0 {
		for _, c := range e.Causes {
			collectSchemaProblems(doc, c, out)
		}
		return
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, Problem{Path: field(path, p), Message: fmt.Sprintf("unknown field %q", p)})
		}
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, Problem{Path: field(path, m), Message: "required"})
		}
	case *kind.FalseSchema:
		*out = append(*out, Problem{Path: path, Message: "not allowed here"})
	case *kind.Type:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)})
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, fmt.Sprint(w))
		}
		got, _ := k.Got.(string)
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("%s is not one of %s%s", display(k.Got), quoteList(want), suggest(got, want))})
	case *kind.Const:
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf("must be %s, not %s", display(k.Want), display(k.Got))})
	default:
		*out = append(*out, Problem{Path: path, Message: e.ErrorKind.LocalizedString(printer)})
	}
}

func allRequired(es []*jsonschema.ValidationError) bool {
	for _, e := range es {
		if _, ok := e.ErrorKind.(*kind.Required); !ok || len(e.Causes) > 0 {
			return false
		}
	}
	return len(es) > 0
}

func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// instancePath turns a JSON pointer's tokens into a field path, reading
// the document to tell list indexes from mapping keys.
func instancePath(doc any, tokens []string) string {
	path, cur := "", doc
	for _, tok := range tokens {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return field(path, tok)
			}
			path, cur = index(path, i), c[i]
		case map[string]any:
			path, cur = field(path, tok), c[tok]
		default:
			return field(path, tok)
		}
	}
	return path
}
