package orchestrator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/certdock/certdock/internal/stores"
)

// FuzzHandler sends arbitrary bodies to every endpoint of an agent without
// credentials: each must answer a JSON Result with a 4xx, never panic.
func FuzzHandler(f *testing.F) {
	paths := []string{PathRegister, PathHeartbeat, PathManagementConfig, PathInventoryConfig, PathInventoryEndpoint, PathManagementDone}
	f.Add(uint8(0), []byte(`{"ClientMachine":"web01","AgentPlatform":5,"CSR":"-----BEGIN CERTIFICATE REQUEST-----"}`))
	f.Add(uint8(0), []byte(`{"ClientMachine":"","AgentId":"not-a-guid","Capabilities":["x"]}`))
	f.Add(uint8(1), []byte(`{"SessionToken":"abc"}`))
	f.Add(uint8(4), []byte(`{"SessionToken":"abc","JobId":"1d411b36-ae72-433f-9f3f-8593e836a1af","Inventory":[{"Alias":"a","Certificates":["AAAA"]}]}`))
	f.Add(uint8(5), []byte(`null`))
	svc := New(Options{})
	h := svc.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := Prefix + paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("%s %q: status %d %s", path, body, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), `"Status":3`) {
			t.Fatalf("%s: no error Result: %s", path, rec.Body)
		}
	})
}

func TestJobTypes(t *testing.T) {
	for _, st := range stores.BuiltinIDs() {
		for _, mgmt := range []bool{false, true} {
			id, ok := JobTypeID(st, mgmt)
			if !ok {
				t.Fatalf("no job type for store type %d management=%v", st, mgmt)
			}
			k, ok := JobTypeOf(strings.ToUpper(id))
			if !ok || k.StoreType != st || k.Management != mgmt {
				t.Fatalf("%s: %+v", id, k)
			}
		}
	}
	if _, ok := JobTypeID(1000, true); ok {
		t.Fatal("a custom store type has a built-in job type")
	}
	if k, _ := JobTypeOf(stores.JobPEMManagement); k.Capability() != "CertStores.PEM.Management" {
		t.Fatalf("capability %q", k.Capability())
	}
}

func TestVersionString(t *testing.T) {
	if v := versionString(2<<48 | 19<<32 | 0<<16 | 7); v != "2.19.0.7" {
		t.Fatalf("%q", v)
	}
}
