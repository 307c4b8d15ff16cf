package sqlstore

import "database/sql"

// rowScanner is what the scanXxx functions read from: a *sql.Row or
// *sql.Rows. It is an alias so that those functions, declared with the
// literal interface type, fit collect's scan parameter as they are.
type rowScanner = interface{ Scan(...any) error }

// collect reads every row of rows with scan and closes rows (so the
// caller may query again on the same connection or transaction right
// after). The first scan error or rows.Err() ends it, with a nil slice.
// No rows gives a nil slice; see collectList for an empty one.
func collect[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// collectList is collect for lists that callers render as JSON arrays:
// no rows gives an empty, non-nil slice.
func collectList[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	out, err := collect(rows, scan)
	if err == nil && out == nil {
		out = []T{}
	}
	return out, err
}

// scanValue reads a one-column row, as collect's scan for a list of ids.
func scanValue[T any](sc rowScanner) (T, error) {
	var v T
	err := sc.Scan(&v)
	return v, err
}
