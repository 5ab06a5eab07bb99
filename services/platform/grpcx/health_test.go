package grpcx_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/grpcx"
	"github.com/shoplab/shoplab/services/platform/httpx"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// healthServer is a gRPC server with grpc.health.v1 (and reflection when
// asked) whose readiness the test flips, run by grpcx.Serve as the units
// run theirs.
type healthServer struct {
	cc   *grpc.ClientConn
	down *atomic.Bool
	stop context.CancelFunc
	done chan error
}

func startHealthServer(t *testing.T, reflect bool) *healthServer {
	t.Helper()
	var down atomic.Bool
	m := metrics.New("health-test", false)
	srv := grpcx.NewServer(logx.Discard(), m)
	h := grpcx.RegisterHealth(srv, func(ctx context.Context) error {
		if down.Load() {
			return errors.New("store is down")
		}
		return nil
	})
	if reflect {
		grpcx.RegisterReflection(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := httpx.Listen("127.0.0.1:0", http.NewServeMux())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &healthServer{down: &down, stop: cancel, done: make(chan error, 1)}
	go func() { hs.done <- grpcx.Serve(ctx, srv, h, ln, ops, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		<-hs.done
	})
	hs.cc, err = grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hs.cc.Close() })
	return hs
}

func TestHealthFollowsReadiness(t *testing.T) {
	hs := startHealthServer(t, false)
	hc := healthpb.NewHealthClient(hs.cc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		return r.GetStatus()
	}
	for _, s := range []string{"", "grpc.health.v1.Health", grpcx.LivenessService} {
		if got := check(s); got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, want SERVING", s, got)
		}
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown service: %v, want NotFound", err)
	}

	w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	next := func() healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		r, err := w.Recv()
		if err != nil {
			t.Fatalf("Watch: %v", err)
		}
		return r.GetStatus()
	}
	if got := next(); got != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch first = %v, want SERVING", got)
	}
	hs.down.Store(true)
	for _, s := range []string{"", "grpc.health.v1.Health"} {
		if got := check(s); got != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("store down: Check(%q) = %v, want NOT_SERVING", s, got)
		}
	}
	if got := check(grpcx.LivenessService); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("store down: liveness = %v, want SERVING (a restart cannot fix a store)", got)
	}
	if got := next(); got != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("store down: Watch = %v, want NOT_SERVING", got)
	}
	l, err := hc.List(ctx, &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st := l.GetStatuses()["grpc.health.v1.Health"]; st.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("store down: List = %v", l.GetStatuses())
	}
	hs.down.Store(false)
	if got := next(); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("store back: Watch = %v, want SERVING", got)
	}
	if got := check(""); got != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("store back: Check = %v, want SERVING", got)
	}
}

// TestHealthNotServingOnShutdown: a watcher hears NOT_SERVING as soon as
// the server starts to stop, and its open stream does not hold up the
// graceful stop until the grace period cuts it.
func TestHealthNotServingOnShutdown(t *testing.T) {
	hs := startHealthServer(t, false)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(hs.cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: grpcx.LivenessService})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch first = %v %v, want SERVING", r, err)
	}
	start := time.Now()
	hs.stop()
	r, err := w.Recv()
	if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("stopping: Watch = %v %v, want NOT_SERVING", r, err)
	}
	if _, err := w.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("stopping: stream ends with %v, want Unavailable", err)
	}
	select {
	case err := <-hs.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return after the stop")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("graceful stop took %v: the Watch stream held it up", d)
	}
	hs.done <- nil // for the cleanup
}

func TestReflectionIsOptIn(t *testing.T) {
	for _, on := range []bool{true, false} {
		hs := startHealthServer(t, on)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		names, err := listServices(ctx, hs.cc)
		cancel()
		if !on {
			if status.Code(err) != codes.Unimplemented {
				t.Errorf("reflection off: %v %v, want Unimplemented", names, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(names, "grpc.health.v1.Health") || !slices.Contains(names, "grpc.reflection.v1.ServerReflection") {
			t.Errorf("reflection lists %v", names)
		}
	}
}

// listServices asks a server's reflection service (v1) for its services,
// as grpcurl list does.
func listServices(ctx context.Context, cc *grpc.ClientConn) ([]string, error) {
	stream, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	_ = stream.CloseSend()
	var out []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out, nil
}
