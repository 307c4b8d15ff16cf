package retrieve_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/retrieve"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// clock is a fake clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// auditing records the audit entries written through it (and writes them).
type auditing struct {
	sqlstore.Q
	log *[]string
}

func (a auditing) Audit(ctx context.Context, at time.Time, actor, action, target, details string) error {
	*a.log = append(*a.log, actor+" "+action+" "+target+" "+details)
	return a.Q.Audit(ctx, at, actor, action, target, details)
}

func TestRecover_RetentionAndAudit(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	m, err := embedded.Bootstrap(nil, clk.Now(), embedded.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issuing, err := m.IssuingCA(embedded.Options{Clock: clk.Now})
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
	caID, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "Issuing", HostName: "host", Kind: "embedded", Role: "issuing", CreatedAt: clk.Now()},
		CertDER: m.IssuingCert.Raw, ChainDER: m.RootCert.Raw, KeySealed: []byte{1}})
	if err != nil {
		t.Fatal(err)
	}
	tpl := policy.Template{CommonName: "OneDay", TemplateName: "OneDay", ValidityDays: 30, KeyInfo: policy.DefaultKeyInfo(),
		DefaultKeyType: "RSA", DefaultKeySize: 2048, KeyRetention: policy.RetentionFromIssuance, KeyRetentionDays: 1, CAIDs: []int64{caID}}
	tplID, err := q.InsertTemplate(ctx, tpl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "OneDay", TemplateID: tplID, TemplateDefault: true}); err != nil {
		t.Fatal(err)
	}
	isNotFound := func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
	en := enroll.New(enroll.Options{
		Store: q,
		InTx: func(ctx context.Context, fn func(enroll.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Connectors:     func(id int64) (ca.Connector, bool) { return issuing, id == caID },
		Seal:           kr.Seal,
		Now:            clk.Now,
		IsNotFound:     isNotFound,
		RandomPassword: func(n int) (string, error) { return secret.RandomPassword(nil, n) },
	})
	var audit []string
	svc := retrieve.New(retrieve.Options{
		Store: q,
		InTx: func(ctx context.Context, fn func(retrieve.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(auditing{q, &audit}) })
		},
		Open:       kr.Open,
		Chain:      func(id int64) ([]*x509.Certificate, bool) { return nil, false },
		IsNotFound: isNotFound,
		Now:        clk.Now,
	})
	p := auth.NewPrincipal(1, "alice", nil, nil)
	res, err := en.EnrollPFX(ctx, p, enroll.PFXRequest{APIVersion: 1, Format: enroll.FormatPFX, Template: "OneDay",
		Subject: "CN=r.example.com", Timestamp: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "recover-password-1"
	req := retrieve.RecoverRequest{Selector: retrieve.Selector{CertID: res.CertificateID}, Format: retrieve.FormatPFX,
		Password: pw, ChainOrder: keystore.EndEntityFirst}

	clk.Add(23 * time.Hour)
	blob, name, err := svc.Recover(ctx, p, req)
	if err != nil {
		t.Fatalf("recover within retention: %v", err)
	}
	if _, leaf, err := pkcs12.Decode(blob, pw); err != nil || leaf.Subject.CommonName != "r.example.com" || name != "r.example.com.pfx" {
		t.Fatalf("recovered PFX: %v, %q", err, name)
	}
	if len(audit) != 1 || !strings.HasPrefix(audit[0], "alice certificate.recover certificate ") {
		t.Fatalf("audit %q", audit)
	}
	hs, err := q.History(ctx, res.CertificateID)
	if err != nil || len(hs) != 2 || hs[1].Operation != "Recovered" || hs[1].Actor != "alice" {
		t.Fatalf("history %+v %v", hs, err)
	}

	clk.Add(2 * time.Hour) // retention (1 day from issuance) is over
	_, _, err = svc.Recover(ctx, p, req)
	e := errs.As(err)
	if e.Kind != errs.NotFound || e.Code != errs.CodeNoPrivateKey || e.Message != retrieve.MsgNoPrivateKey {
		t.Fatalf("recover after retention: %v", err)
	}
	if len(audit) != 1 {
		t.Errorf("a refused recovery was audited as a recovery: %q", audit)
	}
}
