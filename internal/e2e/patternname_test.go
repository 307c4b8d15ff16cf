package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// Enrollment pattern names are unique ignoring case: "Web" then "web" is a
// 409 whose message names Name, on both databases; so is renaming another
// pattern to "WEB".
func TestPatternNames_UniqueIgnoringCase(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runPatternNames(t, start(t, "")) })
	t.Run("postgres", func(t *testing.T) { runPatternNames(t, start(t, postgresDSN(t))) })
}

func runPatternNames(t *testing.T, in *instance) {
	code, b := in.call(t, "GET", "/Templates", "admin", adminPassword, "")
	if code != http.StatusOK {
		t.Fatalf("GET Templates: %d %s", code, b)
	}
	var tpls []struct {
		Id         int64
		CommonName string
	}
	if err := json.Unmarshal(b, &tpls); err != nil {
		t.Fatal(err)
	}
	var tid int64
	for _, tp := range tpls {
		if tp.CommonName == "WebServer" {
			tid = tp.Id
		}
	}
	post := func(name string) (int, []byte) {
		return in.call(t, "POST", "/EnrollmentPatterns", "admin", adminPassword, fmt.Sprintf(`{"Name":%q,"Template":{"Id":%d}}`, name, tid))
	}
	code, b = post("Web")
	if code != http.StatusOK {
		t.Fatalf("POST pattern Web: %d %s", code, b)
	}
	checkConflict := func(what string, code int, b []byte) {
		t.Helper()
		if code != http.StatusConflict {
			t.Fatalf("%s: status %d, want 409: %s", what, code, b)
		}
		if e := decodeError(t, b); !strings.HasPrefix(*e.Message, "Name:") {
			t.Errorf("%s: message %q does not name Name", what, *e.Message)
		}
	}
	code, b = post("web")
	checkConflict(`POST "web" after "Web"`, code, b)

	code, b = post("Other")
	if code != http.StatusOK {
		t.Fatalf("POST pattern Other: %d %s", code, b)
	}
	var other map[string]any
	if err := json.Unmarshal(b, &other); err != nil {
		t.Fatal(err)
	}
	other["Name"] = "WEB"
	body, _ := json.Marshal(other)
	code, b = in.call(t, "PUT", "/EnrollmentPatterns", "admin", adminPassword, string(body))
	checkConflict(`PUT renaming Other to "WEB"`, code, b)
}
