package query

import (
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are the hand-written queries of the other tests.
func fuzzSeeds() []string {
	seeds := []string{
		`Thumbprint -eq "ABC"`,
		`(A -eq "x")AND B -eq "y"`,
		`(A -eq "x")AND (B -eq "1" OR B -eq "2")`,
		`a -eq 1 OR b -eq 2 AND c -eq 3`,
		`F -eq 'it\'s' AND G -isnull OR H -notnull`,
		`F -eq "DOMAIN\user" AND G -eq "a\\b\"c"`,
		`((((a -eq -9223372036854775808))))`,
		"A -eq \"\xff\"",
		`Größe -eq "Grüße"`,
		`A -eq "x`,
		`()`,
	}
	for _, tc := range compileCases {
		seeds = append(seeds, tc.q)
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Param != "QueryString" {
				t.Fatalf("Parse(%q): error %#v is not a QueryString *Error", s, err)
			}
			if qe.Pos < 0 || qe.Pos > utf8.RuneCountInString(s)+1 {
				t.Fatalf("Parse(%q): position %d outside the query", s, qe.Pos)
			}
			return
		}
		printed := e.String()
		if len(printed) > MaxLength {
			return // escaping can lengthen a query that was just under the cap
		}
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("Parse(%q) printed as %q, which does not parse: %v", s, printed, err)
		}
		if !reflect.DeepEqual(e, again) {
			t.Fatalf("Parse(%q) = %s, but its String() %q parses to %s", s, dump(e), printed, dump(again))
		}
		if again.String() != printed {
			t.Fatalf("String() not stable: %q then %q", printed, again.String())
		}
	})
}

var pgPlaceholder = regexp.MustCompile(`\$(\d+)`)

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	dbs := openAll(f)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		var results [][]int64
		for _, db := range dbs {
			where, args, err := certSchema.Compile(e, db.dialect, 1)
			if err != nil {
				if !errors.As(err, new(*Error)) {
					t.Fatalf("%s: Compile(%q): %v is not a client error", db.name, s, err)
				}
				return // the same check fails on every dialect
			}
			// Every argument has exactly one placeholder, in order.
			if db.dialect == SQLite {
				if n := strings.Count(where, "?"); n != len(args) {
					t.Fatalf("%q -> %s: %d placeholders, %d args", s, where, n, len(args))
				}
			} else {
				ms := pgPlaceholder.FindAllStringSubmatch(where, -1)
				if len(ms) != len(args) {
					t.Fatalf("%q -> %s: %d placeholders, %d args", s, where, len(ms), len(args))
				}
				for i, m := range ms {
					if m[1] != strconv.Itoa(i+1) {
						t.Fatalf("%q -> %s: placeholder %d is $%s", s, where, i+1, m[1])
					}
				}
			}
			// Whatever compiles must run.
			ids, err := db.ids(t, where, "ORDER BY c.id", args...)
			if err != nil {
				t.Fatalf("%s: %q -> %s %#v: %v", db.name, s, where, args, err)
			}
			results = append(results, ids)
		}
		// Both dialects give the same answer. lower() is ASCII-only in
		// SQLite and Unicode-aware in PostgreSQL (documented), so only
		// ASCII queries are compared.
		if len(results) == 2 && isASCII(s) && !slices.Equal(results[0], results[1]) {
			t.Fatalf("%q: sqlite %v, postgres %v", s, results[0], results[1])
		}
		// The table is still there and whole.
		for _, db := range dbs {
			if ids, err := db.ids(t, "", ""); err != nil || len(ids) != len(fixture) {
				t.Fatalf("%s: table damaged after %q: %v %v", db.name, s, ids, err)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
