package query

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
)

var listPrefixes = []string{"pq.", "certificateStoreQuery.", "query.", "pagedQuery."}

func TestParsePage_Reads(t *testing.T) {
	def := Page{PageReturned: 1, ReturnLimit: DefaultReturnLimit, SortAscending: true}
	tests := []struct {
		name, raw string
		want      Page
	}{
		{"defaults", ``, def},
		{"go-client certificates", `pq.queryString=Thumbprint%20-eq%20%22ABC%22&includeLocations=true`,
			Page{Query: `Thumbprint -eq "ABC"`, PageReturned: 1, ReturnLimit: 50, SortAscending: true}},
		{"go-client store paging", `certificateStoreQuery.pageReturned=3`, Page{PageReturned: 3, ReturnLimit: 50, SortAscending: true}},
		{"go-client inventory paging", `query.pageReturned=2`, Page{PageReturned: 2, ReturnLimit: 50, SortAscending: true}},
		{"go-client workflow", `pagedQuery.returnLimit=1000`, Page{PageReturned: 1, ReturnLimit: 1000, SortAscending: true}},
		{"SDK v25 bare", `QueryString=IssuedCN%20-eq%20%22a%22&PageReturned=2&ReturnLimit=10&SortField=IssuedCN&SortAscending=1`,
			Page{Query: `IssuedCN -eq "a"`, PageReturned: 2, ReturnLimit: 10, SortField: "IssuedCN", SortAscending: false}},
		{"any case", `PQ.QUERYSTRING=x&returnlimit=7&SORTFIELD=Name&sortascending=0`,
			Page{Query: "x", PageReturned: 1, ReturnLimit: 7, SortField: "Name", SortAscending: true}},
		{"prefixed beats bare", `QueryString=bare&pq.queryString=prefixed`, Page{Query: "prefixed", PageReturned: 1, ReturnLimit: 50, SortAscending: true}},
		{"earlier prefix beats later", `query.pageReturned=4&pq.pageReturned=5`, Page{PageReturned: 5, ReturnLimit: 50, SortAscending: true}},
		{"unlisted prefix ignored", `other.pageReturned=9`, def},
		{"first value wins", `ReturnLimit=5&ReturnLimit=6`, Page{PageReturned: 1, ReturnLimit: 5, SortAscending: true}},
		{"empty value is absent", `ReturnLimit=&PageReturned=&SortAscending=&QueryString=`, def},
		{"empty prefixed value falls back to bare", `pq.returnLimit=&ReturnLimit=8`, Page{PageReturned: 1, ReturnLimit: 8, SortAscending: true}},
		{"zero page means first", `PageReturned=0`, def},
		{"zero limit means default", `ReturnLimit=0`, def},
		{"limit capped", `ReturnLimit=5000`, Page{PageReturned: 1, ReturnLimit: MaxReturnLimit, SortAscending: true}},
		{"page at cap", fmt.Sprintf("PageReturned=%d", MaxPageReturned), Page{PageReturned: MaxPageReturned, ReturnLimit: 50, SortAscending: true}},
		{"spaces around numbers", `ReturnLimit=%2010%20`, Page{PageReturned: 1, ReturnLimit: 10, SortAscending: true}},
		{"sort descending by name", `SortAscending=Descending`, Page{PageReturned: 1, ReturnLimit: 50, SortAscending: false}},
		{"sort ascending by name", `SortAscending=ascending`, def},
		{"sort true", `SortAscending=true`, def},
		{"sort false", `SortAscending=False`, Page{PageReturned: 1, ReturnLimit: 50, SortAscending: false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePage(v, listPrefixes...)
			if err != nil {
				t.Fatalf("ParsePage(%s): %v", tt.raw, err)
			}
			if got != tt.want {
				t.Errorf("ParsePage(%s)\n got  %+v\n want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestParsePage_Rejects(t *testing.T) {
	tests := []struct{ raw, want string }{
		{`ReturnLimit=abc`, `ReturnLimit: "abc" is not a whole number`},
		{`pq.returnLimit=-1`, `pq.returnLimit: "-1" must not be negative`},
		{`certificateStoreQuery.pageReturned=1.5`, `certificateStoreQuery.pageReturned: "1.5" is not a whole number`},
		{`PageReturned=99999999999999999999`, `PageReturned: "99999999999999999999" is too large`},
		{`PageReturned=-99999999999999999999`, `PageReturned: "-99999999999999999999" must not be negative`},
		{fmt.Sprintf("PageReturned=%d", MaxPageReturned+1), fmt.Sprintf(`PageReturned: %d is too large (at most %d)`, MaxPageReturned+1, MaxPageReturned)},
		{`SortAscending=2`, `SortAscending: "2" is not a sort order (0 = ascending, 1 = descending)`},
		{`pagedQuery.sortAscending=up`, `pagedQuery.sortAscending: "up" is not a sort order (0 = ascending, 1 = descending)`},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.raw)
			_, err := ParsePage(v, listPrefixes...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("ParsePage(%s) error %v, want %s", tt.raw, err, tt.want)
			}
			if !errors.As(err, new(*Error)) {
				t.Errorf("%T is not *Error", err)
			}
		})
	}
}

func TestPage_LimitOffset(t *testing.T) {
	tests := []struct {
		p             Page
		limit, offset int
	}{
		{Page{}, DefaultReturnLimit, 0},
		{Page{PageReturned: 1, ReturnLimit: 50}, 50, 0},
		{Page{PageReturned: 3, ReturnLimit: 20}, 20, 40},
		{Page{PageReturned: -2, ReturnLimit: -5}, DefaultReturnLimit, 0},
		{Page{PageReturned: 2, ReturnLimit: 1 << 40}, MaxReturnLimit, MaxReturnLimit},
		{Page{PageReturned: 1 << 50, ReturnLimit: 1000}, 1000, (MaxPageReturned - 1) * 1000},
	}
	for _, tt := range tests {
		l, o := tt.p.LimitOffset()
		if l != tt.limit || o != tt.offset {
			t.Errorf("%+v.LimitOffset() = %d, %d; want %d, %d", tt.p, l, o, tt.limit, tt.offset)
		}
	}
}

func TestOrderBy_SQL(t *testing.T) {
	tests := []struct {
		p    Page
		d    Dialect
		want string
	}{
		{Page{SortAscending: true}, SQLite, "ORDER BY c.id ASC"},
		{Page{SortField: "issuedcn", SortAscending: true}, SQLite, "ORDER BY lower(c.issued_cn) ASC, c.id ASC"},
		{Page{SortField: "IssuedCN"}, Postgres, `ORDER BY lower(c.issued_cn) COLLATE "C" DESC NULLS LAST, c.id DESC NULLS LAST`},
		{Page{SortField: "NotAfter", SortAscending: true}, Postgres, `ORDER BY c.not_after ASC NULLS FIRST, c.id ASC NULLS FIRST`},
		{Page{SortField: "Name", SortAscending: true}, Postgres, `ORDER BY c.name COLLATE "C" ASC NULLS FIRST, c.id ASC NULLS FIRST`},
	}
	for _, tt := range tests {
		got, err := certSchema.OrderBy(tt.p, tt.d, "Id")
		if err != nil || got != tt.want {
			t.Errorf("OrderBy(%+v, %v) = %q, %v; want %q", tt.p, tt.d, got, err, tt.want)
		}
	}
}

func TestOrderBy_Rejects(t *testing.T) {
	_, err := certSchema.OrderBy(Page{SortField: "Bogus; DROP TABLE x"}, SQLite, "Id")
	if err == nil || err.Error() != `SortField: unknown field "Bogus; DROP TABLE x"` || !errors.As(err, new(*Error)) {
		t.Errorf("unknown SortField: %v", err)
	}
	// A wrong default is the programmer's mistake, not the client's.
	_, err = certSchema.OrderBy(Page{}, SQLite, "Nope")
	if err == nil || errors.As(err, new(*Error)) {
		t.Errorf("unknown default field: %v", err)
	}
	if _, err = certSchema.OrderBy(Page{}, Dialect(9), "Id"); err == nil {
		t.Error("unknown dialect accepted")
	}
}

func TestOrderBy_Databases(t *testing.T) {
	tests := []struct {
		name string
		p    Page
		want []int64
	}{
		{"default field", Page{SortAscending: true}, allIDs},
		{"cn ignoring case, NULL first", Page{SortField: "IssuedCN", SortAscending: true}, []int64{8, 5, 4, 9, 6, 10, 2, 3, 7, 1}},
		{"cn descending, NULL last", Page{SortField: "IssuedCN"}, []int64{1, 7, 3, 2, 10, 6, 9, 4, 5, 8}},
		{"case-sensitive name by code point", Page{SortField: "name", SortAscending: true}, []int64{8, 4, 1, 3, 9, 2, 7, 6, 5, 10}},
		{"ties broken by id", Page{SortField: "OwnerRoleName", SortAscending: true}, []int64{2, 6, 9, 1, 4, 8, 3, 7, 10, 5}},
		{"ties broken by id descending", Page{SortField: "OwnerRoleName"}, []int64{5, 10, 7, 3, 8, 4, 1, 9, 6, 2}},
		{"dates descending", Page{SortField: "NotAfter"}, []int64{7, 9, 6, 4, 3, 10, 2, 1, 8, 5}},
		{"bools, NULL first", Page{SortField: "HasPrivateKey", SortAscending: true}, []int64{7, 2, 4, 6, 9, 1, 3, 5, 8, 10}},
		{"page 1 of 4", Page{SortField: "OwnerRoleName", SortAscending: true, PageReturned: 1, ReturnLimit: 4}, []int64{2, 6, 9, 1}},
		{"page 2 of 4", Page{SortField: "OwnerRoleName", SortAscending: true, PageReturned: 2, ReturnLimit: 4}, []int64{4, 8, 3, 7}},
		{"page 3 of 4", Page{SortField: "OwnerRoleName", SortAscending: true, PageReturned: 3, ReturnLimit: 4}, []int64{10, 5}},
		{"past the last page is empty", Page{SortField: "OwnerRoleName", SortAscending: true, PageReturned: 4, ReturnLimit: 4}, nil},
	}
	for _, db := range openAll(t) {
		t.Run(db.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					order, err := certSchema.OrderBy(tt.p, db.dialect, "Id")
					if err != nil {
						t.Fatal(err)
					}
					limit, offset := tt.p.LimitOffset()
					got, err := db.ids(t, "", fmt.Sprintf("%s LIMIT %d OFFSET %d", order, limit, offset))
					if err != nil {
						t.Fatalf("%s: %v", order, err)
					}
					if !slices.Equal(got, tt.want) {
						t.Errorf("%s\n got  %v\n want %v", order, got, tt.want)
					}
				})
			}
		})
	}
}

func TestListRequest_EndToEnd(t *testing.T) {
	// What a list handler does with a go-client request URL.
	raw := `pq.queryString=%28OwnerRoleName%20-eq%20%22Ops%22%29OR%20OwnerRoleName%20-eq%20%22Admins%22&pq.sortField=IssuedCN&pq.sortAscending=1&pq.returnLimit=3&pq.pageReturned=2`
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePage(v, listPrefixes...)
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range openAll(t) {
		where, args, err := certSchema.Where(p.Query, db.dialect, 1)
		if err != nil {
			t.Fatal(err)
		}
		order, err := certSchema.OrderBy(p, db.dialect, "Id")
		if err != nil {
			t.Fatal(err)
		}
		limit, offset := p.LimitOffset()
		got, err := db.ids(t, where, fmt.Sprintf("%s LIMIT %d OFFSET %d", order, limit, offset), args...)
		if err != nil {
			t.Fatal(err)
		}
		// Ops or Admins: 1,3,4,7,8,10; by CN descending, NULL last:
		// 1 www, 7 WEB03, 3 Web02 | 10 under_score, 4 api, 8 NULL.
		if want := []int64{10, 4, 8}; !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", db.name, got, want)
		}
	}
}
