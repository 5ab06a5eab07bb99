package grpcx

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// MaxConnectionAge is how long a server keeps a client connection before
// asking it to reconnect (see NewServer).
const MaxConnectionAge = 5 * time.Minute

// requestIDKey is the gRPC metadata key of the request id.
const requestIDKey = "x-request-id"

// NewServer returns a gRPC server whose handlers may return errs errors:
// they reach clients as status errors with their code. extra interceptors
// (the chaos wiring installs L7 faults this way) run innermost, after
// metrics, so injected failures are counted like real ones.
func NewServer(log *slog.Logger, m *metrics.Registry, extra ...grpc.UnaryServerInterceptor) *grpc.Server {
	chain := append([]grpc.UnaryServerInterceptor{serverObserve(log, m)}, extra...)
	return grpc.NewServer(
		grpc.ChainUnaryInterceptor(chain...),
		// HTTP/2 connections are long-lived, so behind a Kubernetes
		// ClusterIP Service every client would stay on the pods that
		// existed when it connected and pods an HPA adds would get no
		// traffic. Ageing connections out makes clients reconnect, and
		// each new connection may land on a new pod.
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: MaxConnectionAge, MaxConnectionAgeGrace: 30 * time.Second}),
	)
}

func serverObserve(log *slog.Logger, m *metrics.Registry) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		id := ""
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			if v := md.Get(requestIDKey); len(v) > 0 {
				id = v[0]
			}
		}
		if id == "" {
			id = logx.NewRequestID()
		}
		ctx = logx.WithRequestID(ctx, id)
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = errs.E(errs.Internal, "internal error")
			}
			err = ToStatus(err)
			code := status.Code(err)
			m.Requests.WithLabelValues("grpc", info.FullMethod, code.String()).Inc()
			m.Duration.WithLabelValues("grpc", info.FullMethod).Observe(time.Since(start).Seconds())
			if serverFault(code) {
				m.Errors.WithLabelValues("grpc", info.FullMethod, code.String()).Inc()
				log.WarnContext(ctx, "grpc request failed", "method", info.FullMethod, "code", code.String(), "error", err)
			}
		}()
		return handler(ctx, req)
	}
}

// serverFault reports whether a code means the server failed rather than the
// client asking for something it could not have.
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Internal, codes.Unavailable, codes.DeadlineExceeded, codes.Unknown, codes.DataLoss, codes.ResourceExhausted:
		return true
	}
	return false
}
