package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

type fixture struct {
	db  *sqlstore.DB
	svc *enroll.Service
	ids map[string]int64
	kr  *secret.Keyring
}

// newFixture builds the service as server.Handler does, over a real SQLite
// store and a real embedded CA.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Now()
	m, err := embedded.Bootstrap(nil, now, embedded.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issuing, err := m.IssuingCA(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := secret.New(master)
	if err != nil {
		t.Fatal(err)
	}
	q := db.Q()
	ids := map[string]int64{}
	must := func(name string, id int64, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seed %s: %v", name, err)
		}
		ids[name] = id
	}
	id, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "Issuing", HostName: "host", Kind: "embedded", Role: "issuing", CreatedAt: now},
		CertDER: m.IssuingCert.Raw, ChainDER: m.RootCert.Raw, KeySealed: []byte{1}})
	must("ca", id, err)
	caID := id
	tpl := policy.Template{CommonName: "WebServer", TemplateName: "WebServer", DisplayName: "Web Server", FriendlyName: "Web Server",
		OID: "1.3.6.1.4.1.311.21.8.1.1", ValidityDays: 365, ExtendedKeyUsage: []string{"1.3.6.1.5.5.7.3.1"},
		KeyInfo: policy.DefaultKeyInfo(), DefaultKeyType: "RSA", DefaultKeySize: 2048, KeyRetention: policy.RetentionIndefinite,
		CAIDs: []int64{caID}, AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR, RFCEnforcement: true, AllowOneClickRenewals: true}
	id, err = q.InsertTemplate(ctx, tpl)
	must("WebServer", id, err)
	id, err = q.InsertPattern(ctx, policy.Pattern{Name: "WebServer", TemplateID: ids["WebServer"], TemplateDefault: true})
	must("WebServerPattern", id, err)
	rsaOnly := policy.KeyInfo{RSA: &policy.AlgorithmData{BitLengths: []int{2048}}}
	id, err = q.InsertPattern(ctx, policy.Pattern{Name: "RSAOnly", TemplateID: ids["WebServer"], KeyInfo: &rsaOnly})
	must("RSAOnly", id, err)

	tpl.CommonName, tpl.TemplateName = "NoPattern", "NoPattern"
	id, err = q.InsertTemplate(ctx, tpl)
	must("NoPattern", id, err)
	tpl.CommonName, tpl.TemplateName = "Other", "Other"
	id, err = q.InsertTemplate(ctx, tpl)
	must("Other", id, err)
	id, err = q.InsertPattern(ctx, policy.Pattern{Name: "OtherPattern", TemplateID: ids["Other"], TemplateDefault: true})
	must("OtherPattern", id, err)

	id, err = q.InsertMetadataField(ctx, policy.MetadataField{Name: "Count", DataType: policy.MetaInteger, AllowAPI: true})
	must("Count", id, err)
	id, err = q.InsertMetadataField(ctx, policy.MetadataField{Name: "Owner", DataType: policy.MetaString, AllowAPI: true})
	must("Owner", id, err)
	id, err = q.InsertPattern(ctx, policy.Pattern{Name: "NeedsOwner", TemplateID: ids["WebServer"],
		MetadataRules: []policy.MetadataRule{{MetadataID: ids["Owner"], Enrollment: policy.MetadataRequired}}})
	must("NeedsOwner", id, err)
	id, err = q.InsertRole(ctx, auth.Role{Name: "Owners", Enabled: true})
	must("Owners", id, err)

	conn := ca.Connector(issuing)
	svc := enroll.New(enroll.Options{
		Store: q,
		InTx: func(ctx context.Context, fn func(enroll.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Connectors: func(id int64) (ca.Connector, bool) {
			if id == caID {
				return conn, true
			}
			return nil, false
		},
		Seal:           kr.Seal,
		IsNotFound:     func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		RandomPassword: func(n int) (string, error) { return secret.RandomPassword(nil, n) },
	})
	return &fixture{db: db, svc: svc, ids: ids, kr: kr}
}

func baseRequest() enroll.PFXRequest {
	return enroll.PFXRequest{APIVersion: 1, Format: enroll.FormatPFX, Template: "WebServer", Subject: "CN=a.example.com", Timestamp: time.Now()}
}

var admin = auth.NewPrincipal(1, "admin", nil, nil)

func TestEnrollPFX_Rejects(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	cases := []struct {
		name     string
		settings func(*policy.Settings)
		mutate   func(r *enroll.PFXRequest)
		kind     errs.Kind
		contains string
	}{
		{"MissingTimestamp", nil, func(r *enroll.PFXRequest) { r.Timestamp = time.Time{} }, errs.Invalid, "Timestamp"},
		{"UnknownTemplate", nil, func(r *enroll.PFXRequest) { r.Template = "Nope" }, errs.Invalid, "Template"},
		{"TemplateWithoutPattern", nil, func(r *enroll.PFXRequest) { r.Template = "NoPattern" }, errs.Invalid, "Template"},
		{"PatternMissing", nil, func(r *enroll.PFXRequest) { r.EnrollmentPatternID = 9999 }, errs.Invalid, "EnrollmentPatternId"},
		{"PatternTemplateMismatch", nil, func(r *enroll.PFXRequest) { r.EnrollmentPatternID = f.ids["OtherPattern"] }, errs.Invalid, "Template"},
		{"UnknownCA", nil, func(r *enroll.PFXRequest) { r.CertificateAuthority = `host\Nope` }, errs.Invalid, "CertificateAuthority"},
		{"Ed448", nil, func(r *enroll.PFXRequest) { r.KeyType = "Ed448" }, errs.Invalid, "KeyType"},
		{"Ed448Curve", nil, func(r *enroll.PFXRequest) { r.KeyType = "ECC"; r.Curve = "Ed448" }, errs.Invalid, "Curve"},
		{"RSA1024", nil, func(r *enroll.PFXRequest) { r.KeyType = "RSA"; r.KeyLength = 1024 }, errs.Invalid, "KeyLength"},
		{"ECCLengthCurveMismatch", nil, func(r *enroll.PFXRequest) { r.KeyType = "ECC"; r.KeyLength = 384; r.Curve = "P-256" }, errs.Invalid, "KeyLength"},
		{"KeyTypeDisallowedByPattern", nil, func(r *enroll.PFXRequest) {
			r.EnrollmentPatternID = f.ids["RSAOnly"]
			r.KeyType, r.Curve = "ECC", "P-256"
		}, errs.Invalid, "enrollment pattern"},
		{"PasswordTooShort", nil, func(r *enroll.PFXRequest) { r.Password = "short123456" }, errs.Invalid, "Password"},
		{"FriendlyNameRequired", func(s *policy.Settings) { s.RequireCustomFriendlyName = true }, func(r *enroll.PFXRequest) {}, errs.Invalid, "CustomFriendlyName"},
		{"CSPNotAllowed", nil, func(r *enroll.PFXRequest) { r.MicrosoftTargetCSP = "Microsoft Software Key Storage Provider" }, errs.Invalid, "MicrosoftTargetCSP"},
		{"CSPNotInList", func(s *policy.Settings) { s.AllowCSPs = true }, func(r *enroll.PFXRequest) { r.MicrosoftTargetCSP = "Evil CSP" }, errs.Invalid, "MicrosoftTargetCSP"},
		{"UnknownMetadata", nil, func(r *enroll.PFXRequest) { r.Metadata = map[string]string{"Nope": "x"} }, errs.Invalid, "Metadata.Nope"},
		{"MetadataWrongType", nil, func(r *enroll.PFXRequest) { r.Metadata = map[string]string{"Count": "abc"} }, errs.Invalid, "Count"},
		{"RequiredMetadataMissing", nil, func(r *enroll.PFXRequest) { r.EnrollmentPatternID = f.ids["NeedsOwner"] }, errs.Invalid, "Owner"},
		{"UnknownEnrollmentField", nil, func(r *enroll.PFXRequest) { r.AdditionalEnrollmentFields = map[string]string{"Nope": "x"} }, errs.Invalid, "AdditionalEnrollmentFields.Nope"},
		{"OwnerIDAndName", nil, func(r *enroll.PFXRequest) { r.OwnerRoleID = f.ids["Owners"]; r.OwnerRoleName = "Owners" }, errs.Invalid, "OwnerRoleId"},
		{"UnknownOwnerRoleName", nil, func(r *enroll.PFXRequest) { r.OwnerRoleName = "Nobody" }, errs.Invalid, "OwnerRoleName"},
		{"UnknownOwnerRoleID", nil, func(r *enroll.PFXRequest) { r.OwnerRoleID = 9999 }, errs.Invalid, "OwnerRoleId"},
		{"RenewalMissing", nil, func(r *enroll.PFXRequest) { r.RenewalCertificateID = 9999 }, errs.Invalid, "RenewalCertificateId"},
		{"JobTimeInPast", nil, func(r *enroll.PFXRequest) { r.APIVersion = 2; r.JobTime = &past }, errs.Invalid, "JobTime"},
		{"UnknownStore", nil, func(r *enroll.PFXRequest) {
			r.APIVersion = 2
			r.Stores = []enroll.StoreTarget{{StoreID: "3fa85f64-5717-4562-b3fc-2c963f66afa6"}}
		}, errs.Invalid, "Stores[0].StoreId"},
		{"NoDirectory", nil, func(r *enroll.PFXRequest) { r.PopulateMissingValuesFromAD = true }, errs.Invalid, "PopulateMissingValuesFromAD"},
		{"InvalidSAN", nil, func(r *enroll.PFXRequest) { r.SANs = map[string][]string{"dns": {"exa mple.com"}} }, errs.Invalid, "SANs"},
		{"CNRegex", func(s *policy.Settings) { s.CommonNameRegex = `.*\.example\.com` }, func(r *enroll.PFXRequest) { r.Subject = "CN=a.example.org" }, errs.Invalid, "Subject"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := policy.DefaultSettings()
			if tc.settings != nil {
				tc.settings(&s)
			}
			if err := f.db.Q().PutSettings(ctx, s); err != nil {
				t.Fatal(err)
			}
			req := baseRequest()
			tc.mutate(&req)
			res, err := f.svc.EnrollPFX(ctx, admin, req)
			if err == nil {
				t.Fatalf("EnrollPFX succeeded (cert %d), want an error naming %q", res.CertificateID, tc.contains)
			}
			e := errs.As(err)
			if e.Kind != tc.kind {
				t.Fatalf("kind = %v, want %v (err: %v)", e.Kind, tc.kind, err)
			}
			if !strings.Contains(e.Message, tc.contains) {
				t.Fatalf("message %q does not contain %q", e.Message, tc.contains)
			}
		})
	}
	// The base request itself is valid with default settings, so each case
	// above fails because of its own mutation.
	if err := f.db.Q().PutSettings(ctx, policy.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.EnrollPFX(ctx, admin, baseRequest()); err != nil {
		t.Fatalf("base request rejected: %v", err)
	}
}

func TestEnrollPFX_Issues(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(r *enroll.PFXRequest)
		check  func(t *testing.T, key any)
	}{
		{"RSADefault", func(r *enroll.PFXRequest) {}, func(t *testing.T, key any) {
			k, ok := key.(*rsa.PrivateKey)
			if !ok || k.N.BitLen() != 2048 {
				t.Fatalf("key %T, want RSA 2048", key)
			}
		}},
		{"ECCByCurveName", func(r *enroll.PFXRequest) { r.KeyType = "ECC"; r.Curve = "P-384" }, func(t *testing.T, key any) {
			k, ok := key.(*ecdsa.PrivateKey)
			if !ok || k.Curve.Params().Name != "P-384" {
				t.Fatalf("key %T, want ECDSA P-384", key)
			}
		}},
		{"Ed25519", func(r *enroll.PFXRequest) { r.KeyType = "Ed25519" }, func(t *testing.T, key any) {
			if _, ok := key.(ed25519.PrivateKey); !ok {
				t.Fatalf("key %T, want Ed25519", key)
			}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := baseRequest()
			req.Subject = "CN=" + string(rune('a'+i)) + ".example.com"
			tc.mutate(&req)
			res, err := f.svc.EnrollPFX(ctx, admin, req)
			if err != nil {
				t.Fatal(err)
			}
			if len([]rune(res.Password)) < 12 {
				t.Errorf("generated password %q shorter than 12", res.Password)
			}
			key, cert, _, err := pkcs12.DecodeChain(res.Blob, res.Password)
			if err != nil {
				t.Fatalf("DecodeChain: %v", err)
			}
			tc.check(t, key)
			if cert.Subject.CommonName != strings.TrimPrefix(req.Subject, "CN=") {
				t.Errorf("cert CN = %q", cert.Subject.CommonName)
			}
			rec, err := f.db.Q().Certificate(ctx, res.CertificateID)
			if err != nil {
				t.Fatal(err)
			}
			if !rec.HasPrivateKey {
				t.Error("WebServer retains keys indefinitely, but no retained key is stored")
			}
			if rec.Thumbprint != res.Thumbprint || rec.TemplateName != "WebServer" {
				t.Errorf("stored record %q/%q, result thumbprint %q", rec.Thumbprint, rec.TemplateName, res.Thumbprint)
			}
		})
	}
}
