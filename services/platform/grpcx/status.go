// Package grpcx builds shoplab's gRPC servers and clients: RED metrics,
// request ids, panics turned into errors, errs codes carried over the wire,
// deadlines on every outgoing call and fast reconnects; and the standard
// grpc.health.v1 service (Health, NOT_SERVING while a unit's own store is
// down or the unit is stopping) and server reflection every unit offers.
package grpcx

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/errs"
)

const errorDomain = "shoplab"

var toGRPC = map[errs.Code]codes.Code{
	errs.Invalid:               codes.InvalidArgument,
	errs.Unauthenticated:       codes.Unauthenticated,
	errs.PaymentDeclined:       codes.FailedPrecondition,
	errs.PermissionDenied:      codes.PermissionDenied,
	errs.NotFound:              codes.NotFound,
	errs.Conflict:              codes.AlreadyExists,
	errs.OutOfStock:            codes.FailedPrecondition,
	errs.FailedPrecondition:    codes.FailedPrecondition,
	errs.IdempotencyMismatch:   codes.FailedPrecondition,
	errs.TooLarge:              codes.InvalidArgument,
	errs.Unavailable:           codes.Unavailable,
	errs.PaymentUnavailable:    codes.Unavailable,
	errs.DependencyUnavailable: codes.Unavailable,
	errs.DeadlineExceeded:      codes.DeadlineExceeded,
	errs.Internal:              codes.Internal,
}

var fromGRPC = map[codes.Code]errs.Code{
	codes.InvalidArgument:    errs.Invalid,
	codes.Unauthenticated:    errs.Unauthenticated,
	codes.PermissionDenied:   errs.PermissionDenied,
	codes.NotFound:           errs.NotFound,
	codes.AlreadyExists:      errs.Conflict,
	codes.FailedPrecondition: errs.FailedPrecondition,
	codes.Unavailable:        errs.Unavailable,
	codes.DeadlineExceeded:   errs.DeadlineExceeded,
	codes.Canceled:           errs.Unavailable,
	codes.ResourceExhausted:  errs.Unavailable,
	codes.Aborted:            errs.Unavailable,
}

// ToStatus turns an error into a gRPC status error carrying its errs code and
// field in an ErrorInfo detail. Status errors pass through unchanged.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		var e *errs.Error
		if !errors.As(err, &e) {
			return err
		}
	}
	code := errs.CodeOf(err)
	gc, ok := toGRPC[code]
	if !ok {
		gc = codes.Internal
	}
	st := status.New(gc, errs.MessageOf(err))
	info := &errdetails.ErrorInfo{Reason: string(code), Domain: errorDomain}
	if f := errs.FieldOf(err); f != "" {
		info.Metadata = map[string]string{"field": f}
	}
	if withInfo, derr := st.WithDetails(info); derr == nil {
		st = withInfo
	}
	return st.Err()
}

// FromStatus turns a gRPC status error back into an *errs.Error, keeping the
// original errs code when the server sent one. Other errors pass through.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.DeadlineExceeded, err, "a dependency did not answer in time")
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	// The message is kept only when a shoplab server wrote it: a status that
	// grpc-go made itself ("grpc: error while marshaling: ...") is internal
	// text that must never reach a client, so it stays in the cause only.
	out := &errs.Error{Code: errs.Internal, Err: err}
	if c, ok := fromGRPC[st.Code()]; ok {
		out.Code = c
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == errorDomain {
			out.Code = errs.Code(info.Reason)
			out.Field = info.Metadata["field"]
			out.Message = st.Message()
		}
	}
	return out
}
