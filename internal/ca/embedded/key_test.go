package embedded

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"testing"
)

func TestMarshalPrivateKey_RoundTrip(t *testing.T) {
	m, err := Bootstrap(rand.Reader, t0, BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rootDER, issuingDER, err := m.MarshalKeys()
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{"root": rootDER, "issuing": issuingDER} {
		key, err := ParsePrivateKey(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cert := map[string]*x509.Certificate{"root": m.RootCert, "issuing": m.IssuingCert}[name]
		if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
			t.Errorf("%s key changed in the round trip", name)
		}
	}
	// The parsed issuing key can run the CA.
	key, _ := ParsePrivateKey(issuingDER)
	if _, err := New(Options{Cert: m.IssuingCert, Signer: key, Chain: []*x509.Certificate{m.RootCert}}); err != nil {
		t.Errorf("CA from parsed key: %v", err)
	}
	for name, k := range leafKeys() {
		der, err := MarshalPrivateKey(k)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := ParsePrivateKey(der); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParsePrivateKey_Errors(t *testing.T) {
	good, _ := MarshalPrivateKey(leafKey(t, "P-256"))
	for name, der := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("not a key"),
		"truncated": good[:len(good)-3],
		"too large": append(bytes.Clone(good), make([]byte, MaxPrivateKeySize)...),
	} {
		if _, err := ParsePrivateKey(der); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	for _, k := range leafKeys() {
		der, _ := MarshalPrivateKey(k)
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		key, err := ParsePrivateKey(der)
		if err == nil && key == nil {
			t.Fatal("nil key without error")
		}
	})
}
