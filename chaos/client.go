package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/httpx"
)

// Client calls a running env's chaos control API (the `shoplab chaos`
// command and the scenario runner use it).
type Client struct {
	base       string
	hc         *http.Client
	readWait   time.Duration
	changeWait time.Duration
}

// ClientOption configures NewClient.
type ClientOption func(*Client)

// WithHTTPClient sets the HTTP client (default: a fresh one).
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.hc = hc } }

// WithCallTimeout bounds every call (default 10 s for reads, 90 s for
// changes, since a kill or restart waits for the unit).
func WithCallTimeout(d time.Duration) ClientOption {
	return func(c *Client) { c.readWait, c.changeWait = d, d }
}

// NewClient returns a client for the ops API at addr ("127.0.0.1:8090" or
// a URL).
func NewClient(addr string, opts ...ClientOption) *Client {
	base := strings.TrimRight(addr, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	c := &Client{base: base, hc: &http.Client{}, readWait: 10 * time.Second, changeWait: 90 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Faults lists the active faults.
func (c *Client) Faults(ctx context.Context) ([]ActiveFault, error) {
	var out struct {
		Faults []ActiveFault `json:"faults"`
	}
	err := c.do(ctx, http.MethodGet, "faults", nil, c.readWait, http.StatusOK, &out)
	return out.Faults, err
}

// Apply injects f and returns it as applied (with its id).
func (c *Client) Apply(ctx context.Context, f Fault) (ActiveFault, error) {
	var out ActiveFault
	err := c.do(ctx, http.MethodPost, "faults", f, c.changeWait, http.StatusCreated, &out)
	return out, err
}

// Remove removes the fault id.
func (c *Client) Remove(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "faults/"+url.PathEscape(id), nil, c.changeWait, http.StatusNoContent, nil)
}

// Reset removes every fault and returns how many there were.
func (c *Client) Reset(ctx context.Context) (int, error) {
	var out struct {
		Removed int `json:"removed"`
	}
	err := c.do(ctx, http.MethodPost, "reset", nil, c.changeWait, http.StatusOK, &out)
	return out.Removed, err
}

// Targets lists what faults can act on.
func (c *Client) Targets(ctx context.Context) (Targets, error) {
	var out Targets
	err := c.do(ctx, http.MethodGet, "targets", nil, c.readWait, http.StatusOK, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in any, wait time.Duration, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	u := c.base + controlPrefix + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var op *net.OpError
		switch {
		case errors.As(err, &op) && op.Op == "dial":
			return fmt.Errorf("chaos: nothing answers at %s (is `shoplab up` running?): %w", c.base, err)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			return fmt.Errorf("chaos: %s %s: no answer within %s", method, u, wait)
		}
		return fmt.Errorf("chaos: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var eb httpx.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			if resp.StatusCode == http.StatusNotFound && !strings.HasPrefix(path, "faults/") {
				return fmt.Errorf("chaos: the ops API at %s has no chaos control API (was the env started with chaos wiring?): %s", c.base, eb.Error.Message)
			}
			return &errs.Error{Code: errs.Code(eb.Error.Code), Field: eb.Error.Field, Message: eb.Error.Message}
		}
		return fmt.Errorf("chaos: %s %s: HTTP %d: %s", method, u, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("chaos: %s %s: bad answer: %w", method, u, err)
	}
	return nil
}
