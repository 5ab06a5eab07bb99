package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc/codes"

	"github.com/shoplab/shoplab/services/platform/errs"
)

// Fault is one fault to inject: what (Type, Attributes), where (Target), how
// hard (Toxicity, Direction) and for how long (Duration, 0 = until removed).
//
// In JSON, Duration and duration attributes are strings such as "400ms";
// a bare number is read as milliseconds, as toxiproxy does.
type Fault struct {
	Name       string         // optional label; also seeds the fault's random stream
	Target     string         // an edge "order->payment" or a unit "product", by Type
	Type       string         // one of Types()
	Attributes map[string]any // type-specific settings, see Types()
	Toxicity   float64        // network toxics: chance a connection is affected, (0,1]; 0 means 1
	Direction  string         // network toxics: "downstream" (default), "upstream" or "both"
	Duration   time.Duration  // removed automatically after this long; 0 = until removed
}

// The fault types.
const (
	Latency        = "latency"         // network: delay data
	Bandwidth      = "bandwidth"       // network: limit throughput
	SlowClose      = "slow_close"      // network: delay the close of a connection
	Timeout        = "timeout"         // network: stop data, close after a timeout (0 = never)
	ResetPeer      = "reset_peer"      // network: reset connections (TCP RST)
	Slicer         = "slicer"          // network: cut data into small delayed pieces
	LimitData      = "limit_data"      // network: close after some bytes
	Down           = "down"            // network: the edge's proxy stops listening
	Kill           = "kill"            // process: stop a unit until the fault ends
	Restart        = "restart"         // process: stop a unit and start it again at once
	Pause          = "pause"           // process: freeze a unit's traffic
	StorageLatency = "storage_latency" // storage: delay a unit's SQL operations
	StorageError   = "storage_error"   // storage: fail a unit's SQL operations
	GRPCError      = "grpc_error"      // L7: fail gRPC calls with a status code
	HTTPError      = "http_error"      // L7: answer HTTP requests with an error status
)

// Units are the platform's units, valid targets of process and storage
// faults. They mirror sim/cloud's list, which this package does not import.
var Units = []string{"user", "product", "payment", "order", "notification", "analytics", "gateway"}

// Parts are the real parts that kill and restart may also target, on an env
// whose parts this machine runs (shoplab deps): the process is stopped and
// started again by whoever owns it (Processes decides). moto is not one:
// its state lives in memory, so restarting it would lose data rather than
// fail over.
var Parts = []string{"postgres", "kafka"}

// grpcUnits serve gRPC, so a grpc_error fault may target them server-side.
var grpcUnits = []string{"user", "product", "payment", "order"}

// httpUnit is the one unit with a public HTTP API.
const httpUnit = "gateway"

// faultJSON is Fault on the wire.
type faultJSON struct {
	Name       string         `json:"name,omitempty"`
	Target     string         `json:"target"`
	Type       string         `json:"type"`
	Attributes map[string]any `json:"attributes,omitempty"`
	Toxicity   float64        `json:"toxicity,omitempty"`
	Direction  string         `json:"direction,omitempty"`
	Duration   string         `json:"duration,omitempty"`
}

// MarshalJSON writes the duration as a string such as "30s".
func (f Fault) MarshalJSON() ([]byte, error) {
	w := faultJSON{Name: f.Name, Target: f.Target, Type: f.Type, Attributes: f.Attributes, Toxicity: f.Toxicity, Direction: f.Direction}
	if f.Duration != 0 {
		w.Duration = f.Duration.String()
	}
	// Without HTML escaping, so that "order->payment" reads as written.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// UnmarshalJSON reads a fault; unknown fields are refused so that a typo
// does not silently drop a setting.
func (f *Fault) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w faultJSON
	if err := dec.Decode(&w); err != nil {
		return err
	}
	out, err := w.fault()
	if err != nil {
		return err
	}
	*f = out
	return nil
}

func (w faultJSON) fault() (Fault, error) {
	f := Fault{Name: w.Name, Target: w.Target, Type: w.Type, Attributes: w.Attributes, Toxicity: w.Toxicity, Direction: w.Direction}
	if w.Duration != "" {
		d, err := parseDuration(w.Duration)
		if err != nil {
			return Fault{}, errs.InvalidField("duration", "%v", err)
		}
		f.Duration = d
	}
	return f, nil
}

// class is how a fault acts.
type class int

const (
	classToxic   class = iota // a toxiproxy toxic on an edge's proxy
	classDown                 // the edge's proxy disabled
	classKill                 // a unit stopped until the fault ends
	classRestart              // a unit stopped and started, once
	classPause                // timeout toxics on every edge of a unit
	classStorage              // the unit's SQL driver hook
	classGRPC                 // gRPC interceptors
	classHTTP                 // the gateway's HTTP middleware
)

func (c class) kind() string {
	switch c {
	case classToxic, classDown:
		return "network"
	case classKill, classRestart, classPause:
		return "process"
	case classStorage:
		return "storage"
	}
	return "l7"
}

// targetKind is what a fault's Target names.
type targetKind int

const (
	targetEdge      targetKind = iota // "from->to"
	targetGRPC                        // "from->to" (client side) or a gRPC unit (server side)
	targetGateway                     // "gateway" or "client->gateway"
	targetStore                       // a unit's store
	targetProcess                     // a unit's process
	targetPauseable                   // a unit whose edges can be frozen
)

func (k targetKind) String() string {
	switch k {
	case targetEdge:
		return "edge from->to"
	case targetGRPC:
		return "edge from->to (client side), or gRPC unit (server side)"
	case targetGateway:
		return "gateway or client->gateway"
	case targetStore:
		return "unit (its SQL store)"
	case targetAWS:
		return "edge unit->aws"
	}
	return "unit"
}

// attrKind is the type of an attribute's value.
type attrKind int

const (
	kindDuration attrKind = iota
	kindInt
	kindRate
	kindEnum
	kindCode
	kindStatus
	kindPath
	kindMethod
	kindOps
)

func (k attrKind) String() string {
	return [...]string{"duration", "int", "rate", "enum", "grpc_code", "http_status", "path", "grpc_method", "sql_ops"}[k]
}

// attrSpec describes one attribute of a fault type.
type attrSpec struct {
	name     string
	kind     attrKind
	required bool
	def      any // typed default, nil when none
	min      int64
	values   []string // kindEnum
	doc      string
}

// typeSpec describes a fault type: the registry entry, as toxiproxy's
// toxics/ registry names each toxic.
type typeSpec struct {
	name   string
	class  class
	target targetKind
	toxic  string // toxiproxy toxic type, for classToxic
	attrs  []attrSpec
	doc    string
	// check validates relations between attributes; it returns the field
	// at fault and why, or "" when all is well.
	check func(p params) (field, msg string)
}

func (s *typeSpec) attr(name string) *attrSpec {
	for i := range s.attrs {
		if s.attrs[i].name == name {
			return &s.attrs[i]
		}
	}
	return nil
}

var sqlOpNames = []string{"exec", "query", "begin", "commit"}

// registry holds every fault type by name.
var registry = func() map[string]*typeSpec {
	when := attrSpec{name: "when", kind: kindEnum, def: "before", values: []string{"before", "after"},
		doc: "before: fail without doing the work; after: do the work, then fail (a lost answer)"}
	rate := attrSpec{name: "rate", kind: kindRate, def: 1.0, doc: "fraction of operations affected, 0..1, drawn from the seeded stream"}
	ops := attrSpec{name: "ops", kind: kindOps, def: opAll, doc: "SQL operations affected: comma-separated exec,query,begin,commit (default all)"}
	specs := []*typeSpec{
		{name: Latency, class: classToxic, target: targetEdge, toxic: "latency", doc: "delay the data on an edge",
			attrs: []attrSpec{
				{name: "latency", kind: kindDuration, required: true, doc: "added delay"},
				{name: "jitter", kind: kindDuration, def: time.Duration(0), doc: "random +/- variation (toxiproxy's unseeded rand)"},
			}},
		{name: Bandwidth, class: classToxic, target: targetEdge, toxic: "bandwidth", doc: "limit an edge's throughput",
			attrs: []attrSpec{{name: "rate", kind: kindInt, required: true, min: 1, doc: "KB/s"}}},
		{name: SlowClose, class: classToxic, target: targetEdge, toxic: "slow_close", doc: "delay the close of connections",
			attrs: []attrSpec{{name: "delay", kind: kindDuration, required: true, doc: "delay before the close is passed on"}}},
		{name: Timeout, class: classToxic, target: targetEdge, toxic: "timeout", doc: "drop data, then close the connection after timeout (0 = hold it open until removed)",
			attrs: []attrSpec{{name: "timeout", kind: kindDuration, def: time.Duration(0), doc: "time until the connection is closed; 0 = never"}}},
		{name: ResetPeer, class: classToxic, target: targetEdge, toxic: "reset_peer", doc: "reset connections (TCP RST) once data arrives, after timeout",
			attrs: []attrSpec{{name: "timeout", kind: kindDuration, def: time.Duration(0), doc: "delay before the reset"}}},
		{name: Slicer, class: classToxic, target: targetEdge, toxic: "slicer", doc: "cut data into small pieces, optionally delayed",
			attrs: []attrSpec{
				{name: "average_size", kind: kindInt, required: true, min: 1, doc: "average piece size in bytes"},
				{name: "size_variation", kind: kindInt, def: int64(0), doc: "+/- variation in bytes, below average_size"},
				{name: "delay", kind: kindDuration, def: time.Duration(0), doc: "delay between pieces (microsecond resolution)"},
			},
			check: func(p params) (string, string) {
				// toxiproxy's slicer recurses forever (and takes the process
				// down) when the variation reaches the average size.
				if p.int("size_variation") >= p.int("average_size") {
					return "attributes.size_variation", "must be smaller than average_size"
				}
				return "", ""
			}},
		{name: LimitData, class: classToxic, target: targetEdge, toxic: "limit_data", doc: "close connections after some bytes",
			attrs: []attrSpec{{name: "bytes", kind: kindInt, required: true, doc: "bytes passed before the close"}}},
		{name: Down, class: classDown, target: targetEdge, doc: "stop the edge's proxy: new connections are refused, open ones closed"},
		{name: Kill, class: classKill, target: targetProcess, doc: "stop a unit (or a real part: postgres, kafka) until the fault ends, then start it again"},
		{name: Restart, class: classRestart, target: targetProcess, doc: "stop a unit (or a real part: postgres, kafka) and start it again at once (no duration; not listed as active)"},
		{name: Pause, class: classPause, target: targetPauseable, doc: "freeze every edge into and out of a unit (an in-process stand-in for SIGSTOP)"},
		{name: StorageLatency, class: classStorage, target: targetStore, doc: "delay a unit's SQL operations",
			attrs: []attrSpec{
				{name: "latency", kind: kindDuration, required: true, doc: "added delay per operation"},
				{name: "jitter", kind: kindDuration, def: time.Duration(0), doc: "+/- variation, from the seeded stream"},
				rate, ops,
			}},
		{name: StorageError, class: classStorage, target: targetStore, doc: "fail a unit's SQL operations",
			attrs: []attrSpec{
				rate,
				{name: "error", kind: kindEnum, def: "io", values: []string{"io", "busy", "bad_conn"},
					doc: "io: disk I/O error (SQLITE_IOERR); busy: database is locked (SQLITE_BUSY); bad_conn: driver.ErrBadConn (database/sql retries)"},
				when, ops,
			},
			check: func(p params) (string, string) {
				// database/sql retries an operation that failed with
				// ErrBadConn: after the work was done that would run it twice.
				if p.str("error") == "bad_conn" && p.str("when") == "after" {
					return "attributes.when", "after cannot be combined with error bad_conn: database/sql would retry an operation that already ran"
				}
				return "", ""
			}},
		{name: GRPCError, class: classGRPC, target: targetGRPC, doc: "fail gRPC calls with a status code",
			attrs: []attrSpec{
				{name: "code", kind: kindCode, required: true, doc: "gRPC status code, e.g. UNAVAILABLE"},
				rate, when,
				{name: "method", kind: kindMethod, doc: "only this method: full name or its last part, e.g. Charge"},
			}},
		{name: HTTPError, class: classHTTP, target: targetGateway, doc: "answer HTTP requests with an error status in the documented error shape",
			attrs: []attrSpec{
				{name: "status", kind: kindStatus, def: int64(503), doc: "HTTP status, 400..599"},
				rate, when,
				{name: "path", kind: kindPath, doc: "only paths with this prefix, e.g. /api/v1/orders"},
			}},
	}
	m := make(map[string]*typeSpec, len(specs))
	for _, s := range specs {
		m[s.name] = s
	}
	return m
}()

// TypeInfo describes a fault type for users and tools.
type TypeInfo struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`   // network, process, storage or l7
	Target     string          `json:"target"` // what Target names
	Doc        string          `json:"doc"`
	Toxicity   bool            `json:"toxicity"` // accepts Toxicity and Direction
	Attributes []AttributeInfo `json:"attributes"`
}

// AttributeInfo describes one attribute of a fault type.
type AttributeInfo struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Values   []string `json:"values,omitempty"`
	Doc      string   `json:"doc"`
}

// Types lists every fault type, sorted by name.
func Types() []TypeInfo {
	out := make([]TypeInfo, 0, len(registry))
	for _, s := range registry {
		ti := TypeInfo{Name: s.name, Kind: s.class.kind(), Target: s.target.String(), Doc: s.doc, Toxicity: s.class == classToxic, Attributes: []AttributeInfo{}}
		for _, a := range s.attrs {
			ai := AttributeInfo{Name: a.name, Kind: a.kind.String(), Required: a.required, Values: a.values, Doc: a.doc}
			if a.def != nil {
				ai.Default = canonical(a.kind, a.def)
			}
			ti.Attributes = append(ti.Attributes, ai)
		}
		out = append(out, ti)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func typeNames() string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// params holds a fault's attributes parsed to their Go types
// (time.Duration, int64, float64, string, codes.Code, opSet).
type params map[string]any

func (p params) dur(k string) time.Duration { d, _ := p[k].(time.Duration); return d }
func (p params) int(k string) int64         { n, _ := p[k].(int64); return n }
func (p params) float(k string) float64     { f, _ := p[k].(float64); return f }
func (p params) str(k string) string        { s, _ := p[k].(string); return s }
func (p params) code(k string) codes.Code   { c, _ := p[k].(codes.Code); return c }
func (p params) ops(k string) opSet         { o, _ := p[k].(opSet); return o }

// plan is a validated, normalised fault.
type plan struct {
	fault Fault // normalised: defaults filled, attributes canonical
	spec  *typeSpec
	p     params
	edge  [2]string // from, to for edge targets
	unit  string    // for unit targets
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Validate checks a fault without applying it. Errors are *errs.Error with
// code invalid_argument and the offending field ("type", "target",
// "toxicity", "direction", "duration", "name", "attributes.latency", ...).
func (f Fault) Validate() error {
	_, err := f.plan()
	return err
}

func (f Fault) plan() (*plan, error) {
	spec, ok := registry[f.Type]
	if !ok {
		if f.Type == "" {
			return nil, errs.InvalidField("type", "required (one of %s)", typeNames())
		}
		return nil, errs.InvalidField("type", "unknown fault type %q (known: %s)", f.Type, typeNames())
	}
	pl := &plan{spec: spec, fault: f}
	if len(f.Name) > 100 || strings.IndexFunc(f.Name, unicode.IsControl) >= 0 {
		return nil, errs.InvalidField("name", "must be at most 100 printable characters")
	}
	if err := pl.parseTarget(); err != nil {
		return nil, err
	}
	if err := pl.checkShape(); err != nil {
		return nil, err
	}
	if err := pl.parseAttributes(); err != nil {
		return nil, err
	}
	return pl, nil
}

func (pl *plan) parseTarget() error {
	t := strings.TrimSpace(pl.fault.Target)
	if t == "" {
		return errs.InvalidField("target", "required: %s", pl.spec.target)
	}
	from, to, isEdge := strings.Cut(t, "->")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if isEdge {
		if !nameRE.MatchString(from) || !nameRE.MatchString(to) {
			return errs.InvalidField("target", "%q is not an edge like order->payment", pl.fault.Target)
		}
		t = from + "->" + to
	} else if !nameRE.MatchString(t) {
		return errs.InvalidField("target", "%q is not a unit name or an edge like order->payment", pl.fault.Target)
	}
	pl.fault.Target = t
	switch pl.spec.target {
	case targetEdge:
		if !isEdge {
			hint := ""
			if strings.HasSuffix(t, "-") {
				// An unquoted order->payment in a shell becomes "order-" plus a redirect.
				hint = " (quote the edge: the shell reads > as a redirect, e.g. 'order->payment')"
			}
			return errs.InvalidField("target", "%s acts on an edge like order->payment, not %q%s", pl.spec.name, t, hint)
		}
		pl.edge = [2]string{from, to}
	case targetGRPC:
		if isEdge {
			if to == "kafka" {
				return errs.InvalidField("target", "%s is not a gRPC edge (Kafka speaks its own protocol)", t)
			}
			pl.edge = [2]string{from, to}
			return nil
		}
		if !contains(grpcUnits, t) {
			return errs.InvalidField("target", "%q serves no gRPC (gRPC units: %s)", t, strings.Join(grpcUnits, ", "))
		}
		pl.unit = t
	case targetAWS:
		if !isEdge || to != "aws" || !contains(Units, from) {
			return errs.InvalidField("target", "%s acts on a unit's AWS edge like product->aws, not %q", pl.spec.name, t)
		}
		pl.edge = [2]string{from, to}
	case targetGateway:
		if t != httpUnit && t != "client->"+httpUnit {
			return errs.InvalidField("target", "%s acts on the gateway's HTTP API: target gateway or client->gateway, not %q", pl.spec.name, t)
		}
		pl.unit = httpUnit
	default:
		if isEdge {
			return errs.InvalidField("target", "%s acts on a unit, not the edge %q", pl.spec.name, t)
		}
		if pl.spec.target == targetProcess && contains(Parts, t) {
			pl.unit = t
			return nil
		}
		if !contains(Units, t) {
			return errs.InvalidField("target", "unknown unit %q (units: %s)", t, strings.Join(Units, ", "))
		}
		pl.unit = t
	}
	return nil
}

func (pl *plan) checkShape() error {
	f := &pl.fault
	if pl.spec.class == classToxic {
		if math.IsNaN(f.Toxicity) || f.Toxicity < 0 || f.Toxicity > 1 {
			return errs.InvalidField("toxicity", "must be within 0..1 (0 means the default, 1), not %v", f.Toxicity)
		}
		if f.Toxicity == 0 {
			f.Toxicity = 1
		}
		switch f.Direction {
		case "":
			f.Direction = "downstream"
		case "downstream", "upstream", "both":
		default:
			return errs.InvalidField("direction", "must be downstream, upstream or both, not %q", f.Direction)
		}
	} else {
		if f.Toxicity != 0 && f.Toxicity != 1 {
			return errs.InvalidField("toxicity", "applies to network toxics only; %s uses attributes.rate where it has one", pl.spec.name)
		}
		f.Toxicity = 0
		if f.Direction != "" {
			return errs.InvalidField("direction", "applies to network toxics only, not %s", pl.spec.name)
		}
	}
	if f.Duration < 0 {
		return errs.InvalidField("duration", "must not be negative")
	}
	if pl.spec.class == classRestart && f.Duration != 0 {
		return errs.InvalidField("duration", "restart is instantaneous; use kill with a duration to keep a unit down")
	}
	return nil
}

func (pl *plan) parseAttributes() error {
	in := pl.fault.Attributes
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pl.p = params{}
	for _, k := range keys {
		a := pl.spec.attr(k)
		if a == nil {
			if len(pl.spec.attrs) == 0 {
				return errs.InvalidField("attributes."+k, "%s takes no attributes", pl.spec.name)
			}
			names := make([]string, len(pl.spec.attrs))
			for i, a := range pl.spec.attrs {
				names[i] = a.name
			}
			return errs.InvalidField("attributes."+k, "not an attribute of %s (it takes %s)", pl.spec.name, strings.Join(names, ", "))
		}
		v, err := parseAttr(a, in[k])
		if err != nil {
			return errs.InvalidField("attributes."+k, "%v", err)
		}
		pl.p[k] = v
	}
	out := make(map[string]any, len(pl.spec.attrs))
	for _, a := range pl.spec.attrs {
		if _, ok := pl.p[a.name]; !ok {
			if a.required {
				return errs.InvalidField("attributes."+a.name, "required by %s (%s)", pl.spec.name, a.doc)
			}
			if a.def == nil {
				continue
			}
			pl.p[a.name] = a.def
		}
		out[a.name] = canonical(a.kind, pl.p[a.name])
	}
	if pl.spec.check != nil {
		if field, msg := pl.spec.check(pl.p); field != "" {
			return errs.InvalidField(field, "%s", msg)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	pl.fault.Attributes = out
	return nil
}

// parseAttr turns a JSON, YAML, CLI or Go value into the attribute's type.
func parseAttr(a *attrSpec, v any) (any, error) {
	switch a.kind {
	case kindDuration:
		return parseDuration(v)
	case kindInt, kindStatus:
		n, err := parseInt(v)
		if err != nil {
			return nil, err
		}
		if a.kind == kindStatus && (n < 400 || n > 599) {
			return nil, fmt.Errorf("must be an HTTP error status within 400..599, not %d", n)
		}
		if n < a.min {
			return nil, fmt.Errorf("must be at least %d, not %d", a.min, n)
		}
		return n, nil
	case kindRate:
		r, err := parseFloat(v)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(r) || r < 0 || r > 1 {
			return nil, fmt.Errorf("must be a fraction within 0..1, not %v", r)
		}
		return r, nil
	case kindEnum:
		s, ok := v.(string)
		s = strings.ToLower(strings.TrimSpace(s))
		if !ok || !contains(a.values, s) {
			return nil, fmt.Errorf("must be one of %s, not %v", strings.Join(a.values, ", "), v)
		}
		return s, nil
	case kindCode:
		return parseCode(v)
	case kindPath:
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "/") {
			return nil, fmt.Errorf("must be a path prefix starting with /, not %v", v)
		}
		return s, nil
	case kindMethod:
		s, ok := v.(string)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("must be a gRPC method name, not %v", v)
		}
		return strings.TrimSpace(s), nil
	case kindOps:
		return parseOps(v)
	}
	return nil, fmt.Errorf("unsupported attribute kind %v", a.kind)
}

// parseDuration reads "400ms" style strings; bare numbers are milliseconds.
func parseDuration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case string:
		s := strings.TrimSpace(x)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return parseDuration(f)
		}
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("must be a duration such as \"400ms\", not %q", x)
		}
	default:
		ms, err := parseFloat(v)
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as \"400ms\" or a number of milliseconds, not %v", v)
		}
		if math.IsNaN(ms) || math.IsInf(ms, 0) || math.Abs(ms) > float64(math.MaxInt64/int64(time.Millisecond)) {
			return 0, fmt.Errorf("%v is not a usable number of milliseconds", v)
		}
		d = time.Duration(ms * float64(time.Millisecond))
	}
	if d < 0 {
		return 0, fmt.Errorf("must not be negative, not %v", d)
	}
	return d, nil
}

func parseFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("must be a number, not %q", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("must be a number, not %v (%T)", v, v)
}

func parseInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("must be an integer, not %q", x)
		}
		return n, nil
	}
	f, err := parseFloat(v)
	if err != nil {
		return 0, fmt.Errorf("must be an integer, not %v", v)
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("must be an integer, not %v", v)
	}
	return int64(f), nil
}

// grpcCodeNames are the canonical (upper snake case) names of the codes
// that are errors.
var grpcCodeNames = map[codes.Code]string{
	codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// parseCode accepts UNAVAILABLE, unavailable, Unavailable, DeadlineExceeded
// or the code's number.
func parseCode(v any) (codes.Code, error) {
	if n, err := parseInt(v); err == nil {
		if n == 0 {
			return 0, fmt.Errorf("OK is not an error code")
		}
		if _, ok := grpcCodeNames[codes.Code(n)]; ok && n > 0 {
			return codes.Code(n), nil
		}
		return 0, fmt.Errorf("%d is not a gRPC status code", n)
	}
	s, _ := v.(string)
	norm := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
	if norm == "CANCELED" {
		norm = "CANCELLED"
	}
	for c, name := range grpcCodeNames {
		if strings.ReplaceAll(name, "_", "") == norm {
			return c, nil
		}
	}
	if norm == "OK" {
		return 0, fmt.Errorf("OK is not an error code")
	}
	return 0, fmt.Errorf("must be a gRPC status code such as UNAVAILABLE, not %v", v)
}

// opSet is a set of SQL operations a storage fault applies to.
type opSet uint8

const (
	opExec opSet = 1 << iota
	opQuery
	opBegin
	opCommit
	opAll = opExec | opQuery | opBegin | opCommit
)

func (o opSet) String() string {
	if o == opAll {
		return "all"
	}
	var names []string
	for i, n := range sqlOpNames {
		if o&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

func parseOps(v any) (opSet, error) {
	var parts []string
	switch x := v.(type) {
	case opSet:
		return x, nil
	case string:
		parts = strings.Split(x, ",")
	case []string:
		parts = x
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return 0, fmt.Errorf("must list operations (%s), not %v", strings.Join(sqlOpNames, ", "), v)
			}
			parts = append(parts, s)
		}
	default:
		return 0, fmt.Errorf("must list operations (%s), not %v", strings.Join(sqlOpNames, ", "), v)
	}
	var o opSet
	for _, p := range parts {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "all" {
			o |= opAll
			continue
		}
		i := indexOf(sqlOpNames, p)
		if i < 0 {
			return 0, fmt.Errorf("unknown operation %q (operations: %s, all)", p, strings.Join(sqlOpNames, ", "))
		}
		o |= 1 << i
	}
	if o == 0 {
		return 0, fmt.Errorf("must name at least one operation")
	}
	return o, nil
}

// canonical is an attribute's value as reported back (JSON friendly).
func canonical(k attrKind, v any) any {
	switch x := v.(type) {
	case time.Duration:
		return x.String()
	case codes.Code:
		return grpcCodeNames[x]
	case opSet:
		return x.String()
	}
	return v
}

func contains(list []string, s string) bool { return indexOf(list, s) >= 0 }

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
