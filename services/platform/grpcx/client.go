package grpcx

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/logx"
	"github.com/shoplab/shoplab/services/platform/metrics"
)

// DefaultCallTimeout bounds an outgoing call whose context has no deadline.
const DefaultCallTimeout = 3 * time.Second

// ClientOptions configures Dial.
type ClientOptions struct {
	Target      string        // the unit called, for metrics ("payment")
	CallTimeout time.Duration // per call when the context has none; DefaultCallTimeout if zero
	Metrics     *metrics.Registry
	Extra       []grpc.UnaryClientInterceptor // installed by wiring, e.g. chaos L7 faults
}

// Dial returns a client connection to addr. Every call gets a deadline, the
// caller's request id, metrics, and errors converted back to errs codes.
// Reconnect backoff is capped at 2 s: gRPC's default grows to 120 s, which
// would keep a unit down long after its dependency came back. Even 2 s is
// too long to wait once the dependency is back, so a call that finds the
// connection failed asks for a reconnect at once (see waker).
func Dial(addr string, o ClientOptions) (*grpc.ClientConn, error) {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	w := newWaker(reconnectWait)
	chain := []grpc.UnaryClientInterceptor{clientObserve(o), w.intercept}
	chain = append(chain, o.Extra...)
	return grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithContextDialer(w.dial),
		grpc.WithChainUnaryInterceptor(chain...),
	)
}

func clientObserve(o ClientOptions) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.CallTimeout)
			defer cancel()
		}
		if id := logx.RequestID(ctx); id != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, requestIDKey, id)
		}
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		if o.Metrics != nil {
			o.Metrics.Client.WithLabelValues(o.Target, method, status.Code(err).String()).Observe(time.Since(start).Seconds())
		}
		return FromStatus(err)
	}
}
