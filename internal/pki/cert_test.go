package pki

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestThumbprint_MatchesOpenSSL(t *testing.T) {
	c := selfSigned(t, mustRaw(t, "CN=thumb"), big.NewInt(1), nil)
	out := strings.TrimSpace(runOpenSSL(t, c, "x509", "-noout", "-fingerprint", "-sha1"))
	want := strings.ReplaceAll(strings.TrimPrefix(strings.ToUpper(out), "SHA1 FINGERPRINT="), ":", "")
	if got := Thumbprint(c); got != want || len(got) != 40 {
		t.Errorf("Thumbprint = %s, openssl says %s", got, want)
	}
}

func mustRaw(t testing.TB, subject string) []byte {
	t.Helper()
	raw, err := mustDN(t, subject).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSerialHex_MatchesOpenSSL(t *testing.T) {
	big20, _ := new(big.Int).SetString("8F0102030405060708090A0B0C0D0E0F10111213", 16)
	tests := []struct {
		name   string
		serial *big.Int
		want   string
	}{
		{"one", big.NewInt(1), "01"},
		{"high bit set", big.NewInt(0x80), "80"},
		{"odd digit count", big.NewInt(0x100), "0100"},
		{"20 octets", big20, "8F0102030405060708090A0B0C0D0E0F10111213"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := selfSigned(t, mustRaw(t, "CN=serial"), tt.serial, nil)
			got := SerialHex(c)
			if got != tt.want {
				t.Errorf("SerialHex = %s, want %s", got, tt.want)
			}
			out := strings.TrimSpace(runOpenSSL(t, c, "x509", "-noout", "-serial"))
			if o := strings.TrimPrefix(out, "serial="); o != got {
				t.Errorf("SerialHex = %s, openssl says %s", got, o)
			}
		})
	}
	if got := FormatSerial(big.NewInt(0)); got != "00" {
		t.Errorf("FormatSerial(0) = %s", got)
	}
	if got := FormatSerial(big.NewInt(-255)); got != "-FF" {
		t.Errorf("FormatSerial(-255) = %s", got)
	}
}

func TestParseSerialHex(t *testing.T) {
	tests := []struct {
		in      string
		want    string // hex, or "" for an error
		wantErr string
	}{
		{in: "80AB", want: "80ab"},
		{in: "80ab", want: "80ab"},
		{in: "0080AB", want: "80ab"},
		{in: "00:80:ab", want: "80ab"},
		{in: "80 ab", want: "80ab"},
		{in: "80-AB", want: "80ab"},
		{in: "", wantErr: "SerialNumber: is empty"},
		{in: "::", wantErr: "SerialNumber: is empty"},
		{in: "0x80", wantErr: `SerialNumber: "0x80" is not hexadecimal`},
		{in: strings.Repeat("0", 129), wantErr: "SerialNumber: is longer than 128 characters"},
	}
	for _, tt := range tests {
		n, err := ParseSerialHex(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseSerialHex(%q) error = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSerialHex(%q): %v", tt.in, err)
			continue
		}
		if n.Text(16) != tt.want {
			t.Errorf("ParseSerialHex(%q) = %s, want %s", tt.in, n.Text(16), tt.want)
		}
	}
	// What SerialHex writes, ParseSerialHex reads back.
	c := selfSigned(t, mustRaw(t, "CN=s"), big.NewInt(0xABCDEF), nil)
	n, err := ParseSerialHex(SerialHex(c))
	if err != nil || n.Cmp(c.SerialNumber) != 0 {
		t.Errorf("ParseSerialHex(SerialHex) = %v, %v; want %v", n, err, c.SerialNumber)
	}
}

func TestSubjectKeyID_MatchesCreateCertificate(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"RSA": rsaKey, "ECDSA": testKey(t), "Ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			// crypto/x509 fills SubjectKeyId itself for a CA template without one.
			tmpl := &x509.Certificate{
				SerialNumber:          big.NewInt(1),
				RawSubject:            mustRaw(t, "CN=CA"),
				NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:              time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
				IsCA:                  true,
				BasicConstraintsValid: true,
				KeyUsage:              x509.KeyUsageCertSign,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SubjectKeyID(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 20 || !bytes.Equal(got, c.SubjectKeyId) {
				t.Errorf("SubjectKeyID = %X, crypto/x509 wrote %X", got, c.SubjectKeyId)
			}
		})
	}
	if _, err := SubjectKeyID("not a key"); err == nil {
		t.Error("SubjectKeyID accepted a string")
	}
}
