package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse: no input panics; the Go rules are never more lenient than the
// schema; and whatever loads is valid, scales validly and survives a
// round trip through YAML and JSON.
func FuzzParse(f *testing.F) {
	for _, path := range shippedFiles(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(goodDoc))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if root, prob := parseYAML(data); prob == nil {
			tree := newTree(root)
			if _, ps := decodeAndValidate(root, tree); len(ps) == 0 {
				if sp := schemaProblems(tree.value); len(sp) > 0 {
					t.Fatalf("the Go rules accept what the schema rejects: %v\n%s", sp, data)
				}
			}
		}
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted, Validate rejects: %v", err)
		}
		if err := s.Scale(0.25).Validate(); err != nil {
			t.Fatalf("Scale(0.25) is invalid: %v", err)
		}
		y, err := yaml.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("back.yaml", y)
		if err != nil {
			t.Fatalf("YAML round trip: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("YAML round trip changed it:\n%s", y)
		}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if ps := schemaProblems(doc); len(ps) > 0 {
			t.Fatalf("JSON form breaks the schema: %v\n%s", ps, j)
		}
	})
}
