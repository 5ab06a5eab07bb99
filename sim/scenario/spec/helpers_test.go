package spec

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaEnum reads the enum at a JSON pointer of the schema, for tests that
// compare the schema with the Go tables.
func schemaEnum(pointer string) ([]string, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		switch c := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = c[tok]; !ok {
				return nil, fmt.Errorf("%s: no %q", pointer, tok)
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("%s: no item %q", pointer, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%s: %q is not in an object or a list", pointer, tok)
		}
	}
	list, ok := cur.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", pointer)
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	slices.Sort(out)
	return out, nil
}
