package retrieve

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/certificate"
)

func selfSigned(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestPKCS7KeepsOrder: the bundle lists certificates in the given order,
// including orders a DER SET OF sort would change, and openssl reads it.
func TestPKCS7KeepsOrder(t *testing.T) {
	certs := []*x509.Certificate{selfSigned(t, "zeta leaf"), selfSigned(t, "alpha issuer"), selfSigned(t, "mid root")}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}} {
		var in []*x509.Certificate
		for _, i := range order {
			in = append(in, certs[i])
		}
		der, err := PKCS7(in)
		if err != nil {
			t.Fatal(err)
		}
		var ci struct {
			Type    asn1.ObjectIdentifier
			Content asn1.RawValue `asn1:"explicit,tag:0"`
		}
		if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 || !ci.Type.Equal(oidSignedData) {
			t.Fatalf("ContentInfo: %v", err)
		}
		var sd struct {
			Version      int
			Digests      asn1.RawValue
			Content      encapContentInfo
			Certificates asn1.RawValue `asn1:"tag:0"`
			Signers      asn1.RawValue
		}
		if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
			t.Fatalf("SignedData: %v", err)
		}
		got, err := x509.ParseCertificates(sd.Certificates.Bytes)
		if err != nil || len(got) != 3 {
			t.Fatalf("certificates: %v", err)
		}
		for i := range got {
			if !bytes.Equal(got[i].Raw, in[i].Raw) {
				t.Fatalf("order %v: position %d is %q", order, i, got[i].Subject.CommonName)
			}
		}
		if _, err := exec.LookPath("openssl"); err == nil {
			f := filepath.Join(t.TempDir(), "b.p7b")
			os.WriteFile(f, der, 0o600)
			out, err := exec.Command("openssl", "pkcs7", "-inform", "DER", "-in", f, "-print_certs", "-noout").CombinedOutput()
			if err != nil {
				t.Fatalf("openssl pkcs7: %v\n%s", err, out)
			}
			if first := in[0].Subject.CommonName; !strings.HasPrefix(string(out), "subject=CN = "+first) {
				t.Errorf("openssl lists %q first, want %q", strings.SplitN(string(out), "\n", 2)[0], first)
			}
		}
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ cn, want string }{
		{"www.example.com", "www.example.com.pfx"},
		{"*.example.com", "example.com.pfx"},
		{"a b/c\\d", "a_b_c_d.pfx"},
		{"", "ABCDEF.pfx"},
		{"../..", "ABCDEF.pfx"},
	} {
		if got := FileName(certificate.Record{IssuedCN: tc.cn, Thumbprint: "ABCDEF"}, "pfx"); got != tc.want {
			t.Errorf("FileName(%q) = %q, want %q", tc.cn, got, tc.want)
		}
	}
}
