package query

import (
	"fmt"
	"strings"
	"time"
)

// Kind is the type of a queryable field.
type Kind int

// The field kinds. See the package documentation for how each is stored.
const (
	String Kind = iota + 1
	Int
	Date
	Bool
)

// String returns the kind's name as used in error messages.
func (k Kind) String() string {
	switch k {
	case String:
		return "text"
	case Int:
		return "number"
	case Date:
		return "date"
	case Bool:
		return "boolean"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Field maps an API field name to an SQL expression.
type Field struct {
	// Name is the canonical API name, e.g. "IssuedCN". Queries and
	// SortField match it case-insensitively.
	Name string
	// Column is a trusted SQL expression, e.g. "c.issued_cn".
	Column string
	// Kind is the field's type; it decides which operators and values are
	// allowed.
	Kind Kind
	// CaseInsensitive makes -eq, -ne, the ordering operators and sorting
	// ignore case (thumbprints, CNs). Only meaningful for String fields.
	CaseInsensitive bool
	// Key marks the field that is unique and never NULL (normally the row
	// id). OrderBy appends it as the last sort key so that pages are stable.
	// At most one field of a schema may be the key.
	Key bool
}

// Schema is the set of fields one list endpoint can filter and sort on. It is
// immutable after NewSchema and safe for concurrent use.
type Schema struct {
	fields []Field
	byName map[string]int
	key    int // index into fields, -1 if none
}

// NewSchema builds a schema. It panics on a field without a name or column,
// with an invalid Kind, on two fields whose names differ only in case, or on
// more than one Key field: schemas are package-level declarations, so these
// are programming errors caught by any test that touches the package.
func NewSchema(fields ...Field) *Schema {
	s := &Schema{byName: make(map[string]int, len(fields)), key: -1}
	for i, f := range fields {
		if f.Name == "" || f.Column == "" {
			panic(fmt.Sprintf("query.NewSchema: field %d needs a Name and a Column", i))
		}
		if f.Kind < String || f.Kind > Bool {
			panic(fmt.Sprintf("query.NewSchema: field %q has invalid kind %d", f.Name, f.Kind))
		}
		k := strings.ToLower(f.Name)
		if _, dup := s.byName[k]; dup {
			panic(fmt.Sprintf("query.NewSchema: duplicate field %q", f.Name))
		}
		if f.Key {
			if s.key >= 0 {
				panic(fmt.Sprintf("query.NewSchema: fields %q and %q are both Key", fields[s.key].Name, f.Name))
			}
			s.key = i
		}
		s.byName[k] = i
		s.fields = append(s.fields, f)
	}
	return s
}

// Lookup finds a field by name, ignoring case.
func (s *Schema) Lookup(name string) (Field, bool) {
	i, ok := s.byName[strings.ToLower(name)]
	if !ok {
		return Field{}, false
	}
	return s.fields[i], true
}

// Fields returns a copy of the schema's fields in declaration order.
func (s *Schema) Fields() []Field {
	return append([]Field(nil), s.fields...)
}

// Dialect selects the SQL flavour to generate.
type Dialect int

// The supported SQL dialects.
const (
	// SQLite uses `?` placeholders and TEXT dates (see SQLiteTimeFormat).
	SQLite Dialect = iota + 1
	// Postgres uses `$n` placeholders and timestamptz dates.
	Postgres
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("dialect(%d)", int(d))
}

// SQLiteTimeFormat is the layout of every date column on SQLite: UTC, whole
// seconds, fixed width, so that comparing the text compares the times.
const SQLiteTimeFormat = "2006-01-02T15:04:05Z"

// FormatSQLiteTime formats t for a SQLite date column: converted to UTC and
// truncated to the second, in SQLiteTimeFormat. Years outside 0000-9999 do
// not keep the fixed width and must not be stored.
func FormatSQLiteTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(SQLiteTimeFormat)
}
