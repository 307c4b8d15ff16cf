package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/httpapi"
)

// wildcard matches a {name} path segment of the route table.
var wildcard = regexp.MustCompile(`\{[^}]+\}`)

// TestPermissions_EveryRoute walks the real route table (httpapi.RouteTable),
// so routes added by any area are covered without touching this test. For
// each route:
//   - an identity without roles gets 403 with ErrorCode 0xA0140002;
//   - an identity whose only role holds exactly the route's permission does
//     not get 403 (nor 401): whatever the handler answers, the permission
//     check let it through. Together the two prove the route checks that
//     permission and not some other one.
func TestPermissions_EveryRoute(t *testing.T) {
	in := start(t, "")
	routes := httpapi.RouteTable()
	if len(routes) < 30 {
		t.Fatalf("route table has only %d routes", len(routes))
	}

	// The table the test walks is the table the server serves.
	code, b := in.call(t, "GET", "/Status/Endpoints", "admin", adminPassword, "")
	if code != http.StatusOK {
		t.Fatalf("Status/Endpoints: %d %s", code, b)
	}
	var eps []string
	if err := json.Unmarshal(b, &eps); err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		if !containsLine(eps, rt.Method, rt.Path) {
			t.Errorf("route %s %s is not listed by Status/Endpoints", rt.Method, rt.Path)
		}
	}

	const pw = "perm-test-password-123"
	mkIdentity := func(account string) {
		t.Helper()
		body := fmt.Sprintf(`{"AccountName":%q,"Password":%q}`, account, pw)
		if code, b := in.call(t, "POST", "/Security/Identities", "admin", adminPassword, body); code/100 != 2 {
			t.Fatalf("create %s: %d %s", account, code, b)
		}
	}
	mkIdentity("noroles")

	// One identity per permission, holding a role with exactly that permission.
	holder := map[auth.Permission]string{}
	for _, rt := range routes {
		if rt.Permission == "" || holder[rt.Permission] != "" {
			continue
		}
		account := fmt.Sprintf("holder%d", len(holder)+1)
		mkIdentity(account)
		body, _ := json.Marshal(map[string]any{
			"Name": "only " + string(rt.Permission), "Description": "permission test",
			"Permissions": []string{string(rt.Permission)}, "Identities": []string{account},
		})
		if code, b := in.call(t, "POST", "/Security/Roles", "admin", adminPassword, string(body)); code/100 != 2 {
			t.Fatalf("role for %s: %d %s", rt.Permission, code, b)
		}
		holder[rt.Permission] = account
	}

	for _, rt := range routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			path := wildcard.ReplaceAllString(rt.Path, "1")
			body := ""
			if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodPatch {
				body = "{}"
			}
			if rt.Permission == "" {
				if code, b := in.call(t, rt.Method, path, "", "", body); code == http.StatusUnauthorized || code == http.StatusForbidden {
					t.Errorf("anonymous route answered %d: %s", code, b)
				}
				return
			}
			code, b := in.call(t, rt.Method, path, "noroles", pw, body)
			if code != http.StatusForbidden {
				t.Errorf("identity without roles: status %d, want 403: %s", code, b)
			} else if e := decodeError(t, b); *e.ErrorCode != "0xA0140002" {
				t.Errorf("identity without roles: ErrorCode %s, want 0xA0140002", *e.ErrorCode)
			}
			code, b = in.call(t, rt.Method, path, holder[rt.Permission], pw, body)
			if code == http.StatusForbidden || code == http.StatusUnauthorized {
				t.Errorf("identity holding exactly %s: status %d, want anything but 401/403: %s", rt.Permission, code, b)
			}
		})
	}
}
