package storefile

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/pki"
)

// testPKI is a root, an intermediate and leaves, built once per test.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{}
	p.rootKey = mustEC(t)
	p.root = mkCert(t, "Test Root", p.rootKey.Public(), nil, p.rootKey, true)
	p.interKey = mustEC(t)
	p.inter = mkCert(t, "Test Issuing", p.interKey.Public(), p.root, p.rootKey, true)
	return p
}

func mustEC(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var serial int64 = 100

func mkCert(t *testing.T, cn string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer, isCA bool) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leaf makes an entry: a key (RSA or EC) and leaf, intermediate, root.
func (p *testPKI) leaf(t *testing.T, cn string, rsaKey bool) Entry {
	t.Helper()
	var key crypto.Signer = mustEC(t)
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	c := mkCert(t, cn, key.Public(), p.inter, p.interKey, false)
	return Entry{Key: key, Certificates: []*x509.Certificate{c, p.inter, p.root}}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required for this test: %v", name, err)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func aliases(items []Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Alias)
	}
	return out
}

func find(items []Item, alias string) *Item {
	for i := range items {
		if strings.EqualFold(items[i].Alias, alias) {
			return &items[i]
		}
	}
	return nil
}

// TestStore_AddOverwriteRemove runs the same story on every store kind:
// add two entries, refuse an existing alias, overwrite it, inventory, remove.
func TestStore_AddOverwriteRemove(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	cases := []struct {
		name   string
		store  Store
		multi  bool // holds several key entries
		aliasK bool // keeps the given alias
	}{
		{"PKCS12", Store{Kind: PKCS12, Path: filepath.Join(dir, "s.p12"), Password: "store-pass-1", CreateIfMissing: true}, true, true},
		{"JKS", Store{Kind: JKS, Path: filepath.Join(dir, "s.jks"), Password: "store-pass-1", CreateIfMissing: true}, true, true},
		{"JKS-PKCS12", Store{Kind: JKS, KeystoreType: "PKCS12", Path: filepath.Join(dir, "s2.p12"), Password: "store-pass-1", CreateIfMissing: true}, true, true},
		{"PEM-separate-key", Store{Kind: PEM, Path: filepath.Join(dir, "c.pem"), PrivateKeyPath: filepath.Join(dir, "k.pem"), ChainPath: filepath.Join(dir, "chain.pem"), Password: "store-pass-1", CreateIfMissing: true}, false, false},
		{"PEM-one-file", Store{Kind: PEM, Path: filepath.Join(dir, "all.pem"), CreateIfMissing: true}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.store
			items, err := s.Inventory()
			if err != nil || len(items) != 0 {
				t.Fatalf("empty inventory: %v %v", items, err)
			}
			a := p.leaf(t, "a.example", true)
			a.Alias = "web-a"
			if err := s.Add(a, false); err != nil {
				t.Fatalf("add a: %v", err)
			}
			if fi, err := os.Stat(s.Path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("new store file mode: %v %v", fi.Mode(), err)
			}
			wantAlias := "web-a"
			if !tc.aliasK {
				wantAlias = pki.ThumbprintDER(a.Certificates[0].Raw)
			}
			items, err = s.Inventory()
			if err != nil {
				t.Fatal(err)
			}
			it := find(items, wantAlias)
			if it == nil || !it.PrivateKeyEntry || len(it.Certificates) != 3 || !bytes.Equal(it.Certificates[0], a.Certificates[0].Raw) ||
				!bytes.Equal(it.Certificates[2], p.root.Raw) {
				t.Fatalf("inventory after add: %+v", items)
			}
			// Same alias again without overwrite: refused, file unchanged.
			before, _ := os.ReadFile(s.Path)
			b := p.leaf(t, "b.example", false)
			b.Alias = a.Alias
			if err := s.Add(b, false); !errors.Is(err, ErrAliasExists) {
				t.Fatalf("add existing alias without overwrite: %v", err)
			}
			after, _ := os.ReadFile(s.Path)
			if !bytes.Equal(before, after) {
				t.Fatal("a refused add changed the file")
			}
			// Keep a custom mode across rewrites.
			if err := os.Chmod(s.Path, 0o640); err != nil {
				t.Fatal(err)
			}
			if err := s.Add(b, true); err != nil {
				t.Fatalf("overwrite: %v", err)
			}
			if fi, _ := os.Stat(s.Path); fi.Mode().Perm() != 0o640 {
				t.Fatalf("mode after rewrite %v, want 0640", fi.Mode().Perm())
			}
			items, _ = s.Inventory()
			wantAlias = "web-a"
			if !tc.aliasK {
				wantAlias = pki.ThumbprintDER(b.Certificates[0].Raw)
			}
			if it := find(items, wantAlias); it == nil || !bytes.Equal(it.Certificates[0], b.Certificates[0].Raw) || len(items) != 1 {
				t.Fatalf("inventory after overwrite: %v", aliases(items))
			}
			if tc.multi {
				c := p.leaf(t, "c.example", false)
				c.Alias = "second"
				if err := s.Add(c, false); err != nil {
					t.Fatal(err)
				}
				items, _ = s.Inventory()
				if len(items) != 2 || find(items, "second") == nil || len(find(items, "second").Certificates) != 3 {
					t.Fatalf("two entries: %v", aliases(items))
				}
				if err := s.Remove("SECOND"); err != nil {
					t.Fatalf("remove: %v", err)
				}
			}
			if err := s.Remove("no-such-alias"); !errors.Is(err, ErrNoEntry) {
				t.Fatalf("remove unknown: %v", err)
			}
			if err := s.Remove(wantAlias); err != nil {
				t.Fatalf("remove: %v", err)
			}
			items, err = s.Inventory()
			if err != nil || len(items) != 0 {
				t.Fatalf("after remove: %v %v", aliases(items), err)
			}
		})
	}
}

func TestStore_MissingWithoutCreate(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	for _, s := range []Store{
		{Kind: PEM, Path: filepath.Join(dir, "x.pem")},
		{Kind: PKCS12, Path: filepath.Join(dir, "x.p12"), Password: "pw"},
		{Kind: JKS, Path: filepath.Join(dir, "x.jks"), Password: "pw"},
	} {
		if _, err := s.Inventory(); !errors.Is(err, ErrNoStore) {
			t.Errorf("%s inventory: %v", s.Kind, err)
		}
		if err := s.Add(p.leaf(t, "x", false), false); !errors.Is(err, ErrNoStore) {
			t.Errorf("%s add: %v", s.Kind, err)
		}
		if _, err := os.Stat(s.Path); err == nil {
			t.Errorf("%s: file created", s.Kind)
		}
	}
}

func TestStore_WrongPassword(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	for _, s := range []Store{
		{Kind: PKCS12, Path: filepath.Join(dir, "x.p12"), Password: "right-pw", CreateIfMissing: true},
		{Kind: JKS, Path: filepath.Join(dir, "x.jks"), Password: "right-pw", CreateIfMissing: true},
	} {
		if err := s.Add(p.leaf(t, "x", false), false); err != nil {
			t.Fatal(err)
		}
		s.Password = "wrong-pw"
		if _, err := s.Inventory(); !errors.Is(err, ErrPassword) {
			t.Errorf("%s: %v, want ErrPassword", s.Kind, err)
		}
	}
}

func TestStore_PasswordRequired(t *testing.T) {
	for _, s := range []Store{{Kind: PKCS12, Path: "/tmp/x.p12"}, {Kind: JKS, Path: "/tmp/x.jks"}, {Kind: JKS, Path: "/tmp/x", Password: "p", KeystoreType: "BKS"}} {
		if _, err := s.Inventory(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

// TestStore_InterruptedWriteKeepsOldFile crashes a write after the
// temporary file is complete but before the rename: the store still holds
// exactly its old content, and the temporary file is gone.
func TestStore_InterruptedWriteKeepsOldFile(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	for _, s := range []Store{
		{Kind: PKCS12, Path: filepath.Join(dir, "i.p12"), Password: "pw-123456", CreateIfMissing: true},
		{Kind: JKS, Path: filepath.Join(dir, "i.jks"), Password: "pw-123456", CreateIfMissing: true},
		{Kind: PEM, Path: filepath.Join(dir, "i.pem"), CreateIfMissing: true},
	} {
		first := p.leaf(t, "first", false)
		first.Alias = "first"
		if err := s.Add(first, false); err != nil {
			t.Fatal(err)
		}
		old, _ := os.ReadFile(s.Path)
		crash := errors.New("simulated crash")
		var sawTmp string
		s.beforeRename = func(tmp string) error {
			sawTmp = tmp
			if fi, err := os.Stat(tmp); err != nil || fi.Size() == 0 {
				t.Errorf("temporary file not written: %v", err)
			}
			return crash
		}
		second := p.leaf(t, "second", false)
		second.Alias = "first"
		if err := s.Add(second, true); !errors.Is(err, crash) {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		now, _ := os.ReadFile(s.Path)
		if !bytes.Equal(old, now) {
			t.Fatalf("%s: interrupted write changed the store", s.Kind)
		}
		if _, err := os.Stat(sawTmp); err == nil {
			t.Fatalf("%s: temporary file left behind", s.Kind)
		}
		s.beforeRename = nil
		items, err := s.Inventory()
		if err != nil || len(items) != 1 || !bytes.Equal(items[0].Certificates[0], first.Certificates[0].Raw) {
			t.Fatalf("%s: store after crash: %v %v", s.Kind, items, err)
		}
	}
}

// TestStore_OpenSSLReadsPKCS12 checks a two-entry PKCS#12 store with
// openssl: both keys and all certificates, with their friendly names.
func TestStore_OpenSSLReadsPKCS12(t *testing.T) {
	p := newPKI(t)
	path := filepath.Join(t.TempDir(), "store.p12")
	s := Store{Kind: PKCS12, Path: path, Password: "openssl-pw", CreateIfMissing: true}
	a, b := p.leaf(t, "alpha.example", true), p.leaf(t, "beta.example", false)
	a.Alias, b.Alias = "alpha", "beta"
	for _, e := range []Entry{a, b} {
		if err := s.Add(e, false); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, "openssl", "pkcs12", "-info", "-in", path, "-passin", "pass:openssl-pw", "-nodes")
	if n := strings.Count(out, "-----BEGIN PRIVATE KEY-----"); n != 2 {
		t.Errorf("openssl sees %d keys, want 2\n%s", n, out)
	}
	for _, want := range []string{"friendlyName: alpha", "friendlyName: beta", "CN = alpha.example", "CN = beta.example", "CN = Test Root"} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl output lacks %q", want)
		}
	}
	// openssl writes a store; certdock reads it.
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "k.pem"), filepath.Join(dir, "c.pem")
	c := p.leaf(t, "gamma.example", true)
	os.WriteFile(certFile, certsPEM(c.Certificates), 0o600)
	kp, _ := Store{}.keyPEM(c)
	os.WriteFile(keyFile, kp, 0o600)
	osslStore := filepath.Join(dir, "ossl.p12")
	run(t, "openssl", "pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-name", "gamma", "-out", osslStore, "-passout", "pass:pw-ossl")
	items, err := Store{Kind: PKCS12, Path: osslStore, Password: "pw-ossl"}.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Alias != "gamma" || !items[0].PrivateKeyEntry || len(items[0].Certificates) != 3 {
		t.Fatalf("openssl-made store: %+v", aliases(items))
	}
}

// TestStore_KeytoolReadsJava lists JKS and PKCS12-type keystores with keytool.
func TestStore_KeytoolReadsJava(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	for _, typ := range []string{"JKS", "PKCS12"} {
		path := filepath.Join(dir, "ks-"+typ)
		s := Store{Kind: JKS, KeystoreType: typ, Path: path, Password: "keytool-pw", CreateIfMissing: true}
		a, b := p.leaf(t, "alpha.example", true), p.leaf(t, "beta.example", false)
		a.Alias, b.Alias = "alpha", "beta"
		for _, e := range []Entry{a, b} {
			if err := s.Add(e, false); err != nil {
				t.Fatal(err)
			}
		}
		out := run(t, "keytool", "-list", "-v", "-keystore", path, "-storepass", "keytool-pw", "-storetype", typ)
		if !strings.Contains(out, "Your keystore contains 2 entries") {
			t.Errorf("%s: keytool:\n%s", typ, out)
		}
		for _, want := range []string{"Alias name: alpha", "Alias name: beta", "PrivateKeyEntry", "Certificate chain length: 3", "CN=alpha.example"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: keytool output lacks %q", typ, want)
			}
		}
		// keytool can export the key entry with the entry password (the
		// store password by default).
		run(t, "keytool", "-importkeystore", "-srckeystore", path, "-srcstorepass", "keytool-pw", "-srcstoretype", typ,
			"-srcalias", "alpha", "-destkeystore", filepath.Join(dir, "copy-"+typ+".p12"), "-deststoretype", "PKCS12",
			"-deststorepass", "copy-pw-1", "-srckeypass", "keytool-pw", "-noprompt")
	}
	// A keytool-made JKS is read back.
	kt := filepath.Join(dir, "keytool.jks")
	run(t, "keytool", "-genkeypair", "-keystore", kt, "-storetype", "JKS", "-storepass", "kt-pass", "-keypass", "kt-pass",
		"-alias", "Made-By-Keytool", "-keyalg", "EC", "-dname", "CN=keytool", "-validity", "2")
	items, err := Store{Kind: JKS, Path: kt, Password: "kt-pass"}.Inventory()
	if err != nil || len(items) != 1 || items[0].Alias != "made-by-keytool" || !items[0].PrivateKeyEntry {
		t.Fatalf("keytool-made JKS: %+v %v", items, err)
	}
}

// TestStore_OpenSSLReadsPEM checks the PEM files: the encrypted key opens
// with the store password, the certificate file and the chain file parse.
func TestStore_OpenSSLReadsPEM(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	s := Store{Kind: PEM, Path: filepath.Join(dir, "cert.pem"), PrivateKeyPath: filepath.Join(dir, "key.pem"),
		ChainPath: filepath.Join(dir, "chain.pem"), Password: "pem-pass", CreateIfMissing: true}
	e := p.leaf(t, "pem.example", true)
	if err := s.Add(e, false); err != nil {
		t.Fatal(err)
	}
	if out := run(t, "openssl", "x509", "-in", s.Path, "-noout", "-subject"); !strings.Contains(out, "CN = pem.example") {
		t.Errorf("cert file: %s", out)
	}
	keyOut := run(t, "openssl", "pkey", "-in", s.PrivateKeyPath, "-passin", "pass:pem-pass", "-pubout")
	certPub := run(t, "openssl", "x509", "-in", s.Path, "-noout", "-pubkey")
	if keyOut != certPub {
		t.Errorf("key file does not match the certificate")
	}
	raw, _ := os.ReadFile(s.PrivateKeyPath)
	if !strings.Contains(string(raw), "ENCRYPTED PRIVATE KEY") {
		t.Errorf("key file not encrypted")
	}
	if fi, _ := os.Stat(s.PrivateKeyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", fi.Mode().Perm())
	}
	run(t, "openssl", "verify", "-CAfile", filepath.Join(dir, "chain.pem"), "-partial_chain", s.Path)

	// Without a password the key is plain PKCS#8.
	s2 := Store{Kind: PEM, Path: filepath.Join(dir, "c2.pem"), PrivateKeyPath: filepath.Join(dir, "k2.pem"), CreateIfMissing: true}
	if err := s2.Add(p.leaf(t, "plain.example", false), false); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(s2.PrivateKeyPath)
	if !strings.HasPrefix(string(raw), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("plain key file: %s", raw[:40])
	}
	run(t, "openssl", "pkey", "-in", s2.PrivateKeyPath, "-noout")
}

// TestStore_PEMCertificateList: a PEM trust bundle gains and loses
// certificates one by one.
func TestStore_PEMCertificateList(t *testing.T) {
	p := newPKI(t)
	s := Store{Kind: PEM, Path: filepath.Join(t.TempDir(), "bundle.pem"), CreateIfMissing: true}
	for _, c := range []*x509.Certificate{p.root, p.inter} {
		if err := s.Add(Entry{Certificates: []*x509.Certificate{c}}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Add(Entry{Certificates: []*x509.Certificate{p.root}}, false); !errors.Is(err, ErrAliasExists) {
		t.Fatalf("duplicate: %v", err)
	}
	items, _ := s.Inventory()
	if len(items) != 2 || items[0].PrivateKeyEntry {
		t.Fatalf("bundle: %+v", items)
	}
	if err := s.Remove(strings.ToLower(pki.ThumbprintDER(p.root.Raw))); err != nil {
		t.Fatal(err)
	}
	items, _ = s.Inventory()
	if len(items) != 1 || items[0].Alias != pki.ThumbprintDER(p.inter.Raw) {
		t.Fatalf("after remove: %+v", aliases(items))
	}
}

// TestStore_JKSEntryPassword: a key entry protected by its own password
// opens with it in keytool, not with the store password.
func TestStore_JKSEntryPassword(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "entry.jks")
	s := Store{Kind: JKS, Path: path, Password: "store-pass-1", CreateIfMissing: true}
	e := p.leaf(t, "entry.example", true)
	e.Alias, e.Password = "own", "entry-pass-2"
	if err := s.Add(e, false); err != nil {
		t.Fatal(err)
	}
	export := func(keypass string) error {
		out, err := exec.Command("keytool", "-importkeystore", "-srckeystore", path, "-srcstorepass", "store-pass-1", "-srcstoretype", "JKS",
			"-srcalias", "own", "-srckeypass", keypass, "-destkeystore", filepath.Join(dir, "out-"+keypass+".p12"), "-deststoretype", "PKCS12",
			"-deststorepass", "dest-pass-3", "-destkeypass", "dest-pass-3", "-noprompt").CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := export("entry-pass-2"); err != nil {
		t.Fatalf("keytool with the entry password: %v", err)
	}
	if err := export("store-pass-1"); err == nil {
		t.Fatal("keytool opened the entry with the store password")
	}
}

// TestStore_KeytoolPKCS12 reads a PKCS12-type keystore keytool made and
// adds to it; keytool still reads both entries.
func TestStore_KeytoolPKCS12(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "kt.p12")
	run(t, "keytool", "-genkeypair", "-keystore", path, "-storetype", "PKCS12", "-storepass", "kt-pass-1",
		"-alias", "fromkeytool", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=keytool", "-validity", "2")
	s := Store{Kind: JKS, KeystoreType: "PKCS12", Path: path, Password: "kt-pass-1"}
	items, err := s.Inventory()
	if err != nil || len(items) != 1 || items[0].Alias != "fromkeytool" || !items[0].PrivateKeyEntry {
		t.Fatalf("keytool PKCS12: %+v %v", items, err)
	}
	e := p.leaf(t, "added.example", false)
	e.Alias = "added"
	if err := s.Add(e, false); err != nil {
		t.Fatal(err)
	}
	out := run(t, "keytool", "-list", "-keystore", path, "-storepass", "kt-pass-1", "-storetype", "PKCS12")
	if !strings.Contains(out, "Your keystore contains 2 entries") || !strings.Contains(out, "fromkeytool,") || !strings.Contains(out, "added,") {
		t.Fatalf("keytool after add:\n%s", out)
	}
}

// A store created because it is missing may be in a directory that does not
// exist yet: Add creates it (0700) and the store file (0600); without
// CreateIfMissing nothing is created.
func TestStore_CreateIfMissingMakesDirectories(t *testing.T) {
	p := newPKI(t)
	for _, s := range []Store{
		{Kind: PEM, Path: filepath.Join(t.TempDir(), "a", "b", "x.pem"), CreateIfMissing: true},
		{Kind: PKCS12, Path: filepath.Join(t.TempDir(), "a", "b", "x.p12"), Password: "pw", CreateIfMissing: true},
		{Kind: JKS, Path: filepath.Join(t.TempDir(), "a", "b", "x.jks"), Password: "pw", CreateIfMissing: true},
	} {
		if err := s.Add(p.leaf(t, "made", false), false); err != nil {
			t.Fatalf("%s add: %v", s.Kind, err)
		}
		for dir := filepath.Dir(s.Path); ; dir = filepath.Dir(dir) {
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatalf("%s: %v", s.Kind, err)
			}
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: %s has mode %o, want 700", s.Kind, dir, fi.Mode().Perm())
			}
			if filepath.Base(dir) == "a" {
				break
			}
		}
		fi, err := os.Stat(s.Path)
		if err != nil {
			t.Fatalf("%s: store not written: %v", s.Kind, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: store mode %o, want 600", s.Kind, fi.Mode().Perm())
		}
		items, err := s.Inventory()
		if err != nil || len(items) != 1 {
			t.Errorf("%s inventory after create: %v %v", s.Kind, items, err)
		}

		s.CreateIfMissing = false
		s.Path = filepath.Join(t.TempDir(), "c", "x.store")
		if err := s.Add(p.leaf(t, "not-made", false), false); !errors.Is(err, ErrNoStore) {
			t.Errorf("%s add without CreateIfMissing: %v", s.Kind, err)
		}
		if _, err := os.Stat(filepath.Dir(s.Path)); err == nil {
			t.Errorf("%s: directory created without CreateIfMissing", s.Kind)
		}
	}
}
