package chaos

import (
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// MustEngine returns an engine with its toxiproxy API on a free port,
// closed when the test ends.
func MustEngine(tb testing.TB, opts ...Option) *Engine {
	tb.Helper()
	e, err := New(append([]Option{WithAPIAddr("127.0.0.1:0")}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

// MustEdge wires the edge from->to to upstream and returns its address.
func MustEdge(tb testing.TB, e *Engine, from, to, upstream string) string {
	tb.Helper()
	addr, err := e.Edge(from, to, upstream)
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

// MustApply applies f and returns its id.
func MustApply(tb testing.TB, e *Engine, f Fault) string {
	tb.Helper()
	id, err := e.Apply(context.Background(), f)
	if err != nil {
		tb.Fatalf("apply %+v: %v", f, err)
	}
	return id
}

// MustRemove removes the fault id.
func MustRemove(tb testing.TB, e *Engine, id string) {
	tb.Helper()
	if err := e.Remove(context.Background(), id); err != nil {
		tb.Fatalf("remove %s: %v", id, err)
	}
}

// MustServe runs a TCP server on loopback that hands each connection to
// handle, and returns its address.
func MustServe(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	return ln.Addr().String()
}

// MustEcho runs a TCP echo server.
func MustEcho(tb testing.TB) string {
	return MustServe(tb, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// echoRoundTrip sends msg on a new connection to addr and reads it back.
func echoRoundTrip(addr string, msg []byte, deadline time.Duration) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		return 0, err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return time.Since(start), err
	}
	if string(got) != string(msg) {
		return 0, errors.New("echo corrupted the message")
	}
	return time.Since(start), nil
}

// mustRoundTrip is echoRoundTrip that must succeed.
func mustRoundTrip(tb testing.TB, addr string) time.Duration {
	tb.Helper()
	d, err := echoRoundTrip(addr, []byte("ping"), 5*time.Second)
	if err != nil {
		tb.Fatalf("round trip through %s: %v", addr, err)
	}
	return d
}

// healthServer is a gRPC server offering the health service, counting the
// calls its handlers actually received.
type healthServer struct {
	addr    string
	handled atomic.Int64
}

// MustHealthServer starts a gRPC health server with extra interceptors,
// and counts the calls that get past them.
func MustHealthServer(tb testing.TB, extra ...grpc.UnaryServerInterceptor) *healthServer {
	tb.Helper()
	hs := &healthServer{}
	chain := append(append([]grpc.UnaryServerInterceptor(nil), extra...), func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		hs.handled.Add(1) // innermost: the handler itself runs now
		return handler(ctx, req)
	})
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(chain...))
	healthpb.RegisterHealthServer(s, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	tb.Cleanup(s.Stop)
	hs.addr = ln.Addr().String()
	return hs
}

// MustHealthClient dials addr with the given client interceptors.
func MustHealthClient(tb testing.TB, addr string, ics ...grpc.UnaryClientInterceptor) healthpb.HealthClient {
	tb.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithChainUnaryInterceptor(ics...))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	return healthpb.NewHealthClient(cc)
}

// fakeClock is a Clock that moves only when told to; due timers run in
// the goroutine that calls Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock on by d and runs the timers that came due, in
// order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.stopped {
			continue
		}
		if !t.at.After(c.now) {
			t.stopped = true
			due = append(due, t)
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].at.Before(due[j].at) })
	for _, t := range due {
		t.f()
	}
}

// pending counts the timers not yet run or stopped.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// fakeProcesses records kills and starts; onStart runs inside Start, as
// the env re-wires a starting unit's edges there.
type fakeProcesses struct {
	mu      sync.Mutex
	events  []string
	running map[string]bool
	onStart func(name string) error
	killErr error
}

func newFakeProcesses() *fakeProcesses {
	p := &fakeProcesses{running: map[string]bool{}}
	for _, u := range Units {
		p.running[u] = true
	}
	return p
}

func (p *fakeProcesses) Kill(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killErr != nil {
		return p.killErr
	}
	p.events = append(p.events, "kill "+name)
	p.running[name] = false
	return nil
}

func (p *fakeProcesses) Start(ctx context.Context, name string) error {
	if p.onStart != nil {
		if err := p.onStart(name); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, "start "+name)
	p.running[name] = true
	return nil
}

func (p *fakeProcesses) Events() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

func (p *fakeProcesses) Running(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running[name]
}
