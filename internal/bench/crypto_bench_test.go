// Package bench holds benchmarks that cross packages: the crypto floor of
// one PFX enrollment and the in-process enrollment service over a real
// database. It has no non-test code and no tests; run it with
//
//	go test -run '^$' -bench . -benchmem ./internal/bench
//
// docs/performance.md records the figures and how they compare with the
// full HTTPS path (internal/e2e/bench_test.go).
package bench

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/keygen"
	"github.com/certdock/certdock/internal/keystore"
)

// keyTypes are the two key types every benchmark here runs for.
var keyTypes = []struct {
	name string
	spec keygen.Spec
}{
	{"P-256", keygen.ECCP256},
	{"RSA-2048", keygen.RSA2048},
}

// issuingCA bootstraps the built-in hierarchy as the server does on first
// start (P-384 root, P-256 issuing CA) and returns the issuing CA.
func issuingCA(b *testing.B) *embedded.CA {
	b.Helper()
	m, err := embedded.Bootstrap(nil, time.Now(), embedded.BootstrapOptions{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := m.IssuingCA(embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// issueRequest is what enroll.Service hands the CA for a WebServer
// enrollment with subject CN=bench.example.com.
func issueRequest(pub any) *ca.IssueRequest {
	return &ca.IssueRequest{
		PublicKey: pub,
		Subject:   pkix.RDNSequence{{{Type: []int{2, 5, 4, 3}, Value: "bench.example.com"}}},
		Profile: ca.Profile{
			Validity:     365 * 24 * time.Hour,
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
	}
}

// BenchmarkCryptoFloor is the work no implementation of a server-side key
// generation enrollment can avoid: generate the key, have the built-in CA
// sign one certificate, and encrypt one PKCS#12 file (default AES profile,
// default iterations, chain included). Everything the HTTP path costs
// beyond this is overhead.
func BenchmarkCryptoFloor(b *testing.B) {
	ctx := context.Background()
	c := issuingCA(b)
	for _, kt := range keyTypes {
		b.Run(kt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				key, err := keygen.Generate(nil, kt.spec)
				if err != nil {
					b.Fatal(err)
				}
				resp, err := c.Issue(ctx, issueRequest(key.Public()))
				if err != nil {
					b.Fatal(err)
				}
				pfx, err := keystore.EncodePKCS12(keystore.Bundle{Key: key, Leaf: resp.Certificate, Chain: resp.Chain},
					keystore.Options{Password: "bench-password-123"})
				if err != nil {
					b.Fatal(err)
				}
				if len(pfx) == 0 {
					b.Fatal("empty PKCS#12")
				}
			}
		})
	}
}

// BenchmarkCryptoFloorParts splits the floor into its three steps, to
// show which one dominates for each key type.
func BenchmarkCryptoFloorParts(b *testing.B) {
	ctx := context.Background()
	c := issuingCA(b)
	for _, kt := range keyTypes {
		key, err := keygen.Generate(nil, kt.spec)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := c.Issue(ctx, issueRequest(key.Public()))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("keygen/"+kt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keygen.Generate(nil, kt.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("issue/"+kt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Issue(ctx, issueRequest(key.Public())); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("pkcs12/"+kt.name, func(b *testing.B) {
			b.ReportAllocs()
			bundle := keystore.Bundle{Key: key, Leaf: resp.Certificate, Chain: resp.Chain}
			for b.Loop() {
				if _, err := keystore.EncodePKCS12(bundle, keystore.Options{Password: "bench-password-123"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
