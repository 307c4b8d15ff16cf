package enroll_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/certdock/certdock/internal/enroll"
)

// FuzzParseCSR feeds POST /Enrollment/CSR/Parse's decoder (PEM, base64 or
// DER, signature check, subject, SANs including UPN otherNames, key) with
// arbitrary bytes: it must never panic, and what it accepts it describes
// with a Key entry.
func FuzzParseCSR(f *testing.F) {
	der, err := x509.CreateCertificateRequest(nil, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "f.example.com"},
		DNSNames: []string{"f.example.com"}, EmailAddresses: []string{"a@example.com"}}, ecKey256)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add(der)
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte("0\x82\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := enroll.ParseCSR(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "CSR") {
				t.Fatalf("error does not name the CSR field: %v", err)
			}
			return
		}
		if len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "Key=") {
			t.Fatalf("accepted CSR described as %q", out)
		}
	})
}
