// Package httpx holds shoplab's HTTP plumbing: the JSON error shape, RED
// metrics and request ids as middleware, health endpoints and a server with
// sane timeouts and graceful stop.
package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// ErrorBody is the documented error shape: {"error":{"code","message","field"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// StatusOf maps an errs code to its HTTP status.
func StatusOf(code errs.Code) int {
	switch code {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.PaymentDeclined:
		return http.StatusPaymentRequired
	case errs.PermissionDenied:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict, errs.OutOfStock, errs.FailedPrecondition:
		return http.StatusConflict
	case errs.IdempotencyMismatch:
		return http.StatusUnprocessableEntity
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.Unavailable, errs.PaymentUnavailable, errs.DependencyUnavailable:
		return http.StatusServiceUnavailable
	case errs.DeadlineExceeded:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// WriteError writes err in the documented shape with its status; internal
// errors are logged once here and reach the client without their cause.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := errs.CodeOf(err)
	st := StatusOf(code)
	if st >= 500 && log != nil {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", st, "error", err)
	}
	if code == errs.Unavailable || code == errs.DeadlineExceeded {
		w.Header().Set("Retry-After", "1")
	}
	WriteJSON(w, st, ErrorBody{Error: ErrorDetail{Code: string(code), Message: errs.MessageOf(err), Field: errs.FieldOf(err)}})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads one JSON value from r's body into v, refusing unknown
// fields, trailing data and bodies over limit bytes, with errs codes a
// client can act on.
//
// The body must be UTF-8 (RFC 8259 section 8.1): encoding/json would
// silently replace invalid bytes with U+FFFD and store what the client never
// sent, so such a body is refused naming the field that holds the bytes.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return decodeError(err)
	}
	if !utf8.Valid(raw) {
		return invalidUTF8(raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	// A second value, even a valid one, means the client sent more than it meant.
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return errs.E(errs.Invalid, "request body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return errs.E(errs.TooLarge, "request body exceeds %d bytes", maxErr.Limit)
	case errors.As(err, &syntaxErr):
		return errs.E(errs.Invalid, "malformed JSON at offset %d", syntaxErr.Offset)
	case errors.As(err, &typeErr):
		return errs.InvalidField(typeErr.Field, "must be %s", jsonKind(typeErr.Type, typeErr.Value))
	case errors.Is(err, io.EOF):
		return errs.E(errs.Invalid, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Invalid, "request body is truncated JSON")
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); len(msg) > len(unknown) && msg[:len(unknown)] == unknown {
		f, uerr := strconv.Unquote(msg[len(unknown):])
		if uerr != nil {
			f = msg[len(unknown):]
		}
		return errs.InvalidField(f, "unknown field")
	}
	return errs.Wrap(errs.Invalid, err, "invalid JSON body")
}

// jsonKind names the JSON a Go type expects in the client's terms (never
// the Go type name, which means nothing to a client): "an integer", "a
// string", ... got is what the decoder met, e.g. "number 1e10".
func jsonKind(t reflect.Type, got string) string {
	if t == nil {
		return "of another JSON type"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if len(got) >= 6 && got[:6] == "number" {
			bits := t.Bits()
			return fmt.Sprintf("an integer between %d and %d", -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1)
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem(), got)
	}
	return "of another JSON type"
}

// invalidUTF8 names the JSON field whose value (or key) holds the first
// invalid UTF-8 byte of raw, walking the tokens up to that offset.
func invalidUTF8(raw []byte) error {
	bad := 0
	for bad < len(raw) {
		r, n := utf8.DecodeRune(raw[bad:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		bad += n
	}
	const msg = "must be valid UTF-8"
	if f := fieldAt(raw, int64(bad)); f != "" {
		return errs.InvalidField(f, "%s", msg)
	}
	return errs.E(errs.Invalid, "request body is not valid UTF-8 (byte offset %d)", bad)
}

// fieldAt returns the JSON path ("items[1].product_id") of the value or key
// that spans offset off, or "" when it cannot tell (the JSON is malformed
// before off).
func fieldAt(raw []byte, off int64) string {
	type frame struct {
		array   bool
		index   int    // arrays: the index of the current element
		key     string // objects: the key of the current member
		wantKey bool   // objects: the next string token is a key
	}
	var stack []frame
	path := func(leaf string) string {
		var b bytes.Buffer
		for _, f := range stack {
			switch {
			case f.array:
				fmt.Fprintf(&b, "[%d]", f.index)
			case f.key != "":
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		if leaf != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(leaf)
		}
		return b.String()
	}
	valueDone := func() {
		if n := len(stack); n > 0 && !stack[n-1].array {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		end := dec.InputOffset()
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				stack[n-1].key = ""
				if end > off {
					return path(k)
				}
				stack[n-1].key, stack[n-1].wantKey = k, false
				continue
			}
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			valueDone()
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].index++
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, frame{array: d == '[', index: -1, wantKey: d == '{'})
			continue
		}
		if end > off {
			return path("")
		}
		valueDone()
	}
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

// Observe wraps next with request ids (taken from or set in X-Request-Id)
// and RED metrics labelled by route(r), which should return the route
// template, never the raw path, to keep cardinality bounded.
func Observe(m *metrics.Registry, route func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(logx.RequestIDHeader)
		if !validRequestID(id) {
			id = logx.NewRequestID()
		}
		w.Header().Set(logx.RequestIDHeader, id)
		r = r.WithContext(logx.WithRequestID(r.Context(), id))
		rec := &statusRecorder{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		name := methodLabel(r.Method) + " " + route(r)
		code := strconv.Itoa(rec.status)
		m.Requests.WithLabelValues("http", name, code).Inc()
		m.Duration.WithLabelValues("http", name).Observe(time.Since(start).Seconds())
		if rec.status >= 500 {
			m.Errors.WithLabelValues("http", name, code).Inc()
		}
	})
}

// validRequestID accepts 1 to 64 visible ASCII characters: the id goes into
// logs, response headers and gRPC metadata, which refuses anything else
// with an internal error.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// methodLabel bounds the method part of a metric label: net/http accepts
// any token as a method, so a public client could otherwise mint a new
// time series per request by inventing methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// ReadyFunc reports whether a unit can serve; nil means ready.
type ReadyFunc func(ctx context.Context) error

// OpsMux returns the ops endpoints every unit serves: /healthz (the process
// is alive), /readyz (ready(ctx) with a 2 s deadline) and /metrics.
func OpsMux(m *metrics.Registry, ready ReadyFunc) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if ready != nil {
			if err := ready(ctx); err != nil {
				WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
				return
			}
		}
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", m.Handler())
	return mux
}

// Server is an HTTP server on its own listener with timeouts that stop slow
// clients from holding connections forever.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen binds addr (":0" picks a free port) and returns a server for h.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx ends, then stops gracefully (5 s for in-flight requests).
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
		return nil
	}
}

// Close stops the server at once. It also closes the listener, which
// http.Server only tracks once Serve has started: a unit closed before it
// runs must still free its port.
func (s *Server) Close() error {
	err := s.srv.Close()
	_ = s.ln.Close()
	return err
}
