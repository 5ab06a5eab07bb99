package k6

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// jsObject is a JavaScript object literal whose fields keep the order they
// were given in, so the generated script reads in a chosen order and never
// in Go's random map order.
type jsObject []jsField

type jsField struct {
	Key   string
	Value any
}

// jsRaw is JavaScript source written as is: a constant's name such as
// BASE_URL, never data taken from a scenario.
type jsRaw string

// lineWidth is where pretty-printed literals break.
const lineWidth = 100

var identRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// jsKey writes an object key: bare when it is an identifier, quoted
// otherwise ('http_req_duration{journey:checkout}').
func jsKey(k string) string {
	if identRE.MatchString(k) {
		return k
	}
	return jsString(k)
}

// jsString quotes s as a single-quoted JavaScript string. Besides quotes and
// backslashes it escapes every control character and U+2028/U+2029, which
// end a line inside a JavaScript string literal.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// jsNumber writes a finite number without an exponent, as people write
// them in scripts (900, 0.01, 12.5).
func jsNumber(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", fmt.Errorf("k6: %v has no JavaScript literal", f)
	}
	if f == 0 {
		return "0", nil // not "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// literal writes v on one line.
func literal(v any) (string, error) { return render(v, 0, false) }

// pretty writes v as a literal that starts at column indent: on one line
// when it fits in lineWidth, else one element or field a line, with
// trailing commas, the way prettier lays out JavaScript.
func pretty(v any, indent int) (string, error) { return render(v, indent, true) }

func render(v any, indent int, breakable bool) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case jsRaw:
		return string(x), nil
	case string:
		return jsString(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case float64:
		return jsNumber(x)
	case []string:
		items := make([]any, len(x))
		for i, s := range x {
			items[i] = s
		}
		return renderList(items, indent, breakable)
	case []jsObject:
		items := make([]any, len(x))
		for i, o := range x {
			items[i] = o
		}
		return renderList(items, indent, breakable)
	case []any:
		return renderList(x, indent, breakable)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		obj := make(jsObject, len(keys))
		for i, k := range keys {
			obj[i] = jsField{k, x[k]}
		}
		return renderObject(obj, indent, breakable)
	case jsObject:
		return renderObject(x, indent, breakable)
	}
	return "", fmt.Errorf("k6: no JavaScript literal for %T", v)
}

func renderList(items []any, indent int, breakable bool) (string, error) {
	flat := make([]string, len(items))
	for i, it := range items {
		s, err := render(it, 0, false)
		if err != nil {
			return "", err
		}
		flat[i] = s
	}
	line := "[" + strings.Join(flat, ", ") + "]"
	if !breakable || len(items) == 0 || indent+len(line) <= lineWidth {
		return line, nil
	}
	pad := strings.Repeat(" ", indent+2)
	var b strings.Builder
	b.WriteString("[\n")
	for _, it := range items {
		s, err := render(it, indent+2, true)
		if err != nil {
			return "", err
		}
		b.WriteString(pad + s + ",\n")
	}
	b.WriteString(strings.Repeat(" ", indent) + "]")
	return b.String(), nil
}

func renderObject(obj jsObject, indent int, breakable bool) (string, error) {
	flat := make([]string, len(obj))
	for i, f := range obj {
		s, err := render(f.Value, 0, false)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.Key, err)
		}
		flat[i] = jsKey(f.Key) + ": " + s
	}
	if len(obj) == 0 {
		return "{}", nil
	}
	line := "{ " + strings.Join(flat, ", ") + " }"
	if !breakable || indent+len(line) <= lineWidth {
		return line, nil
	}
	pad := strings.Repeat(" ", indent+2)
	var b strings.Builder
	b.WriteString("{\n")
	for _, f := range obj {
		key := jsKey(f.Key) + ": "
		s, err := render(f.Value, indent+2+len(key), true)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.Key, err)
		}
		// A nested block starts on the key's line but indents from the
		// field, not from the end of the key.
		if strings.Contains(s, "\n") {
			if s, err = render(f.Value, indent+2, true); err != nil {
				return "", err
			}
		}
		b.WriteString(pad + key + s + ",\n")
	}
	b.WriteString(strings.Repeat(" ", indent) + "}")
	return b.String(), nil
}
