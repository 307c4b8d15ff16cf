package e2e

import (
	"strings"
	"testing"
)

// TestCollectionID: every endpoint that takes the optional collectionId
// query parameter treats it alike: absent or empty means none, a
// non-integer is a 400 naming collectionId.
func TestCollectionID(t *testing.T) {
	in := start(t, "")
	cases := []struct {
		method, path, body string
	}{
		{"GET", "/Certificates/999999", ""},
		{"POST", "/Certificates/Revoke", `{"CertificateIds":[999999],"Reason":0,"Comment":"x","EffectiveDate":"2026-01-01T00:00:00Z"}`},
		{"PUT", "/Certificates/Metadata", `{"Id":999999,"Metadata":{}}`},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			for _, q := range []string{"", "?collectionId=", "?collectionId=7"} {
				code, b := in.call(t, tc.method, tc.path+q, "admin", adminPassword, tc.body)
				if code != 404 {
					t.Errorf("%s%s: %d %s, want 404 (the certificate does not exist)", tc.path, q, code, b)
				}
			}
			code, b := in.call(t, tc.method, tc.path+"?collectionId=abc", "admin", adminPassword, tc.body)
			if code != 400 {
				t.Fatalf("collectionId=abc: %d %s, want 400", code, b)
			}
			if e := decodeError(t, b); !strings.HasPrefix(*e.Message, "collectionId:") {
				t.Errorf("message %q does not name collectionId", *e.Message)
			}
		})
	}
}
