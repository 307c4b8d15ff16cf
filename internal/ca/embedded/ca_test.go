package embedded

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/ca"
)

// checkRFC5280 asserts the properties every leaf from the embedded CA must
// have, independent of the request.
func checkRFC5280(t *testing.T, tc *testCA, cert *x509.Certificate) {
	t.Helper()
	issuer := tc.m.IssuingCert

	// 4.1.2.2 serial: positive, non-zero, at most 20 octets encoded.
	if cert.SerialNumber.Sign() <= 0 {
		t.Errorf("serial %v is not positive", cert.SerialNumber)
	}
	enc, _ := asn1.Marshal(cert.SerialNumber)
	if n := len(enc) - 2; n > 20 {
		t.Errorf("serial encodes in %d octets", n)
	}
	if cert.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %x has only %d bits: not from 20 random bytes", cert.SerialNumber, cert.SerialNumber.BitLen())
	}

	// Validity inside the issuer's.
	if cert.NotBefore.Before(issuer.NotBefore) || cert.NotAfter.After(issuer.NotAfter) {
		t.Errorf("validity %v..%v outside issuer's %v..%v", cert.NotBefore, cert.NotAfter, issuer.NotBefore, issuer.NotAfter)
	}

	// 4.2.1.2 SKI from the key: leftmost 160 bits of SHA-256 of the
	// subjectPublicKey bits (RFC 7093).
	var spki struct {
		Alg pkix.AlgorithmIdentifier
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki.Key.Bytes)
	if !bytes.Equal(cert.SubjectKeyId, sum[:20]) {
		t.Errorf("SKI %x, want %x", cert.SubjectKeyId, sum[:20])
	}
	if e, ok := ext(cert, oidSKI); !ok || e.Critical {
		t.Error("SKI extension missing or critical")
	}
	// 4.2.1.1 AKI = issuer's SKI.
	if len(issuer.SubjectKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, issuer.SubjectKeyId) {
		t.Errorf("AKI %x, issuer SKI %x", cert.AuthorityKeyId, issuer.SubjectKeyId)
	}
	if e, ok := ext(cert, oidAKI); !ok || e.Critical {
		t.Error("AKI extension missing or critical")
	}

	// 4.2.1.9 basicConstraints present and critical; leaf: cA FALSE.
	if e, ok := ext(cert, oidBC); !ok || !e.Critical {
		t.Error("basicConstraints missing or not critical")
	}
	if !cert.BasicConstraintsValid || cert.IsCA || cert.MaxPathLen != -1 {
		t.Errorf("basicConstraints valid=%v CA=%v pathlen=%d, want CA:FALSE without pathlen", cert.BasicConstraintsValid, cert.IsCA, cert.MaxPathLen)
	}
	// 4.2.1.3 keyUsage critical, never keyCertSign on a leaf.
	if e, ok := ext(cert, oidKU); !ok || !e.Critical {
		t.Error("keyUsage missing or not critical")
	}
	if cert.KeyUsage&x509.KeyUsageCertSign != 0 {
		t.Error("leaf has keyCertSign")
	}
	// Signature algorithm follows the CA key.
	if want := sigAlgFor(issuer.PublicKey); cert.SignatureAlgorithm != want {
		t.Errorf("signature algorithm %v, want %v", cert.SignatureAlgorithm, want)
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("signature does not verify with the issuing CA: %v", err)
	}
	if cert.Version != 3 {
		t.Errorf("version %d", cert.Version)
	}
}

func sigAlgFor(pub crypto.PublicKey) x509.SignatureAlgorithm {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256
		case elliptic.P384():
			return x509.ECDSAWithSHA384
		case elliptic.P521():
			return x509.ECDSAWithSHA512
		}
	case *rsa.PublicKey:
		return x509.SHA256WithRSA
	}
	return x509.PureEd25519
}

func TestIssue_KeyTypes(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	for _, k := range []struct {
		name    string
		wantKU  x509.KeyUsage
		wantAlg x509.PublicKeyAlgorithm
	}{
		{"RSA-2048", x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, x509.RSA},
		{"P-256", x509.KeyUsageDigitalSignature, x509.ECDSA},
		{"P-384", x509.KeyUsageDigitalSignature, x509.ECDSA},
		{"Ed25519", x509.KeyUsageDigitalSignature, x509.Ed25519},
	} {
		t.Run(k.name, func(t *testing.T) {
			key := leafKey(t, k.name)
			resp, err := tc.Issue(context.Background(), serverRequest(key.Public(), "www.example.com"))
			if err != nil {
				t.Fatal(err)
			}
			cert := resp.Certificate
			checkRFC5280(t, tc, cert)
			if cert.KeyUsage != k.wantKU {
				t.Errorf("keyUsage %#x, want %#x", cert.KeyUsage, k.wantKU)
			}
			if cert.PublicKeyAlgorithm != k.wantAlg {
				t.Errorf("key algorithm %v", cert.PublicKeyAlgorithm)
			}
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Error("certificate holds another key")
			}
			if err := tc.verify(t, cert, x509.ExtKeyUsageServerAuth); err != nil {
				t.Errorf("x509.Verify for serverAuth: %v", err)
			}
			if err := tc.verify(t, cert, x509.ExtKeyUsageClientAuth); err == nil {
				t.Error("verified for clientAuth, which was not requested")
			}
			if cert.Subject.String() != "CN=www.example.com,O=certdock tests" {
				t.Errorf("subject %s", cert.Subject)
			}
			if len(resp.Chain) != 2 || !resp.Chain[0].Equal(tc.m.IssuingCert) || !resp.Chain[1].Equal(tc.m.RootCert) {
				t.Errorf("chain is not [issuing, root]")
			}
		})
	}
}

func TestIssue_SignatureAlgorithmFollowsCAKey(t *testing.T) {
	leaf := leafKey(t, "P-256").Public()
	for _, tcase := range []struct {
		name  string
		curve elliptic.Curve
		want  x509.SignatureAlgorithm
	}{
		{"P-256 issuing CA", elliptic.P256(), x509.ECDSAWithSHA256},
		{"P-384 issuing CA", elliptic.P384(), x509.ECDSAWithSHA384},
	} {
		t.Run(tcase.name, func(t *testing.T) {
			tc := newTestCA(t, BootstrapOptions{IssuingCurve: tcase.curve}, Options{})
			resp, err := tc.Issue(context.Background(), serverRequest(leaf, "a.example"))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Certificate.SignatureAlgorithm; got != tcase.want {
				t.Errorf("signature algorithm %v, want %v", got, tcase.want)
			}
			checkRFC5280(t, tc, resp.Certificate)
		})
	}
	// CAs with RSA and Ed25519 keys, made as subordinates of a root.
	for _, name := range []string{"RSA-2048", "Ed25519"} {
		t.Run(name+" issuing CA", func(t *testing.T) {
			m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
			if err != nil {
				t.Fatal(err)
			}
			root, _ := New(Options{Cert: m.RootCert, Signer: m.RootKey, Clock: func() time.Time { return t0 }})
			key := leafKey(t, name)
			sub, err := root.Issue(context.Background(), &ca.IssueRequest{
				PublicKey: key.Public(), Subject: cn(name + " CA"),
				Profile: ca.Profile{Validity: 24 * time.Hour, IsCA: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(Options{Cert: sub.Certificate, Signer: key, Chain: []*x509.Certificate{m.RootCert}, Clock: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Issue(context.Background(), serverRequest(leaf, "a.example"))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := resp.Certificate.SignatureAlgorithm, sigAlgFor(key.Public()); got != want {
				t.Errorf("signature algorithm %v, want %v", got, want)
			}
			if len(resp.Chain) != 2 || resp.Chain[0] != sub.Certificate {
				t.Error("chain does not start with the issuing CA")
			}
		})
	}
}

func TestIssue_Validity(t *testing.T) {
	leaf := leafKey(t, "P-256").Public()
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	issuer := tc.m.IssuingCert
	for _, c := range []struct {
		name          string
		now           time.Time
		validity      time.Duration
		backdate      time.Duration
		wantNotBefore time.Time
		wantNotAfter  time.Time
	}{
		{
			name: "backdated one minute", now: t0.Add(48 * time.Hour), validity: 30 * 24 * time.Hour,
			wantNotBefore: t0.Add(48*time.Hour - time.Minute), wantNotAfter: t0.Add(48*time.Hour + 30*24*time.Hour),
		},
		{
			name: "custom backdate", now: t0.Add(48 * time.Hour), validity: time.Hour, backdate: time.Hour,
			wantNotBefore: t0.Add(47 * time.Hour), wantNotAfter: t0.Add(49 * time.Hour),
		},
		{
			name: "sub-second times truncated", now: t0.Add(48*time.Hour + 900*time.Millisecond), validity: time.Hour,
			wantNotBefore: t0.Add(48*time.Hour - time.Minute), wantNotAfter: t0.Add(49 * time.Hour),
		},
		{
			name: "never before the CA", now: issuer.NotBefore.Add(10 * time.Second), validity: time.Hour,
			wantNotBefore: issuer.NotBefore, wantNotAfter: issuer.NotBefore.Add(time.Hour + 10*time.Second),
		},
		{
			name: "clamped to the CA's NotAfter", now: issuer.NotAfter.Add(-24 * time.Hour), validity: 365 * 24 * time.Hour,
			wantNotBefore: issuer.NotAfter.Add(-24*time.Hour - time.Minute), wantNotAfter: issuer.NotAfter,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			clock := &fakeClock{now: c.now}
			ca2, err := tc.m.IssuingCA(Options{Clock: clock.Now, Backdate: c.backdate})
			if err != nil {
				t.Fatal(err)
			}
			req := serverRequest(leaf, "v.example")
			req.Profile.Validity = c.validity
			resp, err := ca2.Issue(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			cert := resp.Certificate
			if !cert.NotBefore.Equal(c.wantNotBefore) || !cert.NotAfter.Equal(c.wantNotAfter) {
				t.Errorf("validity %v .. %v, want %v .. %v", cert.NotBefore, cert.NotAfter, c.wantNotBefore, c.wantNotAfter)
			}
		})
	}
}

func TestIssue_ClampedToChain(t *testing.T) {
	// An issuing CA that (wrongly) outlives its root: leaves still end
	// with the root.
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{RootValidity: 400 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	key := leafKey(t, "P-384")
	long := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "long"}, NotBefore: t0, NotAfter: t0.AddDate(5, 0, 0),
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign, SubjectKeyId: []byte{1, 2, 3},
	}
	der, err := x509.CreateCertificate(rand.Reader, long, m.RootCert, key.Public(), m.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	longCert, _ := x509.ParseCertificate(der)
	c, err := New(Options{Cert: longCert, Signer: key, Chain: []*x509.Certificate{m.RootCert}, Clock: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	req := serverRequest(leafKey(t, "P-256").Public(), "x.example")
	req.Profile.Validity = 1000 * 24 * time.Hour
	resp, err := c.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Certificate.NotAfter.Equal(m.RootCert.NotAfter) {
		t.Errorf("NotAfter %v, want the root's %v", resp.Certificate.NotAfter, m.RootCert.NotAfter)
	}
}

func TestIssue_CAOutsideValidity(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	req := serverRequest(leafKey(t, "P-256").Public(), "x.example")
	for name, now := range map[string]time.Time{
		"expired":       tc.m.IssuingCert.NotAfter,
		"long expired":  tc.m.IssuingCert.NotAfter.AddDate(1, 0, 0),
		"not yet valid": tc.m.IssuingCert.NotBefore.Add(-time.Second),
	} {
		t.Run(name, func(t *testing.T) {
			tc.clock.Set(now)
			_, err := tc.Issue(context.Background(), req)
			if !errors.Is(err, ca.ErrRejected) {
				t.Fatalf("Issue = %v, want ErrRejected", err)
			}
		})
	}
}

func TestIssue_Serial(t *testing.T) {
	leaf := leafKey(t, "P-256").Public()
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issue := func(r io.Reader) (*x509.Certificate, error) {
		c, err := m.IssuingCA(Options{Rand: r, Clock: func() time.Time { return t0 }})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Issue(context.Background(), serverRequest(leaf, "s.example"))
		if err != nil {
			return nil, err
		}
		return resp.Certificate, nil
	}

	t.Run("top bit cleared", func(t *testing.T) {
		cert, err := issue(byteReader(0xff))
		if err != nil {
			t.Fatal(err)
		}
		// 0x7f followed by 19 0xff: 159 bits, 20 octets, no sign padding.
		want := append([]byte{0x7f}, bytes.Repeat([]byte{0xff}, 19)...)
		if !bytes.Equal(cert.SerialNumber.Bytes(), want) {
			t.Errorf("serial %x, want %x", cert.SerialNumber.Bytes(), want)
		}
		enc, _ := asn1.Marshal(cert.SerialNumber)
		if len(enc) != 22 {
			t.Errorf("serial encodes as %x (%d content octets), want 20", enc, len(enc)-2)
		}
	})
	t.Run("zero redrawn", func(t *testing.T) {
		r := io.MultiReader(bytes.NewReader(make([]byte, 20)), byteReader(0x01))
		cert, err := issue(r)
		if err != nil {
			t.Fatal(err)
		}
		if cert.SerialNumber.Sign() <= 0 {
			t.Errorf("serial %v", cert.SerialNumber)
		}
	})
	t.Run("always zero", func(t *testing.T) {
		if _, err := issue(byteReader(0)); err == nil {
			t.Error("issued with a zero serial")
		}
	})
	t.Run("random source fails", func(t *testing.T) {
		if _, err := issue(bytes.NewReader(make([]byte, 5))); err == nil {
			t.Error("issued without randomness")
		}
	})
	t.Run("unique and within 20 octets", func(t *testing.T) {
		c, _ := m.IssuingCA(Options{Clock: func() time.Time { return t0 }})
		seen := map[string]bool{}
		for range 100 {
			resp, err := c.Issue(context.Background(), serverRequest(leaf, "s.example"))
			if err != nil {
				t.Fatal(err)
			}
			s := resp.Certificate.SerialNumber
			enc, _ := asn1.Marshal(s)
			if s.Sign() <= 0 || len(enc)-2 > 20 || seen[s.String()] {
				t.Fatalf("serial %x: positive %v, %d octets, seen before %v", s, s.Sign() > 0, len(enc)-2, seen[s.String()])
			}
			seen[s.String()] = true
		}
	})
}

func TestIssue_SubjectOrderKept(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	leaf := leafKey(t, "P-256").Public()
	oidC := asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOU := asn1.ObjectIdentifier{2, 5, 4, 11}
	for _, tcase := range []struct {
		name    string
		subject pkix.RDNSequence
		want    string
	}{
		{"usual order", pkix.RDNSequence{
			{{Type: oidC, Value: "DE"}}, {{Type: oidOrg, Value: "Acme"}}, {{Type: oidCommonName, Value: "a"}},
		}, "CN=a,O=Acme,C=DE"},
		{"reversed order", pkix.RDNSequence{
			{{Type: oidCommonName, Value: "a"}}, {{Type: oidOrg, Value: "Acme"}}, {{Type: oidC, Value: "DE"}},
		}, "C=DE,O=Acme,CN=a"},
		{"multi-valued RDN and repeats", pkix.RDNSequence{
			{{Type: oidOU, Value: "x"}}, {{Type: oidOU, Value: "y"}},
			{{Type: oidCommonName, Value: "a"}, {Type: oidMail, Value: "a@example.com"}},
		}, "CN=a+1.2.840.113549.1.9.1=#0c0d61406578616d706c652e636f6d,OU=y,OU=x"},
		{"one attribute", pkix.RDNSequence{{{Type: oidCommonName, Value: "only"}}}, "CN=only"},
	} {
		t.Run(tcase.name, func(t *testing.T) {
			req := serverRequest(leaf, "a")
			req.Subject = tcase.subject
			resp, err := tc.Issue(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := asn1.Marshal(tcase.subject)
			if !bytes.Equal(resp.Certificate.RawSubject, want) {
				t.Errorf("subject bytes differ from the request's RDN sequence")
			}
			// pkix.Name reorders attributes; read the encoded sequence.
			var got pkix.RDNSequence
			if _, err := asn1.Unmarshal(resp.Certificate.RawSubject, &got); err != nil {
				t.Fatal(err)
			}
			if got.String() != tcase.want {
				t.Errorf("subject %s, want %s", got, tcase.want)
			}
			if !bytes.Equal(resp.Certificate.RawIssuer, tc.m.IssuingCert.RawSubject) {
				t.Error("issuer name is not the issuing CA's subject")
			}
		})
	}
}

// sanValue builds a subjectAltName extension value with one dNSName.
func sanValue(t *testing.T, name string) []byte {
	t.Helper()
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(name)}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIssue_SubjectAltNames(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	leaf := leafKey(t, "P-256").Public()
	u, _ := url.Parse("spiffe://example.org/svc")

	t.Run("plain SANs with subject are not critical", func(t *testing.T) {
		req := serverRequest(leaf, "a.example")
		req.IPAddresses = []net.IP{net.ParseIP("192.0.2.1")}
		req.EmailAddresses = []string{"ops@example.com"}
		req.URIs = []*url.URL{u}
		resp, err := tc.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Certificate
		if e, _ := ext(c, oidSAN); e.Critical {
			t.Error("SAN critical although the subject is not empty")
		}
		if len(c.DNSNames) != 1 || c.DNSNames[0] != "a.example" || !c.IPAddresses[0].Equal(req.IPAddresses[0]) ||
			c.EmailAddresses[0] != "ops@example.com" || c.URIs[0].String() != u.String() {
			t.Errorf("SANs %v %v %v %v", c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs)
		}
	})
	t.Run("plain SANs with empty subject are critical", func(t *testing.T) {
		req := serverRequest(leaf, "a.example")
		req.Subject = nil
		resp, err := tc.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		c := resp.Certificate
		if e, ok := ext(c, oidSAN); !ok || !e.Critical {
			t.Error("SAN missing or not critical with an empty subject")
		}
		if !bytes.Equal(c.RawSubject, []byte{0x30, 0}) {
			t.Errorf("subject %x, want empty", c.RawSubject)
		}
		checkRFC5280(t, tc, c)
		if err := tc.verify(t, c, x509.ExtKeyUsageServerAuth); err != nil {
			t.Error(err)
		}
	})
	t.Run("caller's SAN extension used as given", func(t *testing.T) {
		req := serverRequest(leaf, "a.example")
		req.DNSNames = nil
		sanExt := pkix.Extension{Id: oidSAN, Critical: true, Value: sanValue(t, "b.example")}
		req.Subject = nil
		req.ExtraExtensions = []pkix.Extension{sanExt}
		resp, err := tc.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := ext(resp.Certificate, oidSAN)
		if !e.Critical || !bytes.Equal(e.Value, sanExt.Value) {
			t.Errorf("SAN extension %+v, want %+v", e, sanExt)
		}
		if d := resp.Certificate.DNSNames; len(d) != 1 || d[0] != "b.example" {
			t.Errorf("DNS names %v", d)
		}
	})
	t.Run("other extensions passed through", func(t *testing.T) {
		req := serverRequest(leaf, "a.example")
		custom := pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: []byte{0x05, 0x00}}
		req.ExtraExtensions = []pkix.Extension{custom}
		req.Profile.UnknownExtKeyUsages = []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 99999, 2}}
		resp, err := tc.Issue(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := ext(resp.Certificate, custom.Id); !ok || !bytes.Equal(e.Value, custom.Value) {
			t.Error("custom extension missing")
		}
		if u := resp.Certificate.UnknownExtKeyUsage; len(u) != 1 || !u[0].Equal(req.Profile.UnknownExtKeyUsages[0]) {
			t.Errorf("unknown EKUs %v", u)
		}
		if e, ok := ext(resp.Certificate, oidEKU); !ok || e.Critical {
			t.Error("extKeyUsage missing or critical")
		}
	})
}

func TestIssue_Rejected(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	leaf := leafKey(t, "P-256").Public()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	bcCA, _ := asn1.Marshal(struct{ IsCA bool }{true})
	for _, c := range []struct {
		name    string
		mod     func(r *ca.IssueRequest)
		errText string
	}{
		{"empty subject without SAN", func(r *ca.IssueRequest) { r.Subject, r.DNSNames = nil, nil }, "no subjectAltName"},
		{"empty subject with non-critical SAN extension", func(r *ca.IssueRequest) {
			r.Subject, r.DNSNames = nil, nil
			r.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Value: sanValue(t, "a.example")}}
		}, "must be critical"},
		{"empty subject with empty SAN extension", func(r *ca.IssueRequest) {
			r.Subject, r.DNSNames = nil, nil
			r.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Critical: true, Value: []byte{0x30, 0}}}
		}, "no names"},
		{"empty subject with garbage SAN extension", func(r *ca.IssueRequest) {
			r.Subject, r.DNSNames = nil, nil
			r.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Critical: true, Value: []byte{0x04, 1, 0}}}
		}, "no names"},
		{"basicConstraints CA:TRUE smuggled in", func(r *ca.IssueRequest) {
			r.ExtraExtensions = []pkix.Extension{{Id: oidBC, Critical: true, Value: bcCA}}
		}, "set by the CA"},
		{"keyUsage extension", func(r *ca.IssueRequest) {
			r.ExtraExtensions = []pkix.Extension{{Id: oidKU, Critical: true, Value: []byte{3, 2, 1, 6}}}
		}, "set by the CA"},
		{"AKI extension", func(r *ca.IssueRequest) {
			r.ExtraExtensions = []pkix.Extension{{Id: oidAKI, Value: []byte{0x30, 0}}}
		}, "set by the CA"},
		{"RSA-1024", func(r *ca.IssueRequest) { r.PublicKey = &weak.PublicKey }, "1024 bits is too small"},
		{"keyCertSign on a leaf", func(r *ca.IssueRequest) { r.Profile.KeyUsage = x509.KeyUsageCertSign }, "only for CA"},
		{"CA below a pathlen 0 issuer", func(r *ca.IssueRequest) { r.Profile.IsCA = true }, "path length 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := serverRequest(leaf, "a.example")
			c.mod(req)
			_, err := tc.Issue(context.Background(), req)
			if !errors.Is(err, ca.ErrRejected) {
				t.Fatalf("Issue = %v, want ErrRejected", err)
			}
			if !strings.Contains(err.Error(), c.errText) {
				t.Errorf("error %q does not say %q", err, c.errText)
			}
		})
	}
}

func TestIssue_InvalidRequest(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	leaf := leafKey(t, "P-256")
	for _, c := range []struct {
		name string
		mod  func(r *ca.IssueRequest)
	}{
		{"no key", func(r *ca.IssueRequest) { r.PublicKey = nil }},
		{"private key instead of public", func(r *ca.IssueRequest) { r.PublicKey = leaf }},
		{"zero validity", func(r *ca.IssueRequest) { r.Profile.Validity = 0 }},
		{"SAN both ways", func(r *ca.IssueRequest) {
			r.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Value: sanValue(t, "x.example")}}
		}},
		{"unencodable subject", func(r *ca.IssueRequest) {
			r.Subject = pkix.RDNSequence{{{Type: oidCommonName, Value: func() {}}}}
		}},
		{"non-IA5 DNS name", func(r *ca.IssueRequest) { r.DNSNames = []string{"bücher.example"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := serverRequest(leaf.Public(), "a.example")
			c.mod(req)
			resp, err := tc.Issue(context.Background(), req)
			if err == nil {
				t.Fatalf("issued %v", resp.Certificate.Subject)
			}
			if errors.Is(err, ca.ErrRejected) {
				t.Errorf("malformed request reported as a rejection: %v", err)
			}
		})
	}
}

func TestIssue_KeyUsageFitsKeyType(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	// One template's usages (as Microsoft templates carry them) serving
	// every key type.
	requested := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	for name, want := range map[string]x509.KeyUsage{
		"RSA-2048": requested,
		"P-256":    x509.KeyUsageDigitalSignature,
		"Ed25519":  x509.KeyUsageDigitalSignature,
	} {
		t.Run(name, func(t *testing.T) {
			req := serverRequest(leafKey(t, name).Public(), "k.example")
			req.Profile.KeyUsage = requested
			resp, err := tc.Issue(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Certificate.KeyUsage != want {
				t.Errorf("keyUsage %#x, want %#x", resp.Certificate.KeyUsage, want)
			}
		})
	}
}

func TestIssue_SubordinateCA(t *testing.T) {
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := New(Options{Cert: m.RootCert, Signer: m.RootKey, Clock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	key := leafKey(t, "P-384").Public()
	for _, c := range []struct {
		name       string
		maxPathLen int
		ok         bool
	}{
		{"pathlen 0 under pathlen 1", 0, true},
		{"pathlen 1 under pathlen 1", 1, false},
		{"unlimited under pathlen 1", -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := root.Issue(context.Background(), &ca.IssueRequest{
				PublicKey: key, Subject: cn("sub"),
				Profile: ca.Profile{Validity: time.Hour, IsCA: true, MaxPathLen: c.maxPathLen},
			})
			if !c.ok {
				if !errors.Is(err, ca.ErrRejected) {
					t.Fatalf("Issue = %v, want ErrRejected", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cert := resp.Certificate
			if !cert.IsCA || cert.MaxPathLen != 0 || !cert.MaxPathLenZero || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("CA=%v pathlen=%d zero=%v ku=%#x", cert.IsCA, cert.MaxPathLen, cert.MaxPathLenZero, cert.KeyUsage)
			}
			if len(resp.Chain) != 1 || !resp.Chain[0].Equal(m.RootCert) {
				t.Error("a root's chain is the root alone")
			}
		})
	}
}

func TestIssue_URLs(t *testing.T) {
	leaf := leafKey(t, "P-256").Public()
	with := newTestCA(t, BootstrapOptions{}, Options{
		CRLURLs:    []string{"http://pki.example/ca1.crl"},
		OCSPURLs:   []string{"http://pki.example/ocsp"},
		IssuerURLs: []string{"http://pki.example/ca1.crt"},
	})
	resp, err := with.Issue(context.Background(), serverRequest(leaf, "u.example"))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Certificate
	if len(c.CRLDistributionPoints) != 1 || c.CRLDistributionPoints[0] != "http://pki.example/ca1.crl" {
		t.Errorf("CDP %v", c.CRLDistributionPoints)
	}
	if len(c.OCSPServer) != 1 || c.OCSPServer[0] != "http://pki.example/ocsp" ||
		len(c.IssuingCertificateURL) != 1 || c.IssuingCertificateURL[0] != "http://pki.example/ca1.crt" {
		t.Errorf("AIA ocsp %v issuers %v", c.OCSPServer, c.IssuingCertificateURL)
	}

	without := newTestCA(t, BootstrapOptions{}, Options{})
	resp, err = without.Issue(context.Background(), serverRequest(leaf, "u.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, oid := range []asn1.ObjectIdentifier{oidCDP, oidAIA} {
		if _, ok := ext(resp.Certificate, oid); ok {
			t.Errorf("extension %v present without URLs", oid)
		}
	}
}

func TestIssue_ContextCanceled(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tc.Issue(ctx, serverRequest(leafKey(t, "P-256").Public(), "c.example")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Issue = %v, want context.Canceled", err)
	}
}

func TestNew_Checks(t *testing.T) {
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca0, _ := m.IssuingCA(Options{Clock: func() time.Time { return t0 }})
	leafResp, err := ca0.Issue(context.Background(), serverRequest(leafKey(t, "P-256").Public(), "l.example"))
	if err != nil {
		t.Fatal(err)
	}
	noSKI := *m.IssuingCert
	noSKI.SubjectKeyId = nil
	for _, c := range []struct {
		name    string
		o       Options
		errText string
	}{
		{"no certificate", Options{Signer: m.IssuingKey}, "needs a certificate"},
		{"no signer", Options{Cert: m.IssuingCert}, "needs a certificate and a signer"},
		{"leaf certificate", Options{Cert: leafResp.Certificate, Signer: leafKey(t, "P-256")}, "not a CA"},
		{"signer of another CA", Options{Cert: m.IssuingCert, Signer: other.IssuingKey}, "not the key of"},
		{"chain of another root", Options{Cert: m.IssuingCert, Signer: m.IssuingKey, Chain: []*x509.Certificate{other.RootCert}}, "not signed by"},
		{"no subject key id", Options{Cert: &noSKI, Signer: m.IssuingKey}, "no subjectKeyIdentifier"},
		{"negative backdate", Options{Cert: m.IssuingCert, Signer: m.IssuingKey, Backdate: -time.Second}, "negative backdate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.o)
			if err == nil || !strings.Contains(err.Error(), c.errText) {
				t.Fatalf("New = %v, want error containing %q", err, c.errText)
			}
		})
	}
}

func TestCA_Chain(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	chain := tc.Chain()
	if len(chain) != 2 || chain[0] != tc.m.IssuingCert || chain[1] != tc.m.RootCert {
		t.Fatalf("Chain() = %v", chain)
	}
	chain[0] = nil
	if tc.Chain()[0] == nil {
		t.Error("Chain() exposes internal state")
	}
	if tc.Certificate() != tc.m.IssuingCert {
		t.Error("Certificate() is not the issuing CA")
	}
}

func BenchmarkIssue(b *testing.B) {
	tc := newTestCA(b, BootstrapOptions{}, Options{})
	req := serverRequest(leafKey(b, "P-256").Public(), "bench.example")
	ctx := context.Background()
	for b.Loop() {
		if _, err := tc.Issue(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
