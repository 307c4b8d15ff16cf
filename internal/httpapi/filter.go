package httpapi

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/query"
)

// writeList applies QueryString, sorting and paging to a small in-memory
// list (configuration objects: templates, patterns, metadata fields, roles,
// identities) and writes it. fields exposes each item's filterable fields by
// API name; values are strings, int64/int or bool. Large lists
// (certificates) are filtered in SQL instead.
func writeList[T any](w http.ResponseWriter, r *http.Request, items []T, fields func(T) map[string]any) error {
	out, err := filterPage(r, items, fields)
	if err != nil {
		return err
	}
	return writeJSON(w, out)
}

func filterPage[T any](r *http.Request, items []T, fields func(T) map[string]any) ([]T, error) {
	page, err := query.ParsePage(r.URL.Query(), "pq.", "query.", "pagedQuery.")
	if err != nil {
		return nil, err
	}
	var expr query.Expr
	if strings.TrimSpace(page.Query) != "" {
		if expr, err = query.Parse(page.Query); err != nil {
			return nil, err
		}
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		if expr != nil {
			ok, err := match(expr, fields(it))
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, it)
	}
	if page.SortField != "" {
		// The field must exist whatever the list holds (an empty list
		// included); each item's fields are built once, not per comparison.
		var zero T
		if _, ok := lookupCI(fields(zero), page.SortField); !ok {
			return nil, errs.Field("SortField", "unknown field %q", page.SortField)
		}
		keys := make(map[int]any, len(out))
		idx := make([]int, len(out))
		for i, it := range out {
			idx[i] = i
			keys[i], _ = lookupCI(fields(it), page.SortField)
		}
		sort.SliceStable(idx, func(i, j int) bool {
			c := compare(keys[idx[i]], keys[idx[j]])
			if page.SortAscending {
				return c < 0
			}
			return c > 0
		})
		sorted := make([]T, len(out))
		for i, k := range idx {
			sorted[i] = out[k]
		}
		out = sorted
	}
	limit, offset := page.LimitOffset()
	if offset >= len(out) {
		return []T{}, nil
	}
	end := min(offset+limit, len(out))
	return out[offset:end], nil
}

func lookupCI(m map[string]any, name string) (any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func compare(a, b any) int {
	switch x := a.(type) {
	case int64:
		y, _ := b.(int64)
		return cmpInt(x, y)
	case int:
		y, _ := b.(int)
		return cmpInt(int64(x), int64(y))
	case bool:
		y, _ := b.(bool)
		if x == y {
			return 0
		} else if !x {
			return -1
		}
		return 1
	}
	return strings.Compare(strings.ToLower(fmt.Sprint(a)), strings.ToLower(fmt.Sprint(b)))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func match(e query.Expr, f map[string]any) (bool, error) {
	switch x := e.(type) {
	case *query.And:
		for _, t := range x.Terms {
			ok, err := match(t, f)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case *query.Or:
		for _, t := range x.Terms {
			ok, err := match(t, f)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case *query.Comparison:
		v, ok := lookupCI(f, x.Field)
		if !ok {
			return false, errs.Field("QueryString", "unknown field %q", x.Field)
		}
		return matchValue(v, x.Op, x.Value)
	}
	return false, errs.Field("QueryString", "unsupported expression")
}

func matchValue(v any, op query.Op, want query.Value) (bool, error) {
	if want.Kind == query.NullValue {
		isNull := v == nil || v == ""
		switch op {
		case query.OpEq:
			return isNull, nil
		case query.OpNe:
			return !isNull, nil
		}
		return false, errs.Field("QueryString", "NULL can only be compared with -eq or -ne")
	}
	var c int
	switch x := v.(type) {
	case int64, int:
		n := toInt(x)
		var w int64
		switch want.Kind {
		case query.NumberValue:
			w = want.Num
		case query.StringValue:
			p, err := strconv.ParseInt(strings.TrimSpace(want.Str), 10, 64)
			if err != nil {
				return false, errs.Field("QueryString", "needs a number, got %q", want.Str)
			}
			w = p
		default:
			return false, errs.Field("QueryString", "needs a number")
		}
		c = cmpInt(n, w)
	case bool:
		var w bool
		switch want.Kind {
		case query.BoolValue:
			w = want.Bool
		case query.StringValue:
			p, err := strconv.ParseBool(want.Str)
			if err != nil {
				return false, errs.Field("QueryString", "needs true or false, got %q", want.Str)
			}
			w = p
		default:
			return false, errs.Field("QueryString", "needs true or false")
		}
		switch op {
		case query.OpEq:
			return x == w, nil
		case query.OpNe:
			return x != w, nil
		}
		return false, errs.Field("QueryString", "a boolean field can only be compared with -eq or -ne")
	default:
		s := strings.ToLower(fmt.Sprint(x))
		w := strings.ToLower(want.String())
		if want.Kind == query.StringValue {
			w = strings.ToLower(want.Str)
		}
		switch op {
		case query.OpContains:
			return strings.Contains(s, w), nil
		case query.OpNotContains:
			return !strings.Contains(s, w), nil
		case query.OpStartsWith:
			return strings.HasPrefix(s, w), nil
		case query.OpEndsWith:
			return strings.HasSuffix(s, w), nil
		}
		c = strings.Compare(s, w)
	}
	switch op {
	case query.OpEq:
		return c == 0, nil
	case query.OpNe:
		return c != 0, nil
	case query.OpGt:
		return c > 0, nil
	case query.OpGe:
		return c >= 0, nil
	case query.OpLt:
		return c < 0, nil
	case query.OpLe:
		return c <= 0, nil
	}
	return false, errs.Field("QueryString", "operator %s does not apply to a number", op)
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	}
	return 0
}
