package keystore

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

var profileNames = []Profile{ProfileModern, ProfileLegacy}

// opensslPKCS12Info runs "openssl pkcs12 -info -nodes" (with -legacy for
// the legacy profile) and returns stdout (bags, PEM) and stderr (the
// structure: MAC, safes, algorithms).
func opensslPKCS12Info(t *testing.T, f, password string, p Profile) (stdout, stderr string) {
	t.Helper()
	args := []string{"pkcs12", "-info", "-nodes", "-in", f, "-passin", "pass:" + password}
	if p == ProfileLegacy {
		args = append(args, "-legacy")
	}
	stdout, stderr, err := runSplit(t, nil, "openssl", args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr
}

// opensslKeyIDText is localKeyID as openssl prints it.
func opensslKeyIDText(leaf *x509.Certificate) string {
	sum := sha1.Sum(leaf.Raw)
	var parts []string
	for _, b := range sum {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	return "localKeyID: " + strings.Join(parts, " ")
}

// opensslBMPText is a BMPString attribute as OpenSSL 3.0 prints it: one
// byte per character (OPENSSL_uni2asc keeps the low byte), so "é" comes
// out as the Latin-1 byte 0xE9. OpenSSL's own "-export -name" files print
// the same way.
func opensslBMPText(s string) string {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

// subjectLines returns the "subject=" lines of openssl output, in order.
func subjectLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "subject=") {
			lines = append(lines, l)
		}
	}
	return lines
}

func wantSubjectLines(certs []*x509.Certificate) []string {
	var lines []string
	for _, c := range certs {
		lines = append(lines, SubjectHeader(c))
	}
	return lines
}

// TestEncodePKCS12_OpenSSL reads every key type in both profiles with
// "openssl pkcs12 -info -nodes": the MAC verifies with the password, the
// algorithms are the profile's, the key safe comes first, the key bag
// shows friendlyName, localKeyID and the CSP name, the leaf bag
// friendlyName and localKeyID, the certificates come in chain order, and
// the decrypted key is the leaf's.
func TestEncodePKCS12_OpenSSL(t *testing.T) {
	needTool(t, "openssl")
	wantAlgs := map[Profile][]string{
		ProfileModern: {
			"MAC: sha256, Iteration 2048",
			"PKCS7 Data\nShrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256\n" +
				"PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256\n" +
				"Certificate bag\nCertificate bag\nCertificate bag\n",
		},
		ProfileLegacy: {
			"MAC: sha1, Iteration 2048",
			"PKCS7 Data\nShrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048\n" +
				"PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC, Iteration 2048\n" +
				"Certificate bag\nCertificate bag\nCertificate bag\n",
		},
	}
	for _, kt := range keyTypes {
		for _, p := range profileNames {
			t.Run(kt+"/"+p.String(), func(t *testing.T) {
				b := bundleFor(t, kt)
				b.FriendlyName = "Web Server é " + kt // é: BMPString beyond ASCII
				data, err := EncodePKCS12(b, Options{Password: testPassword, Profile: p})
				if err != nil {
					t.Fatal(err)
				}
				f := writeFile(t, "out.p12", data)
				stdout, stderr := opensslPKCS12Info(t, f, testPassword, p)

				for _, want := range wantAlgs[p] {
					if !strings.Contains(stderr, want) {
						t.Errorf("openssl structure lacks %q:\n%s", want, stderr)
					}
				}
				keyPart, certPart, ok := strings.Cut(stdout, "-----END PRIVATE KEY-----")
				if !ok {
					t.Fatalf("no private key in openssl output:\n%s", stdout)
				}
				for _, want := range []string{
					opensslKeyIDText(b.Leaf),
					"friendlyName: " + opensslBMPText(b.FriendlyName),
					"Microsoft CSP Name: " + b.CSPName,
				} {
					if !strings.Contains(keyPart, want) {
						t.Errorf("key bag attributes lack %q:\n%s", want, keyPart)
					}
				}
				leafPart, _, _ := strings.Cut(certPart, "-----END CERTIFICATE-----")
				for _, want := range []string{opensslKeyIDText(b.Leaf), "friendlyName: " + opensslBMPText(b.FriendlyName)} {
					if !strings.Contains(leafPart, want) {
						t.Errorf("leaf bag attributes lack %q:\n%s", want, leafPart)
					}
				}
				if strings.Contains(leafPart, "Microsoft CSP Name") {
					t.Errorf("leaf bag has the CSP name, which belongs on the key bag only:\n%s", leafPart)
				}
				if got, want := strings.Count(certPart, "Bag Attributes: <No Attributes>"), 2; got != want {
					t.Errorf("%d CA bags without attributes, want %d:\n%s", got, want, certPart)
				}
				assertLines(t, subjectLines(stdout), wantSubjectLines(b.certs(EndEntityFirst)))
				assertKeyIsLeafs(t, keyPart+"-----END PRIVATE KEY-----\n", b.Leaf)
			})
		}
	}
}

func assertLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// assertKeyIsLeafs finds the PRIVATE KEY block in text and checks that its
// public key is the leaf's.
func assertKeyIsLeafs(t *testing.T, text string, leaf *x509.Certificate) {
	t.Helper()
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			t.Fatal("no PRIVATE KEY block")
		}
		if block.Type != "PRIVATE KEY" {
			continue
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
			t.Fatal("decrypted key is not the leaf's key")
		}
		return
	}
}

// TestEncodePKCS12_RootFirstOpenSSL checks that RootFirst writes the leaf's
// bag first, with the attributes that tie it to the key, then the CA
// certificates root first.
func TestEncodePKCS12_RootFirstOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	for _, p := range profileNames {
		t.Run(p.String(), func(t *testing.T) {
			b := bundleFor(t, "P-256")
			data, err := EncodePKCS12(b, Options{Password: testPassword, Profile: p, Order: RootFirst})
			if err != nil {
				t.Fatal(err)
			}
			stdout, _ := opensslPKCS12Info(t, writeFile(t, "out.p12", data), testPassword, p)
			assertLines(t, subjectLines(stdout), wantSubjectLines([]*x509.Certificate{b.Leaf, b.Chain[1], b.Chain[0]}))
			certs := stdout[strings.Index(stdout, "-----END PRIVATE KEY-----"):]
			firstBag := certs[strings.Index(certs, "Bag Attributes"):]
			firstBag = firstBag[:strings.Index(firstBag, "-----END CERTIFICATE-----")]
			if !strings.Contains(firstBag, opensslKeyIDText(b.Leaf)) || !strings.Contains(firstBag, "friendlyName: "+b.FriendlyName) {
				t.Errorf("first certificate bag is not the attributed leaf:\n%s", firstBag)
			}
		})
	}
}

// TestEncodePKCS12_WithoutOptionalAttributes: no friendly name and no CSP
// name give neither attribute; localKeyID is always there.
func TestEncodePKCS12_WithoutOptionalAttributes(t *testing.T) {
	needTool(t, "openssl")
	b := bundleFor(t, "P-256")
	b.FriendlyName, b.CSPName, b.Chain = "", "", nil
	data, err := EncodePKCS12(b, Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := opensslPKCS12Info(t, writeFile(t, "out.p12", data), testPassword, ProfileModern)
	for _, absent := range []string{"friendlyName", "Microsoft CSP Name"} {
		if strings.Contains(stdout, absent) {
			t.Errorf("output has %s:\n%s", absent, stdout)
		}
	}
	if got := strings.Count(stdout, opensslKeyIDText(b.Leaf)); got != 2 {
		t.Errorf("localKeyID appears %d times, want 2 (key and leaf):\n%s", got, stdout)
	}
	if got := strings.Count(stderr, "Certificate bag"); got != 1 {
		t.Errorf("%d certificate bags, want 1", got)
	}
}

func TestEncodePKCS12_WrongPasswordFailsInOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	for _, p := range profileNames {
		t.Run(p.String(), func(t *testing.T) {
			data, err := EncodePKCS12(bundleFor(t, "P-256"), Options{Password: testPassword, Profile: p})
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"pkcs12", "-info", "-nokeys", "-in", writeFile(t, "out.p12", data), "-passin", "pass:wrong"}
			if p == ProfileLegacy {
				args = append(args, "-legacy")
			}
			out, err := run(t, nil, "openssl", args...)
			if err == nil || !strings.Contains(out, "Mac verify error") {
				t.Fatalf("openssl with a wrong password: err=%v\n%s", err, out)
			}
		})
	}
}

// TestEncodePKCS12_Keytool lists every key type in both profiles with
// keytool 17 (alias = friendly name, lower-cased by Java; a
// PrivateKeyEntry with the whole chain, leaf first even for RootFirst) and
// converts it to JKS, which needs the key decrypted.
func TestEncodePKCS12_Keytool(t *testing.T) {
	needTool(t, "keytool")
	type tc struct {
		kt    string
		p     Profile
		order ChainOrder
	}
	var cases []tc
	for _, kt := range keyTypes {
		for _, p := range profileNames {
			cases = append(cases, tc{kt, p, EndEntityFirst})
		}
	}
	cases = append(cases, tc{"RSA-2048", ProfileModern, RootFirst})
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s/%s", c.kt, c.p, c.order), func(t *testing.T) {
			t.Parallel() // JVM start-up waits overlap
			b := bundleFor(t, c.kt)
			data, err := EncodePKCS12(b, Options{Password: testPassword, Profile: c.p, Order: c.order})
			if err != nil {
				t.Fatal(err)
			}
			f := writeFile(t, "out.p12", data)
			out, err := keytool(t, "-list", "-v", "-storetype", "PKCS12", "-keystore", f, "-storepass", testPassword)
			if err != nil {
				t.Fatalf("keytool -list: %v\n%s", err, out)
			}
			for _, want := range []string{
				"Your keystore contains 1 entry",
				"Alias name: " + strings.ToLower(b.FriendlyName) + "\n",
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
			dest := filepath.Join(t.TempDir(), "out.jks")
			out, err = keytool(t, "-importkeystore", "-srckeystore", f, "-srcstoretype", "PKCS12", "-srcstorepass", testPassword,
				"-destkeystore", dest, "-deststoretype", "JKS", "-deststorepass", testPassword)
			if err != nil || !strings.Contains(out, "1 entries successfully imported") {
				t.Fatalf("keytool -importkeystore: %v\n%s", err, out)
			}
		})
	}
}

func TestEncodePKCS12_WrongPasswordFailsInKeytool(t *testing.T) {
	needTool(t, "keytool")
	data, err := EncodePKCS12(bundleFor(t, "P-256"), Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	out, err := keytool(t, "-list", "-storetype", "PKCS12", "-keystore", writeFile(t, "out.p12", data), "-storepass", "wrong password")
	if err == nil || !strings.Contains(out, "password was incorrect") {
		t.Fatalf("keytool with a wrong password: err=%v\n%s", err, out)
	}
}

// TestEncodePKCS12_GoPKCS12 decodes with go-pkcs12's DecodeChain, the
// decoder the Keyfactor Go client is built on: same key, leaf and chain.
func TestEncodePKCS12_GoPKCS12(t *testing.T) {
	for _, kt := range keyTypes {
		for _, p := range profileNames {
			for _, withChain := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/chain=%v", kt, p, withChain), func(t *testing.T) {
					b := bundleFor(t, kt)
					b.FriendlyName = "Größe " + kt
					if !withChain {
						b.Chain = nil
					}
					data, err := EncodePKCS12(b, Options{Password: testPassword, Profile: p})
					if err != nil {
						t.Fatal(err)
					}
					key, leaf, chain, err := gopkcs12.DecodeChain(data, testPassword)
					if err != nil {
						t.Fatal(err)
					}
					if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(b.Key) {
						t.Error("key differs")
					}
					if !leaf.Equal(b.Leaf) {
						t.Errorf("leaf is %s", leaf.Subject)
					}
					if len(chain) != len(b.Chain) {
						t.Fatalf("chain has %d certificates, want %d", len(chain), len(b.Chain))
					}
					for i := range chain {
						if !chain[i].Equal(b.Chain[i]) {
							t.Errorf("chain[%d] is %s, want %s", i, chain[i].Subject, b.Chain[i].Subject)
						}
					}
					if _, _, _, err := gopkcs12.DecodeChain(data, "wrong"); !errors.Is(err, gopkcs12.ErrIncorrectPassword) {
						t.Errorf("wrong password: err = %v", err)
					}
					if kt != "Ed25519" { // ToPEM cannot convert Ed25519 keys
						assertToPEMAttributes(t, data, b)
					}
				})
			}
		}
	}
}

// assertToPEMAttributes reads the bag attributes back with go-pkcs12's
// ToPEM, an independent BMPString decoder: friendlyName and localKeyID on
// the key and the leaf, the CSP name on the key only, nothing on CA bags.
func assertToPEMAttributes(t *testing.T, data []byte, b Bundle) {
	t.Helper()
	blocks, err := gopkcs12.ToPEM(data, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1+1+len(b.Chain) || blocks[0].Type != "PRIVATE KEY" {
		t.Fatalf("ToPEM: %d blocks, first %q; want the key first", len(blocks), blocks[0].Type)
	}
	keyID := sha1.Sum(b.Leaf.Raw)
	want := map[string]string{
		"friendlyName":       b.FriendlyName,
		"localKeyId":         fmt.Sprintf("%x", keyID),
		"Microsoft CSP Name": b.CSPName,
	}
	if fmt.Sprint(blocks[0].Headers) != fmt.Sprint(want) {
		t.Errorf("key attributes %v, want %v", blocks[0].Headers, want)
	}
	delete(want, "Microsoft CSP Name")
	if fmt.Sprint(blocks[1].Headers) != fmt.Sprint(want) || !bytes.Equal(blocks[1].Bytes, b.Leaf.Raw) {
		t.Errorf("leaf bag: attributes %v, want %v", blocks[1].Headers, want)
	}
	for _, ca := range blocks[2:] {
		if len(ca.Headers) != 0 {
			t.Errorf("CA bag has attributes %v", ca.Headers)
		}
	}
}

// TestEncodePKCS12_GoPKCS12RootFirst: go-pkcs12's DecodeChain (the Keyfactor
// Go client's reader) takes the first certificate bag as the leaf. With
// RootFirst it must still get the leaf, and the CA certificates root first.
func TestEncodePKCS12_GoPKCS12RootFirst(t *testing.T) {
	b := bundleFor(t, "P-256")
	data, err := EncodePKCS12(b, Options{Password: testPassword, Order: RootFirst})
	if err != nil {
		t.Fatal(err)
	}
	key, leaf, rest, err := gopkcs12.DecodeChain(data, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.Equal(b.Leaf) {
		t.Fatalf("go-pkcs12 took %s as the leaf, want %s", leaf.Subject, b.Leaf.Subject)
	}
	if len(rest) != 2 || !rest[0].Equal(b.Chain[1]) || !rest[1].Equal(b.Chain[0]) {
		t.Fatalf("go-pkcs12 CA certificates are not root first: %d of them", len(rest))
	}
	if pub, ok := key.(interface{ Public() crypto.PublicKey }); !ok || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub.Public()) {
		t.Fatal("the key does not match the leaf go-pkcs12 returned")
	}
}

// pfxParts is a PFX taken apart with encoding/asn1.
type pfxParts struct {
	safes    []contentInfo
	keyBags  []safeBag // bags of the first safe
	certBags []safeBag // bags of the second safe, decrypted
}

// parsePFX takes data apart, decrypting the certificate safe with code
// written here from RFC 8018 / RFC 7292 rather than with the encoder's.
func parsePFX(t *testing.T, data []byte, password string) pfxParts {
	t.Helper()
	var pfx pfxPDU
	if rest, err := asn1.Unmarshal(data, &pfx); err != nil || len(rest) != 0 {
		t.Fatalf("PFX: %v (%d trailing bytes)", err, len(rest))
	}
	if pfx.Version != 3 || !pfx.AuthSafe.ContentType.Equal(oidData) {
		t.Fatalf("PFX version %d, authSafe type %s", pfx.Version, pfx.AuthSafe.ContentType)
	}
	var p pfxParts
	authSafe := unwrapOctets(t, pfx.AuthSafe.Content)
	if rest, err := asn1.Unmarshal(authSafe, &p.safes); err != nil || len(rest) != 0 {
		t.Fatalf("AuthenticatedSafe: %v", err)
	}
	if len(p.safes) != 2 {
		t.Fatalf("AuthenticatedSafe has %d safes, want 2", len(p.safes))
	}
	if !p.safes[0].ContentType.Equal(oidData) {
		t.Fatalf("first safe is %s, want data", p.safes[0].ContentType)
	}
	if _, err := asn1.Unmarshal(unwrapOctets(t, p.safes[0].Content), &p.keyBags); err != nil {
		t.Fatal(err)
	}
	if !p.safes[1].ContentType.Equal(oidEncryptedData) {
		t.Fatalf("second safe is %s, want encryptedData", p.safes[1].ContentType)
	}
	var ed encryptedData
	if _, err := asn1.Unmarshal(p.safes[1].Content.Bytes, &ed); err != nil {
		t.Fatal(err)
	}
	plain := testDecrypt(t, ed.EncryptedContentInfo.ContentEncryptionAlgorithm, ed.EncryptedContentInfo.EncryptedContent, password)
	if _, err := asn1.Unmarshal(plain, &p.certBags); err != nil {
		t.Fatal(err)
	}
	return p
}

func unwrapOctets(t *testing.T, explicit asn1.RawValue) []byte {
	t.Helper()
	if explicit.Class != asn1.ClassContextSpecific || explicit.Tag != 0 {
		t.Fatalf("content is not [0] EXPLICIT: class %d tag %d", explicit.Class, explicit.Tag)
	}
	var octets []byte
	if _, err := asn1.Unmarshal(explicit.Bytes, &octets); err != nil {
		t.Fatal(err)
	}
	return octets
}

// testDecrypt decrypts PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) or
// pbeWithSHAAnd40BitRC2-CBC content.
func testDecrypt(t *testing.T, alg pkix.AlgorithmIdentifier, data []byte, password string) []byte {
	t.Helper()
	var block cipher.Block
	var iv []byte
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		var params pbes2Params
		var kdf pbkdf2Params
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			t.Fatal(err)
		}
		if _, err := asn1.Unmarshal(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
			t.Fatal(err)
		}
		if !kdf.PRF.Algorithm.Equal(oidHMACWithSHA256) || !params.EncryptionScheme.Algorithm.Equal(oidAES256CBC) {
			t.Fatalf("PBES2 with %s and %s", kdf.PRF.Algorithm, params.EncryptionScheme.Algorithm)
		}
		if _, err := asn1.Unmarshal(params.EncryptionScheme.Parameters.FullBytes, &iv); err != nil {
			t.Fatal(err)
		}
		key, err := pbkdf2.Key(sha256.New, password, kdf.Salt, kdf.IterationCount, 32)
		if err != nil {
			t.Fatal(err)
		}
		block, _ = aes.NewCipher(key)
	case alg.Algorithm.Equal(oidPBEWithSHAAnd40RC2):
		var params pkcs12PBEParams
		if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &params); err != nil {
			t.Fatal(err)
		}
		pass, _ := bmpPassword(password)
		block, _ = newRC2(pkcs12KDF(sha1.New, pass, params.Salt, params.Iterations, 1, 5), 40)
		iv = pkcs12KDF(sha1.New, pass, params.Salt, params.Iterations, 2, 8)
	default:
		t.Fatalf("certificate safe encrypted with %s", alg.Algorithm)
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > block.BlockSize() || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		t.Fatal("bad padding: wrong password or broken encryption")
	}
	return out[:len(out)-pad]
}

// bagAttrs returns the encoded attributes of a bag, in file order.
func bagAttrs(t *testing.T, bag safeBag) (ids []string, encodings [][]byte, values map[string]asn1.RawValue) {
	t.Helper()
	values = map[string]asn1.RawValue{}
	if len(bag.Attributes.FullBytes) == 0 {
		return nil, nil, values
	}
	if bag.Attributes.Tag != asn1.TagSet {
		t.Fatalf("bag attributes have tag %d, want SET", bag.Attributes.Tag)
	}
	rest := bag.Attributes.Bytes
	for len(rest) > 0 {
		var raw asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &raw); err != nil {
			t.Fatal(err)
		}
		var a attribute
		if _, err := asn1.Unmarshal(raw.FullBytes, &a); err != nil {
			t.Fatal(err)
		}
		var v asn1.RawValue
		if rest, err := asn1.Unmarshal(a.Values.Bytes, &v); err != nil || len(rest) != 0 {
			t.Fatalf("attribute %s: want exactly one value (%v)", a.ID, err)
		}
		ids = append(ids, a.ID.String())
		encodings = append(encodings, raw.FullBytes)
		values[a.ID.String()] = v
	}
	return ids, encodings, values
}

func assertDERSorted(t *testing.T, what string, encodings [][]byte) {
	t.Helper()
	for i := 1; i < len(encodings); i++ {
		if bytes.Compare(encodings[i-1], encodings[i]) > 0 {
			t.Errorf("%s: attributes are not in DER SET OF order", what)
		}
	}
}

func bmpDecode(t *testing.T, v asn1.RawValue) string {
	t.Helper()
	if v.Tag != 30 {
		t.Fatalf("value has tag %d, want BMPString (30)", v.Tag)
	}
	var r []rune
	for i := 0; i+1 < len(v.Bytes); i += 2 {
		r = append(r, rune(v.Bytes[i])<<8|rune(v.Bytes[i+1]))
	}
	return string(r)
}

// TestEncodePKCS12_Layout takes the file apart: exactly two safes, the
// first a data safe with exactly one pkcs8ShroudedKeyBag, the second the
// encrypted certificates in the requested order; attributes DER-sorted,
// friendlyName and the CSP name BMPStrings, localKeyID the SHA-1 of the
// leaf on the key bag and the leaf bag only. The short names sort before
// localKeyID, so insertion order would not pass.
func TestEncodePKCS12_Layout(t *testing.T) {
	names := []struct{ friendly, csp string }{
		{"Web Server", "Microsoft Enhanced RSA and AES Cryptographic Provider"},
		{"a", "c"},
	}
	for _, p := range profileNames {
		for _, order := range []ChainOrder{EndEntityFirst, RootFirst} {
			for _, n := range names {
				t.Run(fmt.Sprintf("%s/%s/%q", p, order, n.friendly), func(t *testing.T) {
					b := bundleFor(t, "P-256")
					b.FriendlyName, b.CSPName = n.friendly, n.csp
					data, err := EncodePKCS12(b, Options{Password: testPassword, Profile: p, Order: order})
					if err != nil {
						t.Fatal(err)
					}
					parts := parsePFX(t, data, testPassword)
					keyID := sha1.Sum(b.Leaf.Raw)

					if len(parts.keyBags) != 1 || !parts.keyBags[0].ID.Equal(oidPKCS8ShroudedKeyBag) {
						t.Fatalf("first safe: %d bags, first %v; want exactly one pkcs8ShroudedKeyBag", len(parts.keyBags), parts.keyBags[0].ID)
					}
					ids, enc, vals := bagAttrs(t, parts.keyBags[0])
					assertDERSorted(t, "key bag", enc)
					if len(ids) != 3 {
						t.Errorf("key bag attributes %v, want 3", ids)
					}
					if got := bmpDecode(t, vals[oidFriendlyName.String()]); got != n.friendly {
						t.Errorf("key bag friendlyName %q", got)
					}
					if got := bmpDecode(t, vals[oidMicrosoftCSPName.String()]); got != n.csp {
						t.Errorf("key bag CSP name %q", got)
					}
					if v := vals[oidLocalKeyID.String()]; v.Tag != asn1.TagOctetString || !bytes.Equal(v.Bytes, keyID[:]) {
						t.Errorf("key bag localKeyID %x, want %x", v.Bytes, keyID)
					}

					want := b.leafThenChain(order)
					if len(parts.certBags) != len(want) {
						t.Fatalf("%d certificate bags, want %d", len(parts.certBags), len(want))
					}
					for i, bag := range parts.certBags {
						if !bag.ID.Equal(oidCertBag) {
							t.Fatalf("bag %d is %s", i, bag.ID)
						}
						var cb certBag
						if _, err := asn1.Unmarshal(bag.Value.Bytes, &cb); err != nil {
							t.Fatal(err)
						}
						if !cb.ID.Equal(oidX509Certificate) || !bytes.Equal(unwrapOctets(t, cb.Cert), want[i].Raw) {
							t.Errorf("bag %d does not hold %s", i, want[i].Subject)
						}
						ids, enc, vals := bagAttrs(t, bag)
						if want[i] != b.Leaf {
							if len(ids) != 0 {
								t.Errorf("CA bag %d has attributes %v", i, ids)
							}
							continue
						}
						assertDERSorted(t, "leaf bag", enc)
						if len(ids) != 2 || bmpDecode(t, vals[oidFriendlyName.String()]) != n.friendly ||
							!bytes.Equal(vals[oidLocalKeyID.String()].Bytes, keyID[:]) {
							t.Errorf("leaf bag attributes %v", ids)
						}
					}
				})
			}
		}
	}
}

func TestEncodePKCS12_Errors(t *testing.T) {
	good := bundleFor(t, "P-256")
	other := bundleFor(t, "Ed25519")
	tests := []struct {
		name string
		edit func(*Bundle, *Options)
		want error
	}{
		{"empty password", func(b *Bundle, o *Options) { o.Password = "" }, ErrEmptyPassword},
		{"password outside the BMP", func(b *Bundle, o *Options) { o.Password = "pw\U0001F600" }, ErrInvalid},
		{"friendly name outside the BMP", func(b *Bundle, o *Options) { b.FriendlyName = "\U0001F600" }, ErrInvalid},
		{"CSP name invalid UTF-8", func(b *Bundle, o *Options) { b.CSPName = "\xc3" }, ErrInvalid},
		{"no leaf", func(b *Bundle, o *Options) { b.Leaf = nil }, ErrInvalid},
		{"nil chain entry", func(b *Bundle, o *Options) { b.Chain = []*x509.Certificate{nil} }, ErrInvalid},
		{"key of another certificate", func(b *Bundle, o *Options) { b.Key = other.Key }, ErrInvalid},
		{"P-224 key", func(b *Bundle, o *Options) { b.Key = newP224(t) }, ErrInvalid},
		{"unknown profile", func(b *Bundle, o *Options) { o.Profile = 7 }, ErrInvalid},
		{"unknown order", func(b *Bundle, o *Options) { o.Order = 7 }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, o := good, Options{Password: testPassword, Iterations: 1}
			tt.edit(&b, &o)
			for name, enc := range map[string]func(Bundle, Options) ([]byte, error){
				"PKCS12": EncodePKCS12, "PEM": EncodePEM, "JKS": EncodeJKS, "ZIP": EncodeZIP,
			} {
				if name != "PKCS12" && (strings.Contains(tt.name, "BMP") || strings.Contains(tt.name, "CSP") || strings.Contains(tt.name, "profile")) {
					continue // PKCS#12-only constraints
				}
				if _, err := enc(b, o); !errors.Is(err, tt.want) {
					t.Errorf("%s: err = %v, want %v", name, err, tt.want)
				}
			}
		})
	}
}

// TestEncodePKCS12_Iterations: a non-default count reaches every KDF and
// the MAC, as OpenSSL reports them.
func TestEncodePKCS12_Iterations(t *testing.T) {
	needTool(t, "openssl")
	for _, p := range profileNames {
		t.Run(p.String(), func(t *testing.T) {
			data, err := EncodePKCS12(bundleFor(t, "P-256"), Options{Password: testPassword, Profile: p, Iterations: 4096})
			if err != nil {
				t.Fatal(err)
			}
			_, stderr := opensslPKCS12Info(t, writeFile(t, "out.p12", data), testPassword, p)
			if got := strings.Count(stderr, "Iteration 4096"); got != 3 {
				t.Errorf("%d mentions of 4096 iterations, want 3 (MAC, key, certificates):\n%s", got, stderr)
			}
		})
	}
}

// TestEncodePKCS12_RandomnessFromOptions: all salts and IVs come from
// Options.Rand, so equal sources give equal files and different ones
// differ; a failing source is an error, not a weak file.
func TestEncodePKCS12_RandomnessFromOptions(t *testing.T) {
	b := bundleFor(t, "P-256")
	for _, p := range profileNames {
		enc := func(r fixedRand) []byte {
			data, err := EncodePKCS12(b, Options{Password: testPassword, Profile: p, Iterations: 1, Rand: r})
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
		if !bytes.Equal(enc(1), enc(1)) {
			t.Errorf("%s: same randomness, different files", p)
		}
		if bytes.Equal(enc(1), enc(2)) {
			t.Errorf("%s: different randomness, same file", p)
		}
		if _, err := EncodePKCS12(b, Options{Password: testPassword, Profile: p, Rand: bytes.NewReader(make([]byte, 10))}); err == nil {
			t.Errorf("%s: a short randomness source did not fail", p)
		}
	}
}
