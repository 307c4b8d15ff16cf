package keystore

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestEncodePEM_OpenSSL reads the bundle with OpenSSL: "openssl pkey"
// decrypts the key with the password and it is the leaf's; every
// certificate block reads (through crl2pkcs7, which takes all of them) in
// the requested order.
func TestEncodePEM_OpenSSL(t *testing.T) {
	needTool(t, "openssl")
	for _, kt := range keyTypes {
		for _, order := range []ChainOrder{EndEntityFirst, RootFirst} {
			t.Run(kt+"/"+order.String(), func(t *testing.T) {
				b := bundleFor(t, kt)
				data, err := EncodePEM(b, Options{Password: testPassword, Order: order, IncludeSubjectHeader: true})
				if err != nil {
					t.Fatal(err)
				}
				f := writeFile(t, "bundle.pem", data)
				pub := mustRun(t, nil, "openssl", "pkey", "-in", f, "-passin", "pass:"+testPassword, "-pubout")
				if want := publicKeyPEM(t, b.Leaf.PublicKey); pub != want {
					t.Errorf("openssl pkey public key:\n%s\nwant the leaf's:\n%s", pub, want)
				}
				p7 := filepath.Join(t.TempDir(), "p7.pem")
				mustRun(t, nil, "openssl", "crl2pkcs7", "-nocrl", "-certfile", f, "-out", p7)
				out := mustRun(t, nil, "openssl", "pkcs7", "-in", p7, "-print_certs", "-noout")
				assertLines(t, subjectLines(out), wantSubjectLines(b.certs(order)))
			})
		}
	}
}

func TestEncodePEM_WrongPasswordFailsInOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	data, err := EncodePEM(bundleFor(t, "RSA-2048"), Options{Password: testPassword})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, nil, "openssl", "pkey", "-in", writeFile(t, "bundle.pem", data), "-passin", "pass:wrong", "-noout"); err == nil {
		t.Fatalf("openssl pkey accepted a wrong password:\n%s", out)
	}
}

// pemItem is one piece of a PEM bundle: a text line outside blocks, or a
// block.
type pemItem struct {
	line  string
	block *pem.Block
}

// splitPEM cuts a bundle into text lines and blocks, in order.
func splitPEM(t *testing.T, data []byte) []pemItem {
	t.Helper()
	var items []pemItem
	rest := string(data)
	for rest != "" {
		if strings.HasPrefix(rest, "-----BEGIN ") {
			block, r := pem.Decode([]byte(rest))
			if block == nil {
				t.Fatalf("bad PEM block at %q", rest[:min(40, len(rest))])
			}
			items = append(items, pemItem{block: block})
			rest = string(r)
			continue
		}
		line, r, ok := strings.Cut(rest, "\n")
		if !ok {
			t.Fatalf("unterminated line %q", line)
		}
		items = append(items, pemItem{line: line})
		rest = r
	}
	return items
}

// TestEncodePEM_Layout checks the exact layout a user sees: the encrypted
// key first, then each certificate in order, with the subject line right
// before its block when asked and no text at all otherwise.
func TestEncodePEM_Layout(t *testing.T) {
	for _, order := range []ChainOrder{EndEntityFirst, RootFirst} {
		for _, header := range []bool{true, false} {
			for _, withChain := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/header=%v/chain=%v", order, header, withChain), func(t *testing.T) {
					b := bundleFor(t, "P-256")
					if !withChain {
						b.Chain = nil
					}
					data, err := EncodePEM(b, Options{Password: testPassword, Order: order, IncludeSubjectHeader: header, Iterations: 1})
					if err != nil {
						t.Fatal(err)
					}
					items := splitPEM(t, data)
					if len(items) == 0 || items[0].block == nil || items[0].block.Type != "ENCRYPTED PRIVATE KEY" {
						t.Fatalf("bundle does not start with the encrypted key: %+v", items[0])
					}
					var want []pemItem
					for _, c := range b.certs(order) {
						if header {
							want = append(want, pemItem{line: SubjectHeader(c)})
						}
						want = append(want, pemItem{block: &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}})
					}
					got := items[1:]
					if len(got) != len(want) {
						t.Fatalf("%d items after the key, want %d:\n%s", len(got), len(want), data)
					}
					for i := range want {
						switch {
						case want[i].block == nil && got[i].line != want[i].line:
							t.Errorf("item %d: line %q, want %q", i, got[i].line, want[i].line)
						case want[i].block != nil && (got[i].block == nil || got[i].block.Type != "CERTIFICATE" ||
							string(got[i].block.Bytes) != string(want[i].block.Bytes)):
							t.Errorf("item %d is not the expected certificate", i)
						}
					}
					if !header && strings.Contains(string(data), "subject=") {
						t.Error("subject line written without IncludeSubjectHeader")
					}
				})
			}
		}
	}
}

// TestEncodePEM_Parseable checks that the Go side (pem.Decode, as the
// Keyfactor Go client's UnpackPEM does) finds the key and every
// certificate despite the subject lines.
func TestEncodePEM_Parseable(t *testing.T) {
	b := bundleFor(t, "Ed25519")
	data, err := EncodePEM(b, Options{Password: testPassword, IncludeSubjectHeader: true, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		types = append(types, block.Type)
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c)
		}
	}
	if got := strings.Join(types, ","); got != "ENCRYPTED PRIVATE KEY,CERTIFICATE,CERTIFICATE,CERTIFICATE" {
		t.Fatalf("block types %s", got)
	}
	if !certs[0].Equal(b.Leaf) {
		t.Error("first certificate is not the leaf")
	}
}
