package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/notification/app"
	"github.com/shoplab/shoplab/sim/shopclient"
)

// TestMain lets this test binary stand in for the shoplab binary: with
// SHOPLAB_RUN_AS_BINARY set it runs the CLI on its own arguments, so a
// test can start `shoplab up` as a separate process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("SHOPLAB_RUN_AS_BINARY") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type upProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

func startUp(t *testing.T, dataDir, gateway, ops, key string) *upProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "up", "--data-dir", dataDir, "--gateway-addr", gateway, "--ops-addr", ops,
		"--toxiproxy-addr", freeAddr(t), "--jwt-key", key, "--log-level", "error")
	cmd.Env = append(os.Environ(), "SHOPLAB_RUN_AS_BINARY=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &upProc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-p.done })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := http.Get("http://" + ops + "/ops/v1/units"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("shoplab up exited: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("shoplab up not ready within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAcceptedOrdersSurviveKill9 places orders on `shoplab up --data-dir`,
// kills the whole process with SIGKILL right after the last 201, starts it
// again on the same dir and requires every accepted order to be there,
// PAID, with exactly one email: WAL with synchronous=NORMAL loses nothing
// on a process crash (a power loss could lose the last commits; see
// docs/performance.md).
func TestAcceptedOrdersSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts shoplab up twice as a separate process")
	}
	dir := t.TempDir()
	gateway, ops := freeAddr(t), freeAddr(t)
	key := "crash-test-key-0123456789abcdef0123456789"
	p := startUp(t, dir, gateway, ops, key)
	ctx := context.Background()
	api := shopclient.New("http://"+gateway, &http.Client{Timeout: 5 * time.Second})
	if _, err := api.Register(ctx, "kill9@example.com", "correct horse battery", "Kill"); err != nil {
		t.Fatal(err)
	}
	sess, err := api.Login(ctx, "kill9@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	var accepted []string
	for i := range 40 {
		req := shopclient.OrderRequest{Items: []shopclient.OrderLine{{ProductID: fmt.Sprintf("p-%04d", 20+i), Quantity: 1}}, Payment: shopclient.Payment{Token: "tok_visa"}}
		res, err := api.CreateOrder(ctx, sess.Token, fmt.Sprintf("kill9-%d", i), req)
		if err != nil || res.Status != http.StatusCreated {
			t.Fatalf("order %d: %d %v", i, res.Status, err)
		}
		accepted = append(accepted, res.Order.ID)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done

	startUp(t, dir, gateway, ops, key)
	for _, id := range accepted {
		o, err := api.GetOrder(ctx, sess.Token, id)
		if err != nil || o.Status != "PAID" {
			t.Errorf("order %s after kill -9: %+v %v", id, o, err)
		}
	}
	// The outbox survives too: every accepted order gets its one email. An
	// email whose dedup claim was taken just before the kill is sent once
	// that claim's lease (30 s, app.DefaultClaimLease) runs out, so the
	// wait covers a lease and then some.
	deadline := time.Now().Add(app.DefaultClaimLease + 30*time.Second)
	for {
		resp, err := http.Get("http://" + ops + "/ops/v1/mailbox?limit=1000")
		if err != nil {
			t.Fatal(err)
		}
		var mb struct {
			Items []struct {
				OrderID string `json:"order_id"`
			} `json:"items"`
		}
		err = json.NewDecoder(resp.Body).Decode(&mb)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, m := range mb.Items {
			count[m.OrderID]++
		}
		missing, dup := 0, 0
		for _, id := range accepted {
			switch count[id] {
			case 0:
				missing++
			case 1:
			default:
				dup++
			}
		}
		if dup > 0 {
			t.Fatalf("%d orders emailed more than once", dup)
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted orders have no email %s after the restart (data dir %s)", missing, len(accepted), app.DefaultClaimLease+30*time.Second, filepath.Clean(dir))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
