package keystore

import (
	"archive/zip"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// readZIP opens the archive with archive/zip and returns its members in
// order with their contents.
func readZIP(t *testing.T, data []byte) ([]*zip.File, map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	contents := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		contents[f.Name] = b
	}
	return zr.File, contents
}

// pemCerts returns the certificates of a PEM file, in order, and the
// subject lines found in it.
func pemCerts(t *testing.T, data []byte) (certs []*x509.Certificate, subjects []string) {
	t.Helper()
	for _, item := range splitPEM(t, data) {
		switch {
		case item.block == nil:
			subjects = append(subjects, item.line)
		case item.block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(item.block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c)
		default:
			t.Fatalf("unexpected %s block", item.block.Type)
		}
	}
	return certs, subjects
}

func assertCerts(t *testing.T, file string, got, want []*x509.Certificate) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d certificates, want %d", file, len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s: certificate %d is %s, want %s", file, i, got[i].Subject, want[i].Subject)
		}
	}
}

// TestEncodeZIP_Layout opens the archive with archive/zip and checks each
// member: names, order, modes, dates, certificates in the requested
// order, subject lines per the option, and a key that decrypts.
func TestEncodeZIP_Layout(t *testing.T) {
	for _, kt := range keyTypes {
		for _, order := range []ChainOrder{EndEntityFirst, RootFirst} {
			for _, header := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/%s/header=%v", kt, order, header), func(t *testing.T) {
					b := bundleFor(t, kt)
					b.FriendlyName = "Web Server"
					data, err := EncodeZIP(b, Options{Password: testPassword, Order: order, IncludeSubjectHeader: header, Iterations: 1})
					if err != nil {
						t.Fatal(err)
					}
					files, contents := readZIP(t, data)
					var names []string
					for _, f := range files {
						names = append(names, f.Name)
						wantMode := fs.FileMode(0o644)
						if strings.HasSuffix(f.Name, ".key") {
							wantMode = 0o600
						}
						if f.Mode() != wantMode {
							t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), wantMode)
						}
						if !f.Modified.Equal(b.Leaf.NotBefore) {
							t.Errorf("%s: modified %v, want the leaf's NotBefore %v", f.Name, f.Modified, b.Leaf.NotBefore)
						}
						if f.Method != zip.Deflate {
							t.Errorf("%s: method %d, want deflate", f.Name, f.Method)
						}
					}
					if got, want := strings.Join(names, " "), "Web_Server.crt Web_Server-chain.pem Web_Server-fullchain.pem Web_Server.key"; got != want {
						t.Fatalf("members %q, want %q", got, want)
					}

					for file, want := range map[string][]*x509.Certificate{
						"Web_Server.crt":           {b.Leaf},
						"Web_Server-chain.pem":     b.chainInOrder(order),
						"Web_Server-fullchain.pem": b.certs(order),
					} {
						certs, subjects := pemCerts(t, contents[file])
						assertCerts(t, file, certs, want)
						var wantSubjects []string
						if header {
							wantSubjects = wantSubjectLines(want)
						}
						if strings.Join(subjects, "\n") != strings.Join(wantSubjects, "\n") {
							t.Errorf("%s: text lines %q, want %q", file, subjects, wantSubjects)
						}
					}

					block, rest := pem.Decode(contents["Web_Server.key"])
					if block == nil || block.Type != "ENCRYPTED PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
						t.Fatalf("key file is not exactly one ENCRYPTED PRIVATE KEY block:\n%s", contents["Web_Server.key"])
					}
				})
			}
		}
	}
}

// TestEncodeZIP_OpenSSL decrypts the key file with "openssl pkey" and
// reads the certificate file with "openssl x509".
func TestEncodeZIP_OpenSSL(t *testing.T) {
	needTool(t, "openssl")
	b := bundleFor(t, "RSA-2048")
	data, err := EncodeZIP(b, Options{Password: testPassword, IncludeSubjectHeader: true})
	if err != nil {
		t.Fatal(err)
	}
	_, contents := readZIP(t, data)
	name := zipBaseName(b)
	keyFile := writeFile(t, "k.key", contents[name+".key"])
	if pub := mustRun(t, nil, "openssl", "pkey", "-in", keyFile, "-passin", "pass:"+testPassword, "-pubout"); pub != publicKeyPEM(t, b.Leaf.PublicKey) {
		t.Errorf("key file's public key is not the leaf's:\n%s", pub)
	}
	if out, err := run(t, nil, "openssl", "pkey", "-in", keyFile, "-passin", "pass:wrong", "-noout"); err == nil {
		t.Errorf("openssl pkey accepted a wrong password:\n%s", out)
	}
	crt := writeFile(t, "c.crt", contents[name+".crt"])
	if got := mustRun(t, nil, "openssl", "x509", "-in", crt, "-noout", "-subject"); got != SubjectHeader(b.Leaf)+"\n" {
		t.Errorf("openssl x509 -subject = %q", got)
	}
}

// TestEncodeZIP_NoChain: without CA certificates there is no chain file,
// and the full chain is the leaf alone.
func TestEncodeZIP_NoChain(t *testing.T) {
	b := bundleFor(t, "P-256")
	b.Chain = nil
	b.FriendlyName = ""
	data, err := EncodeZIP(b, Options{Password: testPassword, Iterations: 1, Now: time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	files, contents := readZIP(t, data)
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		if !f.Modified.Equal(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)) {
			t.Errorf("%s: modified %v, want Options.Now", f.Name, f.Modified)
		}
	}
	if got, want := strings.Join(names, " "), "www.example.com.crt www.example.com-fullchain.pem www.example.com.key"; got != want {
		t.Fatalf("members %q, want %q", got, want)
	}
	certs, _ := pemCerts(t, contents["www.example.com-fullchain.pem"])
	assertCerts(t, "fullchain", certs, []*x509.Certificate{b.Leaf})
}

func TestZIPBaseName(t *testing.T) {
	leaf := func(cn string) *x509.Certificate {
		c := &x509.Certificate{}
		c.Subject.CommonName = cn
		return c
	}
	tests := []struct {
		friendly, cn, want string
	}{
		{"Web Server", "www.example.com", "Web_Server"},
		{"", "www.example.com", "www.example.com"},
		{"", "*.example.com", "_.example.com"},
		{"", "", "certificate"},
		{"../../etc/passwd", "", "_.._etc_passwd"},
		{"...", "x", "certificate"},
		{"a/b\\c:d", "", "a_b_c_d"},
		{"Größe", "", "Gr__e"},
		{"con", "", "_con"},
		{"Com1.example", "", "_Com1.example"},
		{"console", "", "console"},
		{strings.Repeat("x", 100), "", strings.Repeat("x", maxZIPBaseName)},
	}
	for _, tt := range tests {
		if got := zipBaseName(Bundle{FriendlyName: tt.friendly, Leaf: leaf(tt.cn)}); got != tt.want {
			t.Errorf("zipBaseName(%q, CN %q) = %q, want %q", tt.friendly, tt.cn, got, tt.want)
		}
	}
}
