package grpcx

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/shoplab/shoplab/services/platform/httpx"
)

// Serve serves srv on ln and the ops server until ctx ends or either
// server fails (Close on them counts), then stops both: health turns
// NOT_SERVING (h may be nil), ops stops at once, srv gracefully, cutting
// off calls still running after grace. It returns the first server error,
// if any.
func Serve(ctx context.Context, srv *grpc.Server, h *Health, ln net.Listener, ops *httpx.Server, grace time.Duration) error {
	opsCtx, stopOps := context.WithCancel(ctx)
	defer stopOps()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- ops.Run(opsCtx) }()
	var err error
	received := 0
	select {
	case <-ctx.Done():
	case err = <-errc:
		received++
	}
	h.Shutdown()
	stopOps()
	GracefulStop(srv, grace)
	for ; received < cap(errc); received++ {
		if e := <-errc; err == nil {
			err = e
		}
	}
	return err
}

// GracefulStop lets in-flight calls finish, but no longer than grace.
func GracefulStop(s *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.Stop()
		<-done
	}
}
