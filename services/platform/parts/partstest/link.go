package partstest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
)

// ErrLinkCut is what a dial over a cut Link returns.
var ErrLinkCut = errors.New("partstest: link to the part is cut")

// Link is a unit's network path to a real part that a test can cut, as a
// partition would: Cut closes every connection made through it and fails
// new dials until Restore. Hand DialContext to a unit's PGDial, or
// HTTPClient to its AWS client, and the unit's store goes down for real
// while the part itself keeps running for other tests.
type Link struct {
	mu    sync.Mutex
	cut   bool
	conns map[*linkConn]struct{}
	d     net.Dialer
}

// DialContext dials addr unless the link is cut.
func (l *Link) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	l.mu.Lock()
	cut := l.cut
	l.mu.Unlock()
	if cut {
		return nil, ErrLinkCut
	}
	c, err := l.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	lc := &linkConn{Conn: c, l: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut { // cut while dialling
		_ = c.Close()
		return nil, ErrLinkCut
	}
	if l.conns == nil {
		l.conns = map[*linkConn]struct{}{}
	}
	l.conns[lc] = struct{}{}
	return lc, nil
}

// HTTPClient is an HTTP client whose connections go over the link.
func (l *Link) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: l.DialContext}}
}

// Cut closes the link's connections and refuses new ones.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = true
	for c := range l.conns {
		_ = c.Conn.Close()
	}
	clear(l.conns)
}

// Restore lets dials through again.
func (l *Link) Restore() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = false
}

type linkConn struct {
	net.Conn
	l *Link
}

func (c *linkConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
