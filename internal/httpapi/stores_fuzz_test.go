package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzStoreRequests feeds arbitrary bodies to the decoders of the store,
// store type and container endpoints and to their conversion into domain
// input: a body never panics and never becomes anything but a 4xx.
func FuzzStoreRequests(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{"ClientMachine":"m","Storepath":"/x","CertStoreType":102,"Properties":"{\"KeystoreType\":\"JKS\"}","Password":{"SecretValue":"p"}}`,
		`{"Properties":{"a":{"value":1}},"Password":"bare","InventorySchedule":{"Interval":{"Minutes":0}}}`,
		`{"InventorySchedule":{"Daily":{"Time":"x"},"Immediate":true},"CertStoreType":"x"}`,
		`{"Name":"n","ShortName":"S","Properties":[{"Name":"p","Type":"MultipleChoice"}],"PrivateKeyAllowed":"Required"}`,
		`{"EntryParameters":[{"Name":"e","RequiredWhen":{"OnAdd":true}}],"CustomAliasAllowed":"Sometimes"}`,
		`{"InventoryJobTypeId":"nope","CertificateFormat":7}`, `{"Schedule":{"ExactlyOnce":{"Time":"2026-01-01T00:00:00Z"}},"CertStoreType":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := func() *http.Request {
			return httptest.NewRequest(http.MethodPost, Prefix+"/CertificateStores", bytes.NewReader(body))
		}
		var sr storeRequest
		if err := decode(req(), &sr, false); err != nil {
			checkRendered(t, "storeRequest", body, err)
		} else if _, err := sr.input(); err != nil {
			checkRendered(t, "storeRequest.input", body, err)
		}
		var tr storeTypeRequest
		if err := decode(req(), &tr, false); err != nil {
			checkRendered(t, "storeTypeRequest", body, err)
		} else if _, err := tr.toStoreType(); err != nil {
			checkRendered(t, "storeTypeRequest.toStoreType", body, err)
		}
		var cr containerRequest
		if err := decode(req(), &cr, false); err != nil {
			checkRendered(t, "containerRequest", body, err)
		}
		var ids []string
		if err := decode(req(), &ids, false); err != nil {
			checkRendered(t, "agent ids", body, err)
		}
	})
}
