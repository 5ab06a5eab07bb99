package hpa

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// decodeStrict decodes a JSON or YAML document into out, refusing unknown
// fields (named by their full path), duplicate keys (YAML), more than one
// document and trailing data.
func decodeStrict(data []byte, out any) error {
	js := data
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		if err := singleYAMLDocument(data); err != nil {
			return err
		}
		var err error
		if js, err = yaml.YAMLToJSONStrict(data); err != nil {
			return errs.E(errs.Invalid, "not valid YAML: %v", err)
		}
		if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
			return errs.E(errs.Invalid, "the document is empty")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return jsonError(err, js, out)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.E(errs.Invalid, "not valid JSON: unexpected data after the document at byte %d", dec.InputOffset())
	}
	return nil
}

// singleYAMLDocument refuses a YAML stream with more than one document,
// whose later documents would otherwise be ignored.
func singleYAMLDocument(data []byte) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var node yamlv3.Node
	if err := dec.Decode(&node); err != nil {
		if err == io.EOF {
			return errs.E(errs.Invalid, "the document is empty")
		}
		return errs.E(errs.Invalid, "not valid YAML: %v", err)
	}
	if err := dec.Decode(&node); err != io.EOF {
		return errs.E(errs.Invalid, "not valid YAML: want one document, found more")
	}
	return nil
}

// jsonError turns a decoding error into an Invalid error that names the
// field at fault when it can.
func jsonError(err error, js []byte, out any) error {
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		if path := unknownFieldPath(js, reflect.TypeOf(out)); path != "" {
			return errs.InvalidField(path, "unknown field")
		}
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return errs.InvalidField(typeErr.Field, "cannot be a JSON %s (want %s)", typeErr.Value, typeErr.Type)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return errs.E(errs.Invalid, "not valid JSON: %v at byte %d", err, syntaxErr.Offset)
	}
	return errs.E(errs.Invalid, "%v", err)
}

// unknownFieldPath finds the first key of the document (in key order) that
// no field of t takes, and returns its dotted path; encoding/json names the
// key but not where it is.
func unknownFieldPath(js []byte, t reflect.Type) string {
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return ""
	}
	return findUnknown(doc, t, "")
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func findUnknown(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pt := reflect.PointerTo(t); pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType) {
		return "" // decodes itself (Quantity, Time, ...)
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := map[string]reflect.Type{}
		collectJSONFields(t, fields)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := lookupField(fields, k)
			at := joinPath(path, k)
			if !ok {
				return at
			}
			if p := findUnknown(obj[k], ft, at); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return ""
		}
		for i, e := range arr {
			if p := findUnknown(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		for k, e := range obj {
			if p := findUnknown(e, t.Elem(), joinPath(path, k)); p != "" {
				return p
			}
		}
	}
	return ""
}

// collectJSONFields maps the JSON names of t's fields to their types,
// promoting the fields of embedded structs as encoding/json does.
func collectJSONFields(t reflect.Type, into map[string]reflect.Type) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectJSONFields(ft, into)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = f.Type
	}
}

// lookupField matches a key exactly, then case-insensitively, like
// encoding/json.
func lookupField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
