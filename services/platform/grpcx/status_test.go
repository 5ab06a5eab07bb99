package grpcx_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shoplab/shoplab/services/platform/errs"
	"github.com/shoplab/shoplab/services/platform/grpcx"
)

func TestStatusRoundTrip(t *testing.T) {
	tests := []struct {
		in       error
		wantGRPC codes.Code
	}{
		{errs.InvalidField("email", "required"), codes.InvalidArgument},
		{errs.E(errs.OutOfStock, "p1 has 0 left"), codes.FailedPrecondition},
		{errs.E(errs.PaymentDeclined, "card declined"), codes.FailedPrecondition},
		{errs.E(errs.NotFound, "no such order"), codes.NotFound},
		{errs.E(errs.Unavailable, "processor down"), codes.Unavailable},
		{errs.E(errs.IdempotencyMismatch, "key reused"), codes.FailedPrecondition},
	}
	for _, tt := range tests {
		st := grpcx.ToStatus(tt.in)
		if got := status.Code(st); got != tt.wantGRPC {
			t.Errorf("%v: grpc code %v, want %v", tt.in, got, tt.wantGRPC)
		}
		back := grpcx.FromStatus(st)
		if errs.CodeOf(back) != errs.CodeOf(tt.in) || errs.FieldOf(back) != errs.FieldOf(tt.in) || errs.MessageOf(back) != errs.MessageOf(tt.in) {
			t.Errorf("round trip of %v gave %v", tt.in, back)
		}
	}
}

func TestFromPlainStatus(t *testing.T) {
	err := grpcx.FromStatus(status.Error(codes.Unavailable, "connection refused"))
	if errs.CodeOf(err) != errs.Unavailable {
		t.Fatalf("code = %v", errs.CodeOf(err))
	}
}
