package pki

import "fmt"

// InputError reports a problem with a client-supplied value. Field names the
// request field ("Subject", "SANs", "SANs.dns", "CSR", "Certificate") and
// Message says what is wrong with it; Error joins them as "Field: Message".
// Callers map it to a 400 response.
type InputError struct {
	Field   string
	Message string
}

// Error implements error.
func (e *InputError) Error() string { return e.Field + ": " + e.Message }

func inputErrorf(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Message: fmt.Sprintf(format, args...)}
}
