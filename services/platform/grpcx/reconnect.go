package grpcx

import (
	"context"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// reconnectWait bounds how long a call waits for a reconnect it asked for.
const reconnectWait = 250 * time.Millisecond

// waker ends the wait for a backoff timer when a call needs the
// connection.
//
// Why: a connection in TRANSIENT_FAILURE fails every call at once until
// its next reconnect attempt, which the backoff puts up to 2 s after the
// dependency came back. After `toxiproxy-cli toggle order->payment` off
// and on, orders failed for ~2 s over a connection that could have been
// made at once, and because a failed charge makes the order void its
// payment, the client was told "payment voided; retry with a new
// Idempotency-Key" (issue 10, defect 9).
//
// How: a call that finds the connection failed starts a reconnect now
// (ResetConnectBackoff) and waits for its outcome. The channel's state
// cannot tell a failed attempt (gRPC keeps it TRANSIENT_FAILURE until one
// succeeds), so the dialer reports it: a refused dial, or a connection
// closed before the server said anything (a proxy whose upstream is gone),
// ends the wait at once and the call fails fast as it did before; the
// server's first bytes (its HTTP/2 settings) mean the connection is about
// to be READY, and the call waits for that. Calls arriving meanwhile share
// the attempt. So an outage is reported as quickly as without the waker,
// at the cost of one dial per call (or per burst of concurrent calls) that
// finds the connection down, where gRPC alone would dial on its backoff.
type waker struct {
	wait   time.Duration
	dialer net.Dialer

	mu    sync.Mutex
	probe *probe // the reconnect calls wait for; nil when none
}

// probe is one reconnect attempt and its outcome.
type probe struct {
	done chan struct{}
	ok   bool // set before done is closed: the server answered
}

func newWaker(wait time.Duration) *waker { return &waker{wait: wait} }

// dial is the connection's dialer. Its outcome, and the first read on the
// connection, resolve the probe in flight.
func (w *waker) dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := w.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		w.resolve(false)
		return nil, err
	}
	return &watchedConn{Conn: c, w: w}, nil
}

// resolve ends the probe in flight, if any, with ok.
func (w *waker) resolve(ok bool) {
	w.mu.Lock()
	if p := w.probe; p != nil {
		w.probe = nil
		p.ok = ok
		close(p.done)
	}
	w.mu.Unlock()
}

// watchedConn reports whether the server answered on a new connection.
type watchedConn struct {
	net.Conn
	w    *waker
	once sync.Once
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 || err != nil {
		c.once.Do(func() { c.w.resolve(n > 0) })
	}
	return n, err
}

// join returns the reconnect in flight, or starts one.
func (w *waker) join(cc *grpc.ClientConn) (p *probe, started bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.probe != nil {
		return w.probe, false
	}
	w.probe = &probe{done: make(chan struct{})}
	cc.ResetConnectBackoff()
	return w.probe, true
}

// abandon forgets p when no dial came to resolve it in time.
func (w *waker) abandon(p *probe) {
	w.mu.Lock()
	if w.probe == p {
		w.probe = nil
	}
	w.mu.Unlock()
}

func (w *waker) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if cc.GetState() == connectivity.TransientFailure {
		w.await(ctx, cc)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// await waits, up to w.wait, for a reconnect of cc to fail or to become
// READY.
func (w *waker) await(ctx context.Context, cc *grpc.ClientConn) {
	p, started := w.join(cc)
	wctx, cancel := context.WithTimeout(ctx, w.wait)
	defer cancel()
	select {
	case <-p.done:
	case <-wctx.Done():
		if started {
			w.abandon(p)
		}
		return
	}
	if !p.ok {
		return
	}
	for st := cc.GetState(); st != connectivity.Ready && st != connectivity.Shutdown; st = cc.GetState() {
		if !cc.WaitForStateChange(wctx, st) {
			return
		}
	}
}
