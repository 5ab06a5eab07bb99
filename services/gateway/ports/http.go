// Package ports is the gateway's REST API: a gorilla/mux router that turns
// HTTP requests into app use cases and errs errors into the documented JSON
// error shape. Every route here is described in services/gateway/openapi.yaml
// and a test keeps the two in step.
package ports

import (
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/shoplab/shoplab/services/gateway"
	"github.com/shoplab/shoplab/services/gateway/app"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// DefaultMaxBodyBytes bounds a request body when Options says nothing.
const DefaultMaxBodyBytes = 64 << 10

// The gateway's own response headers.
const (
	// ReplayedHeader is "true" on the answer to a repeated Idempotency-Key.
	ReplayedHeader = "Idempotent-Replayed"
	// CodeUnsupportedMediaType is the error code of a 415; errs has no code
	// for it because only the HTTP edge can meet a wrong Content-Type.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeMethodNotAllowed is the error code of a 405, for the same reason.
	CodeMethodNotAllowed = "method_not_allowed"
)

// Options configures the REST handler.
type Options struct {
	Log          *slog.Logger      // nil discards
	Registry     *metrics.Registry // required: RED metrics, gateway counters and /metrics
	Ready        httpx.ReadyFunc   // backs /readyz; nil means always ready
	MaxBodyBytes int64             // 0 means DefaultMaxBodyBytes
	// Middleware wraps every /api/v1 business route (not /healthz, /readyz,
	// /metrics or the OpenAPI file). The chaos wiring installs L7 HTTP
	// faults here; it runs inside the metrics so injected errors are counted
	// like real ones.
	Middleware func(http.Handler) http.Handler
}

type handler struct {
	svc     *app.Service
	log     *slog.Logger
	maxBody int64
	m       *gatewayMetrics
}

// NewHandler returns the complete gateway HTTP handler: the router with
// request ids, RED metrics labelled by route template, and access logs.
func NewHandler(svc *app.Service, o Options) (http.Handler, error) {
	r, err := NewRouter(svc, o)
	if err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = logx.Discard()
	}
	return httpx.Observe(o.Registry, RouteName(r), accessLog(log, r, r)), nil
}

// NewRouter returns the bare router, without the metrics and logging
// wrapper of NewHandler; tests walk it to compare it with the OpenAPI file.
func NewRouter(svc *app.Service, o Options) (*mux.Router, error) {
	if svc == nil || o.Registry == nil {
		return nil, errors.New("ports: a service and a metrics registry are required")
	}
	m, err := newGatewayMetrics(o.Registry)
	if err != nil {
		return nil, err
	}
	h := &handler{svc: svc, log: o.Log, maxBody: o.MaxBodyBytes, m: m}
	if h.log == nil {
		h.log = logx.Discard()
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	api := func(f http.HandlerFunc) http.Handler {
		if o.Middleware != nil {
			return o.Middleware(f)
		}
		return f
	}
	ops := httpx.OpsMux(o.Registry, o.Ready)

	r := mux.NewRouter()
	r.Handle("/api/v1/auth/register", api(h.register)).Methods(http.MethodPost)
	r.Handle("/api/v1/auth/login", api(h.login)).Methods(http.MethodPost)
	r.Handle("/api/v1/products", api(h.listProducts)).Methods(http.MethodGet)
	r.Handle("/api/v1/products/{id}", api(h.getProduct)).Methods(http.MethodGet)
	r.Handle("/api/v1/orders", api(h.createOrder)).Methods(http.MethodPost)
	r.Handle("/api/v1/orders", api(h.listOrders)).Methods(http.MethodGet)
	r.Handle("/api/v1/orders/{id}", api(h.getOrder)).Methods(http.MethodGet)
	r.HandleFunc("/api/v1/openapi.yaml", serveOpenAPI).Methods(http.MethodGet)
	r.Handle("/healthz", ops).Methods(http.MethodGet)
	r.Handle("/readyz", ops).Methods(http.MethodGet)
	r.Handle("/metrics", ops).Methods(http.MethodGet)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpx.WriteError(w, req, h.log, errs.E(errs.NotFound, "no route for %s %s", req.Method, req.URL.Path))
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if allow := allowedMethods(r, req); allow != "" {
			w.Header().Set("Allow", allow)
		}
		httpx.WriteJSON(w, http.StatusMethodNotAllowed, httpx.ErrorBody{Error: httpx.ErrorDetail{
			Code: CodeMethodNotAllowed, Message: req.Method + " is not allowed on " + req.URL.Path,
		}})
	})
	return r, nil
}

// RouteName returns the metric label of a request: its mux path template
// ("/api/v1/orders/{id}"), or "unmatched" for 404s and 405s, so a client
// cannot create label values by inventing paths.
func RouteName(r *mux.Router) func(*http.Request) string {
	return func(req *http.Request) string {
		var m mux.RouteMatch
		if r.Match(req, &m) && m.MatchErr == nil && m.Route != nil {
			if tpl, err := m.Route.GetPathTemplate(); err == nil {
				return tpl
			}
		}
		return "unmatched"
	}
}

// allowedMethods lists the methods the path does accept, for Allow.
func allowedMethods(r *mux.Router, req *http.Request) string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := req.Clone(req.Context())
		probe.Method = m
		var match mux.RouteMatch
		if r.Match(probe, &match) && match.MatchErr == nil && match.Route != nil {
			allow = append(allow, m)
		}
	}
	return strings.Join(allow, ", ")
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(gateway.OpenAPI)
}

// fail writes err in the documented shape; a 401 also says how to
// authenticate, as RFC 9110 requires.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errs.CodeOf(err) == errs.Unauthenticated && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="shoplab"`)
	}
	httpx.WriteError(w, r, h.log, err)
}

// authenticate returns the caller's claims, or writes a 401 and false.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (gateway.Claims, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		h.m.authFailures.WithLabelValues("missing").Inc()
		h.fail(w, r, errs.E(errs.Unauthenticated, "a bearer token is required"))
		return gateway.Claims{}, false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if len(vals) > 1 || !ok || !strings.EqualFold(scheme, "Bearer") {
		h.m.authFailures.WithLabelValues("malformed").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="shoplab", error="invalid_request", error_description="use Authorization: Bearer <token>"`)
		h.fail(w, r, errs.E(errs.Unauthenticated, "the Authorization header must be \"Bearer <token>\""))
		return gateway.Claims{}, false
	}
	claims, err := h.svc.Authorize(strings.TrimSpace(token))
	if err != nil {
		reason, desc := "invalid", "the token is invalid"
		if errors.Is(err, app.ErrTokenExpired) {
			reason, desc = "expired", "the token has expired"
		}
		h.m.authFailures.WithLabelValues(reason).Inc()
		h.log.DebugContext(r.Context(), "bearer token refused", "reason", reason, "error", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="shoplab", error="invalid_token", error_description="`+desc+`"`)
		h.fail(w, r, err)
		return gateway.Claims{}, false
	}
	return claims, true
}

// requireJSON writes a 415 and returns false unless the body is declared
// application/json (parameters such as charset=utf-8 are fine).
func requireJSON(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "application/json" {
		return true
	}
	w.Header().Set("Accept-Post", "application/json")
	httpx.WriteJSON(w, http.StatusUnsupportedMediaType, httpx.ErrorBody{Error: httpx.ErrorDetail{
		Code: CodeUnsupportedMediaType, Message: "Content-Type must be application/json", Field: "Content-Type",
	}})
	return false
}

// decode reads a JSON body of at most limit bytes into v. A declared length
// over the limit is refused before a byte is read.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if r.ContentLength > limit {
		return errs.E(errs.TooLarge, "request body exceeds %d bytes", limit)
	}
	return httpx.DecodeJSON(w, r, limit, v)
}

// query parses the query string strictly: a malformed escape is a 400,
// where url.URL.Query would silently drop the parameter.
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "malformed query string")
	}
	return q, nil
}

// page reads ?limit and ?cursor. An absent limit is 0, the owning unit's
// default; a present one must be an integer in 1..MaxPageLimit.
func page(q url.Values) (gateway.Page, error) {
	p := gateway.Page{Cursor: q.Get("cursor")}
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > gateway.MaxPageLimit || len(s) > 1 {
			return p, errs.InvalidField("limit", "must be an integer between 1 and %d", gateway.MaxPageLimit)
		}
		p.Limit = n
	}
	return p, p.Validate()
}

// accessLog logs every request at debug level with its route and status;
// failures worth attention are logged at error level by httpx.WriteError.
func accessLog(log *slog.Logger, r *mux.Router, next http.Handler) http.Handler {
	route := RouteName(r)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !log.Enabled(req.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, req)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(rec, req)
		log.DebugContext(req.Context(), "http request", "method", req.Method, "route", route(req),
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
