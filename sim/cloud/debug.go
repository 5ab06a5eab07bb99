package cloud

import (
	"net/http"
	"net/http/pprof"
)

// mountPprof serves Go's profiles on the ops API (which listens on
// loopback by default), so `go tool pprof http://127.0.0.1:8090/debug/pprof/profile`
// profiles a running env; every unit's goroutines carry a "unit" label.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
