package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// goCSR returns the DER of a CSR made by crypto/x509.
func goCSR(t testing.TB, subject string) []byte {
	t.Helper()
	d, err := ParseDN(subject)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{RawSubject: raw, DNSNames: []string{"a.example.com"}}, testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// opensslCSR makes a CSR with openssl req and returns its PEM.
func opensslCSR(t *testing.T, keyAlg string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	args := []string{"req", "-new", "-nodes", "-keyout", filepath.Join(dir, "key.pem"), "-out", filepath.Join(dir, "csr.pem"),
		"-subj", "/C=US/O=Key Example, Inc./CN=csr.example.com", "-addext", "subjectAltName=DNS:csr.example.com"}
	switch keyAlg {
	case "rsa":
		args = append(args, "-newkey", "rsa:2048")
	case "ec":
		args = append(args, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384")
	case "ed25519":
		args = append(args, "-newkey", "ed25519")
	}
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "csr.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeCSR_OpenSSLRequests(t *testing.T) {
	for _, alg := range []string{"rsa", "ec", "ed25519"} {
		t.Run(alg, func(t *testing.T) {
			csr, err := DecodeCSR(opensslCSR(t, alg))
			if err != nil {
				t.Fatalf("DecodeCSR: %v", err)
			}
			d, err := ParseRawDN(csr.RawSubject)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := d.String(), `CN=csr.example.com,O="Key Example, Inc.",C=US`; got != want {
				t.Errorf("subject = %s, want %s", got, want)
			}
			if len(csr.DNSNames) != 1 || csr.DNSNames[0] != "csr.example.com" {
				t.Errorf("DNSNames = %v", csr.DNSNames)
			}
		})
	}
}

func TestDecodeCSR_Encodings(t *testing.T) {
	der := goCSR(t, "CN=enc.example.com")
	b64 := base64.StdEncoding.EncodeToString(der)
	var wrapped strings.Builder // 64-column base64 with CRLF, as some clients send it
	for i := 0; i < len(b64); i += 64 {
		wrapped.WriteString(b64[i:min(len(b64), i+64)] + "\r\n")
	}
	tests := map[string][]byte{
		"PEM":                         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
		"PEM NEW CERTIFICATE REQUEST": pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der}),
		"PEM with surrounding text":   append(append([]byte("Request for enc\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})...), "\n\n"...),
		"base64":                      []byte(b64),
		"base64 without padding":      []byte(strings.TrimRight(b64, "=")),
		"base64 with line breaks":     []byte(wrapped.String()),
		"DER":                         der,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			csr, err := DecodeCSR(in)
			if err != nil {
				t.Fatalf("DecodeCSR: %v", err)
			}
			if csr.Subject.CommonName != "enc.example.com" {
				t.Errorf("CN = %q", csr.Subject.CommonName)
			}
		})
	}
}

func TestDecodeCSR_Rejected(t *testing.T) {
	der := goCSR(t, "CN=bad.example.com")
	// Flip a bit in the signature (the last bytes of the DER).
	tampered := bytes.Clone(der)
	tampered[len(tampered)-2] ^= 0x01
	cert := selfSigned(t, mustRaw(t, "CN=x"), big.NewInt(1), nil)
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})

	tests := []struct {
		name string
		in   []byte
		want string // error prefix
	}{
		{"empty", nil, "CSR: is empty"},
		{"blank", []byte(" \n"), "CSR: is empty"},
		{"too large", bytes.Repeat([]byte("A"), 64<<10+1), "CSR: is 65537 bytes long; the limit is 65536"},
		{"garbage", []byte("hello, world"), "CSR: is neither PEM, base64 nor DER"},
		{"certificate PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), `CSR: PEM block is "CERTIFICATE"; expected "CERTIFICATE REQUEST"`},
		{"two PEM blocks", append(bytes.Clone(csrPEM), csrPEM...), "CSR: has more than one PEM block"},
		{"broken PEM", []byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"), "CSR: has a malformed PEM block"},
		{"certificate DER", cert.Raw, "CSR: is not a valid PKCS#10 request: "},
		{"base64 of garbage", []byte(base64.StdEncoding.EncodeToString([]byte("not der"))), "CSR: is not a valid PKCS#10 request: "},
		{"bad signature", tampered, "CSR: signature does not verify: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCSR(tt.in)
			if err == nil {
				t.Fatalf("DecodeCSR accepted it; want %s", tt.want)
			}
			inputErr(t, err)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestDecodeCertificates(t *testing.T) {
	a := selfSigned(t, mustRaw(t, "CN=a"), big.NewInt(1), nil)
	b := selfSigned(t, mustRaw(t, "CN=b"), big.NewInt(2), nil)
	pemA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Raw})
	pemB := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Raw})
	chain := append(bytes.Clone(pemA), pemB...)

	ok := []struct {
		name string
		in   []byte
		want []string
	}{
		{"PEM chain", chain, []string{"a", "b"}},
		{"PEM with subject header lines", append(append(append([]byte("subject=CN=a\n"), pemA...), "subject=CN=b\n"...), pemB...), []string{"a", "b"}},
		{"PEM with trailing text", append(bytes.Clone(pemA), "trailing notes\n"...), []string{"a"}},
		{"base64", []byte(base64.StdEncoding.EncodeToString(a.Raw)), []string{"a"}},
		{"DER", a.Raw, []string{"a"}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := DecodeCertificates(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range certs {
				got = append(got, c.Subject.CommonName)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	bad := []struct {
		name string
		in   []byte
		want string
	}{
		{"private key block", append(bytes.Clone(pemA), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})...), `Certificate: PEM block 2 is "PRIVATE KEY"; expected "CERTIFICATE"`},
		{"broken second block", append(bytes.Clone(pemA), "-----BEGIN CERTIFICATE-----\nMIIB\n"...), "Certificate: has a malformed PEM block after certificate 1"},
		{"too many", bytes.Repeat(pemA, 65), "Certificate: has more than 64 certificates"},
		{"too large", bytes.Repeat([]byte{'A'}, 1<<20+1), "Certificate: is 1048577 bytes long; the limit is 1048576"},
		{"bad DER in PEM", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}}), "Certificate: certificate 1 is not valid: "},
		{"empty", nil, "Certificate: is empty"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCertificates(tt.in)
			if err == nil {
				t.Fatalf("accepted; want %s", tt.want)
			}
			inputErr(t, err)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want prefix %q", err, tt.want)
			}
		})
	}
}
