package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// dockerAPI is the part of the Docker Engine API a Stack's process faults
// use: find a compose service's container by its labels, stop, start,
// restart, pause and unpause it. It speaks HTTP over the engine's unix
// socket (unix:///var/run/docker.sock) or TCP (tcp://host:2375), every
// call with a deadline.
type dockerAPI struct {
	host    string
	base    string
	project string
	http    *http.Client
}

func newDockerAPI(host, project string) (*dockerAPI, error) {
	d := &dockerAPI{host: host, project: project}
	switch {
	case strings.HasPrefix(host, "unix://"):
		path := strings.TrimPrefix(host, "unix://")
		d.base = "http://docker"
		d.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var dl net.Dialer
				return dl.DialContext(ctx, "unix", path)
			},
		}}
	case strings.HasPrefix(host, "tcp://"):
		d.base = "http://" + strings.TrimPrefix(host, "tcp://")
		d.http = &http.Client{Timeout: 30 * time.Second}
	default:
		return nil, fmt.Errorf("docker host %q: want unix:///path or tcp://host:port", host)
	}
	return d, nil
}

func (d *dockerAPI) call(ctx context.Context, method, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	// 304: already in the asked state (stopped, started).
	if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotModified {
		return fmt.Errorf("docker %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// ping answers whether the engine is reachable.
func (d *dockerAPI) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return d.call(ctx, http.MethodGet, "/_ping", nil)
}

// container returns the id of the compose service's one container.
func (d *dockerAPI) container(ctx context.Context, service string) (string, error) {
	f, _ := json.Marshal(map[string][]string{"label": {
		"com.docker.compose.project=" + d.project, "com.docker.compose.service=" + service}})
	var list []struct {
		ID string `json:"Id"`
	}
	if err := d.call(ctx, http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(f)), &list); err != nil {
		return "", err
	}
	if len(list) != 1 {
		return "", fmt.Errorf("docker: %d containers of compose service %s in project %s, want 1", len(list), service, d.project)
	}
	return list[0].ID, nil
}

// act posts one action (stop, start, restart, pause, unpause) to the
// service's container; stop and restart kill at once (t=0), as the
// embedded engine's kill does.
func (d *dockerAPI) act(ctx context.Context, service, action string) error {
	id, err := d.container(ctx, service)
	if err != nil {
		return err
	}
	path := "/containers/" + url.PathEscape(id) + "/" + action
	if action == "stop" || action == "restart" {
		path += "?t=0"
	}
	return d.call(ctx, http.MethodPost, path, nil)
}
