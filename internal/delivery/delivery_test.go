package delivery_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"errors"
	"math/big"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// clock is a fake clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// env is a real database with the store catalogue, the job queue and the
// delivery service wired as the server wires them.
type env struct {
	t     *testing.T
	ctx   context.Context
	db    *sqlstore.DB
	st    *stores.Service
	js    *jobs.Service
	svc   *delivery.Service
	clock *clock
	admin *auth.Principal

	contA, contB int64
	pem          stores.Store // no container
	p12          stores.Store // container A
	jks          stores.Store // container B
}

func openSQLite(t *testing.T) *sqlstore.DB {
	db, err := sqlstore.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T) *sqlstore.DB {
	dsn := os.Getenv("CERTDOCK_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("CERTDOCK_TEST_POSTGRES_DSN not set")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	var rb [6]byte
	rand.Read(rb[:])
	schema := "dlv_" + hex.EncodeToString(rb[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("postgres unreachable or unusable (CERTDOCK_TEST_POSTGRES_DSN is set): %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db, err := sqlstore.Open(context.Background(), dsn+sep+"search_path="+schema, "")
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t, openSQLite(t))) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnv(t, openPostgres(t))) })
}

func newEnv(t *testing.T, db *sqlstore.DB) *env {
	t.Helper()
	ctx := context.Background()
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := secret.New(master)
	if err != nil {
		t.Fatal(err)
	}
	ck := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	isNF := func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
	e := &env{t: t, ctx: ctx, db: db, clock: ck}
	e.st = stores.New(stores.Options{
		Repo: db.Q(),
		InTx: func(ctx context.Context, fn func(stores.Repo) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Dialect: db.QueryDialect(), Seal: kr.Seal, Open: kr.Open, Now: ck.Now, IsNotFound: isNF,
		IsDuplicate: func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) },
	})
	e.js = jobs.New(jobs.Options{
		Repo: db.Q(),
		InTx: func(ctx context.Context, fn func(jobs.Repo) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal: kr.Seal, Open: kr.Open, Dialect: db.QueryDialect(), IsNotFound: isNF,
	})
	e.svc = delivery.New(delivery.Options{
		Reader:  db.Q(),
		Catalog: delivery.StoresCatalog{S: e.st},
		InTx: func(ctx context.Context, fn func(delivery.Tx) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal: kr.Seal,
		// A cheap stand-in for argon2id keeps the tests fast; the server
		// wires secret.HashPassword, covered by internal/secret's tests.
		HashPassword:   func(p string) (string, error) { return "plain:" + p, nil },
		VerifyPassword: func(h, p string) (bool, error) { return h == "plain:"+p, nil },
		IsNotFound:     isNF,
		Now:            ck.Now,
	})
	var all []auth.Grant
	for _, p := range auth.All() {
		all = append(all, auth.Grant{Permission: p})
	}
	e.admin = auth.NewPrincipal(1, "admin", nil, all)

	agent, err := e.st.RegisterAgent(ctx, stores.Agent{ClientMachine: "host1", Status: stores.AgentApproved})
	if err != nil {
		t.Fatalf("RegisterAgent: %v", err)
	}
	for i, name := range []string{"A", "B"} {
		c, err := e.st.SaveContainer(ctx, e.admin, stores.Container{Name: "container " + name, StoreType: stores.TypePKCS12})
		if err != nil {
			t.Fatalf("SaveContainer: %v", err)
		}
		if i == 0 {
			e.contA = c.ID
		} else {
			e.contB = c.ID
		}
	}
	pw := "store-pass"
	mk := func(typ int, path string, container int64) stores.Store {
		in := stores.StoreInput{ClientMachine: "host1", StorePath: path, StoreType: typ, AgentID: agent.AgentID, Properties: "{}"}
		if container != 0 {
			c := container
			in.ContainerID = &c
		}
		if typ != stores.TypePEM {
			in.Password = &pw
		}
		s, err := e.st.Create(ctx, e.admin, in)
		if err != nil {
			t.Fatalf("create store %s: %v", path, err)
		}
		return s
	}
	e.pem = mk(stores.TypePEM, "/tmp/web.pem", 0)
	e.p12 = mk(stores.TypePKCS12, "/tmp/web.p12", e.contA)
	e.jks = mk(stores.TypeJKS, "/tmp/web.jks", e.contB)
	return e
}

// cert records a self-signed certificate with a request and a (stand-in)
// retained key; keyed=false leaves out the key.
func (e *env) cert(cn string, keyed bool) (certificate.Record, *x509.Certificate) {
	e.t.Helper()
	return e.certBy(cn, keyed, nil)
}

// certBy is cert requested by the identity requester (nil: none recorded).
func (e *env) certBy(cn string, keyed bool, requester *auth.Principal) (certificate.Record, *x509.Certificate) {
	e.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn},
		NotBefore: e.clock.t.Add(-time.Hour), NotAfter: e.clock.t.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, key.Public(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	rec := certificate.FromX509(c)
	rec.ImportDate, rec.State = e.clock.t, certificate.StateActive
	if requester != nil {
		rec.RequesterID, rec.RequesterName = &requester.IdentityID, requester.AccountName
	}
	err = e.db.WithTx(e.ctx, func(q sqlstore.Q) error {
		reqID, err := q.InsertRequest(e.ctx, certificate.Request{CreatedAt: e.clock.t, RequesterName: "admin", Kind: "pfx",
			State: certificate.StateActive, Subject: "CN=" + cn})
		if err != nil {
			return err
		}
		rec.CertRequestID = &reqID
		id, err := q.InsertCertificate(e.ctx, &rec)
		if err != nil {
			return err
		}
		if err := q.CompleteRequest(e.ctx, reqID, int(certificate.StateActive), &id); err != nil {
			return err
		}
		if keyed {
			return q.InsertRetainedKey(e.ctx, id, []byte("sealed key stand-in"), nil, e.clock.t)
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("record certificate: %v", err)
	}
	return rec, c
}

// enrolled records a certificate as a STORE enrollment with password pw.
func (e *env) enrolled(cn, pw string) certificate.Record {
	e.t.Helper()
	rec, _ := e.cert(cn, true)
	err := e.db.WithTx(e.ctx, func(q sqlstore.Q) error {
		_, err := e.svc.ScheduleForEnrollment(e.ctx, q, e.admin, delivery.EnrollmentDelivery{
			CertificateID: rec.ID, RequestID: *rec.CertRequestID, Format: "STORE", Password: pw})
		return err
	})
	if err != nil {
		e.t.Fatalf("ScheduleForEnrollment: %v", err)
	}
	return rec
}

func (e *env) scheduled() map[string]jobs.ScheduledView {
	e.t.Helper()
	vs, err := e.js.ScheduledJobs(e.ctx, url.Values{"pq.returnLimit": {"500"}})
	if err != nil {
		e.t.Fatalf("ScheduledJobs: %v", err)
	}
	out := map[string]jobs.ScheduledView{}
	for _, v := range vs {
		if v.Operation != jobs.Inventory {
			out[v.ID] = v
		}
	}
	return out
}

func (e *env) entryPassword(id string) string {
	e.t.Helper()
	pw, err := e.js.EntryPassword(e.ctx, id)
	if err != nil {
		e.t.Fatalf("EntryPassword: %v", err)
	}
	return pw
}

// wantErr checks err is an *errs.Error of kind whose message starts with field.
func wantErr(t *testing.T, err error, kind errs.Kind, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want kind %d naming %s", kind, field)
	}
	e := errs.As(err)
	if e.Kind != kind || !strings.HasPrefix(e.Message, field) && !strings.Contains(e.Message, field+":") {
		t.Fatalf("error %q (kind %d), want kind %d naming %s", e.Message, e.Kind, kind, field)
	}
}

func principal(grants ...auth.Grant) *auth.Principal {
	return auth.NewPrincipal(7, "operator", nil, append(grants, auth.Grant{Permission: auth.EnrollPFX}))
}

func sorted(s []string) []string {
	s = append([]string{}, s...)
	sort.Strings(s)
	return s
}

func equal(a, b []string) bool {
	return strings.Join(sorted(a), ",") == strings.Join(sorted(b), ",")
}

func TestDeploy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const pw = "enrollment-password-1"
		rec := e.enrolled("deploy.example.com", pw)

		t.Run("Stores and legacy StoreIds forms", func(t *testing.T) {
			out, err := e.svc.Deploy(e.ctx, e.admin, delivery.DeployRequest{
				CertificateID: rec.ID, Password: pw,
				Stores:     []delivery.Target{{StoreID: strings.ToUpper(e.pem.ID), Alias: "web"}, {StoreID: e.p12.ID}},
				StoreIDs:   []string{e.jks.ID},
				StoreTypes: []delivery.StoreTypeDefaults{{StoreTypeID: stores.TypeJKS, Alias: "j1", Overwrite: true}},
			})
			if err != nil {
				t.Fatalf("Deploy: %v", err)
			}
			if !equal(out.Successful, []string{e.pem.ID, e.p12.ID, e.jks.ID}) || len(out.Failed) != 0 {
				t.Fatalf("Successful %v Failed %v", out.Successful, out.Failed)
			}
			js := e.scheduled()
			byStore := map[string]jobs.ScheduledView{}
			for _, id := range out.JobIDs {
				j, ok := js[id]
				if !ok {
					t.Fatalf("job %s not scheduled", id)
				}
				byStore[j.StoreID] = j
			}
			if j := byStore[e.pem.ID]; j.Alias != "web" || j.Operation != jobs.Add || !j.PrivateKey || j.CertificateID != rec.ID || !j.DueAt.Equal(e.clock.t) {
				t.Errorf("PEM job %+v", j.Job)
			}
			if j := byStore[e.jks.ID]; j.Alias != "j1" || !j.Overwrite {
				t.Errorf("legacy JKS job takes alias and overwrite from StoreTypes: %+v", j.Job)
			}
			// JKS takes an entry password: the enrollment password goes along; PEM does not.
			if got := e.entryPassword(byStore[e.jks.ID].ID); got != pw {
				t.Errorf("JKS entry password %q", got)
			}
			if got := e.entryPassword(byStore[e.pem.ID].ID); got != "" {
				t.Errorf("PEM entry password %q, want none", got)
			}
			h, err := e.db.Q().History(e.ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, x := range h {
				if x.Operation == certificate.OpDeployed {
					n++
				}
			}
			if n != 3 {
				t.Errorf("%d Deployed history entries, want 3: %+v", n, h)
			}
		})

		t.Run("by RequestId", func(t *testing.T) {
			out, err := e.svc.Deploy(e.ctx, e.admin, delivery.DeployRequest{RequestID: *rec.CertRequestID, Password: pw,
				Stores: []delivery.Target{{StoreID: e.pem.ID}}})
			if err != nil || len(out.Successful) != 1 {
				t.Fatalf("Deploy by RequestId: %v %+v", err, out)
			}
		})

		t.Run("future JobTime", func(t *testing.T) {
			at := e.clock.t.Add(90 * time.Minute)
			out, err := e.svc.Deploy(e.ctx, e.admin, delivery.DeployRequest{CertificateID: rec.ID, Password: pw, JobTime: &at,
				Stores: []delivery.Target{{StoreID: e.pem.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			if j := e.scheduled()[out.JobIDs[0]]; !j.DueAt.Equal(at) {
				t.Errorf("due %v, want %v", j.DueAt, at)
			}
			past := e.clock.t.Add(-time.Hour)
			out, err = e.svc.Deploy(e.ctx, e.admin, delivery.DeployRequest{CertificateID: rec.ID, Password: pw, JobTime: &past,
				Stores: []delivery.Target{{StoreID: e.pem.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			if j := e.scheduled()[out.JobIDs[0]]; !j.DueAt.Equal(e.clock.t) {
				t.Errorf("past JobTime: due %v, want now %v", j.DueAt, e.clock.t)
			}
		})

		t.Run("stores the caller may not schedule into, unknown ones fail", func(t *testing.T) {
			p := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contA})
			unknown := "0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11"
			before := len(e.scheduled())
			out, err := e.svc.Deploy(e.ctx, p, delivery.DeployRequest{CertificateID: rec.ID, Password: pw,
				Stores: []delivery.Target{{StoreID: e.p12.ID}, {StoreID: e.jks.ID}, {StoreID: e.pem.ID}, {StoreID: unknown}}})
			if err != nil {
				t.Fatal(err)
			}
			if !equal(out.Successful, []string{e.p12.ID}) || !equal(out.Failed, []string{e.jks.ID, e.pem.ID, unknown}) {
				t.Fatalf("Successful %v Failed %v", out.Successful, out.Failed)
			}
			if got := len(e.scheduled()) - before; got != 1 {
				t.Errorf("%d jobs created, want 1", got)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			plain, _ := e.cert("plain.example.com", true)
			nokey, _ := e.cert("nokey.example.com", false)
			other := e.enrolled("other.example.com", pw)
			s := []delivery.Target{{StoreID: e.pem.ID}}
			for _, c := range []struct {
				name  string
				r     delivery.DeployRequest
				field string
			}{
				{"wrong password", delivery.DeployRequest{CertificateID: rec.ID, Password: "not-it-at-all", Stores: s}, "Password"},
				{"no password", delivery.DeployRequest{CertificateID: rec.ID, Stores: s}, "Password"},
				{"neither id", delivery.DeployRequest{Password: pw, Stores: s}, "CertificateId"},
				{"ids disagree", delivery.DeployRequest{CertificateID: other.ID, RequestID: *rec.CertRequestID, Password: pw, Stores: s}, "RequestId"},
				{"unknown certificate", delivery.DeployRequest{CertificateID: 99999, Password: pw, Stores: s}, "CertificateId"},
				{"not enrolled for delivery", delivery.DeployRequest{CertificateID: plain.ID, Password: pw, Stores: s}, "CertificateId"},
				{"no key", delivery.DeployRequest{CertificateID: nokey.ID, Password: pw, Stores: s}, "CertificateId"},
				{"no stores", delivery.DeployRequest{CertificateID: rec.ID, Password: pw}, "Stores"},
				{"bad GUID", delivery.DeployRequest{CertificateID: rec.ID, Password: pw, Stores: []delivery.Target{{StoreID: "nope"}}}, "Stores[0].StoreId"},
				{"twice", delivery.DeployRequest{CertificateID: rec.ID, Password: pw, Stores: s, StoreIDs: []string{e.pem.ID}}, "StoreIds[0]"},
				{"alias too long", delivery.DeployRequest{CertificateID: rec.ID, Password: pw, Stores: []delivery.Target{{StoreID: e.pem.ID, Alias: strings.Repeat("a", 256)}}}, "Stores[0].Alias"},
				{"store type 0", delivery.DeployRequest{CertificateID: rec.ID, Password: pw, StoreIDs: []string{e.pem.ID},
					StoreTypes: []delivery.StoreTypeDefaults{{}}}, "StoreTypes[0].StoreTypeId"},
			} {
				t.Run(c.name, func(t *testing.T) {
					e.refused(t, "Deploy", c.field, func() error { _, err := e.svc.Deploy(e.ctx, e.admin, c.r); return err })
				})
			}
		})
	})
}

// refused checks that call fails as invalid naming field and schedules no
// job; op names the operation in the failure.
func (e *env) refused(t *testing.T, op, field string, call func() error) {
	t.Helper()
	before := len(e.scheduled())
	wantErr(t, call(), errs.Invalid, field)
	if n := len(e.scheduled()); n != before {
		t.Errorf("a refused %s created %d jobs", op, n-before)
	}
}

func TestReplace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		old, oldX := e.cert("old.example.com", true)
		_, otherX := e.cert("unrelated.example.com", true)
		// The old certificate is the entry "old" in the PEM and JKS stores,
		// and only chain (level 1) in the PKCS#12 store.
		for _, s := range []stores.Store{e.pem, e.jks} {
			if err := e.st.ReplaceInventory(e.ctx, s.ID, []stores.InventoryItem{{Alias: "old", PrivateKeyEntry: true, Certificates: [][]byte{oldX.Raw}}}, e.clock.t); err != nil {
				t.Fatalf("ReplaceInventory: %v", err)
			}
		}
		if err := e.st.ReplaceInventory(e.ctx, e.p12.ID, []stores.InventoryItem{{Alias: "x", Certificates: [][]byte{otherX.Raw, oldX.Raw}}}, e.clock.t); err != nil {
			t.Fatal(err)
		}
		nw := e.enrolled("new.example.com", "enrollment-password-2")

		t.Run("one overwrite add per store holding it", func(t *testing.T) {
			out, err := e.svc.Replace(e.ctx, e.admin, delivery.ReplaceRequest{ExistingCertificateID: old.ID, CertificateID: nw.ID, Password: "entry-pass-123"})
			if err != nil {
				t.Fatalf("Replace: %v", err)
			}
			if !equal(out.Successful, []string{e.pem.ID, e.jks.ID}) || len(out.Failed) != 0 {
				t.Fatalf("Successful %v Failed %v", out.Successful, out.Failed)
			}
			js := e.scheduled()
			for _, id := range out.JobIDs {
				j := js[id]
				if j.Operation != jobs.Add || j.Alias != "old" || !j.Overwrite || j.CertificateID != nw.ID || !j.PrivateKey {
					t.Errorf("job %+v", j.Job)
				}
				if j.StoreID == e.jks.ID && e.entryPassword(id) != "entry-pass-123" {
					t.Errorf("JKS entry password not the request's Password")
				}
			}
		})

		t.Run("JobTime: a past one is immediate, a future one is kept", func(t *testing.T) {
			for _, c := range []struct {
				name string
				at   time.Time
				want time.Time
			}{
				{"past", e.clock.t.Add(-time.Hour), e.clock.t},
				{"future", e.clock.t.Add(90 * time.Minute), e.clock.t.Add(90 * time.Minute)},
			} {
				at := c.at
				out, err := e.svc.Replace(e.ctx, e.admin, delivery.ReplaceRequest{ExistingCertificateID: old.ID, CertificateID: nw.ID,
					Password: "entry-pass-123", JobTime: &at})
				if err != nil || len(out.JobIDs) != 2 {
					t.Fatalf("%s JobTime: %+v %v", c.name, out, err)
				}
				js := e.scheduled()
				for _, id := range out.JobIDs {
					if j := js[id]; !j.DueAt.Equal(c.want) {
						t.Errorf("%s JobTime %v: job due %v, want %v", c.name, at, j.DueAt, c.want)
					}
				}
			}
		})

		t.Run("another identity's key needs key recovery", func(t *testing.T) {
			// nw was requested by someone else: a caller who may only
			// schedule into container B must not pull its key into B.
			p := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contB})
			before := len(e.scheduled())
			_, err := e.svc.Replace(e.ctx, p, delivery.ReplaceRequest{ExistingCertificateID: old.ID, CertificateID: nw.ID, Password: "entry-pass-123"})
			wantErr(t, err, errs.Forbidden, "CertificateId")
			_, err = e.svc.Replace(e.ctx, p, delivery.ReplaceRequest{ExistingCertificateID: old.ID, RequestID: *nw.CertRequestID, Password: "entry-pass-123"})
			wantErr(t, err, errs.Forbidden, "RequestId")
			if n := len(e.scheduled()); n != before {
				t.Errorf("a refused Replace created %d jobs", n-before)
			}
			// Its requester may, with the schedule permission alone.
			own, _ := e.certBy("own.example.com", true, p)
			out, err := e.svc.Replace(e.ctx, p, delivery.ReplaceRequest{ExistingCertificateID: old.ID, CertificateID: own.ID, Password: "entry-pass-123"})
			if err != nil || !equal(out.Successful, []string{e.jks.ID}) {
				t.Fatalf("Replace by the requester: %+v %v", out, err)
			}
		})

		t.Run("by RequestId, forbidden store fails", func(t *testing.T) {
			p := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contB}, auth.Grant{Permission: auth.CertificatesRecover})
			out, err := e.svc.Replace(e.ctx, p, delivery.ReplaceRequest{ExistingCertificateID: old.ID, RequestID: *nw.CertRequestID, Password: "entry-pass-123"})
			if err != nil {
				t.Fatal(err)
			}
			if !equal(out.Successful, []string{e.jks.ID}) || !equal(out.Failed, []string{e.pem.ID}) {
				t.Fatalf("Successful %v Failed %v", out.Successful, out.Failed)
			}
		})

		for _, c := range []struct {
			name  string
			r     delivery.ReplaceRequest
			field string
		}{
			{"both ids", delivery.ReplaceRequest{ExistingCertificateID: old.ID, CertificateID: nw.ID, RequestID: *nw.CertRequestID, Password: "x"}, "CertificateId"},
			{"neither id", delivery.ReplaceRequest{ExistingCertificateID: old.ID, Password: "x"}, "CertificateId"},
			{"no existing", delivery.ReplaceRequest{CertificateID: nw.ID, Password: "x"}, "ExistingCertificateId"},
			{"unknown existing", delivery.ReplaceRequest{ExistingCertificateID: 99999, CertificateID: nw.ID, Password: "x"}, "ExistingCertificateId"},
			{"itself", delivery.ReplaceRequest{ExistingCertificateID: nw.ID, CertificateID: nw.ID, Password: "x"}, "ExistingCertificateId"},
			{"JKS needs an entry password", delivery.ReplaceRequest{ExistingCertificateID: old.ID, CertificateID: nw.ID}, "Password"},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.refused(t, "Replace", c.field, func() error { _, err := e.svc.Replace(e.ctx, e.admin, c.r); return err })
			})
		}
	})
}

func TestScheduleForEnrollment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		t.Run("rolls back with the transaction", func(t *testing.T) {
			rec, _ := e.cert("rollback.example.com", true)
			boom := errors.New("enrollment failed after scheduling")
			err := e.db.WithTx(e.ctx, func(q sqlstore.Q) error {
				res, err := e.svc.ScheduleForEnrollment(e.ctx, q, e.admin, delivery.EnrollmentDelivery{CertificateID: rec.ID,
					RequestID: *rec.CertRequestID, Format: "PFX", Password: "p", Targets: []delivery.Target{{StoreID: e.pem.ID}}})
				if err != nil || len(res.SuccessfulStores) != 1 {
					t.Fatalf("ScheduleForEnrollment: %v %+v", err, res)
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("WithTx: %v", err)
			}
			if n := len(e.scheduled()); n != 0 {
				t.Errorf("%d jobs survive a rolled-back enrollment", n)
			}
			if _, err := e.db.Q().DeliveryEnrollment(e.ctx, rec.ID); !errors.Is(err, sqlstore.ErrNotFound) {
				t.Errorf("delivery record survives a rollback: %v", err)
			}
		})

		t.Run("renewal stores the caller may not schedule into are reported", func(t *testing.T) {
			old, oldX := e.cert("renewed.example.com", true)
			for _, s := range []stores.Store{e.p12, e.jks} {
				if err := e.st.ReplaceInventory(e.ctx, s.ID, []stores.InventoryItem{{Alias: "cur", Certificates: [][]byte{oldX.Raw}}}, e.clock.t); err != nil {
					t.Fatal(err)
				}
			}
			rs, err := e.svc.RenewalTargets(e.ctx, old.ID)
			if err != nil || len(rs) != 2 {
				t.Fatalf("RenewalTargets: %v %+v", err, rs)
			}
			p := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contA})
			explicit, err := e.svc.CheckTargets(e.ctx, p, []delivery.Target{{StoreID: e.p12.ID, Alias: "mine"}})
			if err != nil {
				t.Fatal(err)
			}
			targets := delivery.MergeTargets(explicit, rs)
			rec, _ := e.cert("renewal.example.com", true)
			at := e.clock.t.Add(time.Hour)
			var res delivery.EnrollmentResult
			err = e.db.WithTx(e.ctx, func(q sqlstore.Q) error {
				res, err = e.svc.ScheduleForEnrollment(e.ctx, q, p, delivery.EnrollmentDelivery{CertificateID: rec.ID,
					RequestID: *rec.CertRequestID, Format: "PFX", Password: "p", Targets: targets, JobTime: &at})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !equal(res.SuccessfulStores, []string{e.p12.ID}) || !equal(res.InvalidForRenewal, []string{e.jks.ID}) {
				t.Fatalf("%+v", res)
			}
			for _, j := range e.scheduled() {
				if j.CertificateID == rec.ID && (j.Alias != "mine" || !j.DueAt.Equal(at)) {
					t.Errorf("explicit store keeps its alias, due at JobTime: %+v", j.Job)
				}
			}
		})
	})
}

func TestCheckTargets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		pA := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contA})
		for _, c := range []struct {
			name  string
			p     *auth.Principal
			ts    []delivery.Target
			kind  errs.Kind
			field string
		}{
			{"empty id", e.admin, []delivery.Target{{}}, errs.Invalid, "Stores[0].StoreId"},
			{"not a GUID", e.admin, []delivery.Target{{StoreID: "store-1"}}, errs.Invalid, "Stores[0].StoreId"},
			{"twice", e.admin, []delivery.Target{{StoreID: e.pem.ID}, {StoreID: strings.ToUpper(e.pem.ID)}}, errs.Invalid, "Stores[1].StoreId"},
			{"unknown", e.admin, []delivery.Target{{StoreID: "0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11"}}, errs.Invalid, "Stores[0].StoreId"},
			{"other container", pA, []delivery.Target{{StoreID: e.p12.ID}, {StoreID: e.jks.ID}}, errs.Forbidden, "Stores[1].StoreId"},
			{"alias with a newline", e.admin, []delivery.Target{{StoreID: e.pem.ID, Alias: "a\nb"}}, errs.Invalid, "Stores[0].Alias"},
			{"no container, container grant only", pA, []delivery.Target{{StoreID: e.pem.ID}}, errs.Forbidden, "Stores[0].StoreId"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := e.svc.CheckTargets(e.ctx, c.p, c.ts)
				wantErr(t, err, c.kind, c.field)
			})
		}
		ts, err := e.svc.CheckTargets(e.ctx, pA, []delivery.Target{{StoreID: strings.ToUpper(e.p12.ID)}})
		if err != nil || ts[0].StoreID != e.p12.ID || !ts[0].PrivateKey {
			t.Fatalf("CheckTargets with a container grant: %v %+v", err, ts)
		}
	})
}

func TestAddRemove(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec, x := e.cert("add.example.com", true)
		nokey, _ := e.cert("nokey.example.com", false)
		pw := "per-store-pass"
		ids, err := e.svc.Add(e.ctx, e.admin, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{
			{StoreID: e.jks.ID, Alias: "a1", PrivateKey: true, EntryPassword: &pw}, {StoreID: e.pem.ID}}})
		if err != nil || len(ids) != 2 {
			t.Fatalf("Add: %v %v", err, ids)
		}
		js := e.scheduled()
		if j := js[ids[0]]; j.Alias != "a1" || !j.PrivateKey || e.entryPassword(ids[0]) != pw {
			t.Errorf("JKS add %+v", j.Job)
		}
		if j := js[ids[1]]; j.PrivateKey {
			t.Errorf("IncludePrivateKey absent means no key: %+v", j.Job)
		}

		if err := e.st.ReplaceInventory(e.ctx, e.jks.ID, []stores.InventoryItem{{Alias: "found-here", Certificates: [][]byte{x.Raw}}}, e.clock.t); err != nil {
			t.Fatal(err)
		}
		ids, err = e.svc.Remove(e.ctx, e.admin, delivery.RemoveRequest{CertificateID: rec.ID, Stores: []delivery.Target{
			{StoreID: e.jks.ID}, {StoreID: e.pem.ID}, {StoreID: e.p12.ID, Alias: "given"}}})
		if err != nil {
			t.Fatalf("Remove: %v", err)
		}
		js = e.scheduled()
		want := []string{"found-here", rec.Thumbprint, "given"}
		for i, id := range ids {
			if j := js[id]; j.Operation != jobs.Remove || j.Alias != want[i] {
				t.Errorf("remove %d: alias %q op %v, want %q", i, j.Alias, j.Operation, want[i])
			}
		}

		pA := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contA})
		// The certificate alone needs only the schedule permission on the
		// store's container; its key needs the key recovery permission too.
		if _, err := e.svc.Add(e.ctx, pA, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{{StoreID: e.p12.ID}}}); err != nil {
			t.Errorf("Add without the key, container grant: %v", err)
		}
		pAK := principal(auth.Grant{Permission: auth.StoresSchedule, Container: e.contA}, auth.Grant{Permission: auth.CertificatesRecover})
		if ids, err := e.svc.Add(e.ctx, pAK, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{{StoreID: e.p12.ID, PrivateKey: true}}}); err != nil {
			t.Errorf("Add with the key, container grant and key recovery: %v", err)
		} else if j := e.scheduled()[ids[0]]; !j.PrivateKey {
			t.Errorf("Add with the key scheduled no key: %+v", j.Job)
		}
		for _, c := range []struct {
			name  string
			fn    func() error
			kind  errs.Kind
			field string
		}{
			{"add unknown store", func() error {
				_, err := e.svc.Add(e.ctx, e.admin, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{{StoreID: "0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11"}}})
				return err
			}, errs.Invalid, "CertificateStores[0].CertificateStoreId"},
			{"add other container", func() error {
				_, err := e.svc.Add(e.ctx, pA, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{{StoreID: e.p12.ID}, {StoreID: e.jks.ID}}})
				return err
			}, errs.Forbidden, "CertificateStores[1].CertificateStoreId"},
			{"add key not held", func() error {
				_, err := e.svc.Add(e.ctx, e.admin, delivery.AddRequest{CertificateID: nokey.ID, Stores: []delivery.Target{{StoreID: e.pem.ID, PrivateKey: true}}})
				return err
			}, errs.Invalid, "CertificateStores[0].IncludePrivateKey"},
			{"add with key, schedule permission only", func() error {
				_, err := e.svc.Add(e.ctx, pA, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{{StoreID: e.p12.ID, PrivateKey: true}}})
				return err
			}, errs.Forbidden, "CertificateStores[0].IncludePrivateKey"},
			{"add with key, global schedule without key recovery", func() error {
				pS := principal(auth.Grant{Permission: auth.StoresSchedule})
				_, err := e.svc.Add(e.ctx, pS, delivery.AddRequest{CertificateID: rec.ID, Stores: []delivery.Target{{StoreID: e.pem.ID}, {StoreID: e.jks.ID, PrivateKey: true}}})
				return err
			}, errs.Forbidden, "CertificateStores[1].IncludePrivateKey"},
			{"add no certificate", func() error {
				_, err := e.svc.Add(e.ctx, e.admin, delivery.AddRequest{Stores: []delivery.Target{{StoreID: e.pem.ID}}})
				return err
			}, errs.Invalid, "CertificateId"},
			{"add no stores", func() error {
				_, err := e.svc.Add(e.ctx, e.admin, delivery.AddRequest{CertificateID: rec.ID})
				return err
			}, errs.Invalid, "CertificateStores"},
			{"remove without alias or certificate", func() error {
				_, err := e.svc.Remove(e.ctx, e.admin, delivery.RemoveRequest{Stores: []delivery.Target{{StoreID: e.pem.ID}}})
				return err
			}, errs.Invalid, "CertificateStores[0].Alias"},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := len(e.scheduled())
				wantErr(t, c.fn(), c.kind, c.field)
				if n := len(e.scheduled()); n != before {
					t.Errorf("a refused request created %d jobs", n-before)
				}
			})
		}
	})
}
