package query

import "fmt"

// Error reports a list query the client got wrong: a syntax error, an unknown
// field, a value of the wrong type, or a bad paging parameter. Callers map it
// to a 400 response; its message is safe to show to the client.
type Error struct {
	// Param is the request parameter at fault, as the client spelled it when
	// known ("pq.returnLimit"), else its canonical name ("QueryString").
	Param string
	// Pos is the 1-based character (not byte) position in the query string
	// where the problem was found, or 0 when no position applies.
	Pos int
	// Msg describes the problem.
	Msg string
}

// Error formats the error as `Param: Msg [at position Pos]`.
func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("%s: %s at position %d", e.Param, e.Msg, e.Pos)
	}
	return e.Param + ": " + e.Msg
}

// paramQuery is the canonical name used in errors about the query string.
const paramQuery = "QueryString"

func queryErr(pos int, format string, a ...any) *Error {
	return &Error{Param: paramQuery, Pos: pos, Msg: fmt.Sprintf(format, a...)}
}
