package query

import (
	"strconv"
	"strings"
)

// Expr is a parsed query: *Comparison, *And or *Or. String returns query
// text that parses back to an equal Expr.
type Expr interface {
	String() string
	isExpr()
}

// Op is a comparison operator.
type Op int

// The comparison operators, spelled -eq, -ne, ... in query text.
const (
	OpEq Op = iota + 1
	OpNe
	OpContains
	OpNotContains
	OpStartsWith
	OpEndsWith
	OpGt
	OpGe
	OpLt
	OpLe
)

var opNames = map[Op]string{
	OpEq:          "-eq",
	OpNe:          "-ne",
	OpContains:    "-contains",
	OpNotContains: "-notcontains",
	OpStartsWith:  "-startswith",
	OpEndsWith:    "-endswith",
	OpGt:          "-gt",
	OpGe:          "-ge",
	OpLt:          "-lt",
	OpLe:          "-le",
}

// String returns the operator as written in query text, e.g. "-eq".
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "-op(" + strconv.Itoa(int(o)) + ")"
}

// ValueKind says which literal a Value holds.
type ValueKind int

// The literal kinds.
const (
	StringValue ValueKind = iota + 1 // "text" or 'text'
	NumberValue                      // 42, -7
	BoolValue                        // true, false
	NullValue                        // NULL
)

// Value is a literal on the right of a comparison. Only the member matching
// Kind is meaningful.
type Value struct {
	Kind ValueKind
	Str  string
	Num  int64
	Bool bool
}

// String returns the literal as query text: strings double-quoted with `"`
// and `\` escaped, numbers in decimal, true/false, NULL.
func (v Value) String() string {
	switch v.Kind {
	case StringValue:
		var b strings.Builder
		b.Grow(len(v.Str) + 2)
		b.WriteByte('"')
		for i := 0; i < len(v.Str); i++ {
			c := v.Str[i]
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
		return b.String()
	case NumberValue:
		return strconv.FormatInt(v.Num, 10)
	case BoolValue:
		return strconv.FormatBool(v.Bool)
	case NullValue:
		return "NULL"
	}
	return "?"
}

// Comparison is `Field Op Value`. Field is the name as the client wrote it;
// it is resolved against a Schema only when compiling.
type Comparison struct {
	Field string
	Op    Op
	Value Value
}

// And is a conjunction of two or more terms. The parser flattens nested
// conjunctions, so a term is never itself an *And.
type And struct{ Terms []Expr }

// Or is a disjunction of two or more terms. The parser flattens nested
// disjunctions, so a term is never itself an *Or.
type Or struct{ Terms []Expr }

func (*Comparison) isExpr() {}
func (*And) isExpr()        {}
func (*Or) isExpr()         {}

// String returns `Field -op value`.
func (c *Comparison) String() string {
	return c.Field + " " + c.Op.String() + " " + c.Value.String()
}

// String joins the terms with AND, parenthesising terms that are
// disjunctions (or, in a hand-built tree, conjunctions).
func (a *And) String() string {
	return joinTerms(a.Terms, " AND ", func(e Expr) bool {
		switch e.(type) {
		case *And, *Or:
			return true
		}
		return false
	})
}

// String joins the terms with OR, parenthesising terms that are themselves
// disjunctions (only possible in a hand-built tree).
func (o *Or) String() string {
	return joinTerms(o.Terms, " OR ", func(e Expr) bool {
		_, isOr := e.(*Or)
		return isOr
	})
}

func joinTerms(terms []Expr, sep string, needParens func(Expr) bool) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		if needParens(t) {
			b.WriteByte('(')
			b.WriteString(t.String())
			b.WriteByte(')')
		} else {
			b.WriteString(t.String())
		}
	}
	return b.String()
}
