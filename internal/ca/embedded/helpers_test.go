package embedded

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"sync"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/ca"
)

// t0 is the fake clock's time of bootstrap; tests issue a day later.
var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Leaf keys are generated once: RSA-2048 generation dominates test time.
var leafKeys = sync.OnceValue(func() map[string]crypto.Signer {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]crypto.Signer{"RSA-2048": r, "P-256": p256, "P-384": p384, "Ed25519": ed}
})

func leafKey(t testing.TB, name string) crypto.Signer {
	t.Helper()
	k, ok := leafKeys()[name]
	if !ok {
		t.Fatalf("no leaf key %s", name)
	}
	return k
}

// testCA is a bootstrapped hierarchy with a CA on a fake clock set one day
// after bootstrap.
type testCA struct {
	*CA
	m     *Material
	clock *fakeClock
}

func newTestCA(t testing.TB, bo BootstrapOptions, o Options) *testCA {
	t.Helper()
	m, err := Bootstrap(rand.Reader, t0, bo)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0.Add(24 * time.Hour)}
	o.Clock = clock.Now
	c, err := m.IssuingCA(o)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{CA: c, m: m, clock: clock}
}

func (tc *testCA) verify(t testing.TB, cert *x509.Certificate, eku ...x509.ExtKeyUsage) error {
	t.Helper()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(tc.m.RootCert)
	inter.AddCert(tc.m.IssuingCert)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   tc.clock.Now(),
		KeyUsages:     eku,
	})
	return err
}

var oidOrg = asn1.ObjectIdentifier{2, 5, 4, 10}

func cn(name string) pkix.RDNSequence {
	return pkix.RDNSequence{
		{{Type: oidOrg, Value: "certdock tests"}},
		{{Type: oidCommonName, Value: name}},
	}
}

func serverRequest(pub crypto.PublicKey, name string) *ca.IssueRequest {
	return &ca.IssueRequest{
		PublicKey: pub,
		Subject:   cn(name),
		DNSNames:  []string{name},
		Profile: ca.Profile{
			Validity:     90 * 24 * time.Hour,
			ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
	}
}

// ext returns the certificate's extension with the given OID.
func ext(c *x509.Certificate, oid asn1.ObjectIdentifier) (pkix.Extension, bool) {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

var (
	oidSKI  = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKU   = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBC   = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidCDP  = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidAKI  = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidEKU  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidAIA  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidSAN  = ca.OIDSubjectAltName
	oidMail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// byteReader is an endless reader of one byte value.
type byteReader byte

func (b byteReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}
