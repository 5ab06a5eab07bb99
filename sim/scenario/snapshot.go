package scenario

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// MetricsFile is the env's /metrics at the end of a run, in the run dir.
const MetricsFile = "metrics.prom"

// OpsURL is the embedded env's ops API.
func (t *localTarget) OpsURL() string { return t.c.OpsURL() }

// OpsURL is the running env's ops API.
func (t *remoteTarget) OpsURL() string { return t.ops }

// snapshotMetrics keeps what every unit exported at the end of the run, so
// a bundle carries the counters behind the report. Best effort: a run's
// verdict never depends on it.
func (r *runState) snapshotMetrics(ctx context.Context) {
	ot, ok := r.tg.(interface{ OpsURL() string })
	if r.o.OutDir == "" || !ok {
		return
	}
	if err := writeMetrics(ctx, ot.OpsURL()+"/metrics", filepath.Join(r.o.OutDir, MetricsFile)); err != nil {
		r.printf("  (no metrics snapshot: %v)\n", err)
	}
}

func writeMetrics(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
