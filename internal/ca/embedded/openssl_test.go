package embedded

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	return path
}

func writePEM(t *testing.T, dir, name string, certs ...*x509.Certificate) string {
	t.Helper()
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func colonHex(b []byte) string {
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(s, ":")
}

// TestOpenSSL_VerifyAndText checks one leaf of each key type with real
// openssl: "verify -x509_strict" (which adds OpenSSL's RFC 5280 checks) for
// the TLS server purpose, and the fields "x509 -text" shows.
func TestOpenSSL_VerifyAndText(t *testing.T) {
	openssl := needOpenSSL(t)
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	other, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rootPEM := writePEM(t, dir, "root.pem", tc.m.RootCert)
	issuingPEM := writePEM(t, dir, "issuing.pem", tc.m.IssuingCert)
	otherRootPEM := writePEM(t, dir, "other-root.pem", other.RootCert)
	attime := fmt.Sprint(tc.clock.Now().Unix())

	for _, c := range []struct {
		keyName, pubAlg, keyUsage string
		emptySubject              bool
	}{
		{"RSA-2048", "rsaEncryption", "Digital Signature, Key Encipherment", false},
		{"P-256", "id-ecPublicKey", "Digital Signature", false},
		{"Ed25519", "ED25519", "Digital Signature", false},
		{"P-256", "id-ecPublicKey", "Digital Signature", true},
	} {
		name := c.keyName
		if c.emptySubject {
			name += " empty subject"
		}
		t.Run(name, func(t *testing.T) {
			req := serverRequest(leafKey(t, c.keyName).Public(), "www.example.com")
			if c.emptySubject {
				req.Subject = nil
			}
			resp, err := tc.Issue(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			leafPEM := writePEM(t, dir, strings.ReplaceAll(name, " ", "-")+".pem", resp.Certificate)

			out, err := exec.Command(openssl, "verify", "-x509_strict", "-purpose", "sslserver", "-attime", attime,
				"-CAfile", rootPEM, "-untrusted", issuingPEM, leafPEM).CombinedOutput()
			if err != nil || !strings.Contains(string(out), leafPEM+": OK") {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
			// The same leaf must not verify under another root.
			out, err = exec.Command(openssl, "verify", "-attime", attime,
				"-CAfile", otherRootPEM, "-untrusted", issuingPEM, leafPEM).CombinedOutput()
			if err == nil {
				t.Errorf("openssl verified against an unrelated root:\n%s", out)
			}

			text, err := exec.Command(openssl, "x509", "-in", leafPEM, "-noout", "-text").CombinedOutput()
			if err != nil {
				t.Fatalf("openssl x509: %v\n%s", err, text)
			}
			s := string(text)
			want := []string{
				"Version: 3 (0x2)",
				"Signature Algorithm: ecdsa-with-SHA256",
				"Issuer: O = certdock, CN = certdock Issuing CA 1",
				"Public Key Algorithm: " + c.pubAlg,
				"X509v3 Basic Constraints: critical\n                CA:FALSE\n",
				"X509v3 Key Usage: critical\n                " + c.keyUsage + "\n",
				"X509v3 Extended Key Usage: \n                TLS Web Server Authentication\n",
				"X509v3 Subject Key Identifier: \n                " + colonHex(resp.Certificate.SubjectKeyId) + "\n",
				"X509v3 Authority Key Identifier: \n                " + colonHex(tc.m.IssuingCert.SubjectKeyId) + "\n",
				"Serial Number:",
			}
			if c.emptySubject {
				want = append(want, "X509v3 Subject Alternative Name: critical\n                DNS:www.example.com\n")
			} else {
				want = append(want, "Subject: O = certdock tests, CN = www.example.com\n",
					"X509v3 Subject Alternative Name: \n                DNS:www.example.com\n")
			}
			for _, w := range want {
				if !strings.Contains(s, w) {
					t.Errorf("openssl x509 -text lacks %q", w)
				}
			}
			// NotBefore is a minute before the fake clock; NotAfter 90 days on.
			nb := tc.clock.Now().Add(-DefaultBackdate).UTC().Format("Jan _2 15:04:05 2006 GMT")
			if !strings.Contains(s, "Not Before: "+nb) {
				t.Errorf("openssl shows no Not Before %q", nb)
			}
			if strings.Contains(s, "Key Encipherment") && c.pubAlg != "rsaEncryption" {
				t.Error("keyEncipherment on a non-RSA key")
			}
			if t.Failed() {
				t.Logf("openssl x509 -text:\n%s", s)
			}
		})
	}
}
