package chaos

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func TestEdgeProxiesTraffic(t *testing.T) {
	e := MustEngine(t)
	echo := MustEcho(t)
	addr := MustEdge(t, e, "order", "payment", echo)
	if addr == echo || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("edge address %q: want a loopback proxy in front of %s", addr, echo)
	}
	mustRoundTrip(t, addr)
	again := MustEdge(t, e, "order", "payment", echo)
	if again != addr {
		t.Fatalf("second Edge call gave %s, want the same proxy %s", again, addr)
	}
	if _, err := e.Edge("order", "payment", ""); err == nil {
		t.Fatal("an edge without upstream was accepted")
	}
	if _, err := e.Edge("Order->x", "payment", echo); err == nil {
		t.Fatal("a malformed unit name was accepted")
	}
}

func TestLatencyDelaysUntilRemoved(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	id := MustApply(t, e, Fault{Target: "order->payment", Type: Latency, Attributes: map[string]any{"latency": "150ms"}})
	if d := mustRoundTrip(t, addr); d < 150*time.Millisecond {
		t.Fatalf("round trip with 150ms latency took %s", d)
	}
	MustRemove(t, e, id)
	if d := mustRoundTrip(t, addr); d > 100*time.Millisecond {
		t.Fatalf("round trip after removal took %s, latency still in place", d)
	}
}

func TestLatencyDirections(t *testing.T) {
	tests := []struct {
		direction string
		min       time.Duration
	}{
		{"upstream", 80 * time.Millisecond},
		{"downstream", 80 * time.Millisecond},
		{"both", 160 * time.Millisecond}, // delayed on the way in and on the way out
	}
	for _, tt := range tests {
		t.Run(tt.direction, func(t *testing.T) {
			e := MustEngine(t)
			addr := MustEdge(t, e, "gateway", "user", MustEcho(t))
			MustApply(t, e, Fault{Target: "gateway->user", Type: Latency, Direction: tt.direction, Attributes: map[string]any{"latency": 80}})
			if d := mustRoundTrip(t, addr); d < tt.min {
				t.Fatalf("round trip took %s, want at least %s", d, tt.min)
			}
			af := e.Active()[0]
			if af.Fault.Direction != tt.direction || af.Fault.Toxicity != 1 {
				t.Fatalf("active fault %+v: want direction %s, toxicity 1", af.Fault, tt.direction)
			}
		})
	}
}

func TestDownRefusesConnectionsUntilRemoved(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "product", MustEcho(t))
	open, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(open, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}

	id := MustApply(t, e, Fault{Target: "order->product", Type: Down})
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while down: %v, want connection refused", err)
	}
	_ = open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("open connection while down: read gave %v, want it closed", err)
	}
	if ti := e.Targets().Edges[0]; ti.Enabled {
		t.Fatalf("targets report %s enabled while down", ti.Name)
	}

	MustRemove(t, e, id)
	mustRoundTrip(t, addr) // the same address serves again
}

func TestOverlappingDownFaultsNeedBothRemoved(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "product", MustEcho(t))
	a := MustApply(t, e, Fault{Target: "order->product", Type: Down})
	b := MustApply(t, e, Fault{Target: "order->product", Type: Down})
	MustRemove(t, e, a)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("edge came back while another down fault was still active")
	}
	MustRemove(t, e, b)
	mustRoundTrip(t, addr)
}

func TestResetPeerResetsConnections(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "user", MustEcho(t))
	MustApply(t, e, Fault{Target: "order->user", Type: ResetPeer})
	_, err := echoRoundTrip(addr, []byte("ping"), 2*time.Second)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("round trip: %v, want connection reset by peer", err)
	}
}

func TestTimeoutClosesAfterTimeout(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "user", MustEcho(t))
	MustApply(t, e, Fault{Target: "order->user", Type: Timeout, Attributes: map[string]any{"timeout": "100ms"}})
	start := time.Now()
	_, err := echoRoundTrip(addr, []byte("ping"), 3*time.Second)
	took := time.Since(start)
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("round trip: %v, want the connection closed without data", err)
	}
	if took < 90*time.Millisecond || took > 2*time.Second {
		t.Fatalf("connection closed after %s, want about 100ms", took)
	}
}

func TestTimeoutZeroStallsUntilRemoved(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "user", MustEcho(t))
	id := MustApply(t, e, Fault{Target: "order->user", Type: Timeout})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 4)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a stalled edge: %v, want no answer", err)
	}
	MustRemove(t, e, id)
	// toxiproxy closes the connections a timeout toxic held when it goes.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 4)); !errors.Is(err, io.EOF) {
		t.Fatalf("read after removal: %v, want the stalled connection closed", err)
	}
	mustRoundTrip(t, addr)
}

func TestBandwidthLimitsThroughput(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	MustApply(t, e, Fault{Target: "order->payment", Type: Bandwidth, Attributes: map[string]any{"rate": 200}})
	msg := []byte(strings.Repeat("x", 60*1024))
	// 60 KB downstream at 200 KB/s takes 300ms.
	d, err := echoRoundTrip(addr, msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d < 250*time.Millisecond {
		t.Fatalf("60 KB at 200 KB/s took %s", d)
	}
}

func TestSlowCloseDelaysTheClose(t *testing.T) {
	e := MustEngine(t)
	upstream := MustServe(t, func(c net.Conn) { _, _ = c.Write([]byte("bye")) })
	addr := MustEdge(t, e, "order", "payment", upstream)
	MustApply(t, e, Fault{Target: "order->payment", Type: SlowClose, Attributes: map[string]any{"delay": "200ms"}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "bye" {
		t.Fatalf("read %q, %v", b, err)
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Fatalf("close arrived after %s, want about 200ms", d)
	}
}

func TestSlicerCutsAndDelaysData(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	MustApply(t, e, Fault{Target: "order->payment", Type: Slicer, Attributes: map[string]any{"average_size": 10, "delay": "5ms"}})
	msg := []byte(strings.Repeat("0123456789", 30))
	d, err := echoRoundTrip(addr, msg, 5*time.Second)
	if err != nil {
		t.Fatal(err) // also fails if a slice came back out of order
	}
	// 300 bytes in 10-byte slices 5ms apart.
	if d < 100*time.Millisecond {
		t.Fatalf("sliced round trip took %s", d)
	}
}

func TestLimitDataClosesAfterBytes(t *testing.T) {
	e := MustEngine(t)
	addr := MustEdge(t, e, "order", "payment", MustEcho(t))
	MustApply(t, e, Fault{Target: "order->payment", Type: LimitData, Attributes: map[string]any{"bytes": 10}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(strings.Repeat("y", 100))); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 10 {
		t.Fatalf("read %d bytes (%v), want exactly 10 then EOF", len(b), err)
	}
}

func TestEdgeRepointKeepsAddressFaultsAndDown(t *testing.T) {
	e := MustEngine(t)
	first := MustEcho(t)
	second := MustServe(t, func(c net.Conn) {
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err == nil {
			_, _ = c.Write([]byte("two!"))
		}
	})
	addr := MustEdge(t, e, "gateway", "order", first)
	MustApply(t, e, Fault{Target: "gateway->order", Type: Latency, Attributes: map[string]any{"latency": "100ms"}})
	if got := MustEdge(t, e, "gateway", "order", second); got != addr {
		t.Fatalf("re-pointed edge moved from %s to %s", addr, got)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	_, _ = c.Write([]byte("ping"))
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "two!" {
		t.Fatalf("read %q, %v: want the new upstream's answer", b, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("latency lost on re-pointing: round trip %s", d)
	}

	down := MustApply(t, e, Fault{Target: "gateway->order", Type: Down})
	MustEdge(t, e, "gateway", "order", first)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("re-pointing a downed edge brought it back up")
	}
	MustRemove(t, e, down)
	mustRoundTrip(t, addr)
}

func TestPauseFreezesEveryEdgeOfTheUnit(t *testing.T) {
	e := MustEngine(t)
	echo := MustEcho(t)
	in := MustEdge(t, e, "gateway", "order", echo)
	out := MustEdge(t, e, "order", "payment", echo)
	kafka := MustEdge(t, e, "order", "kafka", echo)
	other := MustEdge(t, e, "gateway", "user", echo)

	id := MustApply(t, e, Fault{Target: "order", Type: Pause})
	late := MustEdge(t, e, "order", "user", echo) // wired while paused, as by a unit starting
	var wg sync.WaitGroup
	for _, addr := range []string{in, out, kafka, late} {
		wg.Go(func() {
			if _, err := echoRoundTrip(addr, []byte("ping"), 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("round trip via %s while paused: %v, want no answer", addr, err)
			}
		})
	}
	wg.Wait()
	mustRoundTrip(t, other)
	want := []string{"gateway->order", "order->kafka", "order->payment", "order->user"}
	if got := e.Active()[0].Scope; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pause scope %v, want %v", got, want)
	}

	MustRemove(t, e, id)
	for _, addr := range []string{in, out, kafka, late} {
		mustRoundTrip(t, addr)
	}
	for _, ei := range e.Targets().Edges {
		if len(ei.Toxics) != 0 {
			t.Errorf("edge %s keeps toxics %v after the pause", ei.Name, ei.Toxics)
		}
	}
}

func TestPauseNeedsAnEdge(t *testing.T) {
	e := MustEngine(t)
	MustEdge(t, e, "gateway", "user", MustEcho(t))
	_, err := e.Apply(context.Background(), Fault{Target: "payment", Type: Pause})
	if err == nil || !strings.Contains(err.Error(), "no wired edge") {
		t.Fatalf("pause of an unwired unit: %v", err)
	}
}

// grpcViaEdge dials a health server through the engine's edge with quick
// reconnects, as grpcx.Dial does.
func grpcViaEdge(t *testing.T, addr string) healthpb.HealthClient {
	t.Helper()
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 100 * time.Millisecond}, MinConnectTimeout: time.Second}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return healthpb.NewHealthClient(cc)
}

func TestNetworkFaultsOnGRPC(t *testing.T) {
	e := MustEngine(t)
	hs := MustHealthServer(t)
	client := grpcViaEdge(t, MustEdge(t, e, "order", "payment", hs.addr))
	check := func(timeout time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		return time.Since(start), err
	}
	if _, err := check(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	lat := MustApply(t, e, Fault{Target: "order->payment", Type: Latency, Attributes: map[string]any{"latency": "100ms"}})
	if d, err := check(5 * time.Second); err != nil || d < 100*time.Millisecond {
		t.Fatalf("check with 100ms latency: %s, %v", d, err)
	}
	MustRemove(t, e, lat)

	down := MustApply(t, e, Fault{Target: "order->payment", Type: Down})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
	cancel()
	if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
		t.Fatalf("check while down: %v, want unavailable", err)
	}
	MustRemove(t, e, down)
	if _, err := check(5 * time.Second); err != nil {
		t.Fatalf("check after the edge came back: %v", err)
	}
}
