package revocation_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/revocation"
	"github.com/certdock/certdock/internal/sqlstore"
)

// t0 is when the fixture's CA was made; the fake clock starts a day later.
var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// auditCount counts audit_log entries with the action, read with a
// separate connection to the SQLite file.
func (f *fixture) auditCount(t *testing.T, action string) int {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "certdock.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_log WHERE action = ?`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fixture is a real SQLite store with a bootstrapped CA, certificates
// issued by it and recorded in the inventory, and the service under test.
type fixture struct {
	db    *sqlstore.DB
	dir   string // holds the SQLite file certdock.db
	svc   *revocation.Service
	clock *fakeClock
	ca    *embedded.CA
	root  *x509.Certificate
	caID  int64
	certs []issued
	admin *auth.Principal
}

type issued struct {
	id   int64
	cert *x509.Certificate
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlstore.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := embedded.Bootstrap(rand.Reader, t0, embedded.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0.Add(24 * time.Hour)}
	c, err := m.IssuingCA(embedded.Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	caID, err := db.Q().InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "IssuingCA1", HostName: "h", Kind: "embedded", Role: "issuing", CreatedAt: t0},
		CertDER: m.IssuingCert.Raw, ChainDER: m.RootCert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, dir: dir, clock: clock, ca: c, root: m.RootCert, caID: caID, admin: auth.NewPrincipal(1, "admin", nil, nil)}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i := range n {
		resp, err := c.Issue(ctx, &ca.IssueRequest{PublicKey: key.Public(),
			Subject:  pkix.Name{CommonName: "leaf"}.ToRDNSequence(),
			DNSNames: []string{"leaf.example"}, Profile: ca.Profile{Validity: 30 * 24 * time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		rec := certificate.FromX509(resp.Certificate)
		rec.ImportDate, rec.State, rec.CAID = clock.Now(), certificate.StateActive, &caID
		rec.Thumbprint += string(rune('A' + i%26)) // keys repeat; thumbprints differ anyway
		id, err := db.Q().InsertCertificate(ctx, &rec)
		if err != nil {
			t.Fatal(err)
		}
		f.certs = append(f.certs, issued{id: id, cert: resp.Certificate})
	}
	f.svc = f.service()
	return f
}

// service builds the revocation service on the fixture's database and CA,
// as a (re)started process does: nothing in memory.
func (f *fixture) service() *revocation.Service {
	return revocation.New(revocation.Options{
		Store: f.db.Q(),
		InTx: func(ctx context.Context, fn func(revocation.Store) error) error {
			return f.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		CAs:        []revocation.CA{{ID: f.caID, LogicalName: "IssuingCA1", Signer: f.ca}},
		Dialect:    f.db.QueryDialect(),
		Now:        f.clock.Now,
		IsNotFound: func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
	})
}
