package ports_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/analytics/ports"
	"github.com/shoplab/shoplab/services/api/events"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

type listerFunc func(ctx context.Context, limit int) ([]events.WindowResult, error)

func (f listerFunc) ListWindows(ctx context.Context, limit int) ([]events.WindowResult, error) {
	return f(ctx, limit)
}

func TestWindowsEndpoint(t *testing.T) {
	start := time.Date(2024, 5, 1, 12, 1, 0, 0, time.UTC)
	var gotLimit int
	lister := listerFunc(func(_ context.Context, limit int) ([]events.WindowResult, error) {
		gotLimit = limit
		if limit == 13 {
			return nil, errors.New("disk on fire")
		}
		return []events.WindowResult{{WindowStart: start, WindowEnd: start.Add(time.Minute), OrderCount: 7, TopProducts: []events.ProductUnits{}}}, nil
	})
	m := metrics.New("analytics", false)
	h := ports.NewOpsHandler(logx.Discard(), m, func(context.Context) error { return nil }, lister)

	tests := []struct {
		query     string
		status    int
		wantLimit int
		body      string
	}{
		{"", 200, ports.DefaultWindowsLimit, `"order_count":7`},
		{"?limit=5", 200, 5, `"window_start":"2024-05-01T12:01:00Z"`},
		{"?limit=0", 400, 0, `"field":"limit"`},
		{"?limit=1001", 400, 0, `"code":"invalid_argument"`},
		{"?limit=x", 400, 0, `"field":"limit"`},
		{"?limit=13", 500, 13, `"code":"internal"`},
	}
	for _, tt := range tests {
		gotLimit = 0
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ops/v1/analytics/windows"+tt.query, nil))
		if rec.Code != tt.status || gotLimit != tt.wantLimit || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%q: %d %s (limit %d), want %d containing %s (limit %d)", tt.query, rec.Code, rec.Body, gotLimit, tt.status, tt.body, tt.wantLimit)
		}
		if tt.status == 200 {
			var resp ports.WindowsResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Windows) != 1 {
				t.Errorf("%q: body %s: %v", tt.query, rec.Body, err)
			}
		}
	}

	// RED metrics are labelled by route, not by the raw query.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `method="GET /ops/v1/analytics/windows"`) {
		t.Errorf("metrics lack the route label:\n%s", rec.Body)
	}
}
