package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/shoplab/shoplab/services/platform/parts/partstest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestServeRunsAUnitUntilCancelled runs `shoplab serve product` as the
// container entrypoint would, waits for /readyz and stops it with a signal's
// context cancellation.
func TestServeRunsAUnitUntilCancelled(t *testing.T) {
	grpcAddr, opsAddr := freeAddr(t), freeAddr(t)
	dataDir := t.TempDir()
	stop := serveUntilReady(t, func(k string) (string, bool) {
		if k == "SHOPLAB_DATA_DIR" {
			return dataDir, true
		}
		return "", false
	}, opsAddr, "product", "--grpc-addr", grpcAddr, "--ops-addr", opsAddr, "--log-level", "error")
	stop()
}

// serveUntilReady runs `shoplab serve` with args in the background, as a
// container entrypoint would, and returns once the unit's /readyz answers 200
// on opsAddr. The returned stop cancels the command's context (a signal's
// effect) and fails the test unless serve returns nil within 15 s.
func serveUntilReady(t *testing.T, lookup func(string) (string, bool), opsAddr string, args ...string) (stop func()) {
	t.Helper()
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, lookup: lookup}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, e, append([]string{"shoplab", "serve"}, args...))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve %v exited early: %v\n%s", args, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve %v never became ready\n%s", args, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve %v returned %v\n%s", args, err, out.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("serve %v did not stop after cancellation", args)
		}
	}
}

func TestServeRefusesBadInput(t *testing.T) {
	var out bytes.Buffer
	e := env{stdout: &out, stderr: &out, lookup: func(string) (string, bool) { return "", false }}
	for _, args := range [][]string{
		{"shoplab", "serve"},
		{"shoplab", "serve", "warehouse"},
		{"shoplab", "serve", "gateway", "--jwt-key", "short"},
		{"shoplab", "serve", "order", "--database-url", "mysql://u:p@db/orders"},
		{"shoplab", "serve", "product", "--database-url", "postgres://u@db/orders"},
		{"shoplab", "serve", "user", "--env", "no-such-env"},
	} {
		err := run(context.Background(), e, args)
		if code, ok := ExitCode(err); !ok || code != 2 {
			t.Errorf("%v: err %v, want a usage error (exit 2)", args, err)
		}
	}
}

// TestServeUserOnPostgres runs `shoplab serve user` as the compose stack
// does, with SHOPLAB_DATABASE_URL pointing at PostgreSQL, and waits for
// /readyz (the unit migrates its database first).
func TestServeUserOnPostgres(t *testing.T) {
	dsn := partstest.Postgres(t)
	grpcAddr, opsAddr := freeAddr(t), freeAddr(t)
	stop := serveUntilReady(t, func(k string) (string, bool) {
		if k == "SHOPLAB_DATABASE_URL" {
			return dsn, true
		}
		return "", false
	}, opsAddr, "user", "--grpc-addr", grpcAddr, "--ops-addr", opsAddr, "--data-dir", "", "--log-level", "error")
	stop()
}
