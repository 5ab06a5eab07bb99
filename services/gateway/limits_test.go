package gateway_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/order"
	"github.com/shoplab/shoplab/services/payment/adapters/cardsim"
	"github.com/shoplab/shoplab/services/product"
	"github.com/shoplab/shoplab/services/user"
)

// schema is the part of a JSON Schema this test reads.
type schema struct {
	MinLength   *int              `yaml:"minLength"`
	MaxLength   *int              `yaml:"maxLength"`
	MaxItems    *int              `yaml:"maxItems"`
	Maximum     *int              `yaml:"maximum"`
	UniqueItems bool              `yaml:"uniqueItems"`
	Pattern     string            `yaml:"pattern"`
	Enum        []string          `yaml:"enum"`
	Properties  map[string]schema `yaml:"properties"`
	Items       *schema           `yaml:"items"`
}

type spec struct {
	Paths map[string]map[string]struct {
		Parameters []struct {
			Name   string `yaml:"name"`
			Schema schema `yaml:"schema"`
		} `yaml:"parameters"`
	} `yaml:"paths"`
	Components struct {
		Parameters map[string]struct {
			Schema schema `yaml:"schema"`
		} `yaml:"parameters"`
		Schemas map[string]schema `yaml:"schemas"`
	} `yaml:"components"`
}

func mustSpec(t *testing.T) spec {
	t.Helper()
	var s spec
	if err := yaml.Unmarshal(gateway.OpenAPI, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSpecLimitsAreTheServers is issue 10's defect 7: every limit the
// OpenAPI file states is the gateway's and that of the unit behind it, so
// a schema-valid request is never refused further in (schemathesis:
// "valid request rejected") and an invalid one never gets through.
func TestSpecLimitsAreTheServers(t *testing.T) {
	s := mustSpec(t)
	query := map[string]schema{}
	for _, p := range s.Paths["/api/v1/products"]["get"].Parameters {
		query[p.Name] = p.Schema
	}
	comp := s.Components
	eq := func(what string, got *int, want ...int) {
		t.Helper()
		if got == nil {
			t.Errorf("%s: the spec states no limit", what)
			return
		}
		for _, w := range want {
			if *got != w {
				t.Errorf("%s: spec says %d, a server says %d", what, *got, w)
			}
		}
	}
	eq("product id (path)", comp.Parameters["ProductID"].Schema.MaxLength, gateway.MaxProductIDLength, product.MaxIDLen)
	eq("order id (path)", comp.Parameters["OrderID"].Schema.MaxLength, gateway.MaxIDLength)
	eq("category", query["category"].MaxLength, gateway.MaxCategoryLength, product.MaxCategoryLen)
	eq("q", query["q"].MaxLength, gateway.MaxQueryLength, product.MaxQueryLen)
	eq("product cursor", comp.Parameters["ProductCursor"].Schema.MaxLength, gateway.MaxCursorLength)
	eq("order cursor", comp.Parameters["OrderCursor"].Schema.MaxLength, gateway.MaxCursorLength)
	eq("limit", comp.Parameters["Limit"].Schema.Maximum, gateway.MaxPageLimit, product.MaxLimit, order.MaxLimit)
	var key schema
	for _, p := range s.Paths["/api/v1/orders"]["post"].Parameters {
		if p.Name == gateway.IdempotencyKeyHeader {
			key = p.Schema
		}
	}
	eq("Idempotency-Key", key.MaxLength, gateway.MaxIdempotencyKey, order.MaxKeyLen)
	reg := comp.Schemas["RegisterRequest"].Properties
	eq("register password min", reg["password"].MinLength, gateway.MinPasswordLength, user.MinPasswordLen)
	eq("register password max", reg["password"].MaxLength, gateway.MaxPasswordLength, user.MaxPasswordLen)
	eq("register name", reg["name"].MaxLength, gateway.MaxNameLength, user.MaxNameLen)
	eq("register email", reg["email"].MaxLength, gateway.MaxEmailLength, user.MaxEmailLen)
	eq("login password", comp.Schemas["LoginRequest"].Properties["password"].MaxLength, gateway.MaxLoginPasswordChars)
	items := comp.Schemas["OrderRequest"].Properties["items"]
	eq("order items", items.MaxItems, gateway.MaxOrderLines, order.MaxItems)
	// The payment tokens are the card processor's: one the spec allows is
	// never "unknown payment token", and the spec lists every one it knows.
	tokens := comp.Schemas["OrderRequest"].Properties["payment"].Properties["token"].Enum
	if got, want := slices.Sorted(slices.Values(tokens)), cardsim.Tokens(); !slices.Equal(got, want) {
		t.Errorf("payment.token: spec enumerates %q, the card processor knows %q", got, want)
	}
	line := comp.Schemas["OrderLine"].Properties
	eq("order line product_id", line["product_id"].MaxLength, gateway.MaxProductIDLength, product.MaxIDLen)
	eq("order line quantity", line["quantity"].Maximum, gateway.MaxLineQuantity)
	// Lines of one product are merged (gateway.OrderRequest.Normalize), so
	// the units behind must take a whole order's quantity on one line.
	if order.MaxQuantity < gateway.MaxProductQuantity || product.MaxQuantity < gateway.MaxProductQuantity {
		t.Errorf("merged lines hold up to %d units; the order unit takes %d, the product unit %d", gateway.MaxProductQuantity, order.MaxQuantity, product.MaxQuantity)
	}
	// uniqueItems would compare whole lines, and the server accepts equal
	// lines (it adds them up): the spec must not claim to refuse them.
	if items.UniqueItems {
		t.Error("order items: the spec says uniqueItems, but the gateway merges repeated lines")
	}
	// The words rule of ?q is the product unit's too.
	if !strings.Contains(query["q"].Pattern, "{0,"+strconv.Itoa(product.MaxQueryWords-1)+"}") || gateway.MaxQueryWords != product.MaxQueryWords {
		t.Errorf("q pattern %q does not bound the words to %d", query["q"].Pattern, product.MaxQueryWords)
	}
}

// TestSpecPatternsAgreeWithValidation checks the spec's patterns with the
// gateway's own validation on the strings that sit on their edges.
func TestSpecPatternsAgreeWithValidation(t *testing.T) {
	s := mustSpec(t)
	query := map[string]schema{}
	for _, p := range s.Paths["/api/v1/products"]["get"].Parameters {
		query[p.Name] = p.Schema
	}
	// JSON Schema patterns are ECMA-262; these use only what RE2 shares.
	compile := func(p string) *regexp.Regexp {
		t.Helper()
		re, err := regexp.Compile(p)
		if err != nil {
			t.Fatalf("pattern %q: %v", p, err)
		}
		return re
	}
	qre := compile(query["q"].Pattern)
	for _, q := range []string{"", "mug", " blue  mug ", "a b c d e f g h", "a b c d e f g h i", "   ", "caf\u00e9", "tab\there", strings.Repeat("q", 200)} {
		specOK := qre.MatchString(q) && len(q) <= *query["q"].MaxLength
		serverOK := gateway.ProductQuery{Query: q}.Validate() == nil
		if specOK != serverOK {
			t.Errorf("q %q: spec allows %v, gateway allows %v", q, specOK, serverOK)
		}
	}
	pre := compile(s.Components.Parameters["ProductID"].Schema.Pattern)
	for _, id := range []string{"p-0001", "a b", "\u00e9", strings.Repeat("p", 64), strings.Repeat("p", 65), "x\x7f"} {
		specOK := pre.MatchString(id) && len(id) <= 64
		serverOK := gateway.ValidateProductID("id", id) == nil
		if specOK != serverOK {
			t.Errorf("product id %q: spec allows %v, gateway allows %v", id, specOK, serverOK)
		}
	}
	nre := compile(s.Components.Schemas["RegisterRequest"].Properties["name"].Pattern)
	for _, n := range []string{"Ann", " Ann ", "  ", "A\u0085B", "A\x07", "\u00c9mile"} {
		specOK := nre.MatchString(n)
		serverOK := gateway.Registration{Email: "a@b.c", Password: "password1", Name: n}.Validate() == nil
		if specOK != serverOK {
			t.Errorf("name %q: spec allows %v, gateway allows %v", n, specOK, serverOK)
		}
	}
}
