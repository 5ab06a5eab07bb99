package errs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/shoplab/shoplab/services/platform/errs"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want errs.Code
	}{
		{"nil", nil, ""},
		{"direct", errs.E(errs.NotFound, "no order %q", "o1"), errs.NotFound},
		{"wrapped", fmt.Errorf("get: %w", errs.InvalidField("email", "required")), errs.Invalid},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), errs.DeadlineExceeded},
		{"canceled", context.Canceled, errs.Unavailable},
		{"plain", errors.New("boom"), errs.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errs.CodeOf(tt.err); got != tt.want {
				t.Fatalf("CodeOf = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMessageHidesCauses(t *testing.T) {
	err := errs.Wrap(errs.Internal, errors.New("secret dsn"), "")
	if got := errs.MessageOf(err); got != "internal error" {
		t.Fatalf("MessageOf = %q", got)
	}
	if got := errs.FieldOf(fmt.Errorf("x: %w", errs.InvalidField("items[0].quantity", "must be positive"))); got != "items[0].quantity" {
		t.Fatalf("FieldOf = %q", got)
	}
}
