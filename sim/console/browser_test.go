package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoplab/shoplab/chaos"
	"github.com/shoplab/shoplab/sim/cloud"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// TestConsoleInChromium drives the console in a real Chromium with
// playwright-core (e2e/console.test.mjs) while customers keep ordering.
// CONSOLE_SCREENSHOTS names a directory to keep the screenshots (CI keeps
// them as artifacts); otherwise they go to a temp dir.
func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole platform and a browser")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the browser test runs playwright-core on Node 20")
	}
	browser := os.Getenv("CHROMIUM")
	if browser == "" {
		browser = "/usr/bin/chromium"
	}
	if _, err := os.Stat(browser); err != nil {
		t.Skipf("no Chromium at %s: apt-get install -y chromium (or set CHROMIUM)", browser)
	}
	if _, err := os.Stat("e2e/node_modules/playwright-core"); err != nil {
		t.Skip("playwright-core not installed: run `npm ci` in sim/console/e2e")
	}
	shots := os.Getenv("CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	engine, err := chaos.New(chaos.WithSeed(1), chaos.WithAPIAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := cloud.New(ctx, cloud.Config{DataDir: t.TempDir(), AnalyticsWindow: 2 * time.Second, Chaos: engine})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-runDone
		_ = c.Close()
	}()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { placeOrders(t, c.GatewayURL(), stop) })
	defer func() { close(stop); wg.Wait() }()

	tctx, tcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer tcancel()
	cmd := exec.CommandContext(tctx, node, "--test", "--test-reporter=spec", filepath.Join("e2e", "console.test.mjs"))
	cmd.Env = append(os.Environ(), "OPS_URL="+c.OpsURL(), "CHROMIUM="+browser, "SCREENSHOT_DIR="+shots)
	out, err := cmd.CombinedOutput()
	t.Logf("playwright:\n%s", out)
	if err != nil {
		t.Fatalf("the console test failed: %v (screenshots in %s)", err, shots)
	}
	for _, f := range []string{"01-ready.png", "02-payment-latency.png", "03-product-killed.png", "04-product-back.png", "05-hpa-scaled.png"} {
		if st, err := os.Stat(filepath.Join(shots, f)); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s missing: %v", f, err)
		}
	}
}

// placeOrders keeps one customer ordering every 100 ms until stop, so the
// console has checkouts whose latency it can show. Outcomes do not matter
// here: faults make some fail, which is the point of the page.
func placeOrders(t *testing.T, gateway string, stop <-chan struct{}) {
	ctx := context.Background()
	api := shopclient.New(gateway, &http.Client{Timeout: 5 * time.Second})
	if _, err := api.Register(ctx, "console@example.com", "correct horse battery", "Console"); err != nil {
		t.Errorf("register: %v", err)
		return
	}
	sess, err := api.Login(ctx, "console@example.com", "correct horse battery")
	if err != nil {
		t.Errorf("login: %v", err)
		return
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		req := shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: fmt.Sprintf("p-%04d", 1+i%200), Quantity: 1}}, Payment: shopclient.Payment{Token: "tok_visa"}}
		_, _ = api.CreateOrder(ctx, sess.Token, fmt.Sprintf("console-%d", i), req)
	}
}
