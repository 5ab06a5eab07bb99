package grpcx

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// LivenessService is the grpc.health.v1 service name a liveness probe asks
// for: SERVING whenever the gRPC server answers, whatever its stores do, so
// that Kubernetes restarts a wedged process but not every pod of a unit
// whose database is down (a restart cannot fix the database).
const LivenessService = "liveness"

// HealthCheckTimeout bounds one evaluation of a unit's readiness for
// grpc.health.v1; a probe that sets a shorter deadline gets it.
const HealthCheckTimeout = 2 * time.Second

// healthWatchInterval is how often a Watch stream re-evaluates readiness.
const healthWatchInterval = time.Second

// Health serves the standard grpc.health.v1 Health service, the one
// Kubernetes gRPC probes, grpc_health_probe and grpcurl speak.
//
// The status of the overall service "" and of every service registered on
// the server is the unit's readiness, evaluated at each Check (a probe sees
// the present, not a cached poll) and once a second for a Watch: SERVING
// when ready returns nil, NOT_SERVING otherwise. Units pass their own
// Ready, which checks the stores the unit owns and nothing else: a unit
// whose database is down cannot answer any call, while one whose
// downstream unit is down still answers (order keeps PENDING orders and
// settles them later), and reporting that as NOT_SERVING would make
// Kubernetes pull every caller of a failed unit out of service in a
// cascade. LivenessService ignores readiness. From Shutdown on, every name
// is NOT_SERVING. Other names are NOT_FOUND (SERVICE_UNKNOWN for Watch).
type Health struct {
	healthpb.UnimplementedHealthServer
	srv      *grpc.Server
	ready    func(context.Context) error
	stopOnce sync.Once
	stopped  chan struct{} // closed by Shutdown
}

// RegisterHealth serves grpc.health.v1 on s with ready as the readiness
// (nil means always ready) and returns it, so the unit can call Shutdown
// when it starts to stop.
func RegisterHealth(s *grpc.Server, ready func(context.Context) error) *Health {
	h := &Health{srv: s, ready: ready, stopped: make(chan struct{})}
	healthpb.RegisterHealthServer(s, h)
	return h
}

// RegisterReflection serves the gRPC server reflection service (v1 and
// v1alpha), so grpcurl and similar tools can list, describe and call the
// unit's services without the .proto files. It is off unless the unit's
// config asks for it: reflection hands any caller the full API surface.
func RegisterReflection(s *grpc.Server) {
	reflection.Register(s)
}

// Shutdown turns every status to NOT_SERVING for good and ends Watch
// streams, so that watchers learn of the stop and the graceful stop that
// follows does not wait on them. Safe to call more than once.
func (h *Health) Shutdown() {
	if h == nil {
		return
	}
	h.stopOnce.Do(func() { close(h.stopped) })
}

func (h *Health) shuttingDown() bool {
	select {
	case <-h.stopped:
		return true
	default:
		return false
	}
}

func (h *Health) known(service string) bool {
	if service == "" || service == LivenessService {
		return true
	}
	_, ok := h.srv.GetServiceInfo()[service]
	return ok
}

func (h *Health) status(ctx context.Context, service string) healthpb.HealthCheckResponse_ServingStatus {
	if h.shuttingDown() {
		return healthpb.HealthCheckResponse_NOT_SERVING
	}
	if service == LivenessService || h.ready == nil {
		return healthpb.HealthCheckResponse_SERVING
	}
	ctx, cancel := context.WithTimeout(ctx, HealthCheckTimeout)
	defer cancel()
	if h.ready(ctx) != nil {
		return healthpb.HealthCheckResponse_NOT_SERVING
	}
	return healthpb.HealthCheckResponse_SERVING
}

// Check answers the status of one service.
func (h *Health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if !h.known(req.GetService()) {
		return nil, status.Errorf(codes.NotFound, "unknown service %q", req.GetService())
	}
	return &healthpb.HealthCheckResponse{Status: h.status(ctx, req.GetService())}, nil
}

// List answers the status of every service the server offers.
func (h *Health) List(ctx context.Context, _ *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	st := h.status(ctx, "")
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{
		"":              {Status: st},
		LivenessService: {Status: h.status(ctx, LivenessService)},
	}}
	for name := range h.srv.GetServiceInfo() {
		out.Statuses[name] = &healthpb.HealthCheckResponse{Status: st}
	}
	return out, nil
}

// Watch sends the status now and then each time it changes, until the
// client goes away or Shutdown, which sends NOT_SERVING and ends the
// stream with Unavailable. An unknown service is SERVICE_UNKNOWN, as the
// protocol says, rather than an error, because it may be registered later.
func (h *Health) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	ctx := stream.Context()
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	t := time.NewTicker(healthWatchInterval)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		if h.known(req.GetService()) {
			st = h.status(ctx, req.GetService())
		}
		if h.shuttingDown() {
			st = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		if h.shuttingDown() {
			return status.Error(codes.Unavailable, "the server is shutting down")
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-h.stopped:
		case <-t.C:
		}
	}
}
