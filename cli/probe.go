package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shoplab/shoplab/services/platform/config"
)

// runProbe is the container healthcheck: the image is distroless (no shell,
// no curl), so compose runs `shoplab probe` against the unit's own ops port.
// It exits 0 on a 2xx answer and non-zero otherwise.
func runProbe(ctx context.Context, e env, args []string) error {
	fs := e.bridge(flag.NewFlagSet("shoplab probe", flag.ContinueOnError))
	fs.SetOutput(e.stderr)
	url := fs.String("url", "http://127.0.0.1:8081/readyz", "URL that must answer 2xx")
	timeout := fs.Duration("timeout", 3*time.Second, "deadline of the whole probe")
	if err := config.Parse(fs, args, func(string) (string, bool) { return "", false }); err != nil {
		return usageError("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usageError("-url %q: %v", *url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", *url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe %s: HTTP %d", *url, resp.StatusCode)
	}
	return nil
}
