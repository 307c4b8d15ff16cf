package query

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var allIDs = []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// compileCases are run against every database; want lists the fixture ids
// (see db_test.go) a user would expect.
var compileCases = []struct {
	name, q string
	want    []int64
}{
	// Strings that clients send.
	{"thumbprint exact", `Thumbprint -eq "AB12CD"`, []int64{1}},
	{"thumbprint ignores case", `Thumbprint -eq "ab12cd"`, []int64{1}},
	{"field and operator case", `thumbprint -EQ "ef34ab"`, []int64{2}},
	{"cn exact", `IssuedCN -eq "www.example.com"`, []int64{1}},
	{"cn ignores case", `IssuedCN -eq "WEB02.EXAMPLE.COM"`, []int64{3}},
	{"request id", `CertRequestId -eq 5`, []int64{1}},
	{"request id quoted", `CertRequestId -eq "7"`, []int64{3}},
	{"container quoted", `ContainerId -eq "5"`, []int64{1, 2}},
	{"go-client AND quirk", `(CertRequestId -eq 5)AND ContainerId -eq "5"`, []int64{1}},
	{"go-client AND with OR group", `(ContainerId -eq "5")AND (CertRequestId -eq "5" OR CertRequestId -eq "6")`, []int64{1, 2}},
	{"name lower-case field", `name -eq "Alpha"`, []int64{1}},
	{"name is case-sensitive", `NAME -eq "alpha"`, nil},

	// Numbers.
	{"beyond int4 against an int4 column", `ContainerId -eq 9999999999`, nil},
	{"beyond int4 against a bigint column", `CertRequestId -eq 3000000000`, []int64{10}},
	{"negative", `CertRequestId -lt 0`, []int64{9}},
	{"gt", `CertRequestId -gt 10`, []int64{7, 8, 10}},
	{"ge and le", `CertRequestId -ge 10 AND CertRequestId -le 11`, []int64{6, 7}},
	{"ne includes NULL", `ContainerId -ne 5`, []int64{3, 4, 5, 6, 7, 8, 9, 10}},
	{"number is NULL", `ContainerId -eq NULL`, []int64{3}},

	// Substrings: always case-insensitive, wildcards literal.
	{"contains and date", `IssuedCN -contains "web" AND NotAfter -lt "2027-01-02"`, []int64{2, 3}},
	{"contains ignores case", `IssuedCN -contains "WEB"`, []int64{2, 3, 7}},
	{"notcontains includes NULL", `IssuedCN -notcontains "example"`, []int64{8, 9}},
	{"startswith", `IssuedCN -startswith "web"`, []int64{2, 3, 7}},
	{"endswith", `IssuedCN -endswith ".COM"`, []int64{1, 2, 3, 5, 6, 10}},
	{"percent is literal", `IssuedCN -contains "%"`, []int64{5}},
	{"underscore is literal", `IssuedCN -contains "_"`, []int64{5, 10}},
	{"wildcards together", `IssuedCN -contains "%_s"`, []int64{5}},
	{"escape character is literal", `IssuedCN -contains "!"`, []int64{9}},
	{"escape then letter", `IssuedCN -contains "!p"`, []int64{9}},
	{"backslash", `IssuedCN -contains "\\"`, []int64{9}},
	{"unescaped backslash kept", `IssuedCN -eq "bang!path\back"`, []int64{9}},
	{"contains on case-sensitive field", `Name -contains "ALPHA"`, []int64{1}},
	{"empty contains matches non-NULL", `Name -contains ""`, []int64{1, 2, 3, 4, 5, 6, 7, 9, 10}},
	{"startswith percent", `Name -startswith "100%"`, []int64{4}},

	// NULL tests.
	{"date is NULL", `RevocationEffDate -eq NULL`, []int64{1, 3, 4, 6, 7, 9, 10}},
	{"isnull", `RevocationEffDate -isnull`, []int64{1, 3, 4, 6, 7, 9, 10}},
	{"date is not NULL", `RevocationEffDate -ne NULL`, []int64{2, 5, 8}},
	{"notnull", `RevocationEffDate -notnull`, []int64{2, 5, 8}},
	{"string is not NULL", `OwnerRoleName -ne NULL`, []int64{1, 3, 4, 5, 7, 8, 10}},
	{"bool is NULL", `HasPrivateKey -eq NULL`, []int64{7}},

	// Case-sensitive strings.
	{"owner exact lower", `OwnerRoleName -eq "ops"`, []int64{5}},
	{"owner exact upper", `OwnerRoleName -eq "Ops"`, []int64{3, 7, 10}},
	{"owner ne includes NULL", `OwnerRoleName -ne "Admins"`, []int64{2, 3, 5, 6, 7, 9, 10}},
	{"string gt by code point", `Name -gt "a"`, []int64{2, 5, 6, 7, 10}},
	{"string lt ignoring case", `IssuedCN -lt "B"`, []int64{4, 5}},
	{"number as string value", `Name -eq 5`, nil},

	// Booleans.
	{"bool true", `HasPrivateKey -eq true`, []int64{1, 3, 5, 8, 10}},
	{"bool quoted false", `HasPrivateKey -eq "false"`, []int64{2, 4, 6, 9}},
	{"bool one", `HasPrivateKey -eq 1`, []int64{1, 3, 5, 8, 10}},
	{"bool ne includes NULL", `HasPrivateKey -ne true`, []int64{2, 4, 6, 7, 9}},

	// Dates: a value is the whole day or second it names.
	{"date eq is the whole day", `NotAfter -eq "2027-01-01"`, []int64{2, 3, 10}},
	{"date ne", `NotAfter -ne "2027-01-01"`, []int64{1, 4, 5, 6, 7, 8, 9}},
	{"date gt is after the day", `NotAfter -gt "2027-01-01"`, []int64{4, 6, 7, 9}},
	{"date ge", `NotAfter -ge "2027-01-01"`, []int64{2, 3, 4, 6, 7, 9, 10}},
	{"date le is up to the end of the day", `NotAfter -le "2027-01-01"`, []int64{1, 2, 3, 5, 8, 10}},
	{"date lt", `NotAfter -lt "2027-01-01"`, []int64{1, 5, 8}},
	{"timestamp eq", `NotAfter -eq "2027-01-01T12:30:45Z"`, []int64{10}},
	{"timestamp with offset", `NotAfter -eq "2027-01-01T13:30:45+01:00"`, []int64{10}},
	{"timestamp fraction dropped", `NotAfter -eq "2027-01-01T12:30:45.900Z"`, []int64{10}},
	{"timestamp gt", `NotAfter -gt "2027-01-01T12:30:45Z"`, []int64{3, 4, 6, 7, 9}},
	{"timestamp without zone is UTC", `NotAfter -le "2027-01-01T12:30:45"`, []int64{1, 2, 5, 8, 10}},
	{"timestamp range", `NotAfter -ge "2027-01-01T00:00:00Z" AND NotAfter -lt "2027-01-01T23:59:59Z"`, []int64{2, 10}},
	{"seconds matter", `RevocationEffDate -lt "2026-01-01T00:00:31Z"`, []int64{2, 5, 8}},
	{"seconds matter below", `RevocationEffDate -lt "2026-01-01T00:00:30Z"`, []int64{2, 5}},
	{"date ne includes NULL", `RevocationEffDate -ne "2025-03-01"`, []int64{1, 3, 4, 5, 6, 7, 8, 9, 10}},
	{"last day le", `NotAfter -le "9999-12-31"`, allIDs},
	{"last day gt", `NotAfter -gt "9999-12-31"`, nil},
	{"last day eq", `NotAfter -eq "9999-12-31"`, nil},
	{"last day ne", `NotAfter -ne "9999-12-31"`, allIDs},
	{"first day ge", `NotAfter -ge "0001-01-01"`, allIDs},

	// Precedence.
	{"AND before OR", `OwnerRoleName -eq "Ops" OR CertRequestId -eq 5 AND HasPrivateKey -eq false`, []int64{3, 7, 10}},
	{"parentheses", `(OwnerRoleName -eq "Ops" OR CertRequestId -eq 5) AND HasPrivateKey -eq true`, []int64{1, 3, 10}},

	// Quoting and injection: values only ever travel as arguments.
	{"escaped quotes", `Name -eq "say \"hi\""`, []int64{6}},
	{"single-quoted with escape", `Name -eq 'it\'s'`, []int64{7}},
	{"apostrophe", `Name -eq "it's"`, []int64{7}},
	{"injection text is a value", `Name -eq "x\"; DROP TABLE certs; --"`, []int64{5}},
	{"classic OR 1=1", `Name -eq "' OR '1'='1"`, nil},
	{"injection in LIKE", `Name -contains "'; DROP TABLE certs; --"`, nil},
}

func TestCompile_Databases(t *testing.T) {
	for _, db := range openAll(t) {
		t.Run(db.name, func(t *testing.T) {
			for _, tc := range compileCases {
				t.Run(tc.name, func(t *testing.T) {
					where, args, err := certSchema.Where(tc.q, db.dialect, 1)
					if err != nil {
						t.Fatalf("Where(%q): %v", tc.q, err)
					}
					got, err := db.ids(t, where, "ORDER BY c.id", args...)
					if err != nil {
						t.Fatalf("query %q -> %s %v: %v", tc.q, where, args, err)
					}
					if !slices.Equal(got, tc.want) {
						t.Errorf("%q -> %s %v\n got ids  %v\n want ids %v", tc.q, where, args, got, tc.want)
					}
				})
			}
			// The table survived everything above.
			if got, err := db.ids(t, "", "ORDER BY c.id"); err != nil || !slices.Equal(got, allIDs) {
				t.Errorf("after the injection cases: ids %v, err %v", got, err)
			}
		})
	}
}

func TestCompile_ArgStartAndCombination(t *testing.T) {
	// A caller that already uses placeholders puts the filter after them.
	for _, db := range openAll(t) {
		t.Run(db.name, func(t *testing.T) {
			where, args, err := certSchema.Where(`IssuedCN -contains "example" AND (CertRequestId -eq 5 OR OwnerRoleName -eq "Ops")`, db.dialect, 2)
			if err != nil {
				t.Fatal(err)
			}
			first := "c.id > ?"
			if db.dialect == Postgres {
				first = "c.id > $1"
				if !strings.Contains(where, "$2") || strings.Contains(where, "$1") {
					t.Errorf("placeholders should start at $2: %s", where)
				}
			}
			got, err := db.ids(t, first+" AND "+where, "ORDER BY c.id", append([]any{int64(1)}, args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if want := []int64{3, 7, 10}; !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestCompile_ArgumentsAndPlaceholders(t *testing.T) {
	where, args, err := certSchema.Where(`Thumbprint -eq "AB" OR CertRequestId -ge "7" OR NotAfter -eq "2027-01-01" OR HasPrivateKey -ne false OR Name -startswith "a%"`, Postgres, 3)
	if err != nil {
		t.Fatal(err)
	}
	wantSQL := `(lower(c.thumbprint) = lower($3::text) OR c.cert_request_id >= $4::bigint OR (c.not_after >= $5::timestamptz AND c.not_after < $6::timestamptz) OR (c.has_private_key IS NULL OR c.has_private_key <> $7::boolean) OR lower(c.name) LIKE lower($8::text) ESCAPE '!')`
	if where != wantSQL {
		t.Errorf("SQL\n got  %s\n want %s", where, wantSQL)
	}
	day := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	wantArgs := []any{"AB", int64(7), day, day.Add(24 * time.Hour), false, "a!%%"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("args\n got  %#v\n want %#v", args, wantArgs)
	}

	where, args, err = certSchema.Where(`NotAfter -lt "2027-01-01T10:00:00+02:00"`, SQLite, 1)
	if err != nil {
		t.Fatal(err)
	}
	if where != "c.not_after < ?" || !reflect.DeepEqual(args, []any{"2027-01-01T08:00:00Z"}) {
		t.Errorf("SQLite date: %s %#v", where, args)
	}
}

func TestCompile_InjectionOnlyInArgs(t *testing.T) {
	evil := `x"; DROP TABLE t; --`
	q := `Name -eq "x\"; DROP TABLE t; --" OR IssuedCN -contains "x\"; DROP TABLE t; --"`
	for _, d := range []Dialect{SQLite, Postgres} {
		where, args, err := certSchema.Where(q, d, 1)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(where, "DROP") || strings.Contains(where, `"; `) {
			t.Errorf("%v: value leaked into SQL: %s", d, where)
		}
		if args[0] != evil || args[1] != "%"+evil+"%" {
			t.Errorf("%v: args %#v do not carry the value", d, args)
		}
	}
}

func TestCompile_Empty(t *testing.T) {
	for _, q := range []string{"", "   "} {
		where, args, err := certSchema.Where(q, SQLite, 1)
		if where != "" || args != nil || err != nil {
			t.Errorf("Where(%q) = %q, %v, %v; want no filter", q, where, args, err)
		}
	}
	where, args, err := certSchema.Compile(nil, Postgres, 1)
	if where != "" || args != nil || err != nil {
		t.Errorf("Compile(nil) = %q, %v, %v", where, args, err)
	}
}

func TestCompile_Rejects(t *testing.T) {
	tests := []struct{ q, want string }{
		{`Foo -eq 1`, `QueryString: unknown field "Foo"`},
		{`Thumbprint -eq "a" AND Foo -eq 1`, `QueryString: unknown field "Foo"`},
		{`CertRequestId -eq "abc"`, `QueryString: field "CertRequestId" needs a number, got "abc"`},
		{`certrequestid -eq " 5"`, `QueryString: field "CertRequestId" needs a number, got " 5"`},
		{`CertRequestId -eq true`, `QueryString: field "CertRequestId" needs a number, got true`},
		{`NotAfter -lt "tomorrow"`, `QueryString: field "NotAfter" needs a date (YYYY-MM-DD or RFC 3339, years 0001-9999), got "tomorrow"`},
		{`NotAfter -lt "2027-02-30"`, `QueryString: field "NotAfter" needs a date (YYYY-MM-DD or RFC 3339, years 0001-9999), got "2027-02-30"`},
		{`NotAfter -lt "0000-06-01"`, `QueryString: field "NotAfter" needs a date (YYYY-MM-DD or RFC 3339, years 0001-9999), got "0000-06-01"`},
		{`NotAfter -lt 2027`, `QueryString: field "NotAfter" needs a date (YYYY-MM-DD or RFC 3339), got 2027`},
		{`HasPrivateKey -eq "yes"`, `QueryString: field "HasPrivateKey" needs true or false, got "yes"`},
		{`HasPrivateKey -eq 2`, `QueryString: field "HasPrivateKey" needs true or false, got 2`},
		{`CertRequestId -contains 5`, `QueryString: operator -contains does not apply to number field "CertRequestId"`},
		{`NotAfter -startswith "2027"`, `QueryString: operator -startswith does not apply to date field "NotAfter"`},
		{`HasPrivateKey -gt false`, `QueryString: operator -gt does not apply to boolean field "HasPrivateKey"`},
		{`RevocationEffDate -gt NULL`, `QueryString: operator -gt cannot be used with NULL (field "RevocationEffDate")`},
		{`Name -contains NULL`, `QueryString: operator -contains cannot be used with NULL (field "Name")`},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			for _, d := range []Dialect{SQLite, Postgres} {
				where, _, err := certSchema.Where(tt.q, d, 1)
				if err == nil {
					t.Fatalf("%v: Where(%q) = %s, want error", d, tt.q, where)
				}
				if err.Error() != tt.want {
					t.Errorf("%v: error\n got  %s\n want %s", d, err, tt.want)
				}
				var qe *Error
				if !errors.As(err, &qe) {
					t.Errorf("%v: %T is not *Error", d, err)
				}
			}
		})
	}
}

func TestCompile_ProgrammingErrors(t *testing.T) {
	e, _ := Parse(`Name -eq "x"`)
	if _, _, err := certSchema.Compile(e, Dialect(0), 1); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("unknown dialect: err %v, want a non-*Error", err)
	}
	if _, _, err := certSchema.Compile(&And{}, SQLite, 1); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("empty And: err %v, want a non-*Error", err)
	}
}

func TestNewSchema_PanicsOnMistakes(t *testing.T) {
	tests := map[string][]Field{
		"no name":      {{Column: "x", Kind: String}},
		"no column":    {{Name: "X", Kind: String}},
		"no kind":      {{Name: "X", Column: "x"}},
		"duplicate":    {{Name: "X", Column: "x", Kind: String}, {Name: "x", Column: "y", Kind: Int}},
		"two keys":     {{Name: "A", Column: "a", Kind: Int, Key: true}, {Name: "B", Column: "b", Kind: Int, Key: true}},
		"kind too big": {{Name: "X", Column: "x", Kind: Bool + 1}},
	}
	for name, fields := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewSchema did not panic")
				}
			}()
			NewSchema(fields...)
		})
	}
}

func TestFormatSQLiteTime(t *testing.T) {
	in := time.Date(2027, 1, 1, 10, 0, 0, 999_000_000, time.FixedZone("x", 2*3600))
	if got := FormatSQLiteTime(in); got != "2027-01-01T08:00:00Z" {
		t.Errorf("FormatSQLiteTime = %s", got)
	}
}
