// Package errs is certdock's one error vocabulary. Domain code returns
// *Error values (or wraps them with %w); only the transport packages
// (httpapi, agentapi) turn a Kind into an HTTP status and the Keyfactor
// error body {"ErrorCode":"0x...","Message":"..."}.
//
// The package imports nothing of net/http on purpose: a Kind says what went
// wrong, not how a transport reports it.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the transport.
type Kind int

const (
	// Internal is an unexpected failure; its detail is logged, never shown.
	Internal Kind = iota
	// Invalid is a request that breaks a rule (bad field, policy refusal).
	Invalid
	// NotFound is a named thing that does not exist.
	NotFound
	// Unauthenticated is a missing or wrong credential.
	Unauthenticated
	// Forbidden is a known identity lacking a permission.
	Forbidden
	// Conflict is a request that clashes with the current state (a name in use).
	Conflict
	// Unavailable is a dependency that cannot be reached right now.
	Unavailable
)

// Keyfactor error codes. CodeNoPermission, CodeNoPrivateKey and
// CodeKeyTypePolicy are seen from real Keyfactor Command servers; the rest are
// certdock's own, kept in the same 0xA0 range and listed in docs/errors.md.
const (
	CodeNoPermission     = "0xA0140002" // identity lacks the permission
	CodeNoPrivateKey     = "0xA0110002" // no retained private key (Recover)
	CodeKeyTypePolicy    = "0xA0110004" // key type or size refused by policy
	CodeValidation       = "0xA0010001" // a request field breaks a rule
	CodeNotFound         = "0xA0010002" // a named object does not exist
	CodeConflict         = "0xA0010003" // the object is in a state that forbids the call
	CodeUnauthenticated  = "0xA0140001" // missing or bad credentials
	CodeEnrollmentPolicy = "0xA0110005" // enrollment refused by pattern or template policy
	CodeCARejected       = "0xA0110006" // the CA refused to issue
	CodeInternal         = "0xA0000001" // unexpected server error
	CodeUnavailable      = "0xA0000002" // a dependency cannot be reached
)

// Error is a classified error with a Keyfactor error code and a message that
// names the field and the rule it breaks.
type Error struct {
	Kind    Kind
	Code    string
	Field   string // request field the error is about, if any
	Message string
	Err     error // wrapped cause, never shown to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of the given kind and code.
func E(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field builds a validation error about one request field. The message is
// prefixed with the field name so clients always see which field was wrong.
func Field(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: CodeValidation, Field: field,
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

// Policy builds an enrollment policy refusal about one field; level names
// which policy level refused (system-wide policy, enrollment pattern, template).
func Policy(code, field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Field: field,
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

// NotFoundf builds a not-found error.
func NotFoundf(format string, args ...any) *Error {
	return E(NotFound, CodeNotFound, format, args...)
}

// Forbiddenf builds a permission error.
func Forbiddenf(format string, args ...any) *Error {
	return E(Forbidden, CodeNoPermission, format, args...)
}

// Conflictf builds a conflict error.
func Conflictf(format string, args ...any) *Error {
	return E(Conflict, CodeConflict, format, args...)
}

// Wrap marks an unexpected error as internal, keeping the cause for logs.
func Wrap(err error, msg string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: Internal, Code: CodeInternal, Message: msg, Err: err}
}

// As returns the *Error inside err, or an Internal error wrapping it.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Code: CodeInternal, Message: "internal server error", Err: err}
}

// Is reports whether err is an *Error of the given kind.
func Is(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
