// Package tfcheck checks the Terraform under terraform/ without a provider:
// it parses every module with hcl/v2 and checks what `terraform validate`
// would catch about the wiring between modules (declared, typed, documented
// and used variables; module calls passing only declared and all required
// variables; referenced outputs that exist; resource types the pinned
// provider offers; no literal credential), and that the names Terraform
// creates agree with envs/, argocd/, services/api/events and the Flink job.
//
// No provider can be downloaded where this runs, so provider schemas are not
// available: the resource types each pinned provider offers are a committed
// list (providers.go), not a downloaded schema.
package tfcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Module is one directory of .tf files.
type Module struct {
	Dir       string // relative to the terraform root, slash-separated
	Files     map[string]*hclsyntax.Body
	Variables map[string]*Variable
	Outputs   map[string]bool
	Calls     map[string]*Call
	Locals    map[string]hclsyntax.Expression
	Resources []Resource
	// Providers maps a local provider name to its source and version
	// constraint (required_providers).
	Providers map[string]ProviderReq
	// refs are every traversal in the module, as "root.name[.attr]".
	refs []hcl.Traversal
}

// Variable is a variable block.
type Variable struct {
	Name        string
	HasType     bool
	Description string
	HasDefault  bool
	Range       hcl.Range
}

// Call is a module block.
type Call struct {
	Name    string
	Source  string
	Version string
	Args    map[string]*hclsyntax.Attribute
	Range   hcl.Range
}

// Resource is a resource or data block.
type Resource struct {
	Mode  string // "resource" or "data"
	Type  string
	Name  string
	Range hcl.Range
}

// ProviderReq is an entry of required_providers.
type ProviderReq struct {
	Source  string
	Version string
}

// Tree is every module under a terraform root.
type Tree struct {
	Root    string
	Modules map[string]*Module // by Dir
}

// Load parses every directory holding .tf files under root.
func Load(root string) (*Tree, error) {
	t := &Tree{Root: root, Modules: map[string]*Module{}}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return filepath.SkipDir // .terraform caches
		}
		if d.IsDir() || filepath.Ext(path) != ".tf" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		m := t.Modules[rel]
		if m == nil {
			m = &Module{Dir: rel, Files: map[string]*hclsyntax.Body{}, Variables: map[string]*Variable{},
				Outputs: map[string]bool{}, Calls: map[string]*Call{}, Locals: map[string]hclsyntax.Expression{},
				Providers: map[string]ProviderReq{}}
			t.Modules[rel] = m
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			return fmt.Errorf("parse %s: %s", path, diags.Error())
		}
		body := f.Body.(*hclsyntax.Body)
		m.Files[filepath.Base(path)] = body
		return m.add(body)
	})
	if err != nil {
		return nil, err
	}
	if len(t.Modules) == 0 {
		return nil, fmt.Errorf("no .tf files under %s", root)
	}
	return t, nil
}

func (m *Module) add(body *hclsyntax.Body) error {
	m.refs = append(m.refs, traversals(body)...)
	for _, b := range body.Blocks {
		switch b.Type {
		case "variable":
			v := &Variable{Name: b.Labels[0], Range: b.DefRange()}
			if _, ok := b.Body.Attributes["type"]; ok {
				v.HasType = true
			}
			if a, ok := b.Body.Attributes["description"]; ok {
				if s, err := literalString(a.Expr); err == nil {
					v.Description = s
				}
			}
			_, v.HasDefault = b.Body.Attributes["default"]
			m.Variables[v.Name] = v
		case "output":
			m.Outputs[b.Labels[0]] = true
		case "module":
			c := &Call{Name: b.Labels[0], Args: map[string]*hclsyntax.Attribute{}, Range: b.DefRange()}
			for name, a := range b.Body.Attributes {
				switch name {
				case "source":
					c.Source, _ = literalString(a.Expr)
				case "version":
					c.Version, _ = literalString(a.Expr)
				case "providers", "depends_on", "count", "for_each":
				default:
					c.Args[name] = a
				}
			}
			m.Calls[c.Name] = c
		case "locals":
			for name, a := range b.Body.Attributes {
				m.Locals[name] = a.Expr
			}
		case "resource", "data":
			m.Resources = append(m.Resources, Resource{Mode: b.Type, Type: b.Labels[0], Name: b.Labels[1], Range: b.DefRange()})
		case "terraform":
			for _, rb := range b.Body.Blocks {
				if rb.Type != "required_providers" {
					continue
				}
				for name, a := range rb.Body.Attributes {
					v, diags := a.Expr.Value(nil)
					if diags.HasErrors() || !v.Type().IsObjectType() {
						return fmt.Errorf("%s: required_providers.%s must be {source, version}", a.SrcRange, name)
					}
					var req ProviderReq
					if v.Type().HasAttribute("source") {
						req.Source = v.GetAttr("source").AsString()
					}
					if v.Type().HasAttribute("version") {
						req.Version = v.GetAttr("version").AsString()
					}
					m.Providers[name] = req
				}
			}
		}
	}
	return nil
}

// traversals returns every variable reference in every expression of body,
// nested blocks included.
func traversals(body *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range body.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, b := range body.Blocks {
		out = append(out, traversals(b.Body)...)
	}
	return out
}

func literalString(e hclsyntax.Expression) (string, error) {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	if v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
		return "", fmt.Errorf("not a literal string")
	}
	return v.AsString(), nil
}

// ref splits a traversal into its root and the following attribute names.
func ref(t hcl.Traversal) (root string, attrs []string) {
	root = t.RootName()
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			break
		}
		attrs = append(attrs, a.Name)
	}
	return root, attrs
}

// Problems is a list of findings, each naming the file, the line and the
// thing at fault.
type Problems []string

func (p *Problems) addf(r hcl.Range, format string, args ...any) {
	*p = append(*p, fmt.Sprintf("%s:%d: %s", r.Filename, r.Start.Line, fmt.Sprintf(format, args...)))
}

// CheckModules checks every module and every call between modules.
func CheckModules(t *Tree) Problems {
	var p Problems
	dirs := make([]string, 0, len(t.Modules))
	for d := range t.Modules {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		m := t.Modules[d]
		used := map[string]bool{}
		for _, tr := range m.refs {
			root, attrs := ref(tr)
			if len(attrs) == 0 {
				continue
			}
			switch root {
			case "var":
				used[attrs[0]] = true
				if m.Variables[attrs[0]] == nil {
					p.addf(tr.SourceRange(), "%s: var.%s is not declared", d, attrs[0])
				}
			case "local":
				if _, ok := m.Locals[attrs[0]]; !ok {
					p.addf(tr.SourceRange(), "%s: local.%s is not declared", d, attrs[0])
				}
			case "module":
				c := m.Calls[attrs[0]]
				if c == nil {
					p.addf(tr.SourceRange(), "%s: module.%s is not called here", d, attrs[0])
					continue
				}
				callee := t.callee(m, c)
				if callee != nil && len(attrs) > 1 && !callee.Outputs[attrs[1]] {
					p.addf(tr.SourceRange(), "%s: module.%s.%s: %s has no output %q", d, attrs[0], attrs[1], callee.Dir, attrs[1])
				}
			}
		}
		for _, v := range sortedVars(m) {
			if !used[v.Name] {
				p.addf(v.Range, "%s: variable %q is declared but never used", d, v.Name)
			}
			if !v.HasType {
				p.addf(v.Range, "%s: variable %q has no type", d, v.Name)
			}
			if strings.TrimSpace(v.Description) == "" {
				p.addf(v.Range, "%s: variable %q has no description", d, v.Name)
			}
		}
		for _, c := range sortedCalls(m) {
			p = append(p, t.checkCall(m, c)...)
		}
		p = append(p, checkProviders(m)...)
	}
	return p
}

func sortedVars(m *Module) []*Variable {
	out := make([]*Variable, 0, len(m.Variables))
	for _, v := range m.Variables {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func sortedCalls(m *Module) []*Call {
	out := make([]*Call, 0, len(m.Calls))
	for _, c := range m.Calls {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// callee is the module a local call points at, nil for a registry module.
func (t *Tree) callee(m *Module, c *Call) *Module {
	if !strings.HasPrefix(c.Source, "./") && !strings.HasPrefix(c.Source, "../") {
		return nil
	}
	return t.Modules[filepath.ToSlash(filepath.Clean(filepath.Join(m.Dir, c.Source)))]
}

var exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

func (t *Tree) checkCall(m *Module, c *Call) Problems {
	var p Problems
	local := strings.HasPrefix(c.Source, "./") || strings.HasPrefix(c.Source, "../")
	if !local {
		// Registry modules cannot be fetched here, so their inputs are not
		// checked; a pinned exact version at least makes them reproducible.
		if !exactVersion.MatchString(c.Version) {
			p.addf(c.Range, "%s: module %q (%s) must pin an exact version, has %q", m.Dir, c.Name, c.Source, c.Version)
		}
		return p
	}
	callee := t.callee(m, c)
	if callee == nil {
		p.addf(c.Range, "%s: module %q: source %q is not a module under %s", m.Dir, c.Name, c.Source, t.Root)
		return p
	}
	names := make([]string, 0, len(c.Args))
	for n := range c.Args {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if callee.Variables[n] == nil {
			p.addf(c.Args[n].SrcRange, "%s: module %q passes %q, which %s does not declare", m.Dir, c.Name, n, callee.Dir)
		}
	}
	for _, v := range sortedVars(callee) {
		if _, ok := c.Args[v.Name]; !ok && !v.HasDefault {
			p.addf(c.Range, "%s: module %q does not pass required variable %q of %s", m.Dir, c.Name, v.Name, callee.Dir)
		}
	}
	return p
}

func checkProviders(m *Module) Problems {
	var p Problems
	for name, req := range m.Providers {
		spec, ok := Providers[req.Source]
		if !ok {
			p = append(p, fmt.Sprintf("%s: provider %s (%s) is not in the committed provider list (providers.go)", m.Dir, name, req.Source))
			continue
		}
		if req.Version != spec.Version {
			p = append(p, fmt.Sprintf("%s: provider %s is pinned to %q, the committed list is for %q", m.Dir, req.Source, req.Version, spec.Version))
		}
	}
	for _, r := range m.Resources {
		prefix, _, _ := strings.Cut(r.Type, "_")
		var spec *ProviderSpec
		if req, ok := m.Providers[prefix]; ok {
			if s, ok := Providers[req.Source]; ok {
				spec = &s
			}
		}
		if spec == nil {
			p.addf(r.Range, "%s: %s %q: no required_providers entry for provider %q", m.Dir, r.Mode, r.Type, prefix)
			continue
		}
		set := spec.Resources
		if r.Mode == "data" {
			set = spec.DataSources
		}
		if !contains(set, r.Type) {
			p.addf(r.Range, "%s: %s type %q is not one %s %s offers (committed list in providers.go)", m.Dir, r.Mode, r.Type, spec.Source, spec.Version)
		}
	}
	sort.Strings(p)
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// credentialPatterns match literal secrets: AWS access key IDs, an assigned
// secret key, password or token with a literal value, private keys.
var credentialPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	{"AWS access key ID", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"AWS secret access key", regexp.MustCompile(`(?i)secret_?(access_?)?key\s*[=:]\s*"[A-Za-z0-9/+=]{20,}"`)},
	{"literal password", regexp.MustCompile(`(?i)\b\w*password\w*\s*=\s*"[^"$]+"`)},
	{"literal token", regexp.MustCompile(`(?i)\b\w*(token|api_key)\s*=\s*"[^"$]{8,}"`)},
	{"private key", regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)},
	{"GCP service account key", regexp.MustCompile(`"private_key_id"\s*:`)},
}

// CheckCredentials scans every file under root (not only .tf: tfvars,
// READMEs and lock files too) for literal credentials.
func CheckCredentials(root string) (Problems, error) {
	var p Problems
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil // the tests plant fake credentials in copies
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, c := range credentialPatterns {
				if c.re.MatchString(line) {
					p = append(p, fmt.Sprintf("%s:%d: %s", path, i+1, c.what))
				}
			}
		}
		return nil
	})
	return p, err
}

// Eval evaluates the locals of a module and the arguments of its module
// calls as far as they are constants. var.* and module.* are unknown, so
// an argument built from another module's output evaluates to unknown
// instead of failing.
type Eval struct {
	// Errors are arguments that failed to evaluate (such as a reference to
	// a local that does not exist); they evaluate to unknown.
	Errors Problems
	Locals map[string]cty.Value
	Args   map[string]map[string]cty.Value // module call => argument => value
}

var functions = map[string]function.Function{
	"merge":      stdlib.MergeFunc,
	"concat":     stdlib.ConcatFunc,
	"split":      stdlib.SplitFunc,
	"tostring":   stdlib.MakeToFunc(cty.String),
	"tonumber":   stdlib.MakeToFunc(cty.Number),
	"lower":      stdlib.LowerFunc,
	"replace":    stdlib.ReplaceFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
}

// Evaluate computes Eval for m.
func Evaluate(m *Module) (*Eval, error) {
	e := &Eval{Locals: map[string]cty.Value{}, Args: map[string]map[string]cty.Value{}}
	ctx := &hcl.EvalContext{Functions: functions, Variables: map[string]cty.Value{
		"var": cty.DynamicVal, "module": cty.DynamicVal, "data": cty.DynamicVal,
	}}
	// Locals may refer to each other in any order: evaluate until nothing
	// new resolves.
	pending := map[string]hclsyntax.Expression{}
	for k, v := range m.Locals {
		pending[k] = v
	}
	for len(pending) > 0 {
		progress := false
		ctx.Variables["local"] = cty.ObjectVal(e.Locals)
		for name, expr := range pending {
			if !localsReady(expr, e.Locals, m.Locals) {
				continue
			}
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return nil, fmt.Errorf("%s: local.%s: %s", m.Dir, name, diags.Error())
			}
			e.Locals[name] = v
			ctx.Variables["local"] = cty.ObjectVal(e.Locals)
			delete(pending, name)
			progress = true
		}
		if !progress {
			names := make([]string, 0, len(pending))
			for n := range pending {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("%s: locals %v refer to each other in a cycle", m.Dir, names)
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(e.Locals)
	for name, c := range m.Calls {
		e.Args[name] = map[string]cty.Value{}
		for an, a := range c.Args {
			v, diags := a.Expr.Value(ctx)
			if diags.HasErrors() {
				e.Errors = append(e.Errors, fmt.Sprintf("%s: module %s argument %s: %s", m.Dir, name, an, diags.Error()))
				v = cty.DynamicVal
			}
			e.Args[name][an] = v
		}
	}
	return e, nil
}

func localsReady(expr hclsyntax.Expression, done map[string]cty.Value, all map[string]hclsyntax.Expression) bool {
	for _, tr := range expr.Variables() {
		root, attrs := ref(tr)
		if root != "local" || len(attrs) == 0 {
			continue
		}
		if _, ok := done[attrs[0]]; !ok {
			if _, declared := all[attrs[0]]; declared {
				return false
			}
		}
	}
	return true
}
