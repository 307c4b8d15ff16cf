package query

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// dump prints the tree fully bracketed, so tests see its shape and not just
// its String() form.
func dump(e Expr) string {
	switch x := e.(type) {
	case *Comparison:
		v := x.Value.String()
		if x.Value.Kind == NumberValue {
			v = "#" + v // distinguish 5 from "5"
		}
		return fmt.Sprintf("[%s %v %s]", x.Field, x.Op, v)
	case *And:
		parts := make([]string, len(x.Terms))
		for i, t := range x.Terms {
			parts[i] = dump(t)
		}
		return "(and " + strings.Join(parts, " ") + ")"
	case *Or:
		parts := make([]string, len(x.Terms))
		for i, t := range x.Terms {
			parts[i] = dump(t)
		}
		return "(or " + strings.Join(parts, " ") + ")"
	}
	return fmt.Sprintf("<%T>", e)
}

func TestParse_Accepts(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// What the clients send.
		{"thumbprint", `Thumbprint -eq "ABC"`, `[Thumbprint -eq "ABC"]`},
		{"cn", `IssuedCN -eq "www.example.com"`, `[IssuedCN -eq "www.example.com"]`},
		{"bare number", `CertRequestId -eq 5`, `[CertRequestId -eq #5]`},
		{"quoted number stays a string", `ContainerId -eq "5"`, `[ContainerId -eq "5"]`},
		{"lower-case field", `name -eq "x"`, `[name -eq "x"]`},
		{"go-client missing space before AND", `(A -eq "x")AND B -eq "y"`, `(and [A -eq "x"] [B -eq "y"])`},
		{"go-client missing space with OR group", `(A -eq "x")AND (B -eq "1" OR B -eq "2")`, `(and [A -eq "x"] (or [B -eq "1"] [B -eq "2"]))`},
		{"missing space after string", `A -eq "x"AND B -eq "y"`, `(and [A -eq "x"] [B -eq "y"])`},
		{"missing space after number", `A -eq 5OR B -eq 6`, `(or [A -eq #5] [B -eq #6])`},
		{"no spaces at all around groups", `(A -eq "x")OR(B -eq "y")`, `(or [A -eq "x"] [B -eq "y"])`},
		{"no space around operator", `Name-eq"x"`, `[Name -eq "x"]`},
		{"contains and date", `IssuedCN -contains "web" AND NotAfter -lt "2027-01-01"`, `(and [IssuedCN -contains "web"] [NotAfter -lt "2027-01-01"])`},

		// Every operator, in any case.
		{"eq", `F -eq 1`, `[F -eq #1]`},
		{"ne", `F -ne 1`, `[F -ne #1]`},
		{"contains", `F -contains "a"`, `[F -contains "a"]`},
		{"notcontains", `F -notcontains "a"`, `[F -notcontains "a"]`},
		{"startswith", `F -startswith "a"`, `[F -startswith "a"]`},
		{"endswith", `F -endswith "a"`, `[F -endswith "a"]`},
		{"gt", `F -gt 1`, `[F -gt #1]`},
		{"ge", `F -ge 1`, `[F -ge #1]`},
		{"lt", `F -lt 1`, `[F -lt #1]`},
		{"le", `F -le 1`, `[F -le #1]`},
		{"operator upper case", `F -EQ 1`, `[F -eq #1]`},
		{"operator mixed case", `F -StartsWith "a"`, `[F -startswith "a"]`},

		// NULL tests.
		{"eq NULL", `RevocationEffDate -eq NULL`, `[RevocationEffDate -eq NULL]`},
		{"ne NULL", `OwnerRoleName -ne NULL`, `[OwnerRoleName -ne NULL]`},
		{"null lower case", `F -eq null`, `[F -eq NULL]`},
		{"isnull is eq NULL", `F -isnull`, `[F -eq NULL]`},
		{"notnull is ne NULL", `F -NotNull AND G -eq 1`, `(and [F -ne NULL] [G -eq #1])`},

		// Literals.
		{"true", `F -eq true`, `[F -eq true]`},
		{"FALSE", `F -eq FALSE`, `[F -eq false]`},
		{"negative number", `F -gt -5`, `[F -gt #-5]`},
		{"max int64", `F -eq 9223372036854775807`, `[F -eq #9223372036854775807]`},
		{"min int64", `F -eq -9223372036854775808`, `[F -eq #-9223372036854775808]`},
		{"escaped double quote", `F -eq "say \"hi\""`, `[F -eq "say \"hi\""]`},
		{"escaped backslash", `F -eq "a\\b"`, `[F -eq "a\\b"]`},
		{"lone backslash kept", `F -eq "DOMAIN\user"`, `[F -eq "DOMAIN\\user"]`},
		{"single quotes", `F -eq 'x'`, `[F -eq "x"]`},
		{"single quotes with escaped quote", `F -eq 'it\'s'`, `[F -eq "it's"]`},
		{"double quote inside single quotes", `F -eq 'a"b'`, `[F -eq "a\"b"]`},
		{"single quote inside double quotes", `F -eq "it's"`, `[F -eq "it's"]`},
		{"empty string", `F -eq ""`, `[F -eq ""]`},
		{"unicode", `Größe -eq "Grüße"`, `[Größe -eq "Grüße"]`},
		{"field starting with a non-ASCII letter", `İd -eq 1`, `[İd -eq #1]`},
		{"non-ASCII space", "F\u00a0-eq\u20031", `[F -eq #1]`},
		{"keywords inside strings are text", `F -eq "x AND y"`, `[F -eq "x AND y"]`},
		{"whitespace of all sorts", "\t F\n-eq\r\n 1 ", `[F -eq #1]`},

		// Precedence and grouping.
		{"AND binds tighter than OR", `a -eq 1 OR b -eq 2 AND c -eq 3`, `(or [a -eq #1] (and [b -eq #2] [c -eq #3]))`},
		{"AND tighter on the left too", `a -eq 1 AND b -eq 2 OR c -eq 3`, `(or (and [a -eq #1] [b -eq #2]) [c -eq #3])`},
		{"parentheses override", `(a -eq 1 OR b -eq 2) AND c -eq 3`, `(and (or [a -eq #1] [b -eq #2]) [c -eq #3])`},
		{"keywords any case", `a -eq 1 and b -eq 2 Or c -eq 3`, `(or (and [a -eq #1] [b -eq #2]) [c -eq #3])`},
		{"chains flatten", `a -eq 1 AND b -eq 2 AND c -eq 3`, `(and [a -eq #1] [b -eq #2] [c -eq #3])`},
		{"grouped chains flatten", `(a -eq 1 AND b -eq 2) AND (c -eq 3 AND d -eq 4)`, `(and [a -eq #1] [b -eq #2] [c -eq #3] [d -eq #4])`},
		{"or groups flatten", `(a -eq 1 OR b -eq 2) OR c -eq 3`, `(or [a -eq #1] [b -eq #2] [c -eq #3])`},
		{"redundant parentheses", `((a -eq 1))`, `[a -eq #1]`},
		{"nesting at the limit", strings.Repeat("(", MaxDepth) + "a -eq 1" + strings.Repeat(")", MaxDepth), `[a -eq #1]`},
		{"comparisons at the limit", strings.Repeat("a -eq 1 OR ", MaxComparisons-1) + "a -eq 1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if tt.want != "" {
				if got := dump(e); got != tt.want {
					t.Errorf("Parse(%q)\n got  %s\n want %s", tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestParse_Rejects(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, `QueryString: empty query`},
		{"blank", "  \t", `QueryString: empty query`},
		{"dangling AND", `Thumbprint -eq "ABC" AND`, `QueryString: unexpected end of query at position 25`},
		{"keyword as value", `Thumbprint -eq AND`, `QueryString: unexpected token "AND" at position 16`},
		{"double AND", `A -eq "x" AND AND B -eq "y"`, `QueryString: unexpected token "AND" at position 15`},
		{"leading AND", `AND A -eq 1`, `QueryString: unexpected token "AND" at position 1`},
		{"unknown operator", `A -foo "x"`, `QueryString: unknown operator "-foo" at position 3`},
		{"bare dash", `A - "x"`, `QueryString: unknown operator "-" at position 3`},
		{"unterminated string", `A -eq "x`, `QueryString: unterminated string at position 7`},
		{"escaped closing quote", `A -eq "x\"`, `QueryString: unterminated string at position 7`},
		{"missing value", `A -eq`, `QueryString: unexpected end of query at position 6`},
		{"missing operator", `A "x"`, `QueryString: unexpected token "\"x\"" at position 3`},
		{"field missing", `-eq "x"`, `QueryString: unexpected token "-eq" at position 1`},
		{"unclosed group", `(A -eq "x"`, `QueryString: unexpected end of query at position 11`},
		{"extra close", `A -eq "x")`, `QueryString: unexpected token ")" at position 10`},
		{"empty group", `()`, `QueryString: unexpected token ")" at position 2`},
		{"bare word value", `A -eq x`, `QueryString: unexpected token "x" at position 7`},
		{"unary with value", `A -isnull 1`, `QueryString: unexpected token "1" at position 11`},
		{"decimal", `A -eq 1.5`, `QueryString: unexpected character "." at position 8`},
		{"number too big", `A -eq 99999999999999999999`, `QueryString: number "99999999999999999999" is out of range at position 7`},
		{"two comparisons without AND", `A -eq 1 B -eq 2`, `QueryString: unexpected token "B" at position 9`},
		{"NOT is not in the language", `NOT A -eq 1`, `QueryString: unexpected token "A" at position 5`},
		{"position counts characters not bytes", `Größe -eq AND`, `QueryString: unexpected token "AND" at position 11`},
		{"invalid UTF-8", "A -eq \"\xff\"", `QueryString: invalid UTF-8 at position 8`},
		{"invalid UTF-8 outside string", "A\xfe -eq 1", `QueryString: invalid UTF-8 at position 2`},
		{"NUL", "A -eq \"a\x00\"", `QueryString: NUL character not allowed at position 9`},
		{"too deep", strings.Repeat("(", MaxDepth+1) + "a -eq 1" + strings.Repeat(")", MaxDepth+1), fmt.Sprintf(`QueryString: parentheses nested deeper than %d at position %d`, MaxDepth, MaxDepth+1)},
		{"too long", `A -eq "` + strings.Repeat("x", MaxLength) + `"`, fmt.Sprintf(`QueryString: query is too long (%d bytes, at most %d)`, MaxLength+8, MaxLength)},
		{"too many comparisons", strings.Repeat("a -eq 1 OR ", MaxComparisons) + "a -eq 1", fmt.Sprintf(`QueryString: too many comparisons (at most %d) at position %d`, MaxComparisons, len("a -eq 1 OR ")*MaxComparisons+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tt.in, dump(e), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) error\n got  %s\n want %s", tt.in, err, tt.want)
			}
			var qe *Error
			if !errors.As(err, &qe) || qe.Param != "QueryString" {
				t.Errorf("error %#v is not a *Error for QueryString", err)
			}
		})
	}
}

func TestExprString_Canonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`(A -eq "x")AND B -eq 'y'`, `A -eq "x" AND B -eq "y"`},
		{`a -isnull`, `a -eq NULL`},
		{`a -EQ TRUE`, `a -eq true`},
		{`(a -eq 1 OR b -eq 2) AND c -eq 3`, `(a -eq 1 OR b -eq 2) AND c -eq 3`},
		{`a -eq 1 OR (b -eq 2 AND c -eq 3)`, `a -eq 1 OR b -eq 2 AND c -eq 3`},
		{`a -eq 'q"\\'`, `a -eq "q\"\\"`},
		{`a -eq "DOMAIN\user"`, `a -eq "DOMAIN\\user"`},
		{`a -eq 007`, `a -eq 7`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
			again, err := Parse(e.String())
			if err != nil {
				t.Fatalf("re-parse %q: %v", e.String(), err)
			}
			if !reflect.DeepEqual(e, again) {
				t.Errorf("re-parse changed the tree: %s vs %s", dump(e), dump(again))
			}
		})
	}
}

func TestExprString_HandBuiltTrees(t *testing.T) {
	// Trees the parser never builds must still print as text that means
	// the same thing.
	a := &Comparison{Field: "a", Op: OpEq, Value: Value{Kind: NumberValue, Num: 1}}
	b := &Comparison{Field: "b", Op: OpEq, Value: Value{Kind: NumberValue, Num: 2}}
	c := &Comparison{Field: "c", Op: OpEq, Value: Value{Kind: NumberValue, Num: 3}}
	tests := []struct {
		e    Expr
		want string
	}{
		{&And{Terms: []Expr{a, &And{Terms: []Expr{b, c}}}}, `a -eq 1 AND (b -eq 2 AND c -eq 3)`},
		{&Or{Terms: []Expr{&Or{Terms: []Expr{a, b}}, c}}, `(a -eq 1 OR b -eq 2) OR c -eq 3`},
		{&And{Terms: []Expr{&Or{Terms: []Expr{a, b}}, c}}, `(a -eq 1 OR b -eq 2) AND c -eq 3`},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
	}
}
