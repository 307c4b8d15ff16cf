package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// call sends one request; user empty means no credentials.
func (in *instance) call(t *testing.T, method, path, user, pass, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, in.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-keyfactor-requested-with", "APIClient")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := in.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

type apiError struct {
	ErrorCode *string
	Message   *string
}

func decodeError(t *testing.T, b []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.ErrorCode == nil || e.Message == nil {
		t.Fatalf("error body is not {ErrorCode, Message}: %v %s", err, b)
	}
	return e
}

func TestHTTP_Permissions(t *testing.T) {
	in := start(t, "")

	t.Run("NoCredentials_401", func(t *testing.T) {
		code, b := in.call(t, "GET", "/Templates", "", "", "")
		if code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", code, b)
		}
		decodeError(t, b)
	})

	code, b := in.call(t, "POST", "/Security/Identities", "admin", adminPassword, `{"AccountName":"bob","Password":"bob-password-123"}`)
	if code/100 != 2 {
		t.Fatalf("create bob: status %d: %s", code, b)
	}

	t.Run("NoRoles_403", func(t *testing.T) {
		code, b := in.call(t, "GET", "/Templates", "bob", "bob-password-123", "")
		if code != http.StatusForbidden {
			t.Fatalf("status %d, want 403: %s", code, b)
		}
		if e := decodeError(t, b); *e.ErrorCode != "0xA0140002" {
			t.Errorf("ErrorCode %q, want 0xA0140002", *e.ErrorCode)
		}
	})

	// Every route of the table: TestPermissions_EveryRoute (permissions_test.go).
	if code, b := in.call(t, "GET", "/Status/HealthCheck", "", "", ""); code/100 != 2 {
		t.Errorf("anonymous HealthCheck: %d %s", code, b)
	}

	t.Run("MixedCaseMethod_Put", func(t *testing.T) {
		code, b := in.call(t, "GET", "/Templates", "admin", adminPassword, "")
		if code != http.StatusOK {
			t.Fatalf("GET Templates: %d %s", code, b)
		}
		var tpls []map[string]any
		if err := json.Unmarshal(b, &tpls); err != nil {
			t.Fatal(err)
		}
		var id any
		for _, tp := range tpls {
			if tp["CommonName"] == "WebServer" {
				id = tp["Id"]
			}
		}
		if id == nil {
			t.Fatalf("WebServer not found: %s", b)
		}
		body, _ := json.Marshal(map[string]any{"Id": id, "FriendlyName": "Web Server (e2e)"})
		code, b = in.call(t, "Put", "/Templates", "admin", adminPassword, string(body))
		if code != http.StatusOK {
			t.Fatalf("Put Templates: %d %s", code, b)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("Put Templates response: %v %s", err, b)
		}
		if got["FriendlyName"] != "Web Server (e2e)" {
			t.Errorf("FriendlyName after Put = %v", got["FriendlyName"])
		}
	})

	t.Run("GetWithNullBody", func(t *testing.T) {
		code, b := in.call(t, "GET", "/Templates", "admin", adminPassword, "null")
		if code != http.StatusOK {
			t.Fatalf("GET Templates with body null: %d %s", code, b)
		}
	})
}
