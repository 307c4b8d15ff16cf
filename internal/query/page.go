package query

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Paging defaults and limits.
const (
	// DefaultReturnLimit is the page size when ReturnLimit is absent or 0.
	DefaultReturnLimit = 50
	// MaxReturnLimit caps the page size; larger requests are lowered to it
	// rather than refused. The go-client asks for 1000 on workflow lists, and
	// clients that page (PageReturned=1,2,... until an empty array) keep
	// working with any cap; 1000 rows bounds the response size and the time
	// one request holds the database.
	MaxReturnLimit = 1000
	// MaxPageReturned caps the page number so the OFFSET stays small enough
	// to compute without overflow (1e6 pages of 1000 rows = 1e9).
	MaxPageReturned = 1_000_000
)

// Page holds the paging, sorting and filter parameters of a list request.
type Page struct {
	// Query is the raw QueryString, "" when absent.
	Query string
	// PageReturned is the 1-based page number.
	PageReturned int
	// ReturnLimit is the page size.
	ReturnLimit int
	// SortField is the API field name to sort by, "" for the endpoint's
	// default. It is checked by Schema.OrderBy.
	SortField string
	// SortAscending is true for ascending order (Keyfactor's SortAscending=0).
	SortAscending bool
}

// The parameter names ParsePage reads, lower-cased.
const (
	pQueryString   = "querystring"
	pPageReturned  = "pagereturned"
	pReturnLimit   = "returnlimit"
	pSortField     = "sortfield"
	pSortAscending = "sortascending"
)

// ParsePage reads QueryString, PageReturned, ReturnLimit, SortField and
// SortAscending from v. Names match case-insensitively, bare (as SDK v25 sends
// them) or behind any of the given prefixes (the go-client sends
// "pq.queryString", "certificateStoreQuery.pageReturned", "query.…",
// "pagedQuery.returnLimit"). When several spellings are present a prefixed
// one wins over the bare one, an earlier prefix over a later one, and the
// first value of a parameter is used; an empty value counts as absent.
//
// Defaults: PageReturned 1, ReturnLimit DefaultReturnLimit, ascending.
// PageReturned 0 means 1 and ReturnLimit 0 means the default; ReturnLimit
// above MaxReturnLimit is lowered to it. SortAscending follows Keyfactor's
// SortOrder enum, which SDK v25 sends as an integer: 0 = ascending,
// 1 = descending; "Ascending"/"Descending" (the enum's names, which ASP.NET
// also binds) and true/false (true = ascending) are accepted too.
// Invalid values give an *Error naming the parameter as the client spelled
// it.
func ParsePage(v url.Values, prefixes ...string) (Page, error) {
	p := Page{PageReturned: 1, ReturnLimit: DefaultReturnLimit, SortAscending: true}
	get := lookupParams(v, prefixes)

	if _, val, ok := get(pQueryString); ok {
		p.Query = val
	}
	if _, val, ok := get(pSortField); ok {
		p.SortField = strings.TrimSpace(val)
	}
	if name, val, ok := get(pPageReturned); ok {
		n, err := parseCount(name, val)
		if err != nil {
			return Page{}, err
		}
		if n > MaxPageReturned {
			return Page{}, &Error{Param: name, Msg: fmt.Sprintf("%d is too large (at most %d)", n, MaxPageReturned)}
		}
		if n > 0 {
			p.PageReturned = n
		}
	}
	if name, val, ok := get(pReturnLimit); ok {
		n, err := parseCount(name, val)
		if err != nil {
			return Page{}, err
		}
		switch {
		case n > MaxReturnLimit:
			p.ReturnLimit = MaxReturnLimit
		case n > 0:
			p.ReturnLimit = n
		}
	}
	if name, val, ok := get(pSortAscending); ok {
		switch strings.ToLower(strings.TrimSpace(val)) {
		case "0", "ascending", "true":
			p.SortAscending = true
		case "1", "descending", "false":
			p.SortAscending = false
		default:
			return Page{}, &Error{Param: name, Msg: fmt.Sprintf("%q is not a sort order (0 = ascending, 1 = descending)", val)}
		}
	}
	return p, nil
}

// parseCount parses a non-negative decimal integer.
func parseCount(name, val string) (int, error) {
	s := strings.TrimSpace(val)
	n, err := strconv.Atoi(s)
	switch {
	case err == nil && n >= 0:
		return n, nil
	case err == nil || (errors.Is(err, strconv.ErrRange) && strings.HasPrefix(s, "-")):
		return 0, &Error{Param: name, Msg: fmt.Sprintf("%q must not be negative", val)}
	case errors.Is(err, strconv.ErrRange):
		return 0, &Error{Param: name, Msg: fmt.Sprintf("%q is too large", val)}
	default:
		return 0, &Error{Param: name, Msg: fmt.Sprintf("%q is not a whole number", val)}
	}
}

// lookupParams returns a function that finds a parameter by its lower-cased
// bare name and reports the key as the client spelled it and its first value.
func lookupParams(v url.Values, prefixes []string) func(string) (string, string, bool) {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic choice between spellings that differ only in case
	lowerPrefixes := make([]string, len(prefixes))
	for i, p := range prefixes {
		lowerPrefixes[i] = strings.ToLower(p)
	}
	return func(param string) (string, string, bool) {
		bestRank := -1
		var bestKey, bestVal string
		for _, k := range keys {
			vals := v[k]
			if len(vals) == 0 || vals[0] == "" {
				continue
			}
			lk := strings.ToLower(k)
			rank := -1
			if lk == param {
				rank = 0 // bare: lowest priority
			} else {
				for i, lp := range lowerPrefixes {
					if lp != "" && lk == lp+param {
						rank = len(lowerPrefixes) - i
						break
					}
				}
			}
			if rank > bestRank {
				bestRank, bestKey, bestVal = rank, k, vals[0]
			}
		}
		return bestKey, bestVal, bestRank >= 0
	}
}

// LimitOffset returns the SQL LIMIT and OFFSET for the page. Zero or
// out-of-range values (a Page not made by ParsePage) get the defaults and
// caps ParsePage applies.
func (p Page) LimitOffset() (limit, offset int) {
	limit = p.ReturnLimit
	switch {
	case limit <= 0:
		limit = DefaultReturnLimit
	case limit > MaxReturnLimit:
		limit = MaxReturnLimit
	}
	page := p.PageReturned
	switch {
	case page <= 0:
		page = 1
	case page > MaxPageReturned:
		page = MaxPageReturned
	}
	return limit, (page - 1) * limit
}

// OrderBy returns an "ORDER BY ..." clause for p.SortField, or for
// defaultField when SortField is empty. Only schema fields can be named, so
// the clause contains nothing from the request but the direction. The
// schema's Key field, if any, is appended as a tiebreak so that paging is
// stable. NULLs sort first in ascending and last in descending order on
// both dialects (SQLite's behaviour; PostgreSQL is told explicitly). String
// fields sort as they compare: case-insensitively when CaseInsensitive, and
// by code point on both dialects. An unknown SortField is an *Error; an
// unknown defaultField is a programming error.
func (s *Schema) OrderBy(p Page, d Dialect, defaultField string) (string, error) {
	if d != SQLite && d != Postgres {
		return "", fmt.Errorf("query: unknown dialect %v", d)
	}
	name := p.SortField
	f, ok := s.Lookup(name)
	if name == "" {
		if f, ok = s.Lookup(defaultField); !ok {
			return "", fmt.Errorf("query: default sort field %q is not in the schema", defaultField)
		}
	} else if !ok {
		return "", &Error{Param: "SortField", Msg: fmt.Sprintf("unknown field %q", name)}
	}
	dir := " ASC"
	nulls := " NULLS FIRST"
	if !p.SortAscending {
		dir, nulls = " DESC", " NULLS LAST"
	}
	if d == SQLite {
		nulls = "" // SQLite already puts NULLs first ascending, last descending
	}
	var b strings.Builder
	b.WriteString("ORDER BY ")
	b.WriteString(sortExpr(f, d) + dir + nulls)
	if s.key >= 0 && !strings.EqualFold(s.fields[s.key].Name, f.Name) {
		b.WriteString(", " + sortExpr(s.fields[s.key], d) + dir + nulls)
	}
	return b.String(), nil
}

func sortExpr(f Field, d Dialect) string {
	if f.Kind != String {
		return f.Column
	}
	e := f.Column
	if f.CaseInsensitive {
		e = "lower(" + e + ")"
	}
	if d == Postgres {
		e += ` COLLATE "C"`
	}
	return e
}
