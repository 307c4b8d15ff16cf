package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	"golang.org/x/crypto/ocsp"

	"github.com/certdock/certdock/internal/pki"
)

// pkiInstance is a server with its plain-HTTP PKI listener (CRL, OCSP).
type pkiInstance struct{ *running }

// startPKI is start with the PKI listener on a kernel-chosen port.
func startPKI(t *testing.T, dsn string) *pkiInstance {
	t.Helper()
	return &pkiInstance{startWith(t, startOptions{DSN: dsn, PKI: true})}
}

func TestRevocation_Backends(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is required")
	}
	t.Run("sqlite", func(t *testing.T) { runRevocation(t, startPKI(t, "")) })
	t.Run("postgres", func(t *testing.T) { runRevocation(t, startPKI(t, postgresDSN(t))) })
}

// enrolled is a certificate enrolled through the SDK.
type enrolled struct {
	id   int32
	cert *x509.Certificate
	pem  string // file holding the leaf
}

func (in *pkiInstance) enroll(t *testing.T, ctx context.Context, c *kfv1.APIClient, cn string) enrolled {
	t.Helper()
	req := kfv1.NewEnrollmentPFXEnrollmentRequest()
	req.SetTemplate("WebServer")
	req.SetSubject("CN=" + cn)
	req.SetSANs(map[string][]string{"dns": {cn}})
	req.SetPassword("revocation-pw-123")
	req.SetKeyType("ECC")
	req.SetCurve("1.2.840.10045.3.1.7")
	req.SetTimestamp(time.Now().UTC())
	resp, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("PFX").EnrollmentPFXEnrollmentRequest(*req).Execute()
	if err != nil {
		t.Fatalf("enroll %s: %s", cn, sdkErr(err))
	}
	info := resp.GetCertificateInformation()
	id := info.GetKeyfactorId()
	got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, id).Execute()
	if err != nil {
		t.Fatalf("GET Certificates/%d: %s", id, sdkErr(err))
	}
	der, err := base64.StdEncoding.DecodeString(got.GetContentBytes())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return enrolled{id: id, cert: cert, pem: f}
}

// openssl runs the tool and returns stdout and stderr together.
func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}

// ocspStatus asks the responder with `openssl ocsp` and returns its output,
// failing unless the response verifies.
func (in *pkiInstance) ocspStatus(t *testing.T, e enrolled) string {
	t.Helper()
	out, err := openssl(t, "ocsp", "-issuer", filepath.Join(in.dataDir, "issuing-ca.pem"), "-cert", e.pem,
		"-url", in.pkiBase+"/ocsp", "-CAfile", filepath.Join(in.dataDir, "root-ca.pem"), "-timeout", "10")
	if err != nil {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Response verify OK") {
		t.Fatalf("openssl ocsp did not verify the response:\n%s", out)
	}
	// openssl sends a nonce by default and checks its echo (RFC 8954).
	if strings.Contains(strings.ToLower(out), "nonce") {
		t.Fatalf("openssl ocsp complains about the nonce:\n%s", out)
	}
	return out
}

// crlText downloads the CRL, checks it with `openssl crl -verify` and
// returns openssl's text and the CRL.
func (in *pkiInstance) crlText(t *testing.T) (string, *x509.RevocationList) {
	t.Helper()
	resp, err := http.Get(in.pkiBase + "/crl/IssuingCA1.crl")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pkix-crl" {
		t.Fatalf("CRL: status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "ca.crl")
	if err := os.WriteFile(f, der, 0o600); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(dir, "chain.pem")
	a, _ := os.ReadFile(filepath.Join(in.dataDir, "issuing-ca.pem"))
	b, _ := os.ReadFile(filepath.Join(in.dataDir, "root-ca.pem"))
	if err := os.WriteFile(chain, append(a, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := openssl(t, "crl", "-inform", "DER", "-in", f, "-CAfile", chain, "-verify", "-noout", "-text")
	if err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl -verify: %v\n%s", err, out)
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	return out, rl
}

// issuingCA reads the issuing CA certificate the server wrote.
func (in *pkiInstance) issuingCA(t *testing.T) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(in.dataDir, "issuing-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("issuing-ca.pem holds no PEM")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// verifyFullChain downloads the root's and the issuing CA's CRLs from
// the URLs the certificates name and runs `openssl verify -crl_check_all`
// on the leaf with the root as trust anchor and the issuing CA as
// untrusted intermediate.
func (in *pkiInstance) verifyFullChain(t *testing.T, e enrolled) (string, error) {
	t.Helper()
	dir := t.TempDir()
	var crls []string
	for _, u := range []string{in.issuingCA(t).CRLDistributionPoints[0], e.cert.CRLDistributionPoints[0]} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
		f := filepath.Join(dir, strconv.Itoa(len(crls))+".crl")
		if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		crls = append(crls, f)
	}
	return openssl(t, "verify", "-crl_check_all", "-CAfile", filepath.Join(in.dataDir, "root-ca.pem"),
		"-untrusted", filepath.Join(in.dataDir, "issuing-ca.pem"), "-CRLfile", crls[0], "-CRLfile", crls[1], e.pem)
}

// eventually polls check until it returns true or the deadline passes,
// and reports how long it took.
func eventually(t *testing.T, what string, within time.Duration, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if check() {
			d := time.Since(start)
			t.Logf("%s after %v", what, d.Round(time.Millisecond))
			return d
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func revokeReq(ids []int32, reason kfv1.KeyfactorPKIEnumsRevokeCode, comment string, publish bool) kfv1.CertificatesRevokeCertificateRequest {
	r := kfv1.NewCertificatesRevokeCertificateRequest()
	r.SetCertificateIds(ids)
	r.SetReason(reason)
	r.SetComment(comment)
	r.SetEffectiveDate(time.Now().UTC().Add(-time.Minute))
	r.SetPublishCRL(publish)
	return *r
}

func sdkStatus(err error) (int, string) {
	if ge, ok := err.(*kfv1.GenericOpenAPIError); ok {
		var b struct{ ErrorCode, Message string }
		_ = json.Unmarshal(ge.Body(), &b)
		code := 0
		if i := strings.IndexAny(ge.Error(), "0123456789"); i >= 0 && len(ge.Error()) >= i+3 {
			code, _ = strconv.Atoi(ge.Error()[i : i+3])
		}
		return code, b.Message
	}
	return 0, err.Error()
}

func runRevocation(t *testing.T, in *pkiInstance) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	a := in.enroll(t, ctx, c, "rev-a.example.com")

	t.Run("CertificateCarriesURLs", func(t *testing.T) {
		if got := a.cert.CRLDistributionPoints; len(got) != 1 || got[0] != in.pkiBase+"/crl/IssuingCA1.crl" {
			t.Errorf("CRL distribution points %v", got)
		}
		if got := a.cert.OCSPServer; len(got) != 1 || got[0] != in.pkiBase+"/ocsp" {
			t.Errorf("OCSP %v", got)
		}
		if got := a.cert.IssuingCertificateURL; len(got) != 1 || got[0] != in.pkiBase+"/ca/IssuingCA1.crt" {
			t.Fatalf("caIssuers %v", got)
		}
		resp, err := http.Get(a.cert.IssuingCertificateURL[0])
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		issuer, err := x509.ParseCertificate(der)
		if err != nil || resp.Header.Get("Content-Type") != "application/pkix-cert" {
			t.Fatalf("caIssuers: %v %q", err, resp.Header.Get("Content-Type"))
		}
		if err := a.cert.CheckSignatureFrom(issuer); err != nil {
			t.Errorf("the caIssuers certificate did not sign the leaf: %v", err)
		}
	})

	t.Run("IssuingCACarriesRootCRL", func(t *testing.T) {
		iss := in.issuingCA(t)
		if got := iss.CRLDistributionPoints; len(got) != 1 || got[0] != in.pkiBase+"/crl/RootCA.crl" {
			t.Errorf("issuing CA CRL distribution points %v", got)
		}
		if got := iss.IssuingCertificateURL; len(got) != 1 || got[0] != in.pkiBase+"/ca/RootCA.crt" {
			t.Errorf("issuing CA caIssuers %v", got)
		}
		if len(iss.OCSPServer) != 0 {
			t.Errorf("issuing CA names an OCSP responder for the root: %v", iss.OCSPServer)
		}
	})

	// Before the revocation: the full chain verifies with both CRLs.
	if out, err := in.verifyFullChain(t, a); err != nil || !strings.Contains(out, ": OK") {
		t.Fatalf("openssl verify -crl_check_all before revocation: %v\n%s", err, out)
	}

	// Before the revocation: good, and not on the CRL.
	if out := in.ocspStatus(t, a); !strings.Contains(out, a.pem+": good") {
		t.Fatalf("before revocation, OCSP says:\n%s", out)
	}
	text0, crl0 := in.crlText(t)
	serial := pki.SerialHex(a.cert)
	if strings.Contains(text0, serial) {
		t.Fatalf("serial %s on the CRL before revocation", serial)
	}

	t.Run("Revoke", func(t *testing.T) {
		res, _, err := c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{a.id}, kfv1.KEYFACTORPKIENUMSREVOKECODE__1, "key lost", false)).Execute()
		if err != nil {
			t.Fatalf("revoke: %s", sdkErr(err))
		}
		if got := res.GetRevokedIds(); len(got) != 1 || got[0] != a.id {
			t.Fatalf("RevokedIds %v", got)
		}
		got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, a.id).Execute()
		if err != nil {
			t.Fatal(sdkErr(err))
		}
		if got.GetCertState() != 2 || got.GetRevocationReason() != 1 || got.GetRevocationComment() != "key lost" {
			t.Errorf("CertState %d reason %d comment %q", got.GetCertState(), got.GetRevocationReason(), got.GetRevocationComment())
		}
		if d := time.Since(got.GetRevocationEffDate()); d < 30*time.Second || d > 5*time.Minute {
			t.Errorf("RevocationEffDate %v is not the requested time a minute ago", got.GetRevocationEffDate())
		}
	})

	t.Run("OCSPSaysRevoked", func(t *testing.T) {
		var out string
		eventually(t, "openssl ocsp reports revoked", 10*time.Second, func() bool {
			out = in.ocspStatus(t, a)
			return strings.Contains(out, a.pem+": revoked")
		})
		if !strings.Contains(out, "Reason: keyCompromise") {
			t.Errorf("no keyCompromise reason:\n%s", out)
		}
	})

	t.Run("CRLListsSerial", func(t *testing.T) {
		var crl *x509.RevocationList
		eventually(t, "openssl crl lists the serial", 10*time.Second, func() bool {
			var text string
			text, crl = in.crlText(t)
			return strings.Contains(text, "Serial Number: "+serial)
		})
		if crl.Number.Cmp(crl0.Number) <= 0 {
			t.Errorf("CRL number %v not above %v", crl.Number, crl0.Number)
		}
		if !crl.NextUpdate.After(time.Now()) {
			t.Errorf("nextUpdate %v already passed", crl.NextUpdate)
		}
	})

	t.Run("FullChainVerifyRevoked", func(t *testing.T) {
		out, err := in.verifyFullChain(t, a)
		if err == nil || !strings.Contains(out, "certificate revoked") {
			t.Fatalf("openssl verify -crl_check_all after revocation: %v\n%s", err, out)
		}
	})

	t.Run("OCSPGet", func(t *testing.T) {
		issuerPEM, _ := os.ReadFile(filepath.Join(in.dataDir, "issuing-ca.pem"))
		b, _ := pem.Decode(issuerPEM)
		issuer, _ := x509.ParseCertificate(b.Bytes)
		der, err := ocsp.CreateRequest(a.cert, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(in.pkiBase + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Type") != "application/ocsp-response" {
			t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
		}
		r, err := ocsp.ParseResponseForCert(body, a.cert, issuer)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
			t.Errorf("GET: status %d reason %d", r.Status, r.RevocationReason)
		}
		// Garbage is answered with malformedRequest, not an HTTP error.
		resp, err = http.Post(in.pkiBase+"/ocsp", "application/ocsp-request", bytes.NewReader([]byte("not DER")))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(body, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("garbage got %x", body)
		}
	})

	t.Run("History", func(t *testing.T) {
		hist, _, err := c.CertificateApi.NewGetCertificatesByIdHistoryRequest(ctx, a.id).Execute()
		if err != nil {
			t.Fatal(sdkErr(err))
		}
		found := false
		for _, h := range hist {
			if h.GetAction() == "Revoked" && h.GetUsername() == "admin" && strings.Contains(h.GetComment(), "keyCompromise") {
				found = true
			}
		}
		if !found || len(hist) < 2 {
			t.Errorf("history lacks the enrollment or the revocation by admin: %+v", hist)
		}
	})

	t.Run("Validate", func(t *testing.T) {
		v, _, err := c.CertificateApi.NewGetCertificatesByIdValidateRequest(ctx, a.id).Execute()
		if err != nil {
			t.Fatal(sdkErr(err))
		}
		if v.GetValid() || !strings.Contains(v.GetResults()["Revocation"], "revoked on") || !strings.HasPrefix(v.GetResults()["Chain"], "valid") {
			t.Errorf("Validate of a revoked certificate: %+v", v)
		}
	})

	t.Run("Negative", func(t *testing.T) {
		_, _, err := c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{a.id}, kfv1.KEYFACTORPKIENUMSREVOKECODE__4, "", true)).Execute()
		if code, msg := sdkStatus(err); code != 409 || !strings.Contains(msg, "CertificateIds[0]") || !strings.Contains(msg, "already revoked") {
			t.Errorf("revoke twice: %d %q", code, msg)
		}
		_, _, err = c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{987654}, kfv1.KEYFACTORPKIENUMSREVOKECODE__1, "", true)).Execute()
		if code, msg := sdkStatus(err); code != 404 || !strings.Contains(msg, "987654") {
			t.Errorf("unknown id: %d %q", code, msg)
		}
		for _, path := range []string{"/Certificates/987654/History", "/Certificates/987654/Validate"} {
			if code, b := in.call(t, "GET", path, "admin", adminPassword, ""); code != 404 || !strings.Contains(string(b), "987654") {
				t.Errorf("GET %s: %d %s", path, code, b)
			}
		}
		if code, b := in.call(t, "GET", "/Certificates/1/History?SortField=Nope", "admin", adminPassword, ""); code != 400 || !strings.Contains(string(b), "SortField: ") {
			t.Errorf("History SortField=Nope: %d %s", code, b)
		}
		for _, tt := range []struct{ body, field string }{
			{`{"CertificateIds":[` + strconv.Itoa(int(a.id)) + `],"Reason":7}`, "Reason: "},
			{`{"CertificateIds":[],"Reason":1}`, "CertificateIds: "},
			{`{"CertificateIds":[1],"Reason":"1"}`, "Reason: "},
			{`{"CertificateIds":[1],"Reason":1,"EffectiveDate":"yesterday"}`, "EffectiveDate: "},
			{`{"CertificateIds":[1],"Reason":1,"EffectiveDate":"2999-01-01T00:00:00Z"}`, "EffectiveDate: "},
		} {
			code, b := in.call(t, "POST", "/Certificates/Revoke", "admin", adminPassword, tt.body)
			if e := decodeError(t, b); code != 400 || !strings.HasPrefix(*e.Message, tt.field) {
				t.Errorf("%s: %d %s", tt.body, code, b)
			}
		}
	})

	b := in.enroll(t, ctx, c, "rev-b.example.com")
	t.Run("HoldAndRelease", func(t *testing.T) {
		// A mixed batch (b revocable, a already revoked) changes nothing.
		_, _, err := c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{b.id, a.id}, kfv1.KEYFACTORPKIENUMSREVOKECODE__6, "", false)).Execute()
		if code, msg := sdkStatus(err); code != 409 || !strings.Contains(msg, "CertificateIds[1]") {
			t.Fatalf("mixed batch: %d %q", code, msg)
		}
		if out := in.ocspStatus(t, b); !strings.Contains(out, ": good") {
			t.Fatalf("mixed batch revoked b:\n%s", out)
		}
		if _, _, err := c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{b.id}, kfv1.KEYFACTORPKIENUMSREVOKECODE__6, "on hold", false)).Execute(); err != nil {
			t.Fatalf("hold: %s", sdkErr(err))
		}
		eventually(t, "OCSP reports the hold", 10*time.Second, func() bool {
			out := in.ocspStatus(t, b)
			return strings.Contains(out, ": revoked") && strings.Contains(out, "certificateHold")
		})
		eventually(t, "the CRL lists the hold", 10*time.Second, func() bool {
			text, _ := in.crlText(t)
			return strings.Contains(text, "Serial Number: "+pki.SerialHex(b.cert)) && strings.Contains(text, "Certificate Hold")
		})
		if _, _, err := c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{b.id}, kfv1.KEYFACTORPKIENUMSREVOKECODE__8, "released", true)).Execute(); err != nil {
			t.Fatalf("release: %s", sdkErr(err))
		}
		if out := in.ocspStatus(t, b); !strings.Contains(out, ": good") {
			t.Errorf("after release OCSP says:\n%s", out)
		}
		if text, _ := in.crlText(t); strings.Contains(text, pki.SerialHex(b.cert)) {
			t.Errorf("released certificate still on the CRL")
		}
		got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, b.id).Execute()
		if err != nil || got.GetCertState() != 1 || got.RevocationReason != nil {
			t.Errorf("after release: %v state %d reason %v", err, got.GetCertState(), got.RevocationReason)
		}
		_, _, err = c.CertificateApi.NewCreateCertificatesRevokeRequest(ctx).
			CertificatesRevokeCertificateRequest(revokeReq([]int32{b.id}, kfv1.KEYFACTORPKIENUMSREVOKECODE__8, "", true)).Execute()
		if code, msg := sdkStatus(err); code != 409 || !strings.Contains(msg, "not on hold") {
			t.Errorf("release of an active certificate: %d %q", code, msg)
		}
	})

	t.Run("Metadata", func(t *testing.T) {
		for _, f := range []struct {
			name string
			dt   kfv1.CSSCMSCoreEnumsMetadataDataType
			re   string
		}{{"RevTeam", kfv1.CSSCMSCOREENUMSMETADATADATATYPE__1, "^[a-z]+$"}, {"RevCount", kfv1.CSSCMSCOREENUMSMETADATADATATYPE__2, ""}} {
			req := kfv1.NewMetadataFieldMetadataFieldCreateRequest(f.name, "revocation e2e", f.dt)
			if f.re != "" {
				req.SetValidation(f.re)
			}
			if _, _, err := c.MetadataFieldApi.NewCreateMetadataFieldsRequest(ctx).MetadataFieldMetadataFieldCreateRequest(*req).Execute(); err != nil {
				t.Fatalf("create field %s: %s", f.name, sdkErr(err))
			}
		}
		upd := kfv1.NewCSSCMSDataModelModelsMetadataUpdateRequest(map[string]string{"RevTeam": "ops", "RevCount": "3"})
		upd.SetId(b.id)
		resp, err := c.CertificateApi.NewUpdateCertificatesMetadataRequest(ctx).CSSCMSDataModelModelsMetadataUpdateRequest(*upd).Execute()
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("update metadata: %v %v", resp, err)
		}
		got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, b.id).IncludeMetadata(true).Execute()
		if err != nil {
			t.Fatal(sdkErr(err))
		}
		if m := got.GetMetadata(); m["RevTeam"] != "ops" || m["RevCount"] != "3" {
			t.Errorf("metadata %v", m)
		}
		for _, tt := range []struct {
			m     map[string]string
			field string
		}{
			{map[string]string{"RevCount": "three"}, "Metadata.RevCount: "},
			{map[string]string{"RevTeam": "Ops Team"}, "Metadata.RevTeam: "},
			{map[string]string{"NoSuchField": "x"}, "Metadata.NoSuchField: "},
		} {
			u := kfv1.NewCSSCMSDataModelModelsMetadataUpdateRequest(tt.m)
			u.SetId(b.id)
			_, err := c.CertificateApi.NewUpdateCertificatesMetadataRequest(ctx).CSSCMSDataModelModelsMetadataUpdateRequest(*u).Execute()
			if code, msg := sdkStatus(err); code != 400 || !strings.HasPrefix(msg, tt.field) {
				t.Errorf("%v: %d %q", tt.m, code, msg)
			}
		}
		u := kfv1.NewCSSCMSDataModelModelsMetadataUpdateRequest(map[string]string{"RevTeam": "x"})
		u.SetId(987654)
		_, err = c.CertificateApi.NewUpdateCertificatesMetadataRequest(ctx).CSSCMSDataModelModelsMetadataUpdateRequest(*u).Execute()
		if code, msg := sdkStatus(err); code != 404 || !strings.Contains(msg, "987654") {
			t.Errorf("unknown certificate: %d %q", code, msg)
		}

		// Bulk: by ids without overwrite keeps b's value and sets a's; by
		// query with overwrite replaces b's.
		item := func(name, value string, overwrite bool) kfv1.CSSCMSDataModelModelsMetadataSingleUpdateRequest {
			i := kfv1.NewCSSCMSDataModelModelsMetadataSingleUpdateRequest()
			i.SetMetadataName(name)
			i.SetValue(value)
			i.SetOverwriteExisting(overwrite)
			return *i
		}
		all := kfv1.NewCSSCMSDataModelModelsMetadataAllUpdateRequest([]kfv1.CSSCMSDataModelModelsMetadataSingleUpdateRequest{item("RevTeam", "sec", false)})
		all.SetCertificateIds([]int32{a.id, b.id})
		if resp, err := c.CertificateApi.NewUpdateCertificatesMetadataAllRequest(ctx).CSSCMSDataModelModelsMetadataAllUpdateRequest(*all).Execute(); err != nil || resp.StatusCode != 204 {
			t.Fatalf("Metadata/All by ids: %v %s", resp, sdkErr(err))
		}
		all = kfv1.NewCSSCMSDataModelModelsMetadataAllUpdateRequest([]kfv1.CSSCMSDataModelModelsMetadataSingleUpdateRequest{item("RevCount", "9", true)})
		all.SetQuery(`IssuedCN -eq "rev-b.example.com"`)
		if resp, err := c.CertificateApi.NewUpdateCertificatesMetadataAllRequest(ctx).CSSCMSDataModelModelsMetadataAllUpdateRequest(*all).Execute(); err != nil || resp.StatusCode != 204 {
			t.Fatalf("Metadata/All by query: %v %s", resp, sdkErr(err))
		}
		for _, want := range []struct {
			id          int32
			team, count string
		}{{a.id, "sec", ""}, {b.id, "ops", "9"}} {
			got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, want.id).IncludeMetadata(true).Execute()
			if err != nil {
				t.Fatal(sdkErr(err))
			}
			if m := got.GetMetadata(); m["RevTeam"] != want.team || m["RevCount"] != want.count {
				t.Errorf("certificate %d metadata %v, want RevTeam %q RevCount %q", want.id, m, want.team, want.count)
			}
		}
		all = kfv1.NewCSSCMSDataModelModelsMetadataAllUpdateRequest([]kfv1.CSSCMSDataModelModelsMetadataSingleUpdateRequest{item("RevCount", "x", true)})
		all.SetCertificateIds([]int32{b.id})
		_, err = c.CertificateApi.NewUpdateCertificatesMetadataAllRequest(ctx).CSSCMSDataModelModelsMetadataAllUpdateRequest(*all).Execute()
		if code, msg := sdkStatus(err); code != 400 || !strings.HasPrefix(msg, "Metadata[0].Value: ") {
			t.Errorf("bulk bad value: %d %q", code, msg)
		}
	})

	t.Run("NoPermission_403", func(t *testing.T) {
		if code, b := in.call(t, "POST", "/Security/Identities", "admin", adminPassword, `{"AccountName":"reader","Password":"reader-password-123"}`); code/100 != 2 {
			t.Fatalf("create reader: %d %s", code, b)
		}
		if code, b := in.call(t, "POST", "/Security/Roles", "admin", adminPassword,
			`{"Name":"Readers","Description":"read only","Permissions":["/certificates/collections/read/"],"Identities":["reader"]}`); code/100 != 2 {
			t.Fatalf("create role: %d %s", code, b)
		}
		if code, b := in.call(t, "GET", "/Certificates/"+strconv.Itoa(int(b.id))+"/History", "reader", "reader-password-123", ""); code != 200 {
			t.Errorf("reader History: %d %s", code, b)
		}
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/Certificates/Revoke", `{"CertificateIds":[` + strconv.Itoa(int(b.id)) + `],"Reason":1}`},
			{"PUT", "/Certificates/Metadata", `{"Id":` + strconv.Itoa(int(b.id)) + `,"Metadata":{"RevTeam":"x"}}`},
		} {
			code, body := in.call(t, c.method, c.path, "reader", "reader-password-123", c.body)
			if e := decodeError(t, body); code != 403 || *e.ErrorCode != "0xA0140002" {
				t.Errorf("%s %s without permission: %d %s", c.method, c.path, code, body)
			}
		}
		if out := in.ocspStatus(t, b); !strings.Contains(out, ": good") {
			t.Errorf("a refused revoke changed the status:\n%s", out)
		}
	})
}

// TestRevocation_CRLNumberAfterRestart: a restarted server serves the CRL
// it published before and continues its numbering.
func TestRevocation_CRLNumberAfterRestart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { crlAcrossRestart(t, "") })
	t.Run("postgres", func(t *testing.T) { crlAcrossRestart(t, postgresDSN(t)) })
}

func crlAcrossRestart(t *testing.T, dsn string) {
	ctx := context.Background()
	dir := t.TempDir()
	number := func(base string) int64 {
		t.Helper()
		resp, err := http.Get(base + "/crl/IssuingCA1.crl")
		if err != nil {
			t.Fatal(err)
		}
		der, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("CRL: %v", err)
		}
		return rl.Number.Int64()
	}
	var last int64
	for round := range 2 {
		r := startWith(t, startOptions{DSN: dsn, DataDir: dir, PKI: true})
		s := r.srv
		served := number(s.PKIBaseURL())
		if round == 1 && served != last {
			t.Errorf("after restart the CRL served is number %d, want the stored %d", served, last)
		}
		iss, ok := s.Revocation().CAByName("IssuingCA1")
		if !ok {
			t.Fatal("IssuingCA1 publishes no CRL")
		}
		crl, err := s.Revocation().PublishCRL(ctx, iss.ID)
		if err != nil {
			t.Fatal(err)
		}
		if crl.Number != served+1 || number(s.PKIBaseURL()) != crl.Number {
			t.Errorf("round %d: published %d after serving %d", round, crl.Number, served)
		}
		last = crl.Number
		r.stop()
	}
	if last != 3 {
		t.Errorf("last CRL number %d, want 3 (1 and 2 before the restart)", last)
	}
}
