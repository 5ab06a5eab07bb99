package chaos

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// InjectedMessage is the message of every injected gRPC status and HTTP
// error, so that logs and reports can tell injected failures from real ones.
const InjectedMessage = "chaos: injected"

// InjectedHeader names the HTTP response header that carries the id of the
// fault that produced an injected error.
const InjectedHeader = "X-Chaos-Fault"

// ruleSet is what the data-path hooks consult: an immutable snapshot,
// swapped atomically whenever a storage or L7 fault comes or goes, so a
// call with no fault in force costs one atomic load and a map lookup.
type ruleSet struct {
	grpcClient map[string][]*grpcRule // by edge "from->to"
	grpcServer map[string][]*grpcRule // by unit
	http       map[string][]*httpRule // by unit
	storage    map[string][]*storageRule
	aws        map[string][]*awsRule // by edge "unit->aws"
}

type grpcRule struct {
	id     string
	code   codes.Code
	rate   float64
	after  bool
	method string
	dec    *decider
}

type httpRule struct {
	id     string
	status int
	rate   float64
	after  bool
	path   string
	dec    *decider
}

type storageRule struct {
	id      string
	ops     opSet
	rate    float64
	latency time.Duration
	jitter  time.Duration
	errKind string // "" for a latency rule
	after   bool
	dec     *decider
}

// publishRules rebuilds the hooks' snapshot from the active faults. It
// runs with e.mu held. Rules keep their fault's decider, so rebuilding
// never restarts a random sequence.
func (e *Engine) publishRules() {
	list := make([]*activeFault, 0, len(e.faults))
	for _, af := range e.faults {
		list = append(list, af)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].seq < list[j].seq })
	rs := &ruleSet{}
	for _, af := range list {
		pl := af.plan
		p := pl.p
		switch pl.spec.class {
		case classGRPC:
			r := &grpcRule{id: af.id, code: p.code("code"), rate: p.float("rate"), after: p.str("when") == "after", method: p.str("method"), dec: af.dec}
			if pl.unit != "" {
				rs.grpcServer = appendRule(rs.grpcServer, pl.unit, r)
			} else {
				rs.grpcClient = appendRule(rs.grpcClient, pl.fault.Target, r)
			}
		case classHTTP:
			r := &httpRule{id: af.id, status: int(p.int("status")), rate: p.float("rate"), after: p.str("when") == "after", path: p.str("path"), dec: af.dec}
			rs.http = appendRule(rs.http, pl.unit, r)
		case classAWS:
			rs.aws = appendRule(rs.aws, pl.fault.Target, newAWSRule(af.id, p, af.dec))
		case classStorage:
			r := &storageRule{id: af.id, ops: p.ops("ops"), rate: p.float("rate"), dec: af.dec}
			if pl.spec.name == StorageLatency {
				r.latency, r.jitter = p.dur("latency"), p.dur("jitter")
			} else {
				r.errKind, r.after = p.str("error"), p.str("when") == "after"
			}
			rs.storage = appendRule(rs.storage, pl.unit, r)
		}
	}
	e.rules.Store(rs)
}

func appendRule[R any](m map[string][]R, key string, r R) map[string][]R {
	if m == nil {
		m = map[string][]R{}
	}
	m[key] = append(m[key], r)
	return m
}

func (r *grpcRule) matches(method string) bool {
	return r.method == "" || method == r.method || strings.HasSuffix(method, "/"+r.method)
}

// decideGRPC draws one decision from every rule that matches method (all
// of them, so one fault's outcome never shifts another's sequence) and
// returns the first rule that fires before the call and the first that
// fires after it.
func decideGRPC(rules []*grpcRule, method string) (before, after *grpcRule) {
	for _, r := range rules {
		if !r.matches(method) || !r.dec.hit(r.rate) {
			continue
		}
		if r.after {
			if after == nil {
				after = r
			}
		} else if before == nil {
			before = r
		}
	}
	return before, after
}

// ServerInterceptors returns the interceptor for unit's gRPC server: a
// grpc_error fault that targets the unit fails calls from every caller,
// before the handler runs or, with when=after, once it has run.
func (e *Engine) ServerInterceptors(unit string) []grpc.UnaryServerInterceptor {
	e.mu.Lock()
	e.grpcUnits[unit] = true
	e.mu.Unlock()
	return []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		rules := e.rules.Load().grpcServer[unit]
		if len(rules) == 0 {
			return handler(ctx, req)
		}
		before, after := decideGRPC(rules, info.FullMethod)
		if before != nil {
			return nil, status.Error(before.code, InjectedMessage)
		}
		resp, err := handler(ctx, req)
		if after != nil {
			return nil, status.Error(after.code, InjectedMessage)
		}
		return resp, err
	}}
}

// ClientInterceptors returns the interceptor for from's connection to to:
// a grpc_error fault on the edge "from->to" fails calls without sending
// them or, with when=after, after the server answered (a lost response).
func (e *Engine) ClientInterceptors(from, to string) []grpc.UnaryClientInterceptor {
	edge := from + "->" + to
	e.mu.Lock()
	e.grpcEdges[edge] = true
	e.mu.Unlock()
	return []grpc.UnaryClientInterceptor{func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		rules := e.rules.Load().grpcClient[edge]
		if len(rules) == 0 {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		before, after := decideGRPC(rules, method)
		if before != nil {
			return status.Error(before.code, InjectedMessage)
		}
		err := invoker(ctx, method, req, reply, cc, opts...)
		if after != nil {
			return status.Error(after.code, InjectedMessage)
		}
		return err
	}}
}

// HTTPMiddleware returns the middleware for unit's HTTP API: an http_error
// fault answers requests with an error in the documented shape, before the
// handler runs or, with when=after, once it has run and its answer was
// thrown away.
func (e *Engine) HTTPMiddleware(unit string) func(http.Handler) http.Handler {
	e.mu.Lock()
	e.httpUnits[unit] = true
	e.mu.Unlock()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rules := e.rules.Load().http[unit]
			if len(rules) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			var before, after *httpRule
			for _, rule := range rules {
				if (rule.path != "" && !strings.HasPrefix(r.URL.Path, rule.path)) || !rule.dec.hit(rule.rate) {
					continue
				}
				if rule.after {
					if after == nil {
						after = rule
					}
				} else if before == nil {
					before = rule
				}
			}
			switch {
			case before != nil:
				writeInjected(w, before)
			case after != nil:
				next.ServeHTTP(&discardWriter{header: http.Header{}}, r)
				writeInjected(w, after)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

func writeInjected(w http.ResponseWriter, rule *httpRule) {
	code := httpCode(rule.status)
	w.Header().Set(InjectedHeader, rule.id)
	if code == errs.Unavailable {
		w.Header().Set("Retry-After", "1")
	}
	httpx.WriteJSON(w, rule.status, httpx.ErrorBody{Error: httpx.ErrorDetail{Code: string(code), Message: InjectedMessage}})
}

// httpCode is the errs code a client expects with an HTTP status.
func httpCode(st int) errs.Code {
	switch st {
	case http.StatusBadRequest:
		return errs.Invalid
	case http.StatusUnauthorized:
		return errs.Unauthenticated
	case http.StatusPaymentRequired:
		return errs.PaymentDeclined
	case http.StatusForbidden:
		return errs.PermissionDenied
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusConflict:
		return errs.Conflict
	case http.StatusRequestEntityTooLarge:
		return errs.TooLarge
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable:
		return errs.Unavailable
	case http.StatusGatewayTimeout:
		return errs.DeadlineExceeded
	}
	if st >= 500 {
		return errs.Internal
	}
	return errs.Invalid // other 4xx: the vocabulary has no closer word
}

// discardWriter lets a handler run to completion when its answer is to be
// lost.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
