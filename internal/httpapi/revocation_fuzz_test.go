package httpapi

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/errs"
)

// FuzzRevocationRequests decodes arbitrary bodies as the revocation and
// metadata requests and converts them as the handlers do: every refusal is
// a validation error (4xx), never an internal one, and a revoke request
// that passes has a known reason and a date not in the future.
func FuzzRevocationRequests(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"CertificateIds":[1,2],"Reason":1,"Comment":"c","EffectiveDate":"2026-01-01T00:00:00Z","PublishCRL":true}`,
		`{"CertificateIds":[1],"Reason":"1"}`, `{"CertificateIds":[-1],"Reason":7,"EffectiveDate":"yesterday"}`,
		`{"Id":1,"Metadata":{"A":"x","B":3,"C":true,"D":null}}`, `{"Id":1,"Metadata":{"A":{"x":1}}}`, `{"Id":1,"Metadata":[]}`,
		`{"Query":"IssuedCN -eq \"a\"","Metadata":[{"MetadataName":"A","Value":"1","OverwriteExisting":true}]}`,
		`{"CertificateIds":[1],"Metadata":[{"MetadataName":"A","Value":[1]}]}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			if e := errs.As(err); e.Kind != errs.Invalid || e.Message == "" {
				t.Fatalf("%s: refusal of kind %d (%v), want Invalid", what, e.Kind, err)
			}
		}
		var rv revokeRequestDTO
		if err := decode(httptest.NewRequest("POST", "/", bytes.NewReader(body)), &rv, false); err != nil {
			check("revoke decode", err)
		} else if req, err := rv.toRequest(); err != nil {
			check("revoke convert", err)
		} else if err := req.Validate(now); err != nil {
			check("revoke validate", err)
		} else if req.EffectiveDate.After(now.Add(5 * time.Minute)) {
			t.Fatalf("future EffectiveDate %v accepted", req.EffectiveDate)
		}
		var mu metadataUpdateDTO
		check("metadata decode", decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), &mu, false))
		var ma metadataAllDTO
		check("metadata all decode", decode(httptest.NewRequest("PUT", "/", bytes.NewReader(body)), &ma, false))
		for _, it := range ma.Metadata {
			if it.Value != nil {
				if _, err := scalarText(*it.Value); err != nil && !strings.HasPrefix(strings.TrimSpace(string(*it.Value)), "{") &&
					!strings.HasPrefix(strings.TrimSpace(string(*it.Value)), "[") {
					t.Fatalf("scalar %s refused: %v", *it.Value, err)
				}
			}
		}
	})
}

func TestMetadataValues_Scalars(t *testing.T) {
	var d metadataUpdateDTO
	r := httptest.NewRequest("PUT", "/", strings.NewReader(`{"Id":4,"Metadata":{"S":"x","N":12,"F":1.5,"B":false,"Z":null}}`))
	if err := decode(r, &d, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"S": "x", "N": "12", "F": "1.5", "B": "false", "Z": ""}
	for k, v := range want {
		if d.Metadata[k] != v {
			t.Errorf("%s = %q, want %q", k, d.Metadata[k], v)
		}
	}
	r = httptest.NewRequest("PUT", "/", strings.NewReader(`{"Id":4,"Metadata":{"O":{"a":1}}}`))
	err := decode(r, &d, false)
	if e := errs.As(err); e.Kind != errs.Invalid || !strings.HasPrefix(e.Message, "Metadata.O: ") {
		t.Errorf("object value: %v", err)
	}
}

func TestRevokeDTO_EffectiveDate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2026-01-02T04:04:05+01:00", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2026-01-02T03:04:05.123", time.Date(2026, 1, 2, 3, 4, 5, 123000000, time.UTC), true},
		{"2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), true},
		{"", time.Time{}, true},
		{"02/01/2026", time.Time{}, false},
	} {
		s := tt.in
		req, err := revokeRequestDTO{CertificateIds: []int64{1}, EffectiveDate: &s}.toRequest()
		if (err == nil) != tt.ok || !req.EffectiveDate.Equal(tt.want) {
			t.Errorf("%q: %v %v", tt.in, req.EffectiveDate, err)
		}
		if err != nil && !strings.HasPrefix(errs.As(err).Message, "EffectiveDate: ") {
			t.Errorf("%q: message %q", tt.in, errs.As(err).Message)
		}
	}
}
