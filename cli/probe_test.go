package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, lookup: func(string) (string, bool) { return "", false }}
	probe := func(url string) error {
		return run(context.Background(), e, []string{"shoplab", "probe", "--url", url, "--timeout", "2s"})
	}
	if err := probe(srv.URL + "/readyz"); err != nil {
		t.Errorf("ready unit: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := probe(srv.URL + "/readyz"); err == nil {
		t.Error("a 503 passed the probe")
	}
	start := time.Now()
	if err := probe("http://" + freeAddr(t) + "/readyz"); err == nil {
		t.Error("a closed port passed the probe")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("probe of a closed port took %s", time.Since(start))
	}
	if code, _ := ExitCode(probe("::bad")); code != 2 {
		t.Errorf("a bad URL: exit code %d, want 2", code)
	}
}
