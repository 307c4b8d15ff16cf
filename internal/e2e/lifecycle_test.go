package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/sqlstore"
)

// TestLifecycle drives CSR enrollment, download, key recovery, renewal and
// the enrollment context through the official SDK over HTTPS, with real
// openssl and keytool reading what comes back, on both databases.
func TestLifecycle(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runLifecycle(t, "") })
	t.Run("postgres", func(t *testing.T) { runLifecycle(t, postgresDSN(t)) })
}

// opensslCSR makes a key and a CSR with `openssl req`.
func opensslCSR(t *testing.T, dir, name, newkey, subj string, extra ...string) (csrPEM, keyFile string) {
	t.Helper()
	keyFile = filepath.Join(dir, name+".key")
	csrFile := filepath.Join(dir, name+".csr")
	args := append([]string{"req", "-new", "-newkey", newkey, "-nodes", "-keyout", keyFile, "-out", csrFile, "-subj", subj}, extra...)
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	b, err := os.ReadFile(csrFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), keyFile
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// p7bCerts parses a DER PKCS#7 certs-only bundle keeping the order of the
// certificates as encoded.
func p7bCerts(t *testing.T, der []byte) []*x509.Certificate {
	t.Helper()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatalf("PKCS#7 ContentInfo: %v", err)
	}
	var sd struct {
		Version      int
		Digests      asn1.RawValue
		Content      asn1.RawValue
		Certificates asn1.RawValue `asn1:"optional,tag:0"`
		Signers      asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatalf("PKCS#7 SignedData: %v", err)
	}
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		t.Fatalf("PKCS#7 certificates: %v", err)
	}
	return certs
}

func runLifecycle(t *testing.T, dsn string) {
	in := start(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatalf("NewAPIClient: %v", err)
	}
	dir := t.TempDir()
	const pw = "lifecycle-pass-123"

	// history reads a certificate's history straight from the database.
	history := func(t *testing.T, id int32) []string {
		t.Helper()
		db, err := sqlstore.Open(ctx, dsn, in.dataDir)
		if err != nil {
			t.Fatalf("open database: %v", err)
		}
		defer db.Close()
		hs, err := db.Q().History(ctx, int64(id))
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, h := range hs {
			ops = append(ops, h.Operation)
		}
		return ops
	}

	enrollPFX := func(t *testing.T, template, cn string) *kfv1.CSSCMSDataModelModelsPkcs12CertificateResponse {
		t.Helper()
		req := kfv1.NewEnrollmentPFXEnrollmentRequest()
		req.SetTemplate(template)
		req.SetSubject("CN=" + cn)
		req.SetSANs(map[string][]string{"dns": {cn}})
		req.SetPassword(pw)
		req.SetTimestamp(time.Now().UTC())
		req.SetMetadata(map[string]interface{}{})
		resp, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("PFX").EnrollmentPFXEnrollmentRequest(*req).Execute()
		if err != nil {
			t.Fatalf("POST Enrollment/PFX: %s", sdkErr(err))
		}
		info := resp.GetCertificateInformation()
		return &info
	}

	var csrCertID int32
	t.Run("CSR", func(t *testing.T) {
		csr, keyFile := opensslCSR(t, dir, "csr", "rsa:2048", "/CN=csr.example.com/O=E2E", "-addext", "subjectAltName=DNS:csr.example.com")
		req := kfv1.NewEnrollmentCSREnrollmentRequest(csr)
		req.SetTemplate("WebServer")
		req.SetIncludeChain(true)
		req.SetTimestamp(time.Now().UTC())
		req.SetSANs(map[string][]string{"dns": {"alt.example.com"}})
		resp, _, err := c.EnrollmentApi.NewCreateEnrollmentCSRRequest(ctx).XCertificateformat("PEM").EnrollmentCSREnrollmentRequest(*req).Execute()
		if err != nil {
			t.Fatalf("POST Enrollment/CSR: %s", sdkErr(err))
		}
		info := resp.GetCertificateInformation()
		csrCertID = info.GetKeyfactorID()
		pems := info.GetCertificates()
		if len(pems) != 3 || csrCertID == 0 || info.GetRequestDisposition() != "ISSUED" {
			t.Fatalf("response: id %d, %d certificates, disposition %q", csrCertID, len(pems), info.GetRequestDisposition())
		}
		var certs []*x509.Certificate
		for i, p := range pems {
			b, _ := pem.Decode([]byte(p))
			if b == nil || b.Type != "CERTIFICATE" {
				t.Fatalf("element %d is not a PEM certificate: %q", i, p)
			}
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			certs = append(certs, cert)
		}
		leaf := certs[0]
		if leaf.Subject.CommonName != "csr.example.com" || strings.Join(leaf.DNSNames, ",") != "csr.example.com,alt.example.com" {
			t.Errorf("leaf subject %q DNS %v", leaf.Subject, leaf.DNSNames)
		}
		if err := leaf.CheckSignatureFrom(certs[1]); err != nil || certs[2].CheckSignatureFrom(certs[2]) != nil {
			t.Errorf("chain is not leaf, issuer, root: %v", err)
		}
		// The leaf carries the key openssl made.
		leafFile := filepath.Join(dir, "csr-leaf.pem")
		os.WriteFile(leafFile, []byte(pems[0]), 0o600)
		if a, b := run(t, "openssl", "x509", "-in", leafFile, "-noout", "-pubkey"), run(t, "openssl", "pkey", "-in", keyFile, "-pubout"); a != b {
			t.Errorf("leaf public key differs from the CSR's:\n%s\n%s", a, b)
		}
		if h := history(t, csrCertID); len(h) == 0 || h[0] != "Enrolled" {
			t.Errorf("history %v", h)
		}

		// DER format, the go-client's nulls for SANs and Metadata, no chain.
		csr2, _ := opensslCSR(t, dir, "csr2", "ec", "/CN=der.example.com", "-pkeyopt", "ec_paramgen_curve:P-256")
		body, _ := json.Marshal(map[string]any{"CSR": csr2, "Template": "WebServer", "SANs": nil, "Metadata": nil,
			"Timestamp": time.Now().UTC().Format(time.RFC3339)})
		code, b := in.callHeaders(t, "POST", "/Enrollment/CSR", string(body), map[string]string{"x-certificateformat": "DER"})
		if code != http.StatusOK {
			t.Fatalf("DER CSR enrollment: %d %s", code, b)
		}
		var out struct {
			CertificateInformation struct{ Certificates []string }
		}
		json.Unmarshal(b, &out)
		if len(out.CertificateInformation.Certificates) != 1 {
			t.Fatalf("DER: %d certificates, want the leaf only", len(out.CertificateInformation.Certificates))
		}
		der, err := base64.StdEncoding.DecodeString(out.CertificateInformation.Certificates[0])
		if err != nil {
			t.Fatalf("DER element is not base64: %v", err)
		}
		if cert, err := x509.ParseCertificate(der); err != nil || cert.Subject.CommonName != "der.example.com" {
			t.Fatalf("DER element: %v", err)
		}

		// Parse.
		parsed, _, err := c.EnrollmentApi.NewCreateEnrollmentCSRParseRequest(ctx).CSSCMSDataModelModelsCSRContents(*kfv1.NewCSSCMSDataModelModelsCSRContents(csr)).Execute()
		if err != nil {
			t.Fatalf("CSR/Parse: %s", sdkErr(err))
		}
		if strings.Join(parsed, ";") != "O=E2E;CN=csr.example.com;dns=csr.example.com;Key=RSA-2048" {
			t.Errorf("CSR/Parse = %q", parsed)
		}
	})

	t.Run("CSR_Rejected", func(t *testing.T) {
		csr, _ := opensslCSR(t, dir, "bad", "rsa:2048", "/CN=bad.example.com")
		blk, _ := pem.Decode([]byte(csr))
		blk.Bytes[len(blk.Bytes)-1] ^= 1
		badSig := string(pem.EncodeToMemory(blk))
		weak, _ := opensslCSR(t, dir, "weak", "rsa:1024", "/CN=weak.example.com")
		ts := time.Now().UTC().Format(time.RFC3339)
		cases := []struct {
			name, format, csr, code, contains string
			extra                             map[string]any
		}{
			{"BadSignature", "PEM", badSig, "0xA0010001", "CSR: signature does not verify", nil},
			{"DisallowedKey", "PEM", weak, "0xA0110004", "CSR: the request's key is not allowed", nil},
			{"WrongFormat", "PFX", csr, "0xA0010001", "x-certificateformat", nil},
			{"NotACSR", "PEM", "hello", "0xA0010001", "CSR", nil},
			{"MetadataNotScalar", "PEM", csr, "0xA0010001", "Metadata.Team: must be a string, number or boolean",
				map[string]any{"Metadata": map[string]any{"Team": map[string]any{"a": 1}}}},
			{"FieldsNotObject", "PEM", csr, "0xA0010001", "AdditionalEnrollmentFields: must be a JSON object",
				map[string]any{"AdditionalEnrollmentFields": []string{"x"}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := map[string]any{"CSR": tc.csr, "Template": "WebServer", "Timestamp": ts}
				for k, v := range tc.extra {
					req[k] = v
				}
				body, _ := json.Marshal(req)
				code, b := in.callHeaders(t, "POST", "/Enrollment/CSR", string(body), map[string]string{"x-certificateformat": tc.format})
				if code != http.StatusBadRequest {
					t.Fatalf("status %d, want 400: %s", code, b)
				}
				e := decodeError(t, b)
				if *e.ErrorCode != tc.code || !strings.Contains(*e.Message, tc.contains) {
					t.Errorf("error %s %q, want %s containing %q", *e.ErrorCode, *e.Message, tc.code, tc.contains)
				}
			})
		}
	})

	pfx := enrollPFX(t, "WebServer", "kept.example.com")
	pfxID := pfx.GetKeyfactorId()

	t.Run("Download", func(t *testing.T) {
		dl := func(t *testing.T, format string, req *kfv1.CertificatesCertificateDownloadRequest) []byte {
			t.Helper()
			resp, _, err := c.CertificateApi.NewCreateCertificatesDownloadRequest(ctx).XCertificateformat(format).CertificatesCertificateDownloadRequest(*req).Execute()
			if err != nil {
				t.Fatalf("Download %s: %s", format, sdkErr(err))
			}
			b, err := base64.StdEncoding.DecodeString(resp.GetContent())
			if err != nil {
				t.Fatalf("Content is not base64: %v", err)
			}
			return b
		}
		// P7B as the go-client asks for it: leaf first, chain included.
		req := kfv1.NewCertificatesCertificateDownloadRequest()
		req.SetCertID(pfxID)
		req.SetIncludeChain(true)
		req.SetChainOrder("EndEntityFirst")
		p7b := dl(t, "P7B", req)
		certs := p7bCerts(t, p7b)
		if len(certs) != 3 || !strings.EqualFold(fmt.Sprintf("%X", sha1sum(certs[0].Raw)), pfx.GetThumbprint()) {
			t.Fatalf("P7B: %d certificates, first is %q; want the leaf first", len(certs), certs[0].Subject)
		}
		f := filepath.Join(dir, "dl.p7b")
		os.WriteFile(f, p7b, 0o600)
		out := run(t, "openssl", "pkcs7", "-inform", "DER", "-in", f, "-print_certs", "-noout")
		if !strings.HasPrefix(out, "subject=CN = kept.example.com\n") || strings.Count(out, "subject=") != 3 {
			t.Errorf("openssl pkcs7 does not list the leaf first:\n%s", out)
		}

		// PEM by thumbprint, root first, with subject headers.
		req = kfv1.NewCertificatesCertificateDownloadRequest()
		req.SetThumbprint(pfx.GetThumbprint())
		req.SetIncludeChain(true)
		req.SetChainOrder("RootFirst")
		req.SetIncludeSubjectHeader(true)
		pemOut := dl(t, "PEM", req)
		var blocks []*x509.Certificate
		for rest := pemOut; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			cert, _ := x509.ParseCertificate(b.Bytes)
			blocks = append(blocks, cert)
		}
		if len(blocks) != 3 || blocks[2].Subject.CommonName != "kept.example.com" || blocks[0].CheckSignatureFrom(blocks[0]) != nil {
			t.Errorf("PEM RootFirst: %d certificates", len(blocks))
		}
		if !strings.HasPrefix(string(pemOut), "subject=") {
			t.Errorf("PEM lacks the subject header: %.60q", pemOut)
		}

		// DER by serial number and issuer DN (written with spaces).
		leaf, err := x509.ParseCertificate(certs[0].Raw)
		if err != nil {
			t.Fatal(err)
		}
		req = kfv1.NewCertificatesCertificateDownloadRequest()
		req.SetSerialNumber(pfx.GetSerialNumber())
		req.SetIssuerDN(strings.ReplaceAll(pfx.GetIssuerDN(), ",", ", "))
		if der := dl(t, "DER", req); string(der) != string(leaf.Raw) {
			t.Errorf("DER download is not the leaf (%d bytes)", len(der))
		}
		if h := history(t, pfxID); strings.Count(strings.Join(h, ","), "Downloaded") != 3 {
			t.Errorf("history %v, want three Downloaded entries", h)
		}

		for _, tc := range []struct {
			name, format, body string
			status             int
			contains           string
		}{
			{"UnknownID", "PEM", `{"CertID": 999999}`, 404, "CertID: certificate 999999 does not exist"},
			{"UnknownThumbprint", "PEM", `{"Thumbprint": "` + strings.Repeat("AB", 20) + `"}`, 404, "Thumbprint"},
			{"WrongFormat", "PFX", `{"CertID": 1}`, 400, "x-certificateformat"},
			{"NoSelector", "PEM", `{}`, 400, "CertID"},
			{"SerialWithoutIssuer", "PEM", `{"SerialNumber": "01"}`, 400, "IssuerDN"},
			{"BadChainOrder", "PEM", `{"CertID": 1, "ChainOrder": "Sideways"}`, 400, "ChainOrder"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, b := in.callHeaders(t, "POST", "/Certificates/Download", tc.body, map[string]string{"x-certificateformat": tc.format})
				if code != tc.status {
					t.Fatalf("status %d, want %d: %s", code, tc.status, b)
				}
				if e := decodeError(t, b); !strings.Contains(*e.Message, tc.contains) {
					t.Errorf("message %q lacks %q", *e.Message, tc.contains)
				}
			})
		}
	})

	t.Run("Recover", func(t *testing.T) {
		rec := func(t *testing.T, format string, legacy bool) ([]byte, string) {
			t.Helper()
			req := kfv1.NewCertificatesCertificateRecoveryRequest(pw)
			req.SetCertID(pfxID)
			req.SetIncludeChain(true)
			req.SetFriendlyName("recovered")
			req.SetUseLegacyEncryption(legacy)
			resp, _, err := c.CertificateApi.NewCreateCertificatesRecoverRequest(ctx).XCertificateformat(format).CertificatesCertificateRecoveryRequest(*req).Execute()
			if err != nil {
				t.Fatalf("Recover %s: %s", format, sdkErr(err))
			}
			b, err := base64.StdEncoding.DecodeString(resp.GetPFX())
			if err != nil {
				t.Fatal(err)
			}
			return b, resp.GetFileName()
		}
		modern, name := rec(t, "PFX", false)
		if name != "kept.example.com.pfx" {
			t.Errorf("FileName %q", name)
		}
		f := filepath.Join(dir, "modern.pfx")
		os.WriteFile(f, modern, 0o600)
		out := run(t, "openssl", "pkcs12", "-in", f, "-passin", "pass:"+pw, "-info", "-nodes")
		for _, want := range []string{"PBES2", "AES-256-CBC", "BEGIN PRIVATE KEY", "friendlyName: recovered", "CN = kept.example.com"} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl pkcs12 (modern) output lacks %q:\n%s", want, out)
			}
		}
		key, leaf, _, err := pkcs12.DecodeChain(modern, pw)
		if err != nil || !strings.EqualFold(fmt.Sprintf("%X", sha1sum(leaf.Raw)), pfx.GetThumbprint()) {
			t.Fatalf("go-pkcs12: %v", err)
		}
		if signer, ok := key.(crypto.Signer); !ok || !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
			t.Error("recovered key does not match the certificate")
		}

		legacy, _ := rec(t, "PFX", true)
		f = filepath.Join(dir, "legacy.pfx")
		os.WriteFile(f, legacy, 0o600)
		out = run(t, "openssl", "pkcs12", "-legacy", "-in", f, "-passin", "pass:"+pw, "-info", "-nodes")
		for _, want := range []string{"pbeWithSHA1And40BitRC2-CBC", "pbeWithSHA1And3-KeyTripleDES-CBC", "BEGIN PRIVATE KEY"} {
			if !strings.Contains(out, want) {
				t.Errorf("openssl pkcs12 -legacy output lacks %q:\n%s", want, out)
			}
		}
		if err := exec.Command("openssl", "pkcs12", "-in", f, "-passin", "pass:"+pw, "-nodes", "-out", os.DevNull).Run(); err == nil {
			t.Error("the legacy PFX opens without -legacy: it is not RC2-protected")
		}

		jks, name := rec(t, "JKS", false)
		if !strings.HasSuffix(name, ".jks") {
			t.Errorf("JKS FileName %q", name)
		}
		f = filepath.Join(dir, "r.jks")
		os.WriteFile(f, jks, 0o600)
		out = run(t, "keytool", "-list", "-v", "-keystore", f, "-storepass", pw, "-storetype", "JKS")
		if !strings.Contains(out, "PrivateKeyEntry") || !strings.Contains(out, "Certificate chain length: 3") || !strings.Contains(out, "CN=kept.example.com") {
			t.Errorf("keytool output:\n%s", out)
		}

		pemOut, _ := rec(t, "PEM", false)
		f = filepath.Join(dir, "r.pem")
		os.WriteFile(f, pemOut, 0o600)
		run(t, "openssl", "pkey", "-in", f, "-passin", "pass:"+pw, "-noout")

		// ZIP, root first: separate PEM members, the key encrypted with the new password.
		zreq := kfv1.NewCertificatesCertificateRecoveryRequest(pw)
		zreq.SetCertID(pfxID)
		zreq.SetIncludeChain(true)
		zreq.SetChainOrder("RootFirst")
		zresp, _, err := c.CertificateApi.NewCreateCertificatesRecoverRequest(ctx).XCertificateformat("ZIP").CertificatesCertificateRecoveryRequest(*zreq).Execute()
		if err != nil {
			t.Fatalf("Recover ZIP: %s", sdkErr(err))
		}
		zb, _ := base64.StdEncoding.DecodeString(zresp.GetPFX())
		zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
		if err != nil {
			t.Fatalf("ZIP: %v", err)
		}
		members := map[string][]byte{}
		for _, zf := range zr.File {
			rc, err := zf.Open()
			if err != nil {
				t.Fatal(err)
			}
			members[zf.Name], _ = io.ReadAll(rc)
			rc.Close()
		}
		chainPEM, keyPEM := members["kept.example.com-chain.pem"], members["kept.example.com.key"]
		if len(members["kept.example.com.crt"]) == 0 || len(chainPEM) == 0 || len(keyPEM) == 0 {
			t.Fatalf("ZIP members: %v", slices.Collect(maps.Keys(members)))
		}
		if first, _ := pem.Decode(chainPEM); first == nil {
			t.Error("chain member holds no PEM")
		} else if root, err := x509.ParseCertificate(first.Bytes); err != nil || root.CheckSignatureFrom(root) != nil {
			t.Errorf("ChainOrder RootFirst: the chain member does not start with the root: %v", err)
		}
		kf := filepath.Join(dir, "zip.key")
		os.WriteFile(kf, keyPEM, 0o600)
		run(t, "openssl", "pkey", "-in", kf, "-passin", "pass:"+pw, "-noout")

		if h := strings.Join(history(t, pfxID), ","); strings.Count(h, "Recovered") != 5 {
			t.Errorf("history %s, want five Recovered entries", h)
		}
	})

	// Terraform's flow: enroll with x-certificateformat STORE (no key in the
	// answer), then fetch the PFX with Recover, even where the template does
	// not retain keys (ClientAuth).
	t.Run("Recover_AfterSTORE", func(t *testing.T) {
		req := kfv1.NewEnrollmentPFXEnrollmentRequest()
		req.SetTemplate("ClientAuth")
		req.SetSubject("CN=stored.example.com")
		req.SetPassword(pw)
		req.SetTimestamp(time.Now().UTC())
		resp, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("STORE").EnrollmentPFXEnrollmentRequest(*req).Execute()
		if err != nil {
			t.Fatalf("POST Enrollment/PFX STORE: %s", sdkErr(err))
		}
		info := resp.GetCertificateInformation()
		if info.GetPkcs12Blob() != "" {
			t.Fatal("STORE enrollment answered key material")
		}
		rr := kfv1.NewCertificatesCertificateRecoveryRequest(pw)
		rr.SetCertID(info.GetKeyfactorId())
		rec, _, err := c.CertificateApi.NewCreateCertificatesRecoverRequest(ctx).XCertificateformat("PFX").CertificatesCertificateRecoveryRequest(*rr).Execute()
		if err != nil {
			t.Fatalf("Recover after STORE: %s", sdkErr(err))
		}
		b, err := base64.StdEncoding.DecodeString(rec.GetPFX())
		if err != nil {
			t.Fatal(err)
		}
		key, leaf, _, err := pkcs12.DecodeChain(b, pw)
		if err != nil {
			t.Fatalf("go-pkcs12: %v", err)
		}
		if !strings.EqualFold(fmt.Sprintf("%X", sha1sum(leaf.Raw)), info.GetThumbprint()) {
			t.Errorf("recovered leaf %X, enrolled %s", sha1sum(leaf.Raw), info.GetThumbprint())
		}
		if signer, ok := key.(crypto.Signer); !ok || !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
			t.Error("recovered key does not match the certificate")
		}
	})

	t.Run("Recover_Rejected", func(t *testing.T) {
		noKey := enrollPFX(t, "ClientAuth", "nokey.example.com")
		// A reader: may download, may not recover.
		body := `{"AccountName":"reader","Password":"reader-password-123"}`
		if code, b := in.call(t, "POST", "/Security/Identities", "admin", adminPassword, body); code/100 != 2 {
			t.Fatalf("create identity: %d %s", code, b)
		}
		role, _ := json.Marshal(map[string]any{"Name": "Readers", "Description": "read only",
			"Permissions": []string{"/certificates/collections/read/"}, "Identities": []string{"reader"}})
		if code, b := in.call(t, "POST", "/Security/Roles", "admin", adminPassword, string(role)); code/100 != 2 {
			t.Fatalf("create role: %d %s", code, b)
		}
		recoverAs := func(user, pass, format, body string) (int, []byte) {
			return in.callAs(t, user, pass, "POST", "/Certificates/Recover", body, map[string]string{"x-certificateformat": format})
		}
		cases := []struct {
			name, user, pass, format, body string
			status                         int
			code, message                  string
		}{
			{"NoRetention", "admin", adminPassword, "PFX", fmt.Sprintf(`{"CertId": %d, "Password": %q}`, noKey.GetKeyfactorId(), pw),
				404, "0xA0110002", "No private key could be found for the given certificate."},
			{"CSREnrolled", "admin", adminPassword, "PFX", fmt.Sprintf(`{"CertId": %d, "Password": %q}`, csrCertID, pw),
				404, "0xA0110002", "No private key could be found for the given certificate."},
			{"NoPermission", "reader", "reader-password-123", "PFX", fmt.Sprintf(`{"CertId": %d, "Password": %q}`, pfxID, pw),
				403, "0xA0140002", ""},
			{"ShortPassword", "admin", adminPassword, "PFX", fmt.Sprintf(`{"CertId": %d, "Password": "short"}`, pfxID),
				400, "0xA0010001", "Password: must be at least 12 characters"},
			{"MissingPassword", "admin", adminPassword, "PFX", fmt.Sprintf(`{"CertId": %d}`, pfxID),
				400, "0xA0010001", "Password: is required"},
			{"WrongFormat", "admin", adminPassword, "P7B", fmt.Sprintf(`{"CertId": %d, "Password": %q}`, pfxID, pw),
				400, "0xA0010001", "x-certificateformat"},
			{"UnknownID", "admin", adminPassword, "PFX", fmt.Sprintf(`{"CertId": 999999, "Password": %q}`, pw),
				404, "0xA0010002", "CertID: certificate 999999 does not exist"},
			{"CSPNotAllowed", "admin", adminPassword, "PFX", fmt.Sprintf(`{"CertId": %d, "Password": %q, "MicrosoftTargetCSP": "Bogus CSP"}`, pfxID, pw),
				400, "0xA0010001", "MicrosoftTargetCSP: "},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				code, b := recoverAs(tc.user, tc.pass, tc.format, tc.body)
				if code != tc.status {
					t.Fatalf("status %d, want %d: %s", code, tc.status, b)
				}
				e := decodeError(t, b)
				if *e.ErrorCode != tc.code || !strings.Contains(*e.Message, tc.message) {
					t.Errorf("error %s %q, want %s %q", *e.ErrorCode, *e.Message, tc.code, tc.message)
				}
			})
		}
		// The reader may download what it may not recover.
		code, _ := in.callAs(t, "reader", "reader-password-123", "POST", "/Certificates/Download",
			fmt.Sprintf(`{"CertID": %d}`, pfxID), map[string]string{"x-certificateformat": "PEM"})
		if code != http.StatusOK {
			t.Errorf("reader download: %d", code)
		}
	})

	t.Run("Renew", func(t *testing.T) {
		avail, _, err := c.EnrollmentApi.NewGetEnrollmentAvailableRenewalIdByIdRequest(ctx, pfxID).Execute()
		if err != nil {
			t.Fatalf("AvailableRenewal: %s", sdkErr(err))
		}
		if avail.GetAvailableRenewalType() != kfv1.CSSCMSDATAMODELENUMSRENEWALTYPE__2 {
			t.Errorf("AvailableRenewal of a retained-key PFX certificate = %v (%s), want 2", avail.GetAvailableRenewalType(), avail.GetMessage())
		}
		avail, _, err = c.EnrollmentApi.NewGetEnrollmentAvailableRenewalThumbprintThumbprintRequest(ctx, pfx.GetThumbprint()).Execute()
		if err != nil || avail.GetAvailableRenewalType() != kfv1.CSSCMSDATAMODELENUMSRENEWALTYPE__2 {
			t.Errorf("AvailableRenewal by thumbprint: %v %v", avail, err)
		}
		avail, _, err = c.EnrollmentApi.NewGetEnrollmentAvailableRenewalIdByIdRequest(ctx, csrCertID).Execute()
		if err != nil || avail.GetAvailableRenewalType() != kfv1.CSSCMSDATAMODELENUMSRENEWALTYPE__0 || !strings.Contains(avail.GetMessage(), "CSR") {
			t.Errorf("AvailableRenewal of a CSR certificate: %+v %v", avail, err)
		}

		req := kfv1.NewEnrollmentRenewAPIRequest()
		req.SetCertificateId(pfxID)
		req.SetTimestamp(time.Now().UTC())
		res, _, err := c.EnrollmentApi.NewCreateEnrollmentRenewRequest(ctx).EnrollmentRenewAPIRequest(*req).Execute()
		if err != nil {
			t.Fatalf("Renew: %s", sdkErr(err))
		}
		newID := res.GetKeyfactorId()
		if newID == 0 || newID == pfxID || len(res.GetPassword()) < 12 || res.GetRequestDisposition() != "ISSUED" {
			t.Fatalf("Renew response: id %d password %d chars disposition %q", newID, len(res.GetPassword()), res.GetRequestDisposition())
		}
		oldC, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, pfxID).Execute()
		if err != nil {
			t.Fatal(sdkErr(err))
		}
		newC, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, newID).Execute()
		if err != nil {
			t.Fatal(sdkErr(err))
		}
		if newC.GetIssuedDN() != oldC.GetIssuedDN() || newC.GetTemplateId() != oldC.GetTemplateId() || newC.GetKeySizeInBits() != oldC.GetKeySizeInBits() {
			t.Errorf("renewed: DN %q template %d size %d; old: %q %d %d", newC.GetIssuedDN(), newC.GetTemplateId(), newC.GetKeySizeInBits(),
				oldC.GetIssuedDN(), oldC.GetTemplateId(), oldC.GetKeySizeInBits())
		}
		var oldSANs, newSANs []string
		for _, s := range oldC.GetSubjectAltNameElements() {
			oldSANs = append(oldSANs, s.GetValue())
		}
		for _, s := range newC.GetSubjectAltNameElements() {
			newSANs = append(newSANs, s.GetValue())
		}
		if strings.Join(oldSANs, ",") != strings.Join(newSANs, ",") || len(newSANs) == 0 {
			t.Errorf("SANs: renewed %v, old %v", newSANs, oldSANs)
		}
		if h := history(t, pfxID); h[len(h)-1] != "Renewed" {
			t.Errorf("old certificate history %v lacks Renewed", h)
		}
		if h := history(t, newID); len(h) != 1 || h[0] != "Renewed" {
			t.Errorf("new certificate history %v", h)
		}
		// The new key is retained and differs from the old one.
		rr := kfv1.NewCertificatesCertificateRecoveryRequest(pw)
		rr.SetCertID(newID)
		rec, _, err := c.CertificateApi.NewCreateCertificatesRecoverRequest(ctx).XCertificateformat("PFX").CertificatesCertificateRecoveryRequest(*rr).Execute()
		if err != nil {
			t.Fatalf("Recover renewed: %s", sdkErr(err))
		}
		b, _ := base64.StdEncoding.DecodeString(rec.GetPFX())
		_, leaf, _, err := pkcs12.DecodeChain(b, pw)
		if err != nil {
			t.Fatal(err)
		}
		if oldC.GetContentBytes() == base64.StdEncoding.EncodeToString(leaf.Raw) {
			t.Error("recovered the old certificate for the renewed id")
		}

		if !oldC.GetKeyRecoverable() {
			t.Error("KeyRecoverable false for a certificate whose key Recover returns")
		}
		if csrC, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, csrCertID).Execute(); err != nil || csrC.GetKeyRecoverable() {
			t.Errorf("CSR-enrolled certificate: KeyRecoverable %v %v", csrC.GetKeyRecoverable(), err)
		}

		// Renewal by thumbprint, of the renewed certificate.
		treq := kfv1.NewEnrollmentRenewAPIRequest()
		treq.SetThumbprint(newC.GetThumbprint())
		tres, _, err := c.EnrollmentApi.NewCreateEnrollmentRenewRequest(ctx).EnrollmentRenewAPIRequest(*treq).Execute()
		if err != nil {
			t.Fatalf("Renew by thumbprint: %s", sdkErr(err))
		}
		third, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, tres.GetKeyfactorId()).Execute()
		if err != nil || third.GetIssuedDN() != newC.GetIssuedDN() || third.GetThumbprint() == newC.GetThumbprint() {
			t.Errorf("renewed by thumbprint: %+v %v", third, err)
		}
		if h := history(t, tres.GetKeyfactorId()); len(h) != 1 || h[0] != "Renewed" {
			t.Errorf("thumbprint renewal history %v", h)
		}

		// A CSR-enrolled certificate cannot be renewed with one click.
		code, body := in.callHeaders(t, "POST", "/Enrollment/Renew", fmt.Sprintf(`{"CertificateId": %d}`, csrCertID), nil)
		if code != http.StatusBadRequest {
			t.Fatalf("renew CSR certificate: %d %s", code, body)
		}
		if e := decodeError(t, body); *e.ErrorCode != "0xA0110005" || !strings.Contains(*e.Message, "enrolled from a CSR") {
			t.Errorf("renew CSR certificate: %s %q", *e.ErrorCode, *e.Message)
		}
		code, body = in.callHeaders(t, "POST", "/Enrollment/Renew", `{"CertificateId": 999999}`, nil)
		if code != http.StatusNotFound {
			t.Errorf("renew unknown id: %d %s", code, body)
		}
	})

	t.Run("Context", func(t *testing.T) {
		for name, get := range map[string]func() (*kfv1.KeyfactorWebCoreModelsEnrollmentEnrollmentTemplateCAResponse, *http.Response, error){
			"PFX": c.EnrollmentApi.NewGetEnrollmentPFXContextMyRequest(ctx).Execute,
			"CSR": c.EnrollmentApi.NewGetEnrollmentCSRContextMyRequest(ctx).Execute,
		} {
			res, _, err := get()
			if err != nil {
				t.Fatalf("%s Context/My: %s", name, sdkErr(err))
			}
			found := false
			for _, tp := range res.GetTemplates() {
				if tp.GetName() == "WebServer" {
					for _, ca := range tp.GetCAs() {
						found = found || ca.GetName() == `localhost\IssuingCA1`
					}
				}
			}
			if !found {
				t.Errorf("%s Context/My lacks WebServer offered by localhost\\IssuingCA1: %+v", name, res.GetTemplates())
			}
		}
		// The reader holds no enrollment permission.
		code, _ := in.callAs(t, "reader", "reader-password-123", "GET", "/Enrollment/CSR/Context/My", "", nil)
		if code != http.StatusForbidden {
			t.Errorf("reader CSR context: %d, want 403", code)
		}
	})
}

// callAs sends one request as the given identity with extra headers.
func (in *instance) callAs(t *testing.T, user, pass, method, path, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, in.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBasicAuth(user, pass)
	resp, err := in.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}

func sha1sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}
