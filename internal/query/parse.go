package query

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Input limits. The query arrives in a URL from any authenticated client, so
// its cost is bounded before it reaches the database.
const (
	// MaxLength caps the query string in bytes. Real clients send one to a
	// handful of clauses (well under 1 KiB); 8 KiB also matches common URL
	// limits of proxies in front of the server.
	MaxLength = 8192
	// MaxDepth caps parenthesis nesting. Clients nest at most two levels;
	// the cap keeps the recursive-descent parser's stack and the generated
	// SQL's nesting small.
	MaxDepth = 32
	// MaxComparisons caps the number of comparisons. SQLite parses
	// `a OR b OR ...` into a tree as deep as it is long and refuses trees
	// deeper than 1000 (SQLITE_MAX_EXPR_DEPTH); a date comparison compiles
	// to two SQL comparisons. 256 stays well inside that and keeps the number
	// of bound arguments far below both dialects' limits.
	MaxComparisons = 256
)

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tAnd
	tOr
	tOp    // binary operator, op set
	tUnary // -isnull / -notnull, op set to OpEq / OpNe
	tIdent
	tString
	tNumber
	tTrue
	tFalse
	tNull
)

type token struct {
	kind tokKind
	pos  int    // 1-based rune position of the first character
	raw  string // source text, for error messages
	str  string // decoded string literal or identifier
	num  int64
	op   Op
}

var opWords = map[string]struct {
	op    Op
	unary bool
}{
	"eq":          {OpEq, false},
	"ne":          {OpNe, false},
	"contains":    {OpContains, false},
	"notcontains": {OpNotContains, false},
	"startswith":  {OpStartsWith, false},
	"endswith":    {OpEndsWith, false},
	"gt":          {OpGt, false},
	"ge":          {OpGe, false},
	"lt":          {OpLt, false},
	"le":          {OpLe, false},
	"isnull":      {OpEq, true},
	"notnull":     {OpNe, true},
}

func isWordStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isWordPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
func isDigit(b byte) bool     { return b >= '0' && b <= '9' }

// lex splits s into tokens, ending with tEOF. It rejects invalid UTF-8 and
// NUL bytes up front: PostgreSQL refuses both in text parameters, and a
// client mistake must not become a database error.
func lex(s string) ([]token, error) {
	var toks []token
	pos := 1 // rune position of s[i]
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return nil, queryErr(pos, "invalid UTF-8")
		}
		if r == 0 {
			return nil, queryErr(pos, "NUL character not allowed")
		}
		start, startPos := i, pos
		switch {
		case unicode.IsSpace(r):
			i += size
			pos++
			continue
		case r == '(':
			toks = append(toks, token{kind: tLParen, pos: pos, raw: "("})
			i++
			pos++
			continue
		case r == ')':
			toks = append(toks, token{kind: tRParen, pos: pos, raw: ")"})
			i++
			pos++
			continue
		case r == '"' || r == '\'':
			quote := byte(r)
			var b strings.Builder
			i++
			pos++
			closed := false
			for i < len(s) {
				c, sz := utf8.DecodeRuneInString(s[i:])
				if c == utf8.RuneError && sz <= 1 {
					return nil, queryErr(pos, "invalid UTF-8")
				}
				if c == 0 {
					return nil, queryErr(pos, "NUL character not allowed")
				}
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\'' || s[i+1] == '\\') {
					b.WriteByte(s[i+1])
					i += 2
					pos += 2
					continue
				}
				i += sz
				pos++
				if c == rune(quote) {
					closed = true
					break
				}
				b.WriteRune(c)
			}
			if !closed {
				return nil, queryErr(startPos, "unterminated string")
			}
			toks = append(toks, token{kind: tString, pos: startPos, raw: s[start:i], str: b.String()})
			continue
		case isDigit(byte(r)) || (r == '-' && i+1 < len(s) && isDigit(s[i+1])):
			i++
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			raw := s[start:i]
			pos += len(raw)
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return nil, queryErr(startPos, "number %q is out of range", raw)
			}
			toks = append(toks, token{kind: tNumber, pos: startPos, raw: raw, num: n})
			continue
		case r == '-':
			i++
			pos++
			for i < len(s) {
				c, sz := utf8.DecodeRuneInString(s[i:])
				if !isWordPart(c) {
					break
				}
				i += sz
				pos++
			}
			raw := s[start:i]
			w, ok := opWords[strings.ToLower(raw[1:])]
			if !ok {
				return nil, queryErr(startPos, "unknown operator %q", raw)
			}
			k := tOp
			if w.unary {
				k = tUnary
			}
			toks = append(toks, token{kind: k, pos: startPos, raw: raw, op: w.op})
			continue
		case isWordStart(r):
			i += size
			pos++
			for i < len(s) {
				c, sz := utf8.DecodeRuneInString(s[i:])
				if !isWordPart(c) {
					break
				}
				i += sz
				pos++
			}
			raw := s[start:i]
			t := token{kind: tIdent, pos: startPos, raw: raw, str: raw}
			switch strings.ToLower(raw) {
			case "and":
				t.kind = tAnd
			case "or":
				t.kind = tOr
			case "true":
				t.kind = tTrue
			case "false":
				t.kind = tFalse
			case "null":
				t.kind = tNull
			}
			toks = append(toks, t)
			continue
		default:
			return nil, queryErr(pos, "unexpected character %q", string(r))
		}
	}
	return append(toks, token{kind: tEOF, pos: pos}), nil
}

// Parse parses a query string into an Expr. It checks syntax only; field
// names and value types are checked by Schema.Compile. Parse rejects an
// empty query; Schema.Where treats an empty or blank query as no filter.
// Errors are *Error values naming the position of the offending token.
func Parse(s string) (Expr, error) {
	if len(s) > MaxLength {
		return nil, &Error{Param: paramQuery, Msg: "query is too long (" + strconv.Itoa(len(s)) + " bytes, at most " + strconv.Itoa(MaxLength) + ")"}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, queryErr(0, "empty query")
	}
	e, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return e, nil
}

type parser struct {
	toks        []token
	i           int
	comparisons int
}

func (p *parser) peek() token { return p.toks[p.i] }

// next consumes a token; it never moves past the final tEOF.
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) unexpected(t token) *Error {
	if t.kind == tEOF {
		return queryErr(t.pos, "unexpected end of query")
	}
	return queryErr(t.pos, "unexpected token %q", t.raw)
}

func (p *parser) parseOr(depth int) (Expr, error) {
	first, err := p.parseAnd(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tOr {
		return first, nil
	}
	or := &Or{}
	or.Terms = appendOr(or.Terms, first)
	for p.peek().kind == tOr {
		p.next()
		e, err := p.parseAnd(depth)
		if err != nil {
			return nil, err
		}
		or.Terms = appendOr(or.Terms, e)
	}
	return or, nil
}

func (p *parser) parseAnd(depth int) (Expr, error) {
	first, err := p.parsePrimary(depth)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tAnd {
		return first, nil
	}
	and := &And{}
	and.Terms = appendAnd(and.Terms, first)
	for p.peek().kind == tAnd {
		p.next()
		e, err := p.parsePrimary(depth)
		if err != nil {
			return nil, err
		}
		and.Terms = appendAnd(and.Terms, e)
	}
	return and, nil
}

// appendOr and appendAnd append e to a term list, splicing in e's own terms
// when it has the same connective, so `(A AND B) AND C` and `A AND B AND C`
// give the same tree.
func appendOr(terms []Expr, e Expr) []Expr {
	if x, ok := e.(*Or); ok {
		return append(terms, x.Terms...)
	}
	return append(terms, e)
}

func appendAnd(terms []Expr, e Expr) []Expr {
	if x, ok := e.(*And); ok {
		return append(terms, x.Terms...)
	}
	return append(terms, e)
}

func (p *parser) parsePrimary(depth int) (Expr, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if depth+1 > MaxDepth {
			return nil, queryErr(t.pos, "parentheses nested deeper than %d", MaxDepth)
		}
		e, err := p.parseOr(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.unexpected(c)
		}
		return e, nil
	case tIdent:
		p.comparisons++
		if p.comparisons > MaxComparisons {
			return nil, queryErr(t.pos, "too many comparisons (at most %d)", MaxComparisons)
		}
		opTok := p.next()
		switch opTok.kind {
		case tUnary:
			return &Comparison{Field: t.str, Op: opTok.op, Value: Value{Kind: NullValue}}, nil
		case tOp:
		default:
			return nil, p.unexpected(opTok)
		}
		vt := p.next()
		var v Value
		switch vt.kind {
		case tString:
			v = Value{Kind: StringValue, Str: vt.str}
		case tNumber:
			v = Value{Kind: NumberValue, Num: vt.num}
		case tTrue, tFalse:
			v = Value{Kind: BoolValue, Bool: vt.kind == tTrue}
		case tNull:
			v = Value{Kind: NullValue}
		default:
			return nil, p.unexpected(vt)
		}
		return &Comparison{Field: t.str, Op: opTok.op, Value: v}, nil
	default:
		return nil, p.unexpected(t)
	}
}
