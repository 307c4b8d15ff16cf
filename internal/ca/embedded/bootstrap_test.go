package embedded

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"
)

func TestBootstrap_Defaults(t *testing.T) {
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root, issuing := m.RootCert, m.IssuingCert

	for _, c := range []struct {
		name           string
		cert           *x509.Certificate
		subject        string
		curve          elliptic.Curve
		sigAlg         x509.SignatureAlgorithm
		pathLen        int
		notAfter       time.Time
		ku             x509.KeyUsage
		parent         *x509.Certificate
		wantAKIFromSKI []byte
	}{
		{
			name: "root", cert: root, subject: "CN=certdock Root CA,O=certdock", curve: elliptic.P384(),
			sigAlg: x509.ECDSAWithSHA384, pathLen: 1, notAfter: t0.AddDate(20, 0, 0),
			ku: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, parent: root,
		},
		{
			name: "issuing", cert: issuing, subject: "CN=certdock Issuing CA 1,O=certdock", curve: elliptic.P256(),
			sigAlg: x509.ECDSAWithSHA384, pathLen: 0, notAfter: t0.AddDate(10, 0, 0),
			ku: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature, parent: root,
			wantAKIFromSKI: root.SubjectKeyId,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			cert := c.cert
			if got := cert.Subject.String(); got != c.subject {
				t.Errorf("subject %s, want %s", got, c.subject)
			}
			if !bytes.Equal(cert.RawIssuer, c.parent.RawSubject) {
				t.Errorf("issuer %s, want %s", cert.Issuer, c.parent.Subject)
			}
			if err := cert.CheckSignatureFrom(c.parent); err != nil {
				t.Errorf("signature: %v", err)
			}
			if cert.SignatureAlgorithm != c.sigAlg {
				t.Errorf("signature algorithm %v, want %v", cert.SignatureAlgorithm, c.sigAlg)
			}
			pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
			if !ok || pub.Curve != c.curve {
				t.Errorf("public key %T, want ECDSA %s", cert.PublicKey, c.curve.Params().Name)
			}
			if !cert.BasicConstraintsValid || !cert.IsCA || cert.MaxPathLen != c.pathLen || (c.pathLen == 0) != cert.MaxPathLenZero {
				t.Errorf("CA=%v pathlen=%d zero=%v, want pathlen %d", cert.IsCA, cert.MaxPathLen, cert.MaxPathLenZero, c.pathLen)
			}
			if e, ok := ext(cert, oidBC); !ok || !e.Critical {
				t.Error("basicConstraints not critical")
			}
			if cert.KeyUsage != c.ku {
				t.Errorf("keyUsage %#x, want %#x", cert.KeyUsage, c.ku)
			}
			if e, ok := ext(cert, oidKU); !ok || !e.Critical {
				t.Error("keyUsage not critical")
			}
			if !cert.NotBefore.Equal(t0.Add(-time.Minute)) || !cert.NotAfter.Equal(c.notAfter) {
				t.Errorf("validity %v..%v, want %v..%v", cert.NotBefore, cert.NotAfter, t0.Add(-time.Minute), c.notAfter)
			}
			if len(cert.SubjectKeyId) != 20 {
				t.Errorf("SKI %x", cert.SubjectKeyId)
			}
			if c.wantAKIFromSKI != nil && !bytes.Equal(cert.AuthorityKeyId, c.wantAKIFromSKI) {
				t.Errorf("AKI %x, want %x", cert.AuthorityKeyId, c.wantAKIFromSKI)
			}
			enc := cert.SerialNumber.Bytes()
			if cert.SerialNumber.Sign() <= 0 || len(enc) > 20 || (len(enc) == 20 && enc[0]&0x80 != 0) {
				t.Errorf("serial %x", enc)
			}
			if len(cert.ExtKeyUsage)+len(cert.UnknownExtKeyUsage) != 0 {
				t.Error("CA certificates restricted by extKeyUsage")
			}
		})
	}
	if !m.RootKey.Public().(*ecdsa.PublicKey).Equal(root.PublicKey) || !m.IssuingKey.Public().(*ecdsa.PublicKey).Equal(issuing.PublicKey) {
		t.Error("keys do not match certificates")
	}
	if root.SerialNumber.Cmp(issuing.SerialNumber) == 0 {
		t.Error("root and issuing CA share a serial")
	}

	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := issuing.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("issuing CA does not verify against root: %v", err)
	}
}

func TestBootstrap_Options(t *testing.T) {
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{
		RootSubject:     pkix.Name{CommonName: "Acme Root", Organization: []string{"Acme"}, Country: []string{"DE"}},
		IssuingSubject:  pkix.Name{CommonName: "Acme Issuing"},
		RootValidity:    5 * 365 * 24 * time.Hour,
		IssuingValidity: 8 * 365 * 24 * time.Hour, // longer than the root: clamped
		IssuingCurve:    elliptic.P384(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.RootCert.Subject.String(); got != "CN=Acme Root,O=Acme,C=DE" {
		t.Errorf("root subject %s", got)
	}
	if got := m.IssuingCert.Subject.String(); got != "CN=Acme Issuing" {
		t.Errorf("issuing subject %s", got)
	}
	if want := t0.Add(5 * 365 * 24 * time.Hour); !m.RootCert.NotAfter.Equal(want) || !m.IssuingCert.NotAfter.Equal(want) {
		t.Errorf("NotAfter root %v issuing %v, want both %v", m.RootCert.NotAfter, m.IssuingCert.NotAfter, want)
	}
	if m.IssuingCert.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P384() {
		t.Error("issuing key is not P-384")
	}
}

func TestBootstrap_Errors(t *testing.T) {
	for _, c := range []struct {
		name    string
		rand    *bytes.Reader
		opts    BootstrapOptions
		errText string
	}{
		{"P-521 issuing", nil, BootstrapOptions{IssuingCurve: elliptic.P521()}, "not P-256 or P-384"},
		{"P-224 issuing", nil, BootstrapOptions{IssuingCurve: elliptic.P224()}, "not P-256 or P-384"},
		{"negative validity", nil, BootstrapOptions{RootValidity: -time.Hour}, "negative"},
		{"no randomness", bytes.NewReader(nil), BootstrapOptions{}, "EOF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.rand != nil {
				_, err = Bootstrap(c.rand, t0, c.opts)
			} else {
				_, err = Bootstrap(rand.Reader, t0, c.opts)
			}
			if err == nil || !strings.Contains(err.Error(), c.errText) {
				t.Fatalf("Bootstrap = %v, want error containing %q", err, c.errText)
			}
		})
	}
}

func TestBootstrap_NilRandUsesCryptoRand(t *testing.T) {
	m, err := Bootstrap(nil, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.RootCert.SerialNumber.BitLen() < 64 {
		t.Errorf("root serial %x", m.RootCert.SerialNumber)
	}
}
