package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

type filterItem struct {
	ID   int64
	Name string
}

func filterFields(f filterItem) map[string]any { return map[string]any{"Id": f.ID, "Name": f.Name} }

func TestFilterPage_Sort(t *testing.T) {
	items := []filterItem{{2, "b"}, {1, "c"}, {3, "a"}}
	cases := []struct {
		query string
		items []filterItem
		want  string // names in order, or the error's start
	}{
		{"?SortField=Name&SortAscending=0", items, "abc"},
		{"?SortField=name&SortAscending=1", items, "cba"},
		{"?pq.sortField=Id&pq.sortAscending=0", items, "cba"},
		{"?SortField=Nope", items, "SortField:"},
		{"?SortField=Nope", nil, "SortField:"},
		{"?SortField=Nope", items[:1], "SortField:"},
	}
	for _, tc := range cases {
		got, err := filterPage(httptest.NewRequest("GET", "/x"+tc.query, nil), tc.items, filterFields)
		var s string
		if err != nil {
			s = err.Error()
		} else {
			for _, it := range got {
				s += it.Name
			}
		}
		if !strings.HasPrefix(s, tc.want) {
			t.Errorf("%s over %d items: %q, want %q", tc.query, len(tc.items), s, tc.want)
		}
	}
}
