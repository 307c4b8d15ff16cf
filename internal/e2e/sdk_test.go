package e2e

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Keyfactor/keyfactor-auth-client-go/auth_providers"
	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	kfv2 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v2"
)

// sdkConfig builds the SDK's basic-auth configuration. The SDK's auth probe
// ignores Port, so the port goes into Host and Port stays 0.
func (in *instance) sdkConfig() *auth_providers.Server {
	return &auth_providers.Server{
		Host:       "localhost:" + strconv.Itoa(in.port),
		Username:   "admin",
		Password:   adminPassword,
		CACertPath: filepath.Join(in.dataDir, "root-ca.pem"),
		APIPath:    "KeyfactorAPI",
		AuthType:   "basic",
	}
}

func TestSDK_Backends(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runSDK(t, start(t, "")) })
	t.Run("postgres", func(t *testing.T) { runSDK(t, start(t, postgresDSN(t))) })
}

func sdkErr(err error) string {
	if ge, ok := err.(*kfv1.GenericOpenAPIError); ok {
		return err.Error() + " body=" + string(ge.Body())
	}
	if ge, ok := err.(*kfv2.GenericOpenAPIError); ok {
		return err.Error() + " body=" + string(ge.Body())
	}
	return err.Error()
}

func runSDK(t *testing.T, in *instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatalf("NewAPIClient: %v", err)
	}

	eps, _, err := c.StatusApi.NewGetStatusEndpointsRequest(ctx).Execute()
	if err != nil {
		t.Fatalf("Status/Endpoints: %s", sdkErr(err))
	}
	if !containsLine(eps, "POST", "/Enrollment/PFX") {
		t.Errorf("Status/Endpoints lacks POST Enrollment/PFX: %v", eps)
	}

	t.Run("Templates", func(t *testing.T) {
		tpls, _, err := c.TemplateApi.NewGetTemplatesRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET Templates: %s", sdkErr(err))
		}
		var id int32 = -1
		for _, tp := range tpls {
			if tp.GetCommonName() == "WebServer" {
				id = tp.GetId()
			}
		}
		if id < 0 {
			t.Fatalf("WebServer not among %d templates", len(tpls))
		}
		one, _, err := c.TemplateApi.NewGetTemplatesByIdRequest(ctx, id).Execute()
		if err != nil {
			t.Fatalf("GET Templates/%d: %s", id, sdkErr(err))
		}
		if one.GetCommonName() != "WebServer" || one.GetId() != id {
			t.Errorf("Templates/%d = %q id %d", id, one.GetCommonName(), one.GetId())
		}

		pat := kfv1.NewEnrollmentPatternsEnrollmentPatternCreateRequest(id, "e2e-pattern")
		pat.SetDescription("made by e2e")
		got, _, err := c.EnrollmentPatternApi.NewCreateEnrollmentPatternsRequest(ctx).EnrollmentPatternsEnrollmentPatternCreateRequest(*pat).Execute()
		if err != nil {
			t.Fatalf("POST EnrollmentPatterns: %s", sdkErr(err))
		}
		back, _, err := c.EnrollmentPatternApi.NewGetEnrollmentPatternsByIdRequest(ctx, got.GetId()).Execute()
		if err != nil {
			t.Fatalf("GET EnrollmentPatterns/%d: %s", got.GetId(), sdkErr(err))
		}
		if back.GetName() != "e2e-pattern" || back.GetDescription() != "made by e2e" {
			t.Errorf("pattern read back: name %q description %q", back.GetName(), back.GetDescription())
		}
		if tr := back.GetTemplate(); tr.GetId() != id {
			t.Errorf("pattern template id = %d, want %d", tr.GetId(), id)
		}
	})

	t.Run("CAs", func(t *testing.T) {
		cas, _, err := c.CertificateAuthorityApi.NewGetCertificateAuthorityRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET CertificateAuthority: %s", sdkErr(err))
		}
		found := false
		for _, ca := range cas {
			found = found || ca.GetLogicalName() == "IssuingCA1"
		}
		if !found {
			t.Errorf("IssuingCA1 not among %d CAs", len(cas))
		}
	})

	t.Run("MetadataFields", func(t *testing.T) {
		req := kfv1.NewMetadataFieldMetadataFieldCreateRequest("E2EOwner", "owner for e2e", kfv1.CSSCMSCOREENUMSMETADATADATATYPE__1)
		created, _, err := c.MetadataFieldApi.NewCreateMetadataFieldsRequest(ctx).MetadataFieldMetadataFieldCreateRequest(*req).Execute()
		if err != nil {
			t.Fatalf("POST MetadataFields: %s", sdkErr(err))
		}
		list, _, err := c.MetadataFieldApi.NewGetMetadataFieldsRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET MetadataFields: %s", sdkErr(err))
		}
		found := false
		for _, f := range list {
			found = found || (f.GetName() == "E2EOwner" && f.GetId() == created.GetId())
		}
		if !found {
			t.Errorf("E2EOwner (id %d) not in list of %d", created.GetId(), len(list))
		}
		one, _, err := c.MetadataFieldApi.NewGetMetadataFieldsByIdRequest(ctx, created.GetId()).Execute()
		if err != nil {
			t.Fatalf("GET MetadataFields/%d: %s", created.GetId(), sdkErr(err))
		}
		if one.GetName() != "E2EOwner" || one.GetDescription() != "owner for e2e" {
			t.Errorf("field = %q %q", one.GetName(), one.GetDescription())
		}
	})

	t.Run("SecurityRoles", func(t *testing.T) {
		roles, _, err := c.SecurityRolesApi.NewGetSecurityRolesRequest(ctx).Execute()
		if err != nil {
			t.Fatalf("GET Security/Roles: %s", sdkErr(err))
		}
		found := false
		for _, r := range roles {
			found = found || r.GetName() == "Administrator"
		}
		if !found {
			t.Errorf("Administrator not among %d roles", len(roles))
		}
	})

	t.Run("EnrollPFXv1", func(t *testing.T) {
		if _, _, err := c.CertificateApi.NewGetCertificatesRequest(ctx).Execute(); err != nil {
			t.Fatalf("GET Certificates: %s", sdkErr(err))
		}
		const pw = "e2e-password-123"
		req := kfv1.NewEnrollmentPFXEnrollmentRequest()
		req.SetTemplate("WebServer")
		req.SetSubject("CN=e2e.example.com")
		req.SetSANs(map[string][]string{"dns": {"e2e.example.com"}})
		req.SetPassword(pw)
		req.SetCustomFriendlyName("e2e")
		req.SetTimestamp(time.Now().UTC())
		resp, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("PFX").EnrollmentPFXEnrollmentRequest(*req).Execute()
		if err != nil {
			t.Fatalf("POST Enrollment/PFX: %s", sdkErr(err))
		}
		info := resp.GetCertificateInformation()
		if info.GetKeyfactorId() == 0 || info.GetThumbprint() == "" || info.GetPkcs12Blob() == "" {
			t.Fatalf("incomplete response: id %d thumbprint %q blob %d chars", info.GetKeyfactorId(), info.GetThumbprint(), len(info.GetPkcs12Blob()))
		}
		cert, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, info.GetKeyfactorId()).Execute()
		if err != nil {
			t.Fatalf("GET Certificates/%d: %s", info.GetKeyfactorId(), sdkErr(err))
		}
		if !strings.EqualFold(cert.GetThumbprint(), info.GetThumbprint()) {
			t.Errorf("thumbprint: certificate %q, enrollment %q", cert.GetThumbprint(), info.GetThumbprint())
		}
		der, err := base64.StdEncoding.DecodeString(info.GetPkcs12Blob())
		if err != nil {
			t.Fatalf("Pkcs12Blob base64: %v", err)
		}
		f := filepath.Join(t.TempDir(), "e2e.pfx")
		if err := os.WriteFile(f, der, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "pkcs12", "-info", "-in", f, "-passin", "pass:"+pw, "-nokeys").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkcs12: %v\n%s", err, out)
		}
		for _, want := range []string{"friendlyName: e2e", "CN = e2e.example.com"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("openssl output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("EnrollPEMv2ECC", func(t *testing.T) {
		c2, err := kfv2.NewAPIClient(in.sdkConfig())
		if err != nil {
			t.Fatalf("v2 NewAPIClient: %v", err)
		}
		const pw = "e2e-password-456"
		req := kfv2.NewEnrollmentPFXEnrollmentWithStoresRequest()
		req.SetTemplate("WebServer")
		req.SetSubject("CN=ecc.e2e.example.com")
		req.SetSANs(map[string][]string{"dns": {"ecc.e2e.example.com"}})
		req.SetPassword(pw)
		req.SetKeyType("ECC")
		req.SetCurve("1.2.840.10045.3.1.7")
		req.SetTimestamp(time.Now().UTC())
		resp, _, err := c2.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XKeyfactorApiVersion("2.0").XCertificateformat("PEM").EnrollmentPFXEnrollmentWithStoresRequest(*req).Execute()
		if err != nil {
			t.Fatalf("v2 POST Enrollment/PFX: %s", sdkErr(err))
		}
		if _, ok := resp.GetSuccessfulStoresOk(); !ok {
			t.Error("v2 response lacks SuccessfulStores: the server did not treat the request as v2")
		}
		info := resp.GetCertificateInformation()
		bundle, err := base64.StdEncoding.DecodeString(info.GetPkcs12Blob())
		if err != nil {
			bundle = []byte(info.GetPkcs12Blob()) // PEM may come as text
		}
		var keyPEM []byte
		for rest := bundle; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if strings.Contains(b.Type, "PRIVATE KEY") {
				keyPEM = pem.EncodeToMemory(b)
			}
		}
		if keyPEM == nil {
			t.Fatalf("no private key block in PEM bundle:\n%s", bundle)
		}
		f := filepath.Join(t.TempDir(), "key.pem")
		if err := os.WriteFile(f, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "pkey", "-in", f, "-passin", "pass:"+pw, "-noout", "-text").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl pkey: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "prime256v1") && !strings.Contains(string(out), "P-256") {
			t.Errorf("key is not P-256:\n%s", out)
		}
	})
}

// containsLine reports whether Status/Endpoints lists method and path.
func containsLine(eps []string, method, path string) bool {
	for _, e := range eps {
		m, p, ok := strings.Cut(e, " ")
		if ok && strings.EqualFold(m, method) && strings.EqualFold("/"+strings.TrimPrefix(strings.TrimPrefix(p, "/KeyfactorAPI"), "/"), path) {
			return true
		}
	}
	return false
}
