// Package errs is shoplab's one error vocabulary: a typed error with a code,
// created where the fact is known and mapped to gRPC or HTTP status only in
// ports (see grpcx and httpx).
package errs

import (
	"context"
	"errors"
	"fmt"
)

// Code classifies an error for every transport.
type Code string

// The codes. Their wire names appear in the REST error body, so they are stable.
const (
	Invalid             Code = "invalid_argument"       // 400
	Unauthenticated     Code = "unauthenticated"        // 401
	PaymentDeclined     Code = "payment_declined"       // 402
	PermissionDenied    Code = "permission_denied"      // 403
	NotFound            Code = "not_found"              // 404
	Conflict            Code = "conflict"               // 409
	OutOfStock          Code = "insufficient_stock"     // 409
	FailedPrecondition  Code = "failed_precondition"    // 409
	IdempotencyMismatch Code = "idempotency_key_reused" // 422
	TooLarge            Code = "payload_too_large"      // 413
	Unavailable         Code = "unavailable"            // 503, retry the same request
	// PaymentUnavailable and DependencyUnavailable are 503s that settled an
	// order as FAILED: final for that Idempotency-Key, unlike Unavailable.
	PaymentUnavailable    Code = "payment_unavailable"    // 503
	DependencyUnavailable Code = "dependency_unavailable" // 503
	DeadlineExceeded      Code = "deadline_exceeded"      // 504
	Internal              Code = "internal"               // 500
)

// Error is an error with a code, an optional offending field and a cause.
type Error struct {
	Code    Code
	Field   string // the request field at fault, for Invalid
	Message string // safe to show to a client
	Err     error  // the cause, never shown to a client
}

func (e *Error) Error() string {
	msg := string(e.Code)
	if e.Field != "" {
		msg += " (" + e.Field + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// E returns an Error with a formatted client-safe message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// InvalidField returns an Invalid error that names the field at fault.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with code and message around cause.
func Wrap(code Code, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// CodeOf returns the code of the first Error in err's chain; context errors
// map to DeadlineExceeded/Unavailable and anything else to Internal.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return Unavailable
	}
	return Internal
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// FieldOf returns the offending field of err, if any.
func FieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// MessageOf returns the client-safe message of err; internal errors get a
// generic message so that causes never leak to clients.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	switch CodeOf(err) {
	case DeadlineExceeded:
		return "a dependency did not answer in time"
	case Unavailable:
		return "a dependency is unavailable"
	}
	return "internal error"
}
