package keygen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSpec_Accepted(t *testing.T) {
	tests := []struct {
		keyType   string
		keyLength int
		curve     string
		want      string // Spec.String()
	}{
		// KeyType spellings.
		{"RSA", 0, "", "RSA-2048"},
		{"rsa", 0, "", "RSA-2048"},
		{" Rsa ", 0, "", "RSA-2048"},
		{"", 0, "", "RSA-2048"},
		{"ECC", 0, "", "ECC-P256"},
		{"ecc", 0, "", "ECC-P256"},
		{"EC", 0, "", "ECC-P256"},
		{"ECDSA", 0, "", "ECC-P256"},
		{"ecdsa", 384, "", "ECC-P384"},
		{"Ed25519", 0, "", "Ed25519"},
		{"ED25519", 0, "", "Ed25519"},
		{"ed25519", 0, "", "Ed25519"},
		// RSA lengths.
		{"RSA", 2048, "", "RSA-2048"},
		{"RSA", 3072, "", "RSA-3072"},
		{"RSA", 4096, "", "RSA-4096"},
		{"RSA", 8192, "", "RSA-8192"},
		{"", 4096, "", "RSA-4096"},
		// ECC curve from length.
		{"ECC", 256, "", "ECC-P256"},
		{"ECC", 384, "", "ECC-P384"},
		{"ECC", 521, "", "ECC-P521"},
		// Curve OIDs and names.
		{"ECC", 0, "1.2.840.10045.3.1.7", "ECC-P256"},
		{"ECC", 0, "1.3.132.0.34", "ECC-P384"},
		{"ECC", 0, "1.3.132.0.35", "ECC-P521"},
		{"ECC", 0, "P-256", "ECC-P256"},
		{"ECC", 0, "p256", "ECC-P256"},
		{"ECC", 0, "prime256v1", "ECC-P256"},
		{"ECC", 0, "secp256r1", "ECC-P256"},
		{"ECC", 0, "nistp256", "ECC-P256"},
		{"ECC", 0, "P-384", "ECC-P384"},
		{"ECC", 0, "secp384r1", "ECC-P384"},
		{"ECC", 0, "nistp384", "ECC-P384"},
		{"ECC", 0, "P-521", "ECC-P521"},
		{"ECC", 0, "SECP521R1", "ECC-P521"},
		{"ECC", 0, " P-521 ", "ECC-P521"},
		// Matching length and curve.
		{"ECC", 256, "1.2.840.10045.3.1.7", "ECC-P256"},
		{"ECC", 384, "secp384r1", "ECC-P384"},
		{"ECC", 521, "P-521", "ECC-P521"},
		// KeyType empty: the curve decides.
		{"", 0, "1.3.132.0.34", "ECC-P384"},
		{"", 256, "P-256", "ECC-P256"},
		{"", 0, "1.3.101.112", "Ed25519"},
		{"", 0, "Ed25519", "Ed25519"},
		// Ed25519 as a curve of ECC, as Keyfactor lists it.
		{"ECC", 0, "1.3.101.112", "Ed25519"},
		{"Ed25519", 0, "1.3.101.112", "Ed25519"},
		{"Ed25519", 255, "", "Ed25519"},
		{"Ed25519", 256, "", "Ed25519"},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.keyType, tt.keyLength, tt.curve)
		if err != nil {
			t.Errorf("ParseSpec(%q, %d, %q): %v", tt.keyType, tt.keyLength, tt.curve, err)
			continue
		}
		if s.String() != tt.want {
			t.Errorf("ParseSpec(%q, %d, %q) = %s, want %s", tt.keyType, tt.keyLength, tt.curve, s, tt.want)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("ParseSpec(%q, %d, %q) = %s, which does not Validate: %v", tt.keyType, tt.keyLength, tt.curve, s, err)
		}
	}
}

func TestParseSpec_Rejected(t *testing.T) {
	tests := []struct {
		keyType   string
		keyLength int
		curve     string
		want      string // the whole error; its prefix names the field
	}{
		{"Ed448", 0, "", "KeyType: Ed448 is not supported"},
		{"ed448", 0, "", "KeyType: Ed448 is not supported"},
		{"ECC", 0, "Ed448", "Curve: Ed448 is not supported"},
		{"ECC", 0, "1.3.101.113", "Curve: Ed448 is not supported"},
		{"", 0, "1.3.101.113", "Curve: Ed448 is not supported"},
		{"DSA", 0, "", `KeyType: "DSA" is not a supported key type; use RSA, ECC or Ed25519`},
		{"ML-DSA-65", 0, "", `KeyType: "ML-DSA-65" is not a supported key type; use RSA, ECC or Ed25519`},
		{"RSA", 1024, "", "KeyLength: RSA 1024 is too weak; use 2048, 3072, 4096 or 8192"},
		{"RSA", 512, "", "KeyLength: RSA 512 is too weak; use 2048, 3072, 4096 or 8192"},
		{"RSA", 2000, "", "KeyLength: RSA 2000 is too weak; use 2048, 3072, 4096 or 8192"},
		{"RSA", 2560, "", "KeyLength: RSA 2560 is not supported; use 2048, 3072, 4096 or 8192"},
		{"RSA", 16384, "", "KeyLength: RSA 16384 is not supported; use 2048, 3072, 4096 or 8192"},
		{"RSA", -1, "", "KeyLength: -1 must not be negative"},
		{"RSA", 2048, "P-256", `Curve: "P-256" does not apply to RSA keys`},
		{"ECC", 224, "", "KeyLength: ECC 224 is not supported; use 256 (P-256), 384 (P-384) or 521 (P-521)"},
		{"ECC", 2048, "", "KeyLength: ECC 2048 is not supported; use 256 (P-256), 384 (P-384) or 521 (P-521)"},
		{"ECC", 384, "P-256", "KeyLength: 384 does not match Curve P-256 (256 bits)"},
		{"ECC", 256, "1.3.132.0.35", "KeyLength: 256 does not match Curve P-521 (521 bits)"},
		{"ECC", 0, "secp256k1", `Curve: "secp256k1" is not a supported curve; use P-256 (1.2.840.10045.3.1.7), P-384 (1.3.132.0.34) or P-521 (1.3.132.0.35)`},
		{"ECC", 0, "1.3.132.0.33", `Curve: "1.3.132.0.33" is not a supported curve; use P-256 (1.2.840.10045.3.1.7), P-384 (1.3.132.0.34) or P-521 (1.3.132.0.35)`},
		{"", 0, "brainpoolP256r1", `Curve: "brainpoolP256r1" is not a supported curve; use P-256 (1.2.840.10045.3.1.7), P-384 (1.3.132.0.34) or P-521 (1.3.132.0.35)`},
		{"Ed25519", 0, "P-256", `Curve: "P-256" does not apply to Ed25519 keys`},
		{"Ed25519", 2048, "", "KeyLength: 2048 does not apply to Ed25519 keys (leave it 0)"},
		{"ECC", 384, "1.3.101.112", "KeyLength: 384 does not apply to Ed25519 keys (leave it 0)"},
		{"ECC", 0, strings.Repeat("x", 100), `Curve: "` + strings.Repeat("x", 64) + `..." is not a supported curve; use P-256 (1.2.840.10045.3.1.7), P-384 (1.3.132.0.34) or P-521 (1.3.132.0.35)`},
	}
	for _, tt := range tests {
		s, err := ParseSpec(tt.keyType, tt.keyLength, tt.curve)
		if err == nil {
			t.Errorf("ParseSpec(%q, %d, %q) = %s, want error %q", tt.keyType, tt.keyLength, tt.curve, s, tt.want)
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("ParseSpec(%q, %d, %q) error %v is %T, not *FieldError", tt.keyType, tt.keyLength, tt.curve, err, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseSpec(%q, %d, %q)\n got: %s\nwant: %s", tt.keyType, tt.keyLength, tt.curve, err, tt.want)
		}
		if wantField, _, _ := strings.Cut(tt.want, ":"); fe.Field != wantField {
			t.Errorf("Field = %q, want %q", fe.Field, wantField)
		}
	}
}

func TestSpec_Names(t *testing.T) {
	tests := []struct {
		spec                   Spec
		str, keyType, curveOID string
	}{
		{RSA2048, "RSA-2048", "RSA", ""},
		{Spec{Algorithm: RSA, Bits: 4096}, "RSA-4096", "RSA", ""},
		{ECCP256, "ECC-P256", "ECC", "1.2.840.10045.3.1.7"},
		{ECCP384, "ECC-P384", "ECC", "1.3.132.0.34"},
		{ECCP521, "ECC-P521", "ECC", "1.3.132.0.35"},
		{Ed25519Key, "Ed25519", "Ed25519", "1.3.101.112"},
		{Spec{}, "invalid", "", ""},
	}
	for _, tt := range tests {
		if got := tt.spec.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.spec.KeyTypeName(); got != tt.keyType {
			t.Errorf("%s KeyTypeName() = %q, want %q", tt.str, got, tt.keyType)
		}
		if got := tt.spec.CurveOID(); got != tt.curveOID {
			t.Errorf("%s CurveOID() = %q, want %q", tt.str, got, tt.curveOID)
		}
	}
	if got := Algorithm(9).String(); got != "Algorithm(9)" {
		t.Errorf("Algorithm(9).String() = %q", got)
	}
}

func TestSpec_Validate(t *testing.T) {
	bad := []struct {
		spec Spec
		want string
	}{
		{Spec{}, "KeyType: no key type"},
		{Spec{Algorithm: RSA, Bits: 1024}, "KeyLength: RSA 1024 is too weak; use 2048, 3072, 4096 or 8192"},
		{Spec{Algorithm: ECDSA, Bits: 224, Curve: elliptic.P224()}, "Curve: P-224 is not a supported curve; use P-256, P-384 or P-521"},
		{Spec{Algorithm: ECDSA, Bits: 256}, "Curve: 256-bit is not a supported curve; use P-256, P-384 or P-521"},
		{Spec{Algorithm: ECDSA, Bits: 256, Curve: elliptic.P384()}, "Curve: P-384 is not a supported curve; use P-256, P-384 or P-521"},
		{Spec{Algorithm: Ed25519, Bits: 256}, "KeyType: Ed25519 takes no key length or curve"},
	}
	for _, tt := range bad {
		err := tt.spec.Validate()
		if err == nil || err.Error() != tt.want {
			t.Errorf("%+v.Validate() = %v, want %s", tt.spec, err, tt.want)
		}
	}
}

// opensslDescribes checks with openssl that the PKCS#8 encoding of key shows
// want in its text form.
func opensslDescribes(t *testing.T, key crypto.Signer, want string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkey", "-in", path, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkey: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), want) {
		t.Errorf("openssl pkey -text does not show %q:\n%.300s", want, out)
	}
	if out, err := exec.Command("openssl", "pkey", "-in", path, "-noout", "-check").CombinedOutput(); err != nil && !strings.Contains(string(out), "not supported") {
		t.Errorf("openssl pkey -check: %v\n%s", err, out)
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		spec    Spec
		openssl string // what openssl pkey -text shows
		slow    bool
	}{
		{RSA2048, "Private-Key: (2048 bit, 2 primes)", false},
		{Spec{Algorithm: RSA, Bits: 3072}, "Private-Key: (3072 bit, 2 primes)", false},
		{Spec{Algorithm: RSA, Bits: 4096}, "Private-Key: (4096 bit, 2 primes)", false},
		{Spec{Algorithm: RSA, Bits: 8192}, "Private-Key: (8192 bit, 2 primes)", true},
		{ECCP256, "NIST CURVE: P-256", false},
		{ECCP384, "NIST CURVE: P-384", false},
		{ECCP521, "NIST CURVE: P-521", false},
		{Ed25519Key, "ED25519 Private-Key:", false},
	}
	for _, tt := range tests {
		t.Run(tt.spec.String(), func(t *testing.T) {
			if tt.slow && (testing.Short() || os.Getenv("CERTDOCK_SLOW_TESTS") == "") {
				t.Skip("RSA-8192 takes up to 30 s; set CERTDOCK_SLOW_TESTS=1 to run it")
			}
			if !tt.slow {
				t.Parallel()
			}
			key, err := Generate(rand.Reader, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := SpecOf(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.spec.String() {
				t.Errorf("SpecOf(generated key) = %s, want %s", got, tt.spec)
			}
			// The key signs, and the signature verifies with its public key.
			msg := []byte("certdock")
			digest := sha256.Sum256(msg)
			var sig []byte
			var ok bool
			switch pub := key.Public().(type) {
			case *rsa.PublicKey:
				sig, err = key.Sign(rand.Reader, digest[:], crypto.SHA256)
				ok = err == nil && rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) == nil
			case *ecdsa.PublicKey:
				sig, err = key.Sign(rand.Reader, digest[:], crypto.SHA256)
				ok = err == nil && ecdsa.VerifyASN1(pub, digest[:], sig)
			case ed25519.PublicKey:
				sig, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
				ok = err == nil && ed25519.Verify(pub, msg, sig)
			}
			if !ok {
				t.Errorf("signature by the generated key does not verify (err %v)", err)
			}
			opensslDescribes(t, key, tt.openssl)
		})
	}
}

func TestGenerate_RefusesInvalidSpec(t *testing.T) {
	for _, s := range []Spec{{}, {Algorithm: RSA, Bits: 1024}, {Algorithm: ECDSA, Bits: 224, Curve: elliptic.P224()}} {
		if k, err := Generate(rand.Reader, s); err == nil {
			t.Errorf("Generate(%+v) = %T, want error", s, k)
		}
	}
}

func TestSpecOf(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := SpecOf(&weak.PublicKey)
	if err != nil || s.String() != "RSA-1024" {
		t.Errorf("SpecOf(RSA-1024) = %s, %v", s, err)
	}
	if err := s.Validate(); err == nil || err.Error() != "KeyLength: RSA 1024 is too weak; use 2048, 3072, 4096 or 8192" {
		t.Errorf("Validate(RSA-1024) = %v", err)
	}
	if _, err := SpecOf(&p224.PublicKey); err == nil || err.Error() != "Curve: P-224 is not a supported curve; use P-256, P-384 or P-521" {
		t.Errorf("SpecOf(P-224) error = %v", err)
	}
	if _, err := SpecOf("not a key"); err == nil {
		t.Error("SpecOf(string) succeeded")
	}
	if _, err := SpecOf(&rsa.PublicKey{}); err == nil {
		t.Error("SpecOf(RSA without modulus) succeeded")
	}
}

// BenchmarkGenerate measures key generation per spec: the crypto floor of a
// PFX enrollment that the performance notes cite.
func BenchmarkGenerate(b *testing.B) {
	for _, s := range []Spec{RSA2048, ECCP256, ECCP384, Ed25519Key} {
		b.Run(s.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := Generate(rand.Reader, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
