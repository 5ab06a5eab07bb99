package grpcx_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/shoplab/shoplab/services/platform/grpcx"
)

// switchable forwards TCP to upstream and can be switched off (listener
// and open connections closed, as a disabled toxiproxy proxy) and on
// again at the same address.
type switchable struct {
	t        *testing.T
	addr     string
	upstream string
	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newSwitchable(t *testing.T, upstream string) *switchable {
	s := &switchable{t: t, upstream: upstream}
	s.on("127.0.0.1:0")
	t.Cleanup(s.off)
	return s
}

func (s *switchable) on(addr string) {
	s.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr().String()
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", s.upstream)
			if err != nil {
				c.Close()
				continue
			}
			s.mu.Lock()
			s.conns = append(s.conns, c, up)
			s.mu.Unlock()
			s.wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
			s.wg.Go(func() { _, _ = io.Copy(c, up); c.Close() })
		}
	})
}

func (s *switchable) off() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	s.wg.Wait()
}

// A connection that failed while its dependency was away must serve the
// first call after the dependency is back, not fail it until the reconnect
// backoff fires (issue 10, defect 9: ~2 s of failed orders after a toggle).
func TestCallsRecoverAtOnceWhenTheDependencyIsBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	fwd := newSwitchable(t, ln.Addr().String())

	cc, err := grpcx.Dial(fwd.addr, grpcx.ClientOptions{Target: "health"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	client := healthpb.NewHealthClient(cc)
	check := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return time.Since(start), err
	}
	base, err := check()
	if err != nil {
		t.Fatal(err)
	}

	addr := fwd.addr
	for _, away := range []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond} {
		fwd.off()
		// While it is away the call fails, and fails fast.
		if d, err := check(); err == nil || d > time.Second {
			t.Fatalf("call while the dependency is away: %v after %s, want a quick failure", err, d)
		}
		// The backoff grows while the outage lasts.
		time.Sleep(away)
		fwd.on(addr)
		d, err := check()
		if err != nil {
			t.Fatalf("away %s: the first call after the dependency came back failed after %s: %v", away, d, err)
		}
		t.Logf("away %s: the first call after the dependency came back took %s (on a healthy connection: %s)", away, d, base)
	}

	// A proxy that is up in front of a server that is gone accepts and
	// closes: the calls still fail fast, they do not wait for a READY that
	// cannot come.
	srv.Stop()
	for i := range 5 {
		d, err := check()
		if err == nil {
			t.Fatal("a call succeeded with the server stopped")
		}
		if i > 0 && d > 150*time.Millisecond {
			t.Fatalf("call %d with the server gone behind the proxy failed only after %s", i, d)
		}
	}
}
