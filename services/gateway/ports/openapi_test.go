package ports_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/gateway/gatewaytest"
	"github.com/shoplab/shoplab/services/gateway/ports"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func mustRouter(t *testing.T) *mux.Router {
	t.Helper()
	shop := gatewaytest.NewShop(nil)
	tokens, err := app.NewTokens(testKey, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := app.New(shop, shop, shop, tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ports.NewRouter(svc, ports.Options{Registry: metrics.New("gateway", false)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOpenAPIMatchesRouter fails when a route is served but not documented,
// or documented but not served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	served := map[string]bool{}
	err := mustRouter(t).Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no method: every route must name its methods", tpl)
			return nil
		}
		for _, m := range methods {
			served[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	if len(served) < 10 {
		t.Fatalf("walked only %d routes: %v", len(served), served)
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("%s is served but not in openapi.yaml", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("%s is in openapi.yaml but not served", k)
		}
	}
}

// TestOpenAPIIsWellFormed checks what a reader relies on: the version, an
// operation id and responses per operation, path parameters declared, and
// every $ref pointing at something.
func TestOpenAPIIsWellFormed(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi version %q", v)
	}
	resolve := func(ref string) any {
		var node any = doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := node.(map[string]any)
			if !ok {
				return nil
			}
			node = m[part]
		}
		return node
	}
	var walk func(path string, n any)
	walk = func(path string, n any) {
		switch v := n.(type) {
		case map[string]any:
			for k, c := range v {
				if k == "$ref" {
					ref, _ := c.(string)
					if !strings.HasPrefix(ref, "#/") || resolve(ref) == nil {
						t.Errorf("%s: $ref %q does not resolve", path, ref)
					}
					continue
				}
				walk(path+"/"+k, c)
			}
		case []any:
			for _, c := range v {
				walk(path, c)
			}
		}
	}
	walk("", doc)

	ids := map[string]bool{}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	paths, _ := doc["paths"].(map[string]any)
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			o := op.(map[string]any)
			id, _ := o["operationId"].(string)
			if id == "" || ids[id] {
				t.Errorf("%s %s: operationId %q missing or repeated", method, path, id)
			}
			ids[id] = true
			responses, _ := o["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s %s: no responses", method, path)
			}
			var declared []string
			for _, p := range asSlice(o["parameters"]) {
				pm := p.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					pm, _ = resolve(ref).(map[string]any)
				}
				if pm["in"] == "path" {
					declared = append(declared, pm["name"].(string))
				}
			}
			for _, m := range param.FindAllStringSubmatch(path, -1) {
				if !slices.Contains(declared, m[1]) {
					t.Errorf("%s %s: path parameter %s is not declared", method, path, m[1])
				}
			}
			if strings.HasPrefix(path, "/api/v1/orders") {
				if _, ok := responses["401"]; !ok {
					t.Errorf("%s %s: an authenticated route without a documented 401", method, path)
				}
			}
			if method == "post" {
				for _, st := range []string{"400", "413", "415"} {
					if _, ok := responses[st]; !ok {
						t.Errorf("%s %s: a JSON body route without a documented %s", method, path, st)
					}
				}
			}
		}
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func TestRouteNameIsBounded(t *testing.T) {
	r := mustRouter(t)
	name := ports.RouteName(r)
	tests := []struct{ method, path, want string }{
		{"GET", "/api/v1/orders/ord-1", "/api/v1/orders/{id}"},
		{"POST", "/api/v1/orders", "/api/v1/orders"},
		{"GET", "/api/v1/products/anything-at-all", "/api/v1/products/{id}"},
		{"GET", "/no/such/path/12345", "unmatched"},
		{"DELETE", "/api/v1/orders", "unmatched"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, tt.path, nil)
		if got := name(req); got != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}
