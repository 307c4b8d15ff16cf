package httpapi

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/errs"
)

// FuzzDeliveryRequests feeds arbitrary bodies to the Deploy, Replace and
// Certificates/Add and /Remove decoders and their validation: they never
// panic, and a refusal is always a 400 that names a field or the body.
func FuzzDeliveryRequests(f *testing.F) {
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"Stores":[{"StoreId":"x"}]}`,
		`{"CertificateId":1,"Password":"p","Stores":[{"StoreId":"0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11","Alias":"a","Overwrite":true,"Properties":{"k":1}}],"JobTime":"2026-01-01T00:00:00Z"}`,
		`{"RequestId":2,"Password":"p","StoreIds":["{0B3A8C1E-7D7F-4D8E-9A55-2F1E5C0D9A11}"],"StoreTypes":[{"StoreTypeId":102,"Alias":"j","Overwrite":true,"Properties":[1]}]}`,
		`{"ExistingCertificateId":1,"CertificateId":2,"RequestId":3,"Password":null,"JobTime":"yesterday"}`,
		`{"CertificateId":1,"CertificateStores":[{"CertificateStoreId":"0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11","EntryPassword":{"SecretValue":"x"},"IncludePrivateKey":true}],"Schedule":{"Immediate":true}}`,
		`{"CertificateStores":[{"CertificateStoreId":"x","Alias":"a"}],"Schedule":{"ExactlyOnce":{"Time":"2026-01-01T00:00:00Z"}}}`,
		`{"Schedule":{"Interval":{"Minutes":5}}}`, `{"Schedule":{"Immediate":false}}`, `{"StoreTypes":[{"StoreTypeId":"x"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			if e := errs.As(err); e.Kind != errs.Invalid {
				t.Fatalf("refusal of kind %d (%v), want Invalid", e.Kind, err)
			}
		}
		var d deployReq
		if err := decode(httptest.NewRequest("POST", "/", bytes.NewReader(body)), &d, false); err != nil {
			check(err)
		} else if r, err := d.toRequest(); err != nil {
			check(err)
		} else {
			check(r.Validate())
		}
		var rp replaceReq
		if err := decode(httptest.NewRequest("POST", "/", bytes.NewReader(body)), &rp, false); err != nil {
			check(err)
		} else {
			r := delivery.ReplaceRequest{ExistingCertificateID: rp.ExistingCertificateId, CertificateID: rp.CertificateId, RequestID: rp.RequestId}
			_, err := optionalTimestamp("JobTime", rp.JobTime)
			check(err)
			check(r.Validate())
		}
		var a addCertReq
		if err := decode(httptest.NewRequest("POST", "/", bytes.NewReader(body)), &a, false); err != nil {
			check(err)
		} else {
			_, err := a.Schedule.dueAt()
			check(err)
		}
		var rm removeCertReq
		if err := decode(httptest.NewRequest("POST", "/", bytes.NewReader(body)), &rm, false); err != nil {
			check(err)
		}
	})
}
