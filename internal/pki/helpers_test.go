package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testKey returns a fresh P-256 key; P-256 keeps the tests fast.
func testKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// selfSigned issues a self-signed certificate with the given DER subject,
// serial and extra extensions.
func selfSigned(t testing.TB, rawSubject []byte, serial *big.Int, exts []pkix.Extension) *x509.Certificate {
	t.Helper()
	key := testKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		RawSubject:      rawSubject,
		NotBefore:       time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:        time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("CreateCertificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate: %v", err)
	}
	return c
}

// runOpenSSL runs openssl with the certificate as a PEM file argument and
// returns its standard output. It skips the test when openssl is missing.
func runOpenSSL(t *testing.T, c *x509.Certificate, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	path := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", append(args, "-in", path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// inputErr asserts that err is an *InputError and returns it.
func inputErr(t *testing.T, err error) *InputError {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not an *InputError", err, err)
	}
	return ie
}
