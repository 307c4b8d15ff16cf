package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Compile translates e into an SQL boolean expression over the schema's
// columns, for use after WHERE (the keyword itself is not included). Every
// value becomes a bound argument: `?` for SQLite, `$argStart`, `$argStart+1`,
// ... for PostgreSQL (argStart < 1 counts as 1; SQLite ignores it). The
// result is parenthesised wherever it contains AND or OR, so it can be
// combined with other conditions as is. A nil e gives "" and no arguments.
//
// Unknown fields, operators that do not apply to a field's kind and values
// that do not fit it are reported as *Error, e.g.
// `QueryString: unknown field "Foo"` or
// `QueryString: field "CertRequestId" needs a number, got "abc"`.
func (s *Schema) Compile(e Expr, d Dialect, argStart int) (where string, args []any, err error) {
	if e == nil {
		return "", nil, nil
	}
	if d != SQLite && d != Postgres {
		return "", nil, fmt.Errorf("query: unknown dialect %v", d)
	}
	if argStart < 1 {
		argStart = 1
	}
	c := &compiler{s: s, d: d, next: argStart}
	if err := c.expr(e); err != nil {
		return "", nil, err
	}
	return c.b.String(), c.args, nil
}

// Where parses and compiles q in one step. An empty or blank q means no
// filter and gives "".
func (s *Schema) Where(q string, d Dialect, argStart int) (string, []any, error) {
	if strings.TrimSpace(q) == "" {
		return "", nil, nil
	}
	e, err := Parse(q)
	if err != nil {
		return "", nil, err
	}
	return s.Compile(e, d, argStart)
}

type compiler struct {
	s    *Schema
	d    Dialect
	next int
	args []any
	b    strings.Builder
}

// arg binds v and returns its placeholder. On PostgreSQL the placeholder
// carries an explicit type so the server never has to guess it (lower($1)
// would otherwise be ambiguous) and so an int4 column compared with a
// 64-bit value is not a driver error.
func (c *compiler) arg(v any, pgType string) string {
	c.args = append(c.args, v)
	if c.d == SQLite {
		return "?"
	}
	n := c.next
	c.next++
	return "$" + strconv.Itoa(n) + "::" + pgType
}

func (c *compiler) expr(e Expr) error {
	switch x := e.(type) {
	case *Comparison:
		return c.comparison(x)
	case *And:
		return c.junction(x.Terms, " AND ")
	case *Or:
		return c.junction(x.Terms, " OR ")
	case nil:
		return errors.New("query: nil expression in tree")
	}
	return fmt.Errorf("query: unknown expression type %T", e)
}

func (c *compiler) junction(terms []Expr, sep string) error {
	switch len(terms) {
	case 0:
		return errors.New("query: AND/OR without terms")
	case 1:
		return c.expr(terms[0])
	}
	c.b.WriteByte('(')
	for i, t := range terms {
		if i > 0 {
			c.b.WriteString(sep)
		}
		if err := c.expr(t); err != nil {
			return err
		}
	}
	c.b.WriteByte(')')
	return nil
}

func (c *compiler) comparison(x *Comparison) error {
	f, ok := c.s.Lookup(x.Field)
	if !ok {
		return queryErr(0, "unknown field %q", x.Field)
	}
	if x.Value.Kind == NullValue {
		switch x.Op {
		case OpEq:
			c.b.WriteString(f.Column + " IS NULL")
		case OpNe:
			c.b.WriteString(f.Column + " IS NOT NULL")
		default:
			return queryErr(0, "operator %v cannot be used with NULL (field %q)", x.Op, f.Name)
		}
		return nil
	}
	switch f.Kind {
	case String:
		return c.stringCmp(f, x.Op, x.Value)
	case Int:
		return c.intCmp(f, x.Op, x.Value)
	case Date:
		return c.dateCmp(f, x.Op, x.Value)
	case Bool:
		return c.boolCmp(f, x.Op, x.Value)
	}
	return fmt.Errorf("query: field %q has invalid kind %d", f.Name, f.Kind)
}

func notApplicable(op Op, f Field) *Error {
	return queryErr(0, "operator %v does not apply to %v field %q", op, f.Kind, f.Name)
}

// sqlOps are the SQL spellings of the operators that map one to one.
var sqlOps = map[Op]string{OpEq: " = ", OpNe: " <> ", OpGt: " > ", OpGe: " >= ", OpLt: " < ", OpLe: " <= "}

// likeEscape is the LIKE escape character. '!' rather than '\' because a
// backslash inside an SQL literal means different things under PostgreSQL's
// standard_conforming_strings settings; '!' means the same everywhere.
const likeEscape = '!'

// escapeLike makes every character of s match literally in a LIKE pattern.
func escapeLike(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '%', '_', likeEscape:
			b.WriteByte(likeEscape)
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (c *compiler) stringCmp(f Field, op Op, v Value) error {
	var s string
	switch v.Kind {
	case StringValue:
		s = v.Str
	case NumberValue:
		s = strconv.FormatInt(v.Num, 10)
	case BoolValue:
		s = strconv.FormatBool(v.Bool)
	}
	col := f.Column
	switch op {
	case OpContains, OpNotContains, OpStartsWith, OpEndsWith:
		pat := escapeLike(s)
		switch op {
		case OpContains, OpNotContains:
			pat = "%" + pat + "%"
		case OpStartsWith:
			pat += "%"
		case OpEndsWith:
			pat = "%" + pat
		}
		like := "lower(" + col + ") LIKE lower(" + c.arg(pat, "text") + ") ESCAPE '" + string(likeEscape) + "'"
		if op == OpNotContains {
			like = "(" + col + " IS NULL OR NOT " + like + ")"
		}
		c.b.WriteString(like)
		return nil
	}
	lhs, rhs := col, c.arg(s, "text")
	if f.CaseInsensitive {
		lhs, rhs = "lower("+col+")", "lower("+rhs+")"
	}
	switch op {
	case OpEq:
		c.b.WriteString(lhs + " = " + rhs)
	case OpNe:
		c.b.WriteString("(" + col + " IS NULL OR " + lhs + " <> " + rhs + ")")
	case OpGt, OpGe, OpLt, OpLe:
		if c.d == Postgres {
			// Order by code point, as SQLite's BINARY collation does,
			// whatever the database's locale.
			lhs += ` COLLATE "C"`
		}
		c.b.WriteString(lhs + sqlOps[op] + rhs)
	default:
		return notApplicable(op, f)
	}
	return nil
}

func (c *compiler) intCmp(f Field, op Op, v Value) error {
	sqlOp, ok := sqlOps[op]
	if !ok {
		return notApplicable(op, f)
	}
	var n int64
	switch v.Kind {
	case NumberValue:
		n = v.Num
	case StringValue:
		// The go-client quotes some numbers (ContainerId -eq "5").
		var err error
		if n, err = strconv.ParseInt(v.Str, 10, 64); err != nil {
			return queryErr(0, "field %q needs a number, got %v", f.Name, v)
		}
	default:
		return queryErr(0, "field %q needs a number, got %v", f.Name, v)
	}
	ph := c.arg(n, "bigint")
	if op == OpNe {
		c.b.WriteString("(" + f.Column + " IS NULL OR " + f.Column + " <> " + ph + ")")
		return nil
	}
	c.b.WriteString(f.Column + sqlOp + ph)
	return nil
}

func (c *compiler) boolCmp(f Field, op Op, v Value) error {
	if op != OpEq && op != OpNe {
		return notApplicable(op, f)
	}
	var b bool
	switch v.Kind {
	case BoolValue:
		b = v.Bool
	case NumberValue:
		if v.Num != 0 && v.Num != 1 {
			return queryErr(0, "field %q needs true or false, got %v", f.Name, v)
		}
		b = v.Num == 1
	case StringValue:
		switch strings.ToLower(v.Str) {
		case "true", "1":
			b = true
		case "false", "0":
			b = false
		default:
			return queryErr(0, "field %q needs true or false, got %v", f.Name, v)
		}
	}
	if op == OpEq {
		c.b.WriteString(f.Column + " = " + c.arg(b, "boolean"))
	} else {
		c.b.WriteString("(" + f.Column + " IS NULL OR " + f.Column + " <> " + c.arg(b, "boolean") + ")")
	}
	return nil
}

// Date layouts accepted in values. A value without a zone is UTC.
var dateTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// dateRange parses a date value into the half-open UTC interval [lo, hi) of
// whole seconds it stands for: a day for YYYY-MM-DD, else a second. hiOK is
// false when hi would fall after year 9999, i.e. the period runs to the end
// of representable time.
func dateRange(s string) (lo, hi time.Time, hiOK bool, ok bool) {
	period := time.Second
	t, err := time.Parse("2006-01-02", s)
	if err == nil {
		period = 24 * time.Hour
	} else {
		for _, layout := range dateTimeLayouts {
			if t, err = time.Parse(layout, s); err == nil {
				break
			}
		}
		if err != nil {
			return time.Time{}, time.Time{}, false, false
		}
	}
	lo = t.UTC().Truncate(time.Second)
	if lo.Year() < 1 || lo.Year() > 9999 {
		return time.Time{}, time.Time{}, false, false
	}
	hi = lo.Add(period)
	return lo, hi, hi.Year() <= 9999, true
}

func (c *compiler) dateArg(t time.Time) string {
	if c.d == SQLite {
		return c.arg(t.Format(SQLiteTimeFormat), "text")
	}
	return c.arg(t, "timestamptz")
}

func (c *compiler) dateCmp(f Field, op Op, v Value) error {
	if _, ok := sqlOps[op]; !ok {
		return notApplicable(op, f)
	}
	if v.Kind != StringValue {
		return queryErr(0, "field %q needs a date (YYYY-MM-DD or RFC 3339), got %v", f.Name, v)
	}
	lo, hi, hiOK, ok := dateRange(v.Str)
	if !ok {
		return queryErr(0, "field %q needs a date (YYYY-MM-DD or RFC 3339, years 0001-9999), got %v", f.Name, v)
	}
	col := f.Column
	switch op {
	case OpEq:
		if hiOK {
			c.b.WriteString("(" + col + " >= " + c.dateArg(lo) + " AND " + col + " < " + c.dateArg(hi) + ")")
		} else {
			c.b.WriteString(col + " >= " + c.dateArg(lo))
		}
	case OpNe:
		if hiOK {
			c.b.WriteString("(" + col + " IS NULL OR " + col + " < " + c.dateArg(lo) + " OR " + col + " >= " + c.dateArg(hi) + ")")
		} else {
			c.b.WriteString("(" + col + " IS NULL OR " + col + " < " + c.dateArg(lo) + ")")
		}
	case OpGt:
		if hiOK {
			c.b.WriteString(col + " >= " + c.dateArg(hi))
		} else {
			c.b.WriteString("1 = 0") // nothing is after the end of time
		}
	case OpGe:
		c.b.WriteString(col + " >= " + c.dateArg(lo))
	case OpLt:
		c.b.WriteString(col + " < " + c.dateArg(lo))
	case OpLe:
		if hiOK {
			c.b.WriteString(col + " < " + c.dateArg(hi))
		} else {
			c.b.WriteString(col + " IS NOT NULL")
		}
	}
	return nil
}
