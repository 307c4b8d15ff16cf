package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/certdock/certdock/internal/errs"
)

// decodeSeeds are request bodies clients send, plus broken ones.
var decodeSeeds = []string{
	``, `null`, `{}`, `[]`, `"x"`, `1`, `{`, `{"a":}`, "\xff\xfe", `{"Template":1}`,
	`{"Template":"WebServer","Subject":"CN=a","Timestamp":"2024-01-01T00:00:00Z","KeyLength":"2048"}`,
	`{"KeyLength":"abc"}`, `{"KeyLength":[1]}`, `{"Metadata":{"a":{"b":1}}}`, `{"Metadata":[1]}`,
	`{"SANs":{"dns":["a.example.com"],"ip4":[1]}}`, `{"Timestamp":"yesterday"}`, `{"ChainOrder":"Sideways"}`,
	`{"Stores":[{"StoreId":"x","Properties":{"a":1}}],"JobTime":"2020-01-01T00:00:00Z"}`,
	`{"Identities":["bob",{"AccountName":"x"},1]}`, `{"Permissions":"x"}`, `{"Value":null}`,
	`{"Name":"p","Template":{"Id":"x"}}`, `{"DataType":"x"}`, `{"Id":1e400}`, `{"Id":-1}`,
	strings.Repeat(`[`, 10000), `{"a":"` + strings.Repeat(`\u0000`, 100) + `"}`,
}

// decodeTargets are fresh values of every request type a handler decodes.
func decodeTargets() map[string]any {
	return map[string]any{
		"pfxReq": &pfxReq{}, "patternReq": &patternReq{}, "roleReq": &roleReq{},
		"templateUpdate": &templateUpdate{}, "metadataFieldReq": &metadataFieldReq{},
		"globalPatternSettings": &globalPatternSettings{}, "appSettingValue": &struct{ Value *string }{},
		"identityReq": &struct {
			AccountName  string
			IdentityType string
			Password     string
		}{},
	}
}

func fuzzAPI() *API { return &API{o: Options{Logger: slog.New(slog.DiscardHandler)}} }

// checkRendered renders err the way a handler's error is rendered and checks
// it is a 4xx with Keyfactor's error body: the client's garbage is never a
// 500, and the body always has ErrorCode and Message.
func checkRendered(t *testing.T, what string, body []byte, err error) {
	t.Helper()
	if e := errs.As(err); e.Kind == errs.Internal {
		t.Fatalf("%s: body %q gave an internal error: %v", what, body, err)
	}
	rec := httptest.NewRecorder()
	fuzzAPI().writeError(rec, httptest.NewRequest(http.MethodPost, Prefix+"/x", nil), err)
	if rec.Code < 400 || rec.Code > 499 {
		t.Fatalf("%s: body %q answered %d, want 4xx", what, body, rec.Code)
	}
	var eb struct {
		ErrorCode *string
		Message   *string
	}
	if jerr := json.Unmarshal(rec.Body.Bytes(), &eb); jerr != nil || eb.ErrorCode == nil || eb.Message == nil ||
		!strings.HasPrefix(*eb.ErrorCode, "0x") || *eb.Message == "" {
		t.Fatalf("%s: body %q: error response is not the Keyfactor body: %s", what, body, rec.Body.Bytes())
	}
}

// FuzzDecode feeds arbitrary bytes to the codec's decode path for every
// request type: it must not panic, and what it refuses comes back as a 4xx
// Keyfactor error body.
func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, v := range decodeTargets() {
			r := httptest.NewRequest(http.MethodPost, Prefix+"/x", bytes.NewReader(body))
			if err := decode(r, v, false); err != nil {
				checkRendered(t, name, body, err)
			}
		}
	})
}

// FuzzPFXRequest runs the whole decode path of POST /Enrollment/PFX short of
// the domain service: JSON body, API version and format header, then the
// conversion to enroll.PFXRequest (Timestamp, JobTime, ChainOrder, Stores).
func FuzzPFXRequest(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s), "1", "PFX")
	}
	f.Add([]byte(`{"Template":"WebServer","Subject":"CN=a","Timestamp":"2024-01-01T00:00:00Z","JobTime":"x"}`), "2", "PEM")
	f.Add([]byte(`{"Timestamp":"2024-01-01T00:00:00"}`), "3", "")
	f.Fuzz(func(t *testing.T, body []byte, version, format string) {
		r := httptest.NewRequest(http.MethodPost, Prefix+"/Enrollment/PFX", bytes.NewReader(body))
		r.Header.Set("x-keyfactor-api-version", version)
		v, err := apiVersion(r)
		if err != nil {
			checkRendered(t, "x-keyfactor-api-version", body, err)
			return
		}
		var q pfxReq
		if err := decode(r, &q, false); err != nil {
			checkRendered(t, "pfxReq", body, err)
			return
		}
		if _, err := q.toRequest(v, format); err != nil {
			checkRendered(t, "toRequest", body, err)
		}
	})
}

// The seeds alone, in the ordinary test run.
func TestDecodeSeedsRenderKeyfactorErrors(t *testing.T) {
	refused := 0
	for _, s := range decodeSeeds {
		r := httptest.NewRequest(http.MethodPost, Prefix+"/Enrollment/PFX", strings.NewReader(s))
		var q pfxReq
		err := decode(r, &q, false)
		if err == nil {
			_, err = q.toRequest(1, "PFX")
		}
		if err != nil {
			refused++
			checkRendered(t, "pfx", []byte(s), err)
		}
	}
	if refused < len(decodeSeeds)-2 {
		t.Errorf("only %d of %d seeds refused", refused, len(decodeSeeds))
	}
}
