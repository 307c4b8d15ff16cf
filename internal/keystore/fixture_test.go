package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test fixtures: a throwaway CA (root and intermediate, P-256) issuing one
// leaf per key type. Keys are generated once per test binary; RSA-2048
// generation alone is slow enough on a 2-core machine to matter.

var fixtureNotBefore = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

var (
	caOnce  sync.Once
	theCA   testCA
	leafMu  sync.Mutex
	leafFor = map[string]Bundle{}
)

func mustCA(t testing.TB) testCA {
	t.Helper()
	caOnce.Do(func() {
		rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		root := issue(&x509.Certificate{
			Subject:               pkix.Name{CommonName: "Certdock Test Root", Organization: []string{"Certdock Test"}},
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}, nil, rootKey.Public(), rootKey)
		inter := issue(&x509.Certificate{
			Subject:               pkix.Name{CommonName: "Certdock Test Issuing CA", Organization: []string{"Certdock Test"}},
			IsCA:                  true,
			BasicConstraintsValid: true,
			MaxPathLenZero:        true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}, root, interKey.Public(), rootKey)
		theCA = testCA{root: root, inter: inter, rootKey: rootKey, interKey: interKey}
	})
	return theCA
}

var serial int64

// issue signs tmpl with signer; parent nil means self-signed.
func issue(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore = fixtureNotBefore
	tmpl.NotAfter = fixtureNotBefore.AddDate(1, 0, 0)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// keyTypes are the key types every format is tested with.
var keyTypes = []string{"RSA-2048", "P-256", "Ed25519"}

func newKey(keyType string) crypto.Signer {
	var k crypto.Signer
	var err error
	switch keyType {
	case "RSA-2048":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "P-256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "Ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("unknown key type " + keyType)
	}
	if err != nil {
		panic(err)
	}
	return k
}

// bundleFor returns a bundle with the full chain (intermediate, root), a
// friendly name and a CSP name, for keyType. Tests may change the copy.
func bundleFor(t testing.TB, keyType string) Bundle {
	t.Helper()
	ca := mustCA(t)
	leafMu.Lock()
	defer leafMu.Unlock()
	if b, ok := leafFor[keyType]; ok {
		b.Chain = append([]*x509.Certificate(nil), b.Chain...)
		return b
	}
	key := newKey(keyType)
	leaf := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "www.example.com", Organization: []string{"Example Org"}, Country: []string{"US"}},
		DNSNames:    []string{"www.example.com"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca.inter, key.Public(), ca.interKey)
	b := Bundle{
		Key:          key,
		Leaf:         leaf,
		Chain:        []*x509.Certificate{ca.inter, ca.root},
		FriendlyName: "Web Server " + keyType,
		CSPName:      "Microsoft Enhanced RSA and AES Cryptographic Provider",
	}
	leafFor[keyType] = b
	b.Chain = append([]*x509.Certificate(nil), b.Chain...)
	return b
}

// testPassword has a space and a non-ASCII (but Latin-1 and BMP)
// character, so every format's password encoding is exercised.
const testPassword = "Passw0rd 1"

// needTool skips the test when a real tool is not installed.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not in PATH", name)
	}
}

// run runs a tool and returns its combined output; env entries are added
// to the environment. A UTF-8 locale makes the JVM decode non-ASCII
// arguments correctly.
func run(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	stdout, stderr, err := runSplit(t, env, name, args...)
	return stdout + stderr, err
}

// runSplit is run with stdout and stderr apart, for tools (openssl pkcs12
// -info) that write one story to each and interleave them unpredictably.
func runSplit(t testing.TB, env []string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	cmd.Env = append(cmd.Env, env...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func mustRun(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// keytool runs keytool with JVM options for a fast start, and with a
// fixed time zone and language so that dates print the same everywhere.
func keytool(t testing.TB, args ...string) (string, error) {
	t.Helper()
	jvm := []string{"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-J-Xshare:auto",
		"-J-Duser.timezone=UTC", "-J-Duser.language=en", "-J-Duser.country=US"}
	return run(t, nil, "keytool", append(jvm, args...)...)
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// publicKeyPEM is the SubjectPublicKeyInfo PEM of pub, as "openssl pkey
// -pubout" prints it.
func publicKeyPEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixedRand is a deterministic randomness source for tests that compare
// outputs.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

func newP224(t testing.TB) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func parsePKCS8(der []byte) (crypto.PrivateKey, error) { return x509.ParsePKCS8PrivateKey(der) }
