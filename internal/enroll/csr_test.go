package enroll_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

var (
	rsaKey2048 = mustRSA(2048)
	rsaKey1024 = mustRSA(1024)
	ecKey256   = mustEC(elliptic.P256())
	ecKey224   = mustEC(elliptic.P224())
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func makeCSR(t *testing.T, key crypto.Signer, tpl x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &tpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// corrupt flips a bit in the last byte of the CSR's signature.
func corrupt(t *testing.T, p []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(p)
	der := slices.Clone(b.Bytes)
	der[len(der)-1] ^= 0x01
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func csrRequest(csr []byte) enroll.CSRRequest {
	return enroll.CSRRequest{Format: enroll.FormatPEM, CSR: csr, Template: "WebServer", Timestamp: time.Now()}
}

func TestEnrollCSR_Rejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q := f.db.Q()
	pfxOnly, err := q.InsertPattern(ctx, policy.Pattern{Name: "PFXOnly", TemplateID: f.ids["WebServer"], AllowedEnrollmentTypes: policy.EnrollPFX})
	if err != nil {
		t.Fatal(err)
	}
	rolesOnly, err := q.InsertPattern(ctx, policy.Pattern{Name: "OpsOnly", TemplateID: f.ids["WebServer"], AssociatedRoles: []string{"Ops"}})
	if err != nil {
		t.Fatal(err)
	}
	noWild, err := q.InsertPattern(ctx, policy.Pattern{Name: "HostsOnly", TemplateID: f.ids["WebServer"],
		Regexes: []policy.SubjectRegex{{SubjectPart: "DNS", Regex: `^[a-z0-9.-]+\.example\.com$`, Error: "must be in example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	good := makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr.example.com"}, DNSNames: []string{"csr.example.com"}})
	cases := []struct {
		name     string
		settings func(*policy.Settings)
		mutate   func(r *enroll.CSRRequest)
		code     string
		contains string
	}{
		{"BadSignature", nil, func(r *enroll.CSRRequest) { r.CSR = corrupt(t, good) }, errs.CodeValidation, "CSR: signature does not verify"},
		{"NotACSR", nil, func(r *enroll.CSRRequest) { r.CSR = []byte("hello") }, errs.CodeValidation, "CSR"},
		{"EmptyCSR", nil, func(r *enroll.CSRRequest) { r.CSR = nil }, errs.CodeValidation, "CSR: is empty"},
		{"WrongFormat", nil, func(r *enroll.CSRRequest) { r.Format = "PFX" }, errs.CodeValidation, "x-certificateformat"},
		{"MissingTimestamp", nil, func(r *enroll.CSRRequest) { r.Timestamp = time.Time{} }, errs.CodeValidation, "Timestamp"},
		{"RSA1024", nil, func(r *enroll.CSRRequest) {
			r.CSR = makeCSR(t, rsaKey1024, x509.CertificateRequest{Subject: pkix.Name{CommonName: "weak.example.com"}})
		}, errs.CodeKeyTypePolicy, "CSR: the request's key is not allowed"},
		{"CurveP224", nil, func(r *enroll.CSRRequest) {
			r.CSR = makeCSR(t, ecKey224, x509.CertificateRequest{Subject: pkix.Name{CommonName: "p224.example.com"}})
		}, errs.CodeKeyTypePolicy, "P-224"},
		{"ECCDisallowedByPattern", nil, func(r *enroll.CSRRequest) {
			r.EnrollmentPatternID = f.ids["RSAOnly"]
			r.CSR = makeCSR(t, ecKey256, x509.CertificateRequest{Subject: pkix.Name{CommonName: "ec.example.com"}})
		}, errs.CodeKeyTypePolicy, "enrollment pattern"},
		{"ECCDisallowedBySystem", func(s *policy.Settings) { s.KeyInfo.ECDSA = &policy.AlgorithmData{Curves: []string{policy.OIDP384}} }, func(r *enroll.CSRRequest) {
			r.CSR = makeCSR(t, ecKey256, x509.CertificateRequest{Subject: pkix.Name{CommonName: "ec.example.com"}})
		}, errs.CodeKeyTypePolicy, "system"},
		{"CSRNotAllowedByPattern", nil, func(r *enroll.CSRRequest) { r.EnrollmentPatternID = pfxOnly }, errs.CodeValidation, "CSR enrollment is not allowed"},
		{"PatternLimitedToRoles", nil, func(r *enroll.CSRRequest) { r.EnrollmentPatternID = rolesOnly }, errs.CodeValidation, "associated roles"},
		{"CNRegex", func(s *policy.Settings) { s.CommonNameRegex = `.*\.example\.org` }, func(r *enroll.CSRRequest) {}, errs.CodeValidation, `Subject: CN "csr.example.com" does not match`},
		{"NoCN", nil, func(r *enroll.CSRRequest) {
			r.CSR = makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{Organization: []string{"Org"}}})
		}, errs.CodeValidation, "a CN is required"},
		{"WildcardCSRSAN", func(s *policy.Settings) { s.AllowWildcards = false }, func(r *enroll.CSRRequest) {
			r.CSR = makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{CommonName: "w.example.com"}, DNSNames: []string{"*.example.com"}})
		}, errs.CodeValidation, "SANs.dns: wildcard"},
		{"PatternRegexOnCSRSAN", nil, func(r *enroll.CSRRequest) {
			r.EnrollmentPatternID = noWild
			r.CSR = makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{CommonName: "x.example.com"}, DNSNames: []string{"x.example.net"}})
		}, errs.CodeValidation, "must be in example.com"},
		{"PatternRegexOnRequestSAN", nil, func(r *enroll.CSRRequest) {
			r.EnrollmentPatternID = noWild
			r.SANs = map[string][]string{"dns": {"extra.example.net"}}
		}, errs.CodeValidation, `"extra.example.net": must be in example.com`},
		{"InvalidRequestSAN", nil, func(r *enroll.CSRRequest) { r.SANs = map[string][]string{"dns": {"exa mple.com"}} }, errs.CodeValidation, "SANs.dns"},
		{"UnknownSANKey", nil, func(r *enroll.CSRRequest) { r.SANs = map[string][]string{"fax": {"123"}} }, errs.CodeValidation, `SANs: unknown key "fax"`},
		{"UnknownTemplate", nil, func(r *enroll.CSRRequest) { r.Template = "Nope" }, errs.CodeValidation, "Template"},
		{"UnknownMetadata", nil, func(r *enroll.CSRRequest) { r.Metadata = map[string]string{"Nope": "x"} }, errs.CodeValidation, "Metadata.Nope"},
		{"RequiredMetadataMissing", nil, func(r *enroll.CSRRequest) { r.EnrollmentPatternID = f.ids["NeedsOwner"] }, errs.CodeValidation, "Owner"},
		{"UnknownEnrollmentField", nil, func(r *enroll.CSRRequest) { r.AdditionalEnrollmentFields = map[string]string{"Nope": "x"} }, errs.CodeValidation, "AdditionalEnrollmentFields.Nope"},
		{"UnknownOwnerRole", nil, func(r *enroll.CSRRequest) { r.OwnerRoleName = "Nobody" }, errs.CodeValidation, "OwnerRoleName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := policy.DefaultSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			if err := q.PutSettings(ctx, s); err != nil {
				t.Fatal(err)
			}
			req := csrRequest(good)
			tc.mutate(&req)
			res, err := f.svc.EnrollCSR(ctx, admin, req)
			if err == nil {
				t.Fatalf("EnrollCSR succeeded (cert %d), want an error containing %q", res.CertificateID, tc.contains)
			}
			e := errs.As(err)
			if e.Kind != errs.Invalid || e.Code != tc.code {
				t.Fatalf("kind/code = %v/%s, want Invalid/%s (err: %v)", e.Kind, e.Code, tc.code, err)
			}
			if !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("message %q does not contain %q", e.Message, tc.contains)
			}
		})
	}
	if err := q.PutSettings(ctx, policy.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.EnrollCSR(ctx, admin, csrRequest(good)); err != nil {
		t.Fatalf("base request rejected: %v", err)
	}
	// The roles-limited pattern works for a holder of the role.
	ops := auth.NewPrincipal(1, "ops", []auth.RoleRef{{ID: 7, Name: "ops"}}, nil)
	req := csrRequest(good)
	req.EnrollmentPatternID = rolesOnly
	if _, err := f.svc.EnrollCSR(ctx, ops, req); err != nil {
		t.Fatalf("holder of the associated role rejected: %v", err)
	}
}

func TestEnrollCSR_Issues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	csr := makeCSR(t, ecKey256, x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "app.example.com", Organization: []string{"Example"}},
		DNSNames: []string{"app.example.com"},
	})
	req := csrRequest(csr)
	req.SANs = map[string][]string{"dns": {"alt.example.com", "APP.example.com"}, "ip4": {"192.0.2.7"}}
	req.IncludeChain = true
	req.Metadata = map[string]string{"Count": "3"}
	req.OwnerRoleName = "Owners"
	res, err := f.svc.EnrollCSR(ctx, admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Certificates) != 3 {
		t.Fatalf("%d certificates, want leaf, issuing CA and root", len(res.Certificates))
	}
	var certs []*x509.Certificate
	for i, s := range res.Certificates {
		b, rest := pem.Decode([]byte(s))
		if b == nil || b.Type != "CERTIFICATE" || len(strings.TrimSpace(string(rest))) != 0 {
			t.Fatalf("element %d is not exactly one PEM certificate: %q", i, s)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(ecKey256.Public()) {
		t.Error("leaf does not carry the CSR's public key")
	}
	if err := leaf.CheckSignatureFrom(certs[1]); err != nil {
		t.Errorf("leaf not signed by the second element: %v", err)
	}
	if got := leaf.Subject.String(); got != "CN=app.example.com,O=Example" {
		t.Errorf("subject %q", got)
	}
	if !slices.Equal(leaf.DNSNames, []string{"app.example.com", "alt.example.com"}) || len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "192.0.2.7" {
		t.Errorf("SANs: dns %v ip %v; want the CSR's plus the request's, deduplicated", leaf.DNSNames, leaf.IPAddresses)
	}
	rec, err := f.db.Q().Certificate(ctx, res.CertificateID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.HasPrivateKey {
		t.Error("a CSR enrollment has no key to retain, but HasPrivateKey is set")
	}
	if rec.Metadata["Count"] != "3" || rec.OwnerRoleName != "Owners" || rec.TemplateName != "WebServer" {
		t.Errorf("record metadata %v owner %q template %q", rec.Metadata, rec.OwnerRoleName, rec.TemplateName)
	}

	// DER format, no chain: one base64 DER element.
	req = csrRequest(makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{CommonName: "der.example.com"}}))
	req.Format = enroll.FormatDER
	res, err = f.svc.EnrollCSR(ctx, admin, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Certificates) != 1 || strings.Contains(res.Certificates[0], "BEGIN") {
		t.Fatalf("DER result %q", res.Certificates)
	}
}

func TestParseCSR(t *testing.T) {
	csr := makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{CommonName: "p.example.com", Organization: []string{"Ex"}},
		DNSNames: []string{"p.example.com"}})
	got, err := enroll.ParseCSR(csr)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CN=p.example.com", "O=Ex", "dns=p.example.com", "Key=RSA-2048"}
	if !slices.Equal(got, want) {
		t.Fatalf("ParseCSR = %q, want %q", got, want)
	}
	if _, err := enroll.ParseCSR(corrupt(t, csr)); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("corrupt CSR: %v", err)
	}
}

func TestContext(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q := f.db.Q()
	if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "OpsOnly", TemplateID: f.ids["NoPattern"], AssociatedRoles: []string{"Ops"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "PFXOnlyOther", TemplateID: f.ids["Other"], AllowedEnrollmentTypes: policy.EnrollPFX}); err != nil {
		t.Fatal(err)
	}
	if err := q.UpdatePattern(ctx, func() policy.Pattern {
		p, _ := q.Pattern(ctx, f.ids["OtherPattern"])
		p.AllowedEnrollmentTypes = policy.EnrollPFX
		return p
	}()); err != nil {
		t.Fatal(err)
	}
	names := func(p *auth.Principal, kind string) map[string][]string {
		t.Helper()
		c, err := f.svc.Context(ctx, p, kind)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, ct := range c.Templates {
			if len(ct.CAs) != 1 || ct.CAs[0].LogicalName != "Issuing" {
				t.Errorf("template %s CAs %+v", ct.Template.CommonName, ct.CAs)
			}
			for _, p := range ct.Patterns {
				out[ct.Template.CommonName] = append(out[ct.Template.CommonName], p.Name)
			}
		}
		return out
	}
	ops := auth.NewPrincipal(2, "ops", []auth.RoleRef{{ID: 9, Name: "OPS"}}, nil)
	for _, tc := range []struct {
		name string
		p    *auth.Principal
		kind string
		want map[string]string
	}{
		{"AdminPFX", admin, enroll.KindPFX, map[string]string{"WebServer": "WebServer,RSAOnly,NeedsOwner", "Other": "OtherPattern,PFXOnlyOther"}},
		{"AdminCSR", admin, enroll.KindCSR, map[string]string{"WebServer": "WebServer,RSAOnly,NeedsOwner"}},
		{"OpsCSR", ops, enroll.KindCSR, map[string]string{"WebServer": "WebServer,RSAOnly,NeedsOwner", "NoPattern": "OpsOnly"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := names(tc.p, tc.kind)
			if len(got) != len(tc.want) {
				t.Fatalf("templates %v, want %v", got, tc.want)
			}
			for tpl, pats := range tc.want {
				if strings.Join(got[tpl], ",") != pats {
					t.Errorf("%s patterns %v, want %s", tpl, got[tpl], pats)
				}
			}
		})
	}
}
