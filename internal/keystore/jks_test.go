package keystore

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
)

// TestEncodeJKS_Keytool lists the store with keytool 17 (storetype JKS):
// one PrivateKeyEntry under the lower-cased friendly name with the whole
// chain leaf first (even when RootFirst is asked for) and the creation
// date from Options.Now; then keytool converts it to PKCS#12, which needs
// the key decrypted with the password, and OpenSSL checks the key is the
// leaf's.
func TestEncodeJKS_Keytool(t *testing.T) {
	needTool(t, "keytool")
	needTool(t, "openssl")
	tests := []struct {
		kt          string
		order       ChainOrder
		now         time.Time
		wantCreated string
	}{
		{"RSA-2048", EndEntityFirst, time.Time{}, "Creation date: Jan 2, 2025"},
		{"P-256", RootFirst, time.Time{}, "Creation date: Jan 2, 2025"},
		{"Ed25519", EndEntityFirst, time.Date(2030, 6, 7, 12, 0, 0, 0, time.UTC), "Creation date: Jun 7, 2030"},
	}
	for _, tt := range tests {
		t.Run(tt.kt, func(t *testing.T) {
			t.Parallel() // JVM start-up waits overlap
			b := bundleFor(t, tt.kt)
			data, err := EncodeJKS(b, Options{Password: testPassword, Order: tt.order, Now: tt.now})
			if err != nil {
				t.Fatal(err)
			}
			f := writeFile(t, "out.jks", data)
			out, err := keytool(t, "-list", "-v", "-keystore", f, "-storepass", testPassword)
			if err != nil {
				t.Fatalf("keytool -list: %v\n%s", err, out)
			}
			for _, want := range []string{
				"Keystore type: JKS",
				"Your keystore contains 1 entry",
				"Alias name: " + strings.ToLower(b.FriendlyName) + "\n",
				tt.wantCreated,
				"Entry type: PrivateKeyEntry",
				"Certificate chain length: 3",
				"Certificate[1]:\nOwner: CN=www.example.com, O=Example Org, C=US",
				"Certificate[2]:\nOwner: CN=Certdock Test Issuing CA",
				"Certificate[3]:\nOwner: CN=Certdock Test Root",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("keytool -list lacks %q:\n%s", want, out)
				}
			}
			assertKeytoolRecoversKey(t, f, testPassword, b)
		})
	}
}

// assertKeytoolRecoversKey converts the JKS to PKCS#12 with keytool (the
// key password defaults to the store password) and checks with OpenSSL
// that the key inside is the leaf's.
func assertKeytoolRecoversKey(t *testing.T, jksFile, password string, b Bundle) {
	t.Helper()
	const destPass = "dest-password"
	dest := filepath.Join(t.TempDir(), "converted.p12")
	out, err := keytool(t, "-importkeystore", "-srckeystore", jksFile, "-srcstoretype", "JKS", "-srcstorepass", password,
		"-destkeystore", dest, "-deststoretype", "PKCS12", "-deststorepass", destPass)
	if err != nil || !strings.Contains(out, "1 entries successfully imported") {
		t.Fatalf("keytool -importkeystore: %v\n%s", err, out)
	}
	pemOut := mustRun(t, nil, "openssl", "pkcs12", "-in", dest, "-passin", "pass:"+destPass, "-nodes", "-nocerts")
	assertKeyIsLeafs(t, pemOut, b.Leaf)
}

// TestEncodeJKS_Latin1Password: a password with a non-ASCII Latin-1
// character opens the store and recovers the key in keytool, so the
// password is encoded as Java encodes it.
func TestEncodeJKS_Latin1Password(t *testing.T) {
	needTool(t, "keytool")
	needTool(t, "openssl")
	const pw = "Pässwörd 1"
	b := bundleFor(t, "P-256")
	data, err := EncodeJKS(b, Options{Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	assertKeytoolRecoversKey(t, writeFile(t, "out.jks", data), pw, b)
}

func TestEncodeJKS_WrongPasswordFailsInKeytool(t *testing.T) {
	needTool(t, "keytool")
	data, err := EncodeJKS(bundleFor(t, "P-256"), Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	out, err := keytool(t, "-list", "-keystore", writeFile(t, "out.jks", data), "-storepass", "wrong password")
	if err == nil || !strings.Contains(out, "password was incorrect") {
		t.Fatalf("keytool with a wrong password: err=%v\n%s", err, out)
	}
}

// TestEncodeJKS_MixedCaseAliasFoundByKeytool: keytool lower-cases the
// alias it is given, so "-alias" with the friendly name as typed finds the
// entry. (An alias stored with capitals would not be found at all.)
func TestEncodeJKS_MixedCaseAliasFoundByKeytool(t *testing.T) {
	needTool(t, "keytool")
	b := bundleFor(t, "RSA-2048")
	b.FriendlyName = "Payroll API Prod"
	data, err := EncodeJKS(b, Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	out, err := keytool(t, "-list", "-keystore", writeFile(t, "out.jks", data), "-storepass", testPassword, "-alias", "Payroll API Prod")
	if err != nil || !strings.Contains(out, "PrivateKeyEntry") {
		t.Fatalf("keytool -list -alias: %v\n%s", err, out)
	}
}

func TestJKSAlias(t *testing.T) {
	b := bundleFor(t, "P-256")
	sum := sha1.Sum(b.Leaf.Raw)
	tests := []struct {
		friendly, want string
	}{
		{"Web Server", "web server"},
		{"ÄBC", "äbc"},
		{"", hex.EncodeToString(sum[:])},
	}
	for _, tt := range tests {
		b.FriendlyName = tt.friendly
		if got := JKSAlias(b); got != tt.want {
			t.Errorf("JKSAlias(%q) = %q, want %q", tt.friendly, got, tt.want)
		}
	}
}

// TestEncodeJKS_RoundTrip loads the store back with the JKS library:
// alias, PKCS#8 key, leaf-first chain, creation time.
func TestEncodeJKS_RoundTrip(t *testing.T) {
	for _, kt := range keyTypes {
		t.Run(kt, func(t *testing.T) {
			b := bundleFor(t, kt)
			b.FriendlyName = ""
			data, err := EncodeJKS(b, Options{Password: testPassword, Order: RootFirst})
			if err != nil {
				t.Fatal(err)
			}
			ks := jks.New()
			if err := ks.Load(bytes.NewReader(data), []byte(testPassword)); err != nil {
				t.Fatal(err)
			}
			if got := ks.Aliases(); len(got) != 1 || got[0] != JKSAlias(b) {
				t.Fatalf("aliases %v, want [%s]", got, JKSAlias(b))
			}
			e, err := ks.GetPrivateKeyEntry(JKSAlias(b), []byte(testPassword))
			if err != nil {
				t.Fatal(err)
			}
			if !e.CreationTime.Equal(b.Leaf.NotBefore) {
				t.Errorf("creation time %v, want the leaf's NotBefore %v", e.CreationTime, b.Leaf.NotBefore)
			}
			key, err := parsePKCS8(e.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(b.Key) {
				t.Error("key differs")
			}
			want := b.certs(EndEntityFirst)
			if len(e.CertificateChain) != len(want) {
				t.Fatalf("chain length %d", len(e.CertificateChain))
			}
			for i, c := range e.CertificateChain {
				if c.Type != "X.509" || !bytes.Equal(c.Content, want[i].Raw) {
					t.Errorf("chain[%d] is not %s", i, want[i].Subject)
				}
			}
		})
	}
}

func TestEncodeJKS_Errors(t *testing.T) {
	b := bundleFor(t, "P-256")
	tests := []struct {
		name     string
		friendly string
		password string
	}{
		{"password beyond Latin-1", "x", "密码"},
		{"alias outside the BMP", "\U0001F600", "x"},
		{"alias with NUL", "a\x00b", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.FriendlyName = tt.friendly
			if _, err := EncodeJKS(b, Options{Password: tt.password}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
