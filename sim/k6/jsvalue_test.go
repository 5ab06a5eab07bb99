package k6

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLiteral(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"it's", `'it\'s'`},
		{`a\b`, `'a\\b'`},
		{"line\nbreak\ttab", `'line\nbreak\ttab'`},
		{"\x00\u2028", `'\u0000\u2028'`},
		{"order->payment", `'order->payment'`},
		{900.0, "900"},
		{0.01, "0.01"},
		{1e21, "1000000000000000000000"},
		{math.Copysign(0, -1), "0"},
		{int64(-3), "-3"},
		{uint32(4294967295), "4294967295"},
		{nil, "null"},
		{true, "true"},
		{[]string{}, "[]"},
		{jsObject{}, "{}"},
		{jsObject{{"a", 1}, {"b-c", "x"}, {"$ok", jsRaw("BASE_URL")}}, `{ a: 1, 'b-c': 'x', $ok: BASE_URL }`},
		{map[string]any{"z": 1, "a": []any{"x", 2.5}}, `{ a: ['x', 2.5], z: 1 }`},
	}
	for _, tt := range tests {
		got, err := literal(tt.v)
		if err != nil {
			t.Errorf("literal(%#v): %v", tt.v, err)
			continue
		}
		if got != tt.want {
			t.Errorf("literal(%#v) = %s, want %s", tt.v, got, tt.want)
		}
	}
	for _, bad := range []any{math.NaN(), math.Inf(1), struct{}{}, jsObject{{"x", []int{1}}}} {
		if got, err := literal(bad); err == nil {
			t.Errorf("literal(%#v) = %s, want an error", bad, got)
		}
	}
}

func TestPrettyBreaksLongLiterals(t *testing.T) {
	v := jsObject{
		{"name", "slow-payments"},
		{"toxics", []jsObject{{{"proxy", "order->payment"}, {"toxic", jsObject{{"name", strings.Repeat("x", 60)}, {"attributes", jsObject{{"latency", 400}}}}}}}},
		{"short", []string{"a", "b"}},
	}
	got, err := pretty(v, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  name: 'slow-payments',
  toxics: [
    {
      proxy: 'order->payment',
      toxic: {
        name: '` + strings.Repeat("x", 60) + `',
        attributes: { latency: 400 },
      },
    },
  ],
  short: ['a', 'b'],
}`
	if got != want {
		t.Errorf("pretty:\n%s\nwant\n%s", got, want)
	}
	for _, line := range strings.Split(got, "\n") {
		if len(line) > lineWidth {
			t.Errorf("line longer than %d: %s", lineWidth, line)
		}
	}
}

// TestLiteralsMeanWhatGoMeans evaluates literals with node and compares
// the values with Go's: quoting and escaping are where a generator goes
// wrong without noticing.
func TestLiteralsMeanWhatGoMeans(t *testing.T) {
	node := mustNode(t)
	values := []any{
		"plain", "it's \"quoted\"", `back\slash`, "new\nline", "\u2028\u2029", "unicode: é ✓ 🚀", "</script>",
		jsObject{{"http_req_duration{endpoint:GET /api/v1/products/{id}}", []string{"p(95)<=900"}}},
		map[string]any{"code": "UNAVAILABLE", "rate": 0.2, "when": "before"},
		[]any{0.1, 12.5, 1e21, int64(1 << 53)},
	}
	dir := t.TempDir()
	var src strings.Builder
	src.WriteString("export default [\n")
	for _, v := range values {
		s, err := pretty(v, 2)
		if err != nil {
			t.Fatal(err)
		}
		src.WriteString("  " + s + ",\n")
	}
	src.WriteString("];\n")
	mod := filepath.Join(dir, "values.mjs")
	if err := os.WriteFile(mod, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "--input-type=module", "-e",
		`const m = await import(process.argv[1]); process.stdout.write(JSON.stringify(m.default));`, "file://"+mod).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s\n%s", err, out, src.String())
	}
	var got []any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := make([]any, len(values))
	for i, v := range values {
		want[i] = jsonValue(t, goValue(v))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("node read\n %v\nwant\n %v", got, want)
	}
}
