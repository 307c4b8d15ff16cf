package enroll_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// holder is an in-process Approvals: it holds what the flag says, creating
// the pending request row the way internal/workflow does.
type holder struct {
	db   *sqlstore.DB
	held []enroll.Held
}

func (h *holder) Hold(ctx context.Context, p *auth.Principal, e enroll.Held) (enroll.HoldResult, error) {
	if !e.RequiresApproval {
		return enroll.HoldResult{}, nil
	}
	h.held = append(h.held, e)
	id, err := h.db.Q().InsertRequest(ctx, certificate.Request{CreatedAt: time.Now(), RequesterID: &p.IdentityID, RequesterName: p.AccountName,
		Kind: "pfx", State: certificate.StatePending, Doc: []byte("{}")})
	return enroll.HoldResult{Held: true, RequestID: id, InstanceID: "inst-1", Message: "waiting"}, err
}

func (h *holder) Needs(ctx context.Context, patternID, templateID *int64, flag bool) (bool, error) {
	return flag, nil
}

func TestApproval_HoldThenIssueUnderRequestTimePolicy(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	kr, _ := secret.New(master)
	q := db.Q()
	caID, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "Issuing", HostName: "host", Kind: "embedded", Role: "issuing", CreatedAt: now},
		CertDER: m.IssuingCert.Raw, ChainDER: m.RootCert.Raw, KeySealed: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	tpl := policy.Template{CommonName: "Gated", TemplateName: "Gated", ValidityDays: 200, ExtendedKeyUsage: []string{"1.3.6.1.5.5.7.3.1"},
		KeyInfo: policy.DefaultKeyInfo(), DefaultKeyType: "RSA", DefaultKeySize: 2048, KeyRetention: policy.RetentionNone,
		CAIDs: []int64{caID}, AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR}
	tid, err := q.InsertTemplate(ctx, tpl)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := q.InsertPattern(ctx, policy.Pattern{Name: "Gated", TemplateID: tid, TemplateDefault: true, RequiresApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := enroll.Options{
		Store: q,
		InTx: func(ctx context.Context, fn func(enroll.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Connectors:     func(id int64) (ca.Connector, bool) { return issuing, id == caID },
		Seal:           kr.Seal,
		IsNotFound:     func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		RandomPassword: func(n int) (string, error) { return secret.RandomPassword(nil, n) },
	}
	alice := auth.NewPrincipal(7, "alice", nil, nil)
	req := enroll.PFXRequest{APIVersion: 1, Format: enroll.FormatPFX, EnrollmentPatternID: pid, Subject: "CN=gated.example.com",
		SANs: map[string][]string{"dns": {"gated.example.com"}, "ip4": {"192.0.2.7"}}, Password: "held-password-1", Timestamp: now}

	// Without the hook the old 400 stands.
	if _, err := enroll.New(opts).EnrollPFX(ctx, alice, req); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "requires approval") {
		t.Fatalf("no hook: %v", err)
	}

	h := &holder{db: db}
	opts.Approvals = h
	svc := enroll.New(opts)
	res, err := svc.EnrollPFX(ctx, alice, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Disposition != enroll.DispositionPending || res.WorkflowInstanceID != "inst-1" || res.Blob != nil || res.CertificateID != 0 || res.Password != "" {
		t.Fatalf("pending result: %+v", res)
	}
	if list, _ := q.Certificates(ctx, certificate.ListQuery{Limit: 100, IncludeRevoked: true, IncludeExpired: true, Now: time.Now()}); len(list) != 0 {
		t.Fatalf("%d certificates exist while the request waits", len(list))
	}
	held := h.held[0]
	if held.Subject != "CN=gated.example.com" || held.CommonName != "gated.example.com" || len(held.SANs) != 2 || *held.PatternID != pid {
		t.Fatalf("held summary: %+v", held)
	}

	// Policy changes after the request do not apply to it.
	tpl.ID, tpl.ValidityDays = tid, 10
	if err := q.UpdateTemplate(ctx, tpl); err != nil {
		t.Fatal(err)
	}
	var within int64
	certID, err := svc.IssueHeld(ctx, held.Snapshot, enroll.HeldIssuance{RequestID: res.RequestID, Approvers: []string{"bob", "carol"},
		Within: func(ctx context.Context, tx enroll.Store, id int64) error { within = id; return nil }})
	if err != nil {
		t.Fatalf("IssueHeld: %v", err)
	}
	rec, err := q.Certificate(ctx, certID)
	if err != nil || within != certID {
		t.Fatalf("certificate %d (within %d): %v", certID, within, err)
	}
	c, _ := x509.ParseCertificate(rec.DER)
	if days := c.NotAfter.Sub(c.NotBefore).Hours() / 24; days < 199 || days > 201 {
		t.Errorf("validity %.0f days, want the request-time 200", days)
	}
	if rec.RequesterName != "alice" || rec.CertRequestID == nil || *rec.CertRequestID != res.RequestID || c.Subject.CommonName != "gated.example.com" ||
		len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != "192.0.2.7" {
		t.Errorf("record: requester %q request %v subject %q IPs %v", rec.RequesterName, rec.CertRequestID, c.Subject.CommonName, c.IPAddresses)
	}
	if _, err := q.RetainedKey(ctx, certID); err != nil {
		t.Errorf("the key of an approved request was not retained: %v", err)
	}
	hist, _ := q.History(ctx, certID)
	if len(hist) != 1 || !strings.Contains(hist[0].Message, "after approval of request") || !strings.Contains(hist[0].Message, "bob, carol") {
		t.Errorf("history %+v", hist)
	}
	// A failing Within rolls the recording back.
	boom := errors.New("boom")
	if _, err := svc.IssueHeld(ctx, held.Snapshot, enroll.HeldIssuance{RequestID: res.RequestID,
		Within: func(context.Context, enroll.Store, int64) error { return boom }}); !errors.Is(err, boom) {
		t.Fatalf("Within error: %v", err)
	}
	if list, _ := q.Certificates(ctx, certificate.ListQuery{Limit: 100, IncludeRevoked: true, IncludeExpired: true, Now: time.Now()}); len(list) != 1 {
		t.Fatalf("%d certificates after a rolled-back issuance, want 1", len(list))
	}
}
