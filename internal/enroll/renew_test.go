package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

func TestRenew(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q := f.db.Q()
	// ClientAuth-like template that retains nothing, and one that retains
	// but refuses one-click renewals.
	noRetain := policy.Template{CommonName: "NoRetain", TemplateName: "NoRetain", ValidityDays: 30, KeyInfo: policy.DefaultKeyInfo(),
		KeyRetention: policy.RetentionNone, CAIDs: []int64{f.ids["ca"]}, AllowOneClickRenewals: true}
	id, err := q.InsertTemplate(ctx, noRetain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "NoRetain", TemplateID: id, TemplateDefault: true}); err != nil {
		t.Fatal(err)
	}
	noClick := noRetain
	noClick.CommonName, noClick.TemplateName, noClick.KeyRetention, noClick.AllowOneClickRenewals = "NoClick", "NoClick", policy.RetentionIndefinite, false
	if id, err = q.InsertTemplate(ctx, noClick); err != nil {
		t.Fatal(err)
	}
	if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "NoClick", TemplateID: id, TemplateDefault: true}); err != nil {
		t.Fatal(err)
	}

	pfx := func(template, cn string, mutate func(*enroll.PFXRequest)) int64 {
		t.Helper()
		r := baseRequest()
		r.Template, r.Subject = template, "CN="+cn+",O=Example"
		if mutate != nil {
			mutate(&r)
		}
		res, err := f.svc.EnrollPFX(ctx, admin, r)
		if err != nil {
			t.Fatal(err)
		}
		return res.CertificateID
	}
	good := pfx("WebServer", "renew.example.com", func(r *enroll.PFXRequest) {
		r.KeyType, r.Curve = "ECC", "P-384"
		r.SANs = map[string][]string{"dns": {"renew.example.com"}, "ip4": {"192.0.2.1"}, "upn": {"svc@example.com"}}
		r.Metadata = map[string]string{"Count": "7"}
		r.OwnerRoleName = "Owners"
	})
	revoked := pfx("WebServer", "revoked.example.com", nil)
	if err := q.SetCertificateRevocation(ctx, revoked, certificate.StateActive, nil, certificate.StateRevoked,
		&certificate.Revocation{EffectiveDate: time.Now(), Reason: 1}); err != nil {
		t.Fatal(err)
	}
	csrRes, err := f.svc.EnrollCSR(ctx, admin, csrRequest(makeCSR(t, rsaKey2048, x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr-renew.example.com"}})))
	if err != nil {
		t.Fatal(err)
	}

	// A key kept only so that a store delivery job can install it
	// (delivery_enrollments.key_for_delivery_only) is refused by Recover;
	// one-click renewal must say no too.
	deliveryOnly := pfx("WebServer", "delivery-only.example.com", nil)
	dRec, err := q.Certificate(ctx, deliveryOnly)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.InsertDeliveryEnrollment(ctx, delivery.Enrollment{CertificateID: deliveryOnly, RequestID: *dRec.CertRequestID,
		Format: "STORE", PasswordHash: "x", KeyForDeliveryOnly: true, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := q.RetainedKeyInfo(ctx, deliveryOnly); err == nil {
		t.Fatal("Recover's key lookup finds a delivery-only key")
	}

	for _, tc := range []struct {
		name string
		id   int64
		want enroll.RenewalType
		why  string
	}{
		{"RetainedPFX", good, enroll.RenewalOneClick, "one click"},
		{"Revoked", revoked, enroll.RenewalNone, "revoked"},
		{"CSR", csrRes.CertificateID, enroll.RenewalNone, "enrolled from a CSR"},
		{"NotRetained", pfx("NoRetain", "n.example.com", nil), enroll.RenewalNone, "no recoverable private key"},
		{"KeyForDeliveryOnly", deliveryOnly, enroll.RenewalNone, "kept only for store delivery"},
		{"NoOneClick", pfx("NoClick", "c.example.com", nil), enroll.RenewalNone, "does not allow one-click"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, msg, err := f.svc.AvailableRenewal(ctx, admin, tc.id, "")
			if err != nil || typ != tc.want || !strings.Contains(msg, tc.why) {
				t.Fatalf("AvailableRenewal = %d %q %v, want %d containing %q", typ, msg, err, tc.want, tc.why)
			}
			res, err := f.svc.Renew(ctx, admin, enroll.RenewRequest{CertificateID: tc.id, Timestamp: time.Now()})
			if tc.want != enroll.RenewalOneClick {
				e := errs.As(err)
				if err == nil || e.Code != errs.CodeEnrollmentPolicy || !strings.Contains(e.Message, "CertificateId: ") || !strings.Contains(e.Message, tc.why) {
					t.Fatalf("Renew = %+v, %v; want 0xA0110005 naming CertificateId and %q", res, err, tc.why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			oldRec, _ := q.Certificate(ctx, tc.id)
			newRec, err := q.Certificate(ctx, res.CertificateID)
			if err != nil {
				t.Fatal(err)
			}
			if newRec.RenewedFromID == nil || *newRec.RenewedFromID != tc.id {
				t.Errorf("renewed_from_id = %v, want %d", newRec.RenewedFromID, tc.id)
			}
			if newRec.IssuedDN != oldRec.IssuedDN || newRec.Curve != policy.OIDP384 || newRec.Metadata["Count"] != "7" ||
				newRec.OwnerRoleName != "Owners" || newRec.TemplateName != "WebServer" || !newRec.HasPrivateKey {
				t.Errorf("renewed record: DN %q curve %q metadata %v owner %q template %q key %v", newRec.IssuedDN, newRec.Curve,
					newRec.Metadata, newRec.OwnerRoleName, newRec.TemplateName, newRec.HasPrivateKey)
			}
			if sanString(newRec.SANs) != sanString(oldRec.SANs) || !strings.Contains(sanString(newRec.SANs), "svc@example.com") {
				t.Errorf("SANs %v, old %v", newRec.SANs, oldRec.SANs)
			}
			oldCert, _ := x509.ParseCertificate(oldRec.DER)
			newCert, _ := x509.ParseCertificate(newRec.DER)
			if newCert.PublicKey.(*ecdsa.PublicKey).Equal(oldCert.PublicKey) {
				t.Error("the renewal reused the old key")
			}
			if len(res.Password) < 12 {
				t.Errorf("Password %q", res.Password)
			}
			for id, want := range map[int64]string{tc.id: "renewed by certificate", res.CertificateID: "renewal of certificate"} {
				hs, _ := q.History(ctx, id)
				if last := hs[len(hs)-1]; last.Operation != certificate.OpRenewed || !strings.Contains(last.Message, want) {
					t.Errorf("history of %d ends with %+v", id, last)
				}
			}
		})
	}
	if _, err := f.svc.Renew(ctx, admin, enroll.RenewRequest{CertificateID: 999999}); errs.As(err).Kind != errs.NotFound {
		t.Errorf("renew unknown id: %v", err)
	}
	if _, err := f.svc.Renew(ctx, admin, enroll.RenewRequest{}); errs.As(err).Kind != errs.Invalid {
		t.Errorf("renew without id or thumbprint: %v", err)
	}
}

func sanString(s []certificate.SAN) string {
	var parts []string
	for _, x := range s {
		parts = append(parts, x.Value)
	}
	return strings.Join(parts, ",")
}
