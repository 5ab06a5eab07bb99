// Package ports serves the analytics unit's HTTP API: the ops endpoints and
// GET /ops/v1/analytics/windows.
package ports

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/shoplab/shoplab/services/analytics/app"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// Limits of the windows listing.
const (
	DefaultWindowsLimit = 60
	MaxWindowsLimit     = 1000
)

// WindowsResponse is the body of GET /ops/v1/analytics/windows.
type WindowsResponse struct {
	Windows []events.WindowResult `json:"windows"`
}

// NewOpsHandler returns /healthz, /readyz, /metrics and
// GET /ops/v1/analytics/windows?limit=N (newest first), with RED metrics.
func NewOpsHandler(log *slog.Logger, m *metrics.Registry, ready httpx.ReadyFunc, windows app.WindowLister) http.Handler {
	mux := httpx.OpsMux(m, ready)
	mux.HandleFunc("GET /ops/v1/analytics/windows", func(w http.ResponseWriter, r *http.Request) {
		limit := DefaultWindowsLimit
		if s := r.URL.Query().Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxWindowsLimit {
				httpx.WriteError(w, r, log, errs.InvalidField("limit", "must be an integer from 1 to %d", MaxWindowsLimit))
				return
			}
			limit = n
		}
		ws, err := windows.ListWindows(r.Context(), limit)
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, WindowsResponse{Windows: ws})
	})
	return httpx.Observe(m, route, mux)
}

// route labels metrics with the matched pattern's path, never the raw path.
func route(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	if _, path, ok := strings.Cut(r.Pattern, " "); ok {
		return path
	}
	return r.Pattern
}
