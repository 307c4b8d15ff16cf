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

// lexer splits a query into tokens. i is the byte offset into s and pos the
// 1-based character position of s[i].
type lexer struct {
	s    string
	i    int
	pos  int
	toks []token
}

// lex splits s into tokens, ending with tEOF. It rejects invalid UTF-8 and
// NUL characters anywhere: PostgreSQL refuses both in text parameters, and a
// client's mistake must not turn into a database error.
func lex(s string) ([]token, error) {
	l := &lexer{s: s, pos: 1}
	for l.i < len(s) {
		r, err := l.peekRune()
		if err != nil {
			return nil, err
		}
		var tok token
		switch {
		case unicode.IsSpace(r):
			l.advance()
			continue
		case r == '(' || r == ')':
			tok = token{kind: tLParen, pos: l.pos, raw: string(r)}
			if r == ')' {
				tok.kind = tRParen
			}
			l.advance()
		case r == '"' || r == '\'':
			tok, err = l.lexString(byte(r))
		case isDigit(s[l.i]) || (r == '-' && l.i+1 < len(s) && isDigit(s[l.i+1])):
			tok, err = l.lexNumber()
		case r == '-':
			tok, err = l.lexOperator()
		case isWordStart(r):
			tok = l.lexWord()
		default:
			return nil, queryErr(l.pos, "unexpected character %q", string(r))
		}
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, tok)
	}
	return append(l.toks, token{kind: tEOF, pos: l.pos}), nil
}

// peekRune decodes the character at l.i, rejecting invalid UTF-8 and NUL.
func (l *lexer) peekRune() (rune, error) {
	r, size := utf8.DecodeRuneInString(l.s[l.i:])
	if r == utf8.RuneError && size <= 1 {
		return 0, queryErr(l.pos, "invalid UTF-8")
	}
	if r == 0 {
		return 0, queryErr(l.pos, "NUL character not allowed")
	}
	return r, nil
}

// advance moves past the character at l.i.
func (l *lexer) advance() {
	_, size := utf8.DecodeRuneInString(l.s[l.i:])
	l.i += size
	l.pos++
}

// skipWord moves past word characters.
func (l *lexer) skipWord() {
	for l.i < len(l.s) {
		r, _ := utf8.DecodeRuneInString(l.s[l.i:])
		if !isWordPart(r) {
			return
		}
		l.advance()
	}
}

// lexString reads a literal quoted with quote. A backslash escapes `"`, `'`
// and `\`; before anything else it is an ordinary character.
func (l *lexer) lexString(quote byte) (token, error) {
	start, startPos := l.i, l.pos
	l.advance()
	var b strings.Builder
	for l.i < len(l.s) {
		r, err := l.peekRune()
		if err != nil {
			return token{}, err
		}
		if r == '\\' && l.i+1 < len(l.s) {
			if next := l.s[l.i+1]; next == '"' || next == '\'' || next == '\\' {
				b.WriteByte(next)
				l.advance()
				l.advance()
				continue
			}
		}
		l.advance()
		if r == rune(quote) {
			return token{kind: tString, pos: startPos, raw: l.s[start:l.i], str: b.String()}, nil
		}
		b.WriteRune(r)
	}
	return token{}, queryErr(startPos, "unterminated string")
}

// lexNumber reads an optionally negative decimal integer.
func (l *lexer) lexNumber() (token, error) {
	start, startPos := l.i, l.pos
	l.advance() // digit or '-'
	for l.i < len(l.s) && isDigit(l.s[l.i]) {
		l.advance()
	}
	raw := l.s[start:l.i]
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return token{}, queryErr(startPos, "number %q is out of range", raw)
	}
	return token{kind: tNumber, pos: startPos, raw: raw, num: n}, nil
}

// lexOperator reads '-' and the operator name after it.
func (l *lexer) lexOperator() (token, error) {
	start, startPos := l.i, l.pos
	l.advance()
	l.skipWord()
	raw := l.s[start:l.i]
	w, ok := opWords[strings.ToLower(raw[1:])]
	if !ok {
		return token{}, queryErr(startPos, "unknown operator %q", raw)
	}
	kind := tOp
	if w.unary {
		kind = tUnary
	}
	return token{kind: kind, pos: startPos, raw: raw, op: w.op}, nil
}

// keywords are the reserved words, lower-cased.
var keywords = map[string]tokKind{"and": tAnd, "or": tOr, "true": tTrue, "false": tFalse, "null": tNull}

// lexWord reads a field name or keyword.
func (l *lexer) lexWord() token {
	start, startPos := l.i, l.pos
	l.skipWord()
	raw := l.s[start:l.i]
	kind, ok := keywords[strings.ToLower(raw)]
	if !ok {
		kind = tIdent
	}
	return token{kind: kind, pos: startPos, raw: raw, str: raw}
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
