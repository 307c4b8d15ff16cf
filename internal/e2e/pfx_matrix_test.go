package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	kfv2 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v2"
	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// The PFX enrollment matrix (issue 3, "Done when"): every key type and every
// download format through the official SDK over HTTPS, v1 and v2, each
// result checked the way a user would (openssl, keytool) and against
// RFC 5280.

const matrixCSP = "Microsoft Enhanced RSA and AES Cryptographic Provider"

// matrixKey is one key choice as the request spells it and as the
// certificate must show it.
type matrixKey struct {
	name    string
	keyType string
	length  int32
	curve   string
	alg     x509.PublicKeyAlgorithm
	bits    int    // RSA
	ecName  string // ECDSA curve name as crypto/elliptic prints it
}

var (
	kRSA2048  = matrixKey{"rsa2048", "RSA", 2048, "", x509.RSA, 2048, ""}
	kRSA3072  = matrixKey{"rsa3072", "RSA", 3072, "", x509.RSA, 3072, ""}
	kRSA4096  = matrixKey{"rsa4096", "RSA", 4096, "", x509.RSA, 4096, ""}
	kP256OID  = matrixKey{"p256oid", "ECC", 0, "1.2.840.10045.3.1.7", x509.ECDSA, 0, "P-256"}
	kP256Name = matrixKey{"p256name", "ECC", 0, "P-256", x509.ECDSA, 0, "P-256"}
	kP384OID  = matrixKey{"p384oid", "ECC", 0, "1.3.132.0.34", x509.ECDSA, 0, "P-384"}
	kP384Name = matrixKey{"p384name", "ECC", 0, "P-384", x509.ECDSA, 0, "P-384"}
	kP521OID  = matrixKey{"p521oid", "ECC", 0, "1.3.132.0.35", x509.ECDSA, 0, "P-521"}
	kP521Name = matrixKey{"p521name", "ECC", 0, "P-521", x509.ECDSA, 0, "P-521"}
	kEd25519  = matrixKey{"ed25519", "Ed25519", 0, "", x509.Ed25519, 0, ""}
)

// matrixCase is one enrollment of the matrix.
type matrixCase struct {
	version       int // 1 or 2
	key           matrixKey
	format        string // PFX, PEM, ZIP, JKS
	legacy        bool   // UseLegacyEncryption
	chainOrder    string // "" = default EndEntityFirst
	noChain       bool   // IncludeChain false
	noHeader      bool   // IncludeSubjectHeader false
	noPassword    bool   // let the server generate one
	emptySubject  bool
	friendly, csp string
}

func (c matrixCase) label() string {
	s := fmt.Sprintf("v%d_%s_%s", c.version, c.key.name, c.format)
	if c.legacy {
		s += "_legacy"
	}
	if c.chainOrder != "" {
		s += "_" + c.chainOrder
	}
	if c.noChain {
		s += "_nochain"
	}
	if c.noHeader {
		s += "_noheader"
	}
	if c.noPassword {
		s += "_genpassword"
	}
	if c.emptySubject {
		s += "_emptysubject"
	}
	return s
}

func (c matrixCase) cn() string {
	return strings.ToLower(strings.ReplaceAll(c.label(), "_", "-")) + ".matrix.example.com"
}

func (c matrixCase) subject() string {
	if c.emptySubject {
		return ""
	}
	return `CN=` + c.cn() + `,O="Key Example, Inc.",OU=Platform\, Security,C=US`
}

func (c matrixCase) sans() map[string][]string {
	mailKey := "mail"
	if c.version == 2 {
		mailKey = "RFC822" // keys are case-insensitive; rfc822 is mail's other name
	}
	return map[string][]string{
		"dns":   {c.cn(), "alt." + c.cn()},
		"ip4":   {"192.0.2.10"},
		"IP6":   {"2001:db8::10"},
		"uri":   {"https://" + c.cn() + "/id"},
		mailKey: {"ops@example.com"},
		"upn":   {"svc-matrix@corp.example.com"},
	}
}

// matrixResult is what a matrix enrollment returns.
type matrixResult struct {
	blob                   []byte
	password               string
	serial, thumbprint     string
	issuerDN, disposition  string
	keyfactorID, requestID int32
	successfulStores       bool // v2 answers carry SuccessfulStores
}

func TestPFXMatrix(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runPFXMatrix(t, startPKI(t, ""), true) })
	t.Run("postgres", func(t *testing.T) { runPFXMatrix(t, startPKI(t, postgresDSN(t)), false) })
}

func setAppSetting(t *testing.T, in *instance, name, value string) {
	t.Helper()
	body := fmt.Sprintf(`{"Value":%q}`, value)
	if code, b := in.call(t, "PUT", "/AppSetting/"+name+"/Set", "admin", adminPassword, body); code != http.StatusOK && code != http.StatusNoContent {
		t.Fatalf("PUT AppSetting %s: %d %s", name, code, b)
	}
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runPFXMatrix(t *testing.T, pin *pkiInstance, withRSA4096 bool) {
	in := pin.instance
	setAppSetting(t, in, "AllowCSPs", "true")
	setAppSetting(t, in, "CSPList", matrixCSP+"\nMicrosoft Software Key Storage Provider")
	root := readPEMCert(t, filepath.Join(in.dataDir, "root-ca.pem"))
	issuing := readPEMCert(t, filepath.Join(in.dataDir, "issuing-ca.pem"))

	var cases []matrixCase
	// v1: every key type x every format.
	for _, k := range []matrixKey{kRSA2048, kP256OID, kP384Name, kP521OID, kEd25519} {
		for _, f := range []string{"PFX", "PEM", "ZIP", "JKS"} {
			c := matrixCase{version: 1, key: k, format: f, friendly: "Matrix " + k.name}
			if f == "PFX" {
				c.csp = matrixCSP
			}
			cases = append(cases, c)
		}
	}
	// v2: a diagonal over the other spellings and sizes; legacy PFX twice.
	cases = append(cases,
		matrixCase{version: 2, key: kRSA3072, format: "PFX", legacy: true, friendly: "Matrix rsa3072", csp: matrixCSP},
		matrixCase{version: 2, key: kP256Name, format: "ZIP", friendly: "Matrix p256name"},
		matrixCase{version: 2, key: kP384OID, format: "JKS", friendly: "Matrix p384oid"},
		matrixCase{version: 2, key: kP521Name, format: "PEM", friendly: "Matrix p521name"},
		matrixCase{version: 2, key: kEd25519, format: "PFX", legacy: true, friendly: "Matrix Ed25519 v2", csp: matrixCSP},
		matrixCase{version: 2, key: kP256OID, format: "PFX", friendly: "Matrix p256 v2", csp: matrixCSP},
	)
	if withRSA4096 { // slow key generation: once
		cases = append(cases, matrixCase{version: 2, key: kRSA4096, format: "PEM", friendly: "Matrix rsa4096"})
	}
	// Packaging options.
	cases = append(cases,
		matrixCase{version: 1, key: kP256OID, format: "PEM", chainOrder: "RootFirst", friendly: "Order"},
		matrixCase{version: 2, key: kP256OID, format: "PEM", chainOrder: "EndEntityFirst", friendly: "Order"},
		matrixCase{version: 1, key: kP256OID, format: "ZIP", chainOrder: "RootFirst", friendly: "Order zip"},
		matrixCase{version: 2, key: kP256OID, format: "PFX", chainOrder: "RootFirst", friendly: "Order pfx"},
		matrixCase{version: 1, key: kP256OID, format: "JKS", chainOrder: "RootFirst", friendly: "Order jks"},
		matrixCase{version: 2, key: kP256OID, format: "PEM", noChain: true, friendly: "No chain"},
		matrixCase{version: 1, key: kP256OID, format: "ZIP", noChain: true, friendly: "No chain zip"},
		matrixCase{version: 1, key: kP256OID, format: "PFX", noChain: true, friendly: "No chain pfx"},
		matrixCase{version: 1, key: kP256OID, format: "JKS", noChain: true, friendly: "No chain jks"},
		matrixCase{version: 1, key: kP256OID, format: "PEM", noHeader: true, friendly: "No header"},
		matrixCase{version: 2, key: kP256OID, format: "ZIP", noHeader: true, friendly: "No header zip"},
		matrixCase{version: 1, key: kP256OID, format: "PFX", noPassword: true, friendly: "Generated"},
		matrixCase{version: 2, key: kP256OID, format: "PEM", noPassword: true, friendly: "Generated"},
	)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c1, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := kfv2.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.label(), func(t *testing.T) {
			e := enrollMatrix(ctx, t, c1, c2, c)
			a := inspectDownload(t, c, e)
			checkIssued(t, pin, c, e, a, root, issuing)
		})
	}

	t.Run("EmptySubject", func(t *testing.T) {
		// With the default Common Name Regular Expression (.+) a CN is needed.
		body := `{"Template":"WebServer","Subject":"","SANs":{"dns":["nosubject.example.com"]},"KeyType":"ECC","Password":"matrix-pass-1234","Timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`
		code, b := pfxCall(t, in, "1", "PEM", body)
		if code != http.StatusBadRequest || !strings.HasPrefix(*decodeError(t, b).Message, "Subject:") {
			t.Fatalf("empty subject with CN regex .+: %d %s, want 400 naming Subject", code, b)
		}
		setAppSetting(t, in, "CommonNameRegex", ".*")
		defer setAppSetting(t, in, "CommonNameRegex", ".+")
		for _, v := range []int{1, 2} {
			c := matrixCase{version: v, key: kP256OID, format: "PEM", emptySubject: true, friendly: "Empty subject"}
			e := enrollMatrix(ctx, t, c1, c2, c)
			a := inspectDownload(t, c, e)
			checkIssued(t, pin, c, e, a, root, issuing)
		}
	})
}

// pfxRequest is what the v1 and v2 SDK PFX enrollment requests share.
type pfxRequest interface {
	SetTemplate(string)
	SetSubject(string)
	SetSANs(map[string][]string)
	SetPassword(string)
	SetKeyType(string)
	SetKeyLength(int32)
	SetCurve(string)
	SetCustomFriendlyName(string)
	SetMicrosoftTargetCSP(string)
	SetUseLegacyEncryption(bool)
	SetChainOrder(string)
	SetIncludeChain(bool)
	SetIncludeSubjectHeader(bool)
	SetTimestamp(time.Time)
}

// fill sets the case's fields on a v1 or v2 request; pw is the password
// unless the case sends none.
func (c matrixCase) fill(req pfxRequest, pw string) {
	req.SetTemplate("WebServer")
	req.SetSubject(c.subject())
	req.SetSANs(c.sans())
	if !c.noPassword {
		req.SetPassword(pw)
	}
	if c.key.keyType != "" {
		req.SetKeyType(c.key.keyType)
	}
	if c.key.length != 0 {
		req.SetKeyLength(c.key.length)
	}
	if c.key.curve != "" {
		req.SetCurve(c.key.curve)
	}
	req.SetCustomFriendlyName(c.friendly)
	if c.csp != "" {
		req.SetMicrosoftTargetCSP(c.csp)
	}
	req.SetUseLegacyEncryption(c.legacy)
	if c.chainOrder != "" {
		req.SetChainOrder(c.chainOrder)
	}
	if c.noChain {
		req.SetIncludeChain(false)
	}
	if c.noHeader {
		req.SetIncludeSubjectHeader(false)
	}
	req.SetTimestamp(time.Now().UTC())
}

// pfxInfo is what the v1 and v2 SDK PKCS#12 certificate answers share.
type pfxInfo interface {
	GetPassword() string
	GetSerialNumber() string
	GetThumbprint() string
	GetIssuerDN() string
	GetRequestDisposition() string
	GetKeyfactorId() int32
	GetKeyfactorRequestId() int32
	GetPkcs12Blob() string
}

// resultOf reads a v1 or v2 answer's certificate information.
func resultOf(t *testing.T, info pfxInfo) matrixResult {
	t.Helper()
	return matrixResult{password: info.GetPassword(), serial: info.GetSerialNumber(), thumbprint: info.GetThumbprint(),
		issuerDN: info.GetIssuerDN(), disposition: info.GetRequestDisposition(), keyfactorID: info.GetKeyfactorId(),
		requestID: info.GetKeyfactorRequestId(), blob: decodeBlob(t, info.GetPkcs12Blob())}
}

// enrollMatrix sends the case through the SDK of its version, with
// x-keyfactor-api-version set explicitly.
func enrollMatrix(ctx context.Context, t *testing.T, c1 *kfv1.APIClient, c2 *kfv2.APIClient, c matrixCase) matrixResult {
	t.Helper()
	pw := "matrix-pass-" + c.key.name
	var e matrixResult
	if c.version == 1 {
		req := kfv1.NewEnrollmentPFXEnrollmentRequest()
		c.fill(req, pw)
		resp, _, err := c1.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XKeyfactorApiVersion("1.0").
			XCertificateformat(c.format).EnrollmentPFXEnrollmentRequest(*req).Execute()
		if err != nil {
			t.Fatalf("v1 POST Enrollment/PFX: %s", sdkErr(err))
		}
		info := resp.GetCertificateInformation()
		e = resultOf(t, &info)
	} else {
		req := kfv2.NewEnrollmentPFXEnrollmentWithStoresRequest()
		c.fill(req, pw)
		resp, _, err := c2.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XKeyfactorApiVersion("2.0").
			XCertificateformat(c.format).EnrollmentPFXEnrollmentWithStoresRequest(*req).Execute()
		if err != nil {
			t.Fatalf("v2 POST Enrollment/PFX: %s", sdkErr(err))
		}
		info := resp.GetCertificateInformation()
		e = resultOf(t, &info)
		_, e.successfulStores = resp.GetSuccessfulStoresOk()
	}
	if c.noPassword {
		if len(e.password) < 16 {
			t.Fatalf("generated password %q is shorter than 16 characters", e.password)
		}
	} else {
		if e.password != "" && e.password != pw {
			t.Errorf("response Password %q, want the request's or empty", e.password)
		}
		e.password = pw
	}
	return e
}

func decodeBlob(t *testing.T, s string) []byte {
	t.Helper()
	if s == "" {
		t.Fatal("empty Pkcs12Blob")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("Pkcs12Blob is not base64: %v", err)
	}
	return b
}

// artifacts are what a user gets out of a download.
type artifacts struct {
	leaf  *x509.Certificate
	key   crypto.Signer
	chain []*x509.Certificate // CA certificates in file order
	// all certificates in the order the file lists them (PEM, ZIP fullchain)
	ordered []*x509.Certificate
}

func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// decryptKeyPEM decrypts an ENCRYPTED PRIVATE KEY block with openssl pkey.
func decryptKeyPEM(t *testing.T, keyPEM []byte, pw string) crypto.Signer {
	t.Helper()
	f := writeTemp(t, "key.pem", keyPEM)
	if out, err := runTool(t, "openssl", "pkey", "-in", f, "-passin", "pass:wrong-password-000"); err == nil {
		t.Errorf("openssl pkey accepted a wrong password:\n%s", out)
	}
	out, err := runTool(t, "openssl", "pkey", "-in", f, "-passin", "pass:"+pw)
	if err != nil {
		t.Fatalf("openssl pkey -passin: %v\n%s", err, out)
	}
	blk, _ := pem.Decode([]byte(out))
	if blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatalf("openssl pkey output is not a PRIVATE KEY:\n%s", out)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

// pemItems splits a PEM bundle: blocks in order and the number of subject= lines.
func pemItems(t *testing.T, b []byte) (key []byte, certs []*x509.Certificate, subjectLines []string) {
	t.Helper()
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "subject=") {
			subjectLines = append(subjectLines, line)
		}
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "ENCRYPTED PRIVATE KEY":
			if key != nil || len(certs) > 0 {
				t.Errorf("the key block must come first and once")
			}
			key = pem.EncodeToMemory(blk)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, c)
		default:
			t.Errorf("unexpected PEM block %q", blk.Type)
		}
	}
	return key, certs, subjectLines
}

// splitLeaf finds the leaf (the non-CA certificate) among certs.
func splitLeaf(t *testing.T, certs []*x509.Certificate) (*x509.Certificate, []*x509.Certificate) {
	t.Helper()
	var leaf *x509.Certificate
	var cas []*x509.Certificate
	for _, c := range certs {
		if c.IsCA {
			cas = append(cas, c)
		} else if leaf == nil {
			leaf = c
		} else {
			t.Fatalf("two end-entity certificates")
		}
	}
	if leaf == nil {
		t.Fatal("no end-entity certificate")
	}
	return leaf, cas
}

func inspectDownload(t *testing.T, c matrixCase, e matrixResult) artifacts {
	t.Helper()
	var a artifacts
	switch c.format {
	case "PFX":
		f := writeTemp(t, "download.pfx", e.blob)
		args := []string{"pkcs12", "-info", "-in", f, "-passin", "pass:" + e.password, "-nodes"}
		if c.legacy {
			// OpenSSL 3 cannot read RC2/3DES without the legacy provider.
			if out, err := runTool(t, "openssl", args...); err == nil {
				t.Errorf("a legacy PFX opened without -legacy:\n%s", out)
			}
			args = append(args, "-legacy")
		}
		out, err := runTool(t, "openssl", args...)
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		want := []string{"Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC", "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC", "MAC: sha256"}
		if c.legacy {
			want = []string{"Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC", "PKCS7 Encrypted data: pbeWithSHA1And40BitRC2-CBC", "MAC: sha1"}
		}
		want = append(want, "friendlyName: "+c.friendly)
		if !c.emptySubject {
			want = append(want, "subject=C = US, OU = \"Platform, Security\", O = \"Key Example, Inc.\", CN = "+c.cn())
		}
		if c.csp != "" {
			want = append(want, "Microsoft CSP Name: "+c.csp)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("openssl pkcs12 -info lacks %q:\n%s", w, out)
			}
		}
		kt, err := runTool(t, "keytool", "-list", "-keystore", f, "-storetype", "PKCS12", "-storepass", e.password)
		if err != nil {
			t.Fatalf("keytool -list PFX: %v\n%s", err, kt)
		}
		if !strings.Contains(kt, strings.ToLower(c.friendly)+", ") || !strings.Contains(kt, "PrivateKeyEntry") {
			t.Errorf("keytool does not list %q as a PrivateKeyEntry:\n%s", strings.ToLower(c.friendly), kt)
		}
		key, leaf, cas, err := pkcs12.DecodeChain(e.blob, e.password)
		if err != nil {
			t.Fatalf("go-pkcs12 DecodeChain: %v", err)
		}
		a = artifacts{leaf: leaf, key: key.(crypto.Signer), chain: cas}
	case "PEM":
		key, certs, subj := pemItems(t, e.blob)
		if key == nil {
			t.Fatal("no ENCRYPTED PRIVATE KEY block")
		}
		if c.noHeader && len(subj) != 0 {
			t.Errorf("IncludeSubjectHeader false, but %d subject= lines", len(subj))
		}
		if !c.noHeader && len(subj) != len(certs) {
			t.Errorf("%d subject= lines for %d certificates", len(subj), len(certs))
		}
		// The leaf's subject= line reads as openssl x509 -subject prints it.
		if want := "subject=C = US, OU = \"Platform, Security\", O = \"Key Example, Inc.\", CN = " + c.cn(); !c.noHeader && !c.emptySubject && !slices.Contains(subj, want) {
			t.Errorf("no %q among the subject= lines %q", want, subj)
		}
		a.key = decryptKeyPEM(t, key, e.password)
		a.ordered = certs
		a.leaf, a.chain = splitLeaf(t, certs)
	case "ZIP":
		zr, err := zip.NewReader(bytes.NewReader(e.blob), int64(len(e.blob)))
		if err != nil {
			t.Fatalf("ZIP: %v", err)
		}
		base := strings.ReplaceAll(c.friendly, " ", "_")
		want := []string{base + ".crt", base + "-chain.pem", base + "-fullchain.pem", base + ".key"}
		if c.noChain {
			want = []string{base + ".crt", base + "-fullchain.pem", base + ".key"}
		}
		var names []string
		members := map[string][]byte{}
		for _, f := range zr.File {
			names = append(names, f.Name)
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			members[f.Name], _ = io.ReadAll(rc)
			rc.Close()
			if strings.HasSuffix(f.Name, ".key") && f.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v, want 0600", f.Name, f.Mode().Perm())
			}
		}
		if !slices.Equal(names, want) {
			t.Fatalf("ZIP members %q, want %q", names, want)
		}
		keyPEM, extra, _ := pemItems(t, members[base+".key"])
		if keyPEM == nil || len(extra) != 0 {
			t.Fatalf("%s.key is not one encrypted key", base)
		}
		a.key = decryptKeyPEM(t, keyPEM, e.password)
		_, crt, _ := pemItems(t, members[base+".crt"])
		if len(crt) != 1 {
			t.Fatalf("%s.crt holds %d certificates", base, len(crt))
		}
		_, full, subj := pemItems(t, members[base+"-fullchain.pem"])
		if c.noHeader != (len(subj) == 0) {
			t.Errorf("fullchain: %d subject= lines with IncludeSubjectHeader=%v", len(subj), !c.noHeader)
		}
		a.ordered = full
		a.leaf, a.chain = splitLeaf(t, full)
		if !a.leaf.Equal(crt[0]) {
			t.Errorf("%s.crt is not the leaf of the full chain", base)
		}
		if !c.noChain {
			_, ch, _ := pemItems(t, members[base+"-chain.pem"])
			if len(ch) != len(a.chain) || !ch[0].Equal(a.chain[0]) {
				t.Errorf("-chain.pem differs from the CA part of -fullchain.pem")
			}
		}
	case "JKS":
		f := writeTemp(t, "download.jks", e.blob)
		kt, err := runTool(t, "keytool", "-list", "-v", "-keystore", f, "-storetype", "JKS", "-storepass", e.password)
		if err != nil {
			t.Fatalf("keytool -list JKS: %v\n%s", err, kt)
		}
		alias := strings.ToLower(c.friendly)
		chainLen := "3"
		if c.noChain {
			chainLen = "1"
		}
		for _, w := range []string{"Alias name: " + alias, "Entry type: PrivateKeyEntry", "Certificate chain length: " + chainLen} {
			if !strings.Contains(kt, w) {
				t.Errorf("keytool -list -v lacks %q:\n%s", w, kt)
			}
		}
		ks := jks.New()
		if err := ks.Load(bytes.NewReader(e.blob), []byte(e.password)); err != nil {
			t.Fatalf("JKS load: %v", err)
		}
		entry, err := ks.GetPrivateKeyEntry(alias, []byte(e.password))
		if err != nil {
			t.Fatalf("JKS entry %q: %v (aliases %v)", alias, err, ks.Aliases())
		}
		k, err := x509.ParsePKCS8PrivateKey(entry.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		a.key = k.(crypto.Signer)
		for i, cc := range entry.CertificateChain {
			x, err := x509.ParseCertificate(cc.Content)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				a.leaf = x
			} else {
				a.chain = append(a.chain, x)
			}
		}
		if a.leaf == nil || a.leaf.IsCA {
			t.Fatal("JKS chain does not start with the leaf")
		}
	default:
		t.Fatalf("format %q", c.format)
	}
	return a
}

func sanExtension(c *x509.Certificate) (critical, ok bool) {
	for _, e := range c.Extensions {
		if e.Id.String() == "2.5.29.17" {
			return e.Critical, true
		}
	}
	return false, false
}

// serialOctets is the length of the serial's DER INTEGER content.
func serialOctets(n *big.Int) int {
	b := n.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		return len(b) + 1
	}
	return len(b)
}

func checkIssued(t *testing.T, in *pkiInstance, c matrixCase, e matrixResult, a artifacts, root, issuing *x509.Certificate) {
	t.Helper()
	leaf := a.leaf
	// Response.
	sum := sha1.Sum(leaf.Raw)
	if e.thumbprint != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Errorf("Thumbprint %q, want upper-case SHA-1 %X", e.thumbprint, sum)
	}
	if !strings.EqualFold(strings.TrimLeft(e.serial, "0"), strings.TrimLeft(leaf.SerialNumber.Text(16), "0")) {
		t.Errorf("SerialNumber %q, certificate %s", e.serial, leaf.SerialNumber.Text(16))
	}
	if e.disposition != "ISSUED" || e.keyfactorID <= 0 || e.requestID <= 0 || e.issuerDN == "" {
		t.Errorf("response: disposition %q, KeyfactorId %d, KeyfactorRequestId %d, IssuerDN %q", e.disposition, e.keyfactorID, e.requestID, e.issuerDN)
	}
	if c.version == 2 && !e.successfulStores {
		t.Error("v2 response lacks SuccessfulStores: the server did not treat the request as v2")
	}
	if c.version == 1 && e.successfulStores {
		t.Error("v1 response has SuccessfulStores")
	}
	// The key belongs to the certificate.
	if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(a.key.Public()) {
		t.Fatal("the private key does not match the certificate")
	}
	// Key type.
	if leaf.PublicKeyAlgorithm != c.key.alg {
		t.Errorf("public key algorithm %v, want %v", leaf.PublicKeyAlgorithm, c.key.alg)
	}
	switch k := a.key.Public().(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() != c.key.bits {
			t.Errorf("RSA key of %d bits, want %d", k.N.BitLen(), c.key.bits)
		}
	case *ecdsa.PublicKey:
		if k.Curve.Params().Name != c.key.ecName {
			t.Errorf("curve %s, want %s", k.Curve.Params().Name, c.key.ecName)
		}
	case ed25519.PublicKey:
	default:
		t.Errorf("key type %T", k)
	}
	// Subject and SANs.
	if c.emptySubject {
		if len(leaf.Subject.Names) != 0 {
			t.Errorf("subject %q, want empty", leaf.Subject)
		}
	} else {
		s := leaf.Subject
		if s.CommonName != c.cn() || !slices.Equal(s.Organization, []string{"Key Example, Inc."}) ||
			!slices.Equal(s.OrganizationalUnit, []string{"Platform, Security"}) || !slices.Equal(s.Country, []string{"US"}) {
			t.Errorf("subject %q (O %q, OU %q), want CN=%s, O=Key Example, Inc., OU=Platform, Security, C=US", s, s.Organization, s.OrganizationalUnit, c.cn())
		}
	}
	if !slices.Equal(leaf.DNSNames, []string{c.cn(), "alt." + c.cn()}) {
		t.Errorf("DNS SANs %q", leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 2 || !slices.ContainsFunc(leaf.IPAddresses, net.ParseIP("192.0.2.10").Equal) || !slices.ContainsFunc(leaf.IPAddresses, net.ParseIP("2001:db8::10").Equal) {
		t.Errorf("IP SANs %v", leaf.IPAddresses)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "https://"+c.cn()+"/id" {
		t.Errorf("URI SANs %v", leaf.URIs)
	}
	if !slices.Equal(leaf.EmailAddresses, []string{"ops@example.com"}) {
		t.Errorf("email SANs %q", leaf.EmailAddresses)
	}
	leafFile := writeTemp(t, "leaf.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
	out, err := runTool(t, "openssl", "x509", "-in", leafFile, "-noout", "-ext", "subjectAltName")
	if err != nil || !strings.Contains(out, "othername: UPN::svc-matrix@corp.example.com") {
		t.Errorf("openssl shows no UPN SAN (%v):\n%s", err, out)
	}
	// RFC 5280 4.2.1.6: an empty subject needs a critical SAN extension.
	crit, ok := sanExtension(leaf)
	if !ok {
		t.Error("no SAN extension")
	} else if crit != c.emptySubject {
		t.Errorf("SAN extension critical=%v with empty subject=%v", crit, c.emptySubject)
	}
	// Validity: the WebServer template's 365 days.
	now := time.Now()
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("validity %v, want about 365 days", d)
	}
	if leaf.NotBefore.After(now.Add(time.Minute)) || leaf.NotBefore.Before(now.Add(-2*time.Hour)) {
		t.Errorf("NotBefore %v is not about now", leaf.NotBefore)
	}
	// Key usage per key type (RFC 5280 4.2.1.3, RFC 8813, RFC 8410) and the template's EKU.
	wantKU := x509.KeyUsageDigitalSignature
	if c.key.alg == x509.RSA {
		wantKU |= x509.KeyUsageKeyEncipherment
	}
	if leaf.KeyUsage != wantKU {
		t.Errorf("KeyUsage %b, want %b for %v", leaf.KeyUsage, wantKU, c.key.alg)
	}
	for _, x := range leaf.Extensions {
		if x.Id.String() == "2.5.29.15" && !x.Critical { // RFC 5280 4.2.1.3: SHOULD be critical
			t.Error("the keyUsage extension is not critical")
		}
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || len(leaf.UnknownExtKeyUsage) != 0 {
		t.Errorf("EKU %v %v, want serverAuth only", leaf.ExtKeyUsage, leaf.UnknownExtKeyUsage)
	}
	// RFC 5280 4.1.2.2 serial, 4.2.1.1/4.2.1.2 AKI/SKI, 4.2.1.9 basicConstraints.
	if leaf.SerialNumber.Sign() <= 0 || serialOctets(leaf.SerialNumber) > 20 {
		t.Errorf("serial %s: sign %d, %d octets", leaf.SerialNumber.Text(16), leaf.SerialNumber.Sign(), serialOctets(leaf.SerialNumber))
	}
	if len(leaf.SubjectKeyId) == 0 {
		t.Error("no Subject Key Identifier")
	}
	if len(issuing.SubjectKeyId) == 0 || !bytes.Equal(leaf.AuthorityKeyId, issuing.SubjectKeyId) {
		t.Errorf("AKI %X, issuing CA SKI %X", leaf.AuthorityKeyId, issuing.SubjectKeyId)
	}
	if !leaf.BasicConstraintsValid || leaf.IsCA {
		t.Errorf("basicConstraints valid=%v CA=%v, want CA:FALSE", leaf.BasicConstraintsValid, leaf.IsCA)
	}
	// The revocation URLs (CRL distribution point, AIA OCSP and caIssuers) name
	// the PKI listener, and the CRL it serves is the issuing CA's.
	if len(leaf.CRLDistributionPoints) != 1 || len(leaf.OCSPServer) != 1 || len(leaf.IssuingCertificateURL) != 1 ||
		!strings.HasPrefix(leaf.CRLDistributionPoints[0], in.pkiBase) || !strings.HasPrefix(leaf.OCSPServer[0], in.pkiBase) ||
		!strings.HasPrefix(leaf.IssuingCertificateURL[0], in.pkiBase) {
		t.Errorf("CDP %q, OCSP %q, caIssuers %q: one each under %s expected", leaf.CRLDistributionPoints, leaf.OCSPServer, leaf.IssuingCertificateURL, in.pkiBase)
	} else if resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(leaf.CRLDistributionPoints[0]); err != nil {
		t.Errorf("GET CDP: %v", err)
	} else {
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		crl, err := x509.ParseRevocationList(der)
		if err != nil || crl.CheckSignatureFrom(issuing) != nil {
			t.Errorf("CDP %s does not serve the issuing CA's CRL: %v", leaf.CRLDistributionPoints[0], err)
		}
	}
	if !strings.Contains(e.issuerDN, issuing.Subject.CommonName) {
		t.Errorf("IssuerDN %q does not name the issuing CA %q", e.issuerDN, issuing.Subject.CommonName)
	}
	// Chain: content and order.
	wantChain := []*x509.Certificate{issuing, root}
	if c.noChain {
		wantChain = nil
	}
	var gotChain []*x509.Certificate
	gotChain = append(gotChain, a.chain...)
	if c.chainOrder == "RootFirst" && c.format != "JKS" { // JKS is always leaf first
		slices.Reverse(gotChain)
	}
	if len(gotChain) != len(wantChain) {
		t.Fatalf("%d CA certificates, want %d", len(gotChain), len(wantChain))
	}
	for i := range wantChain {
		if !gotChain[i].Equal(wantChain[i]) {
			t.Errorf("chain[%d] is %s, want %s", i, gotChain[i].Subject, wantChain[i].Subject)
		}
	}
	if a.ordered != nil {
		want := append([]*x509.Certificate{leaf}, wantChain...)
		if c.chainOrder == "RootFirst" {
			slices.Reverse(want)
		}
		for i := range want {
			if !a.ordered[i].Equal(want[i]) {
				t.Errorf("file order[%d] is %s, want %s (ChainOrder %q)", i, a.ordered[i].Subject, want[i].Subject, c.chainOrder)
			}
		}
	}
	// The chain verifies to the root, with the CA certificates the download carried.
	rootFile := filepath.Join(in.dataDir, "root-ca.pem")
	args := []string{"verify", "-CAfile", rootFile}
	if len(a.chain) > 0 {
		var b []byte
		for _, x := range a.chain {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: x.Raw})...)
		}
		args = append(args, "-untrusted", writeTemp(t, "chain.pem", b))
	} else {
		args = append(args, "-untrusted", filepath.Join(in.dataDir, "issuing-ca.pem"))
	}
	args = append(args, "-purpose", "sslserver", leafFile)
	if out, err := runTool(t, "openssl", args...); err != nil || !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

// pfxCall posts a raw JSON body to /Enrollment/PFX as admin; version ""
// leaves x-keyfactor-api-version out, format "" leaves x-certificateformat out.
func pfxCall(t *testing.T, in *instance, version, format, body string) (int, []byte) {
	t.Helper()
	return pfxCallAs(t, in, "admin", adminPassword, version, format, body)
}

func pfxCallAs(t *testing.T, in *instance, user, pass, version, format, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", in.base+"/Enrollment/PFX", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-keyfactor-requested-with", "APIClient")
	req.Header.Set("Content-Type", "application/json")
	if version != "" {
		req.Header.Set("x-keyfactor-api-version", version)
	}
	if format != "" {
		req.Header.Set("x-certificateformat", format)
	}
	req.SetBasicAuth(user, pass)
	resp, err := in.httpClient().Do(req)
	if err != nil {
		t.Fatalf("POST Enrollment/PFX: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b
}
