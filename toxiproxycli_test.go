package main

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
)

// toxiproxyCLIVersion is the toxiproxy-cli the test expects: the release
// of the embedded server (go.mod), as issue 10 tried it.
const toxiproxyCLIVersion = "v2.12.0"

// toxiproxyCLI finds the real toxiproxy-cli: $TOXIPROXY_CLI, else on PATH.
func toxiproxyCLI(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TOXIPROXY_CLI")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("toxiproxy-cli"); err != nil {
			t.Skipf("toxiproxy-cli not found ($TOXIPROXY_CLI unset, none on PATH); build it with: "+
				"GOBIN=$PWD/ci-runs/bin go install github.com/Shopify/toxiproxy/v2/cmd/cli@%s && mv ci-runs/bin/cli ci-runs/bin/toxiproxy-cli && export TOXIPROXY_CLI=$PWD/ci-runs/bin/toxiproxy-cli",
				toxiproxyCLIVersion)
		}
	}
	// A binary built with `go install` says "git" for --version; its
	// module information says what it really is.
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("toxiproxy-cli at %s: %v", bin, err)
	}
	if bi.Main.Path != "github.com/Shopify/toxiproxy/v2" || bi.Main.Version != toxiproxyCLIVersion {
		t.Fatalf("%s is %s@%s, want github.com/Shopify/toxiproxy/v2@%s", bin, bi.Main.Path, bi.Main.Version, toxiproxyCLIVersion)
	}
	return bin
}

// TestToxiproxyCLIAgainstShoplabUp drives `shoplab up` with the real
// toxiproxy-cli v2.12 (list, toxic add/update/remove, toggle) and checks
// each step in `shoplab chaos list` and in what the platform does.
func TestToxiproxyCLIAgainstShoplabUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts shoplab up as a process")
	}
	cliBin := toxiproxyCLI(t)
	gateway, ops, tp := freeAddr(t), freeAddr(t), freeAddr(t)
	startUpWithToxiproxy(t, t.TempDir(), gateway, ops, tp)

	toxi := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, cliBin, append([]string{"-h", "http://" + tp}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("toxiproxy-cli %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	shoplab := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), "SHOPLAB_RUN_AS_BINARY=1", "SHOPLAB_OPS_ADDR="+ops)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("shoplab %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	faults := func() []chaos.ActiveFault {
		t.Helper()
		var out struct {
			Faults []chaos.ActiveFault `json:"faults"`
		}
		if err := json.Unmarshal([]byte(shoplab("chaos", "list", "--json")), &out); err != nil {
			t.Fatal(err)
		}
		return out.Faults
	}
	// A catalog read crosses gateway->product: the edge the toxics act on.
	get := func() (time.Duration, int) {
		t.Helper()
		start := time.Now()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + gateway + "/api/v1/products/p-0001")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode
	}
	base, code := get()
	if code != http.StatusOK {
		t.Fatalf("GET a product before any fault: %d", code)
	}
	for range 3 { // the best of a few, so one slow call does not make the baseline
		if d, _ := get(); d < base {
			base = d
		}
	}
	const edge = "gateway->product"

	// list: every edge of the env is a proxy.
	if out := toxi("list"); !strings.Contains(out, edge) || !strings.Contains(out, "order->payment") {
		t.Fatalf("toxiproxy-cli list does not show the env's edges:\n%s", out)
	}
	if v := httpGet(t, "http://"+tp+"/version"); !strings.Contains(v, `"2.12.0"`) {
		t.Fatalf("GET /version = %s, want 2.12.0", v)
	}

	// toxic add: the fault is in shoplab's list and slows the edge.
	toxi("toxic", "add", "-n", "slowcat", "-t", "latency", "-a", "latency=300", edge)
	fs := faults()
	if len(fs) != 1 || fs[0].ID != edge+"/slowcat" || fs[0].Source != chaos.SourceToxiproxy || fs[0].Fault.Attributes["latency"] != "300ms" {
		t.Fatalf("shoplab chaos list after toxic add: %+v", fs)
	}
	d300, code := get()
	if code != http.StatusOK || d300 < 300*time.Millisecond {
		t.Fatalf("GET with 300ms latency on %s: %d after %s", edge, code, d300)
	}
	if out := shoplab("chaos", "list"); !strings.Contains(out, edge+"/slowcat") || !strings.Contains(out, "latency=300ms") {
		t.Fatalf("shoplab chaos list:\n%s", out)
	}

	// toxic update (PATCH in v2.12; v2.5 answered 405 and the CLI said EOF).
	toxi("toxic", "update", "-n", "slowcat", "-a", "latency=700", edge)
	if fs := faults(); len(fs) != 1 || fs[0].Fault.Attributes["latency"] != "700ms" {
		t.Fatalf("shoplab chaos list after toxic update: %+v", fs)
	}
	d700, _ := get()
	if d700 < 700*time.Millisecond {
		t.Fatalf("GET after updating the latency to 700ms took %s", d700)
	}

	// toxic remove: gone from both, and the edge is fast again.
	toxi("toxic", "remove", "-n", "slowcat", edge)
	if fs := faults(); len(fs) != 0 {
		t.Fatalf("shoplab chaos list after toxic remove: %+v", fs)
	}
	dAfter, _ := get()
	if dAfter > base+250*time.Millisecond {
		t.Fatalf("GET after the toxic was removed took %s (baseline %s)", dAfter, base)
	}
	t.Logf("GET a product: baseline %s; latency=300 %s; updated to 700 %s; removed %s", base, d300, d700, dAfter)

	// toggle: off is a down fault, and the edge refuses; on again, the
	// very next request is served.
	toxi("toggle", edge)
	if fs := faults(); len(fs) != 1 || fs[0].ID != edge || fs[0].Fault.Type != chaos.Down {
		t.Fatalf("shoplab chaos list after toggle off: %+v", fs)
	}
	if _, code := get(); code != http.StatusServiceUnavailable {
		t.Fatalf("GET with %s toggled off: %d, want 503", edge, code)
	}
	toxi("toggle", edge)
	dOn, code := get()
	if code != http.StatusOK {
		t.Fatalf("first GET after toggling %s back on: %d after %s", edge, code, dOn)
	}
	t.Logf("first GET after toggling %s back on: %s (baseline %s)", edge, dOn, base)
	if fs := faults(); len(fs) != 0 {
		t.Fatalf("shoplab chaos list after toggle on: %+v", fs)
	}

	// shoplab chaos remove takes a toxic toxiproxy-cli added.
	toxi("toxic", "add", "-n", "gone", "-t", "latency", "-a", "latency=100", edge)
	shoplab("chaos", "remove", edge+"/gone")
	if out := toxi("inspect", edge); strings.Contains(out, "gone") {
		t.Fatalf("toxiproxy-cli inspect after shoplab chaos remove:\n%s", out)
	}

	// The other way: shoplab's fault is a toxic toxiproxy-cli shows, and
	// shoplab's reset removes what toxiproxy-cli added as well.
	shoplab("chaos", "add", edge, "latency", "--latency", "50ms")
	toxi("toxic", "add", "-n", "cut", "-t", "bandwidth", "-a", "rate=1000", "--upstream", edge)
	if out := toxi("inspect", edge); !strings.Contains(out, "chaos-f1-downstream") || !strings.Contains(out, "cut") {
		t.Fatalf("toxiproxy-cli inspect does not show both toxics:\n%s", out)
	}
	if out := shoplab("chaos", "reset"); !strings.Contains(out, "2") {
		t.Fatalf("shoplab chaos reset: %s, want 2 removed", out)
	}
	if out := toxi("inspect", edge); strings.Contains(out, "chaos-f1") || strings.Contains(out, "cut") {
		t.Fatalf("toxics survive shoplab chaos reset:\n%s", out)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(bytes.TrimSpace(b))
}

// startUpWithToxiproxy is startUp with the embedded toxiproxy's API on a
// known address.
func startUpWithToxiproxy(t *testing.T, dataDir, gateway, ops, tp string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "up", "--data-dir", dataDir, "--gateway-addr", gateway, "--ops-addr", ops,
		"--toxiproxy-addr", tp, "--log-level", "error")
	cmd.Env = append(os.Environ(), "SHOPLAB_RUN_AS_BINARY=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + ops + "/ops/v1/units"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("shoplab up exited: %v\n%s", cmd.ProcessState, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("shoplab up not ready within 60s\n%s", stderr.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
