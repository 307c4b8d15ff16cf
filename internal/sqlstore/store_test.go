package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/sqlstore"
)

// backend opens a fresh store. reopen opens the same database again, which
// re-runs the migrations.
type backend struct {
	name   string
	open   func(t *testing.T) (db *sqlstore.DB, reopen func() (*sqlstore.DB, error))
	dialct sqlstore.Dialect
}

func sqliteBackend() backend {
	return backend{name: "sqlite", dialct: sqlstore.SQLite, open: func(t *testing.T) (*sqlstore.DB, func() (*sqlstore.DB, error)) {
		dir := t.TempDir()
		reopen := func() (*sqlstore.DB, error) { return sqlstore.Open(context.Background(), "", dir) }
		db, err := reopen()
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, reopen
	}}
}

func postgresBackend() backend {
	return backend{name: "postgres", dialct: sqlstore.Postgres, open: func(t *testing.T) (*sqlstore.DB, func() (*sqlstore.DB, error)) {
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
		schema := "s_" + hex.EncodeToString(rb[:])
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("postgres unreachable or unusable (CERTDOCK_TEST_POSTGRES_DSN is set): %v", err)
		}
		t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		full := dsn + sep + "search_path=" + schema
		reopen := func() (*sqlstore.DB, error) { return sqlstore.Open(context.Background(), full, "") }
		db, err := reopen()
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db, reopen
	}}
}

func forEachBackend(t *testing.T, fn func(t *testing.T, db *sqlstore.DB, reopen func() (*sqlstore.DB, error))) {
	t.Helper()
	for _, b := range []backend{sqliteBackend(), postgresBackend()} {
		t.Run(b.name, func(t *testing.T) {
			db, reopen := b.open(t)
			if db.Dialect() != b.dialct {
				t.Fatalf("Dialect() = %v, want %v", db.Dialect(), b.dialct)
			}
			fn(t, db, reopen)
		})
	}
}

func TestStore_MigrationsTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, reopen func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		if _, err := db.Q().InsertTemplate(ctx, policy.Template{CommonName: "Keep"}); err != nil {
			t.Fatal(err)
		}
		db2, err := reopen()
		if err != nil {
			t.Fatalf("reopen (second migration run): %v", err)
		}
		defer db2.Close()
		if _, err := db2.Q().TemplateByName(ctx, "Keep"); err != nil {
			t.Fatalf("data lost after reopen: %v", err)
		}
	})
}

func TestStore_Settings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		s, err := q.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(s, policy.DefaultSettings()) {
			t.Fatalf("fresh Settings = %+v, want defaults", s)
		}
		owner := int64(7)
		s.PasswordLength = 20
		s.CommonNameRegex = `.*\.example\.com`
		s.AllowCSPs = true
		s.CSPs = []string{"X"}
		s.DefaultOwnerRoleID = &owner
		s.Regexes = []policy.SubjectRegex{{SubjectPart: "O", Regex: "^Acme$"}}
		if err := q.PutSettings(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := q.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("Settings round trip:\n got %+v\nwant %+v", got, s)
		}
	})
}

func TestStore_CAs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		row := sqlstore.CARow{CA: policy.CA{LogicalName: "Issuing", HostName: "host", Kind: "embedded", Role: "issuing",
			KeyRetention: policy.RetentionIndefinite, KeyRetentionDays: 3, StandaloneEKUs: []string{"1.3.6.1.5.5.7.3.1"},
			StandaloneValidityDays: 30, Standalone: true, AllowedEnrollmentTypes: 3, CreatedAt: created},
			CertDER: []byte{1, 2, 3}, ChainDER: []byte{4}, KeySealed: []byte{5, 6}}
		id, err := q.InsertCA(ctx, row)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "Root", HostName: "host", Kind: "embedded", Role: "root", CreatedAt: created},
			CertDER: []byte{9}, ChainDER: []byte{}, KeySealed: []byte{9}}); err != nil {
			t.Fatal(err)
		}
		row.ID = id
		got, err := q.CAByLogicalName(ctx, "Issuing")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, row) {
			t.Fatalf("CAByLogicalName:\n got %+v\nwant %+v", got, row)
		}
		all, err := q.CAs(ctx, "")
		if err != nil || len(all) != 2 {
			t.Fatalf("CAs(\"\") = %d rows, %v; want 2", len(all), err)
		}
		iss, err := q.CAs(ctx, "issuing")
		if err != nil || len(iss) != 1 || iss[0].LogicalName != "Issuing" {
			t.Fatalf("CAs(issuing) = %+v, %v", iss, err)
		}
		if _, err := q.CAByLogicalName(ctx, "Nope"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("CAByLogicalName(Nope) err = %v, want ErrNotFound", err)
		}
	})
}

func TestStore_TemplatesAndPatterns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		tpl := policy.Template{CommonName: "WebServer", TemplateName: "WebServer", ValidityDays: 365,
			ExtendedKeyUsage: []string{"1.3.6.1.5.5.7.3.1"}, KeyInfo: policy.DefaultKeyInfo(), DefaultKeyType: "RSA",
			DefaultKeySize: 2048, CAIDs: []int64{1}, AllowedEnrollmentTypes: 3}
		id, err := q.InsertTemplate(ctx, tpl)
		if err != nil {
			t.Fatal(err)
		}
		tpl.ID = id
		got, err := q.TemplateByName(ctx, "webserver")
		if err != nil {
			t.Fatalf("TemplateByName case-insensitive: %v", err)
		}
		if !reflect.DeepEqual(got, tpl) {
			t.Fatalf("template round trip:\n got %+v\nwant %+v", got, tpl)
		}
		if _, err := q.InsertTemplate(ctx, policy.Template{CommonName: "WebServer"}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("duplicate template err = %v, want ErrDuplicate", err)
		}
		tpl.ValidityDays = 90
		tpl.DisplayName = "Web"
		if err := q.UpdateTemplate(ctx, tpl); err != nil {
			t.Fatal(err)
		}
		got, err = q.Template(ctx, id)
		if err != nil || got.ValidityDays != 90 || got.DisplayName != "Web" {
			t.Fatalf("after update: %+v, %v", got, err)
		}
		if err := q.UpdateTemplate(ctx, policy.Template{ID: 9999, CommonName: "X"}); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("update missing template err = %v, want ErrNotFound", err)
		}
		if _, err := q.TemplateByName(ctx, "nope"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("TemplateByName(nope) err = %v", err)
		}

		ki := policy.KeyInfo{RSA: &policy.AlgorithmData{BitLengths: []int{4096}}}
		p1 := policy.Pattern{Name: "First", TemplateID: id, TemplateDefault: true, KeyInfo: &ki}
		p1ID, err := q.InsertPattern(ctx, p1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := q.DefaultPattern(ctx, id)
		if err != nil || d.ID != p1ID || d.KeyInfo == nil || d.KeyInfo.RSA.BitLengths[0] != 4096 {
			t.Fatalf("DefaultPattern = %+v, %v; want First", d, err)
		}
		p2ID, err := q.InsertPattern(ctx, policy.Pattern{Name: "Second", TemplateID: id, TemplateDefault: true})
		if err != nil {
			t.Fatal(err)
		}
		d, err = q.DefaultPattern(ctx, id)
		if err != nil || d.ID != p2ID {
			t.Fatalf("DefaultPattern after second default = %+v, %v; want Second", d, err)
		}
		old, err := q.Pattern(ctx, p1ID)
		if err != nil || old.TemplateDefault {
			t.Fatalf("first pattern still default: %+v, %v", old, err)
		}
		if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "Second", TemplateID: id}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("duplicate pattern name err = %v, want ErrDuplicate", err)
		}
		if _, err := q.PatternByName(ctx, "FIRST"); err != nil {
			t.Fatalf("PatternByName case-insensitive: %v", err)
		}
		ps, err := q.Patterns(ctx)
		if err != nil || len(ps) != 2 {
			t.Fatalf("Patterns = %d, %v", len(ps), err)
		}
	})
}

func TestStore_MetadataFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		f := policy.MetadataField{Name: "Owner", Description: "who", DataType: policy.MetaString, Validation: "^[a-z]+$",
			Enrollment: 1, Options: []string{}, AllowAPI: true, DisplayOrder: 2}
		id, err := q.InsertMetadataField(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		f.ID = id
		got, err := q.MetadataFieldByName(ctx, "Owner")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != id || got.Name != "Owner" || got.Validation != f.Validation || got.DataType != f.DataType || !got.AllowAPI || got.DisplayOrder != 2 {
			t.Fatalf("metadata field round trip: got %+v want %+v", got, f)
		}
		if _, err := q.InsertMetadataField(ctx, policy.MetadataField{Name: "Owner", DataType: 1}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("duplicate field err = %v", err)
		}
		all, err := q.MetadataFields(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("MetadataFields = %+v, %v", all, err)
		}
		if err := q.DeleteMetadataField(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := q.MetadataField(ctx, id); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("deleted field err = %v", err)
		}
	})
}

func TestStore_IdentitiesAndRoles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		alice, err := q.InsertIdentity(ctx, auth.Identity{AccountName: `CORP\alice`, IdentityType: "User", PasswordHash: "h1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.InsertIdentity(ctx, auth.Identity{AccountName: `corp\ALICE`, IdentityType: "User"}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("duplicate identity (case-insensitive) err = %v", err)
		}
		on, err := q.InsertRole(ctx, auth.Role{Name: "Enrollers", Enabled: true, Permissions: []string{"/certificates/enrollment/pfx/"},
			Identities: []auth.IdentityRef{{ID: alice}}})
		if err != nil {
			t.Fatal(err)
		}
		off, err := q.InsertRole(ctx, auth.Role{Name: "Disabled", Enabled: false, Permissions: []string{"/security/modify/"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.AddRoleMember(ctx, off, alice); err != nil {
			t.Fatal(err)
		}
		if _, err := q.InsertRole(ctx, auth.Role{Name: "enrollers"}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("duplicate role err = %v", err)
		}
		id, perms, err := q.IdentityForLogin(ctx, `corp\alice`)
		if err != nil {
			t.Fatal(err)
		}
		if id.ID != alice || id.PasswordHash != "h1" {
			t.Fatalf("IdentityForLogin identity = %+v", id)
		}
		if !reflect.DeepEqual(perms, []string{"/certificates/enrollment/pfx/"}) {
			t.Fatalf("IdentityForLogin perms = %v, want only the enabled role's", perms)
		}
		if _, _, err := q.IdentityForLogin(ctx, "bob"); !errors.Is(err, auth.ErrNoIdentity) {
			t.Fatalf("unknown account err = %v, want auth.ErrNoIdentity", err)
		}
		r, err := q.Role(ctx, on)
		if err != nil || len(r.Identities) != 1 || r.Identities[0].ID != alice {
			t.Fatalf("Role members = %+v, %v", r, err)
		}
		r2, err := q.RoleByName(ctx, "DISABLED")
		if err != nil || r2.ID != off || r2.Enabled {
			t.Fatalf("RoleByName = %+v, %v", r2, err)
		}
		got, err := q.Identity(ctx, alice)
		if err != nil || len(got.Roles) != 2 {
			t.Fatalf("Identity roles = %+v, %v", got, err)
		}
	})
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestStore_Certificates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		caID, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "Issuing", HostName: "h", Kind: "embedded", Role: "issuing", CreatedAt: time.Now()},
			CertDER: []byte{1}, ChainDER: []byte{}, KeySealed: []byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		tplID, err := q.InsertTemplate(ctx, policy.Template{CommonName: "WebServer"})
		if err != nil {
			t.Fatal(err)
		}
		roleID, err := q.InsertRole(ctx, auth.Role{Name: "Owners", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		reqID, err := q.InsertRequest(ctx, certificate.Request{CreatedAt: time.Now(), RequesterName: "admin", Kind: "pfx", Subject: "CN=a"})
		if err != nil {
			t.Fatal(err)
		}
		requester := int64(1)
		now := utc("2026-06-01T00:00:00Z")
		full := certificate.Record{
			Thumbprint: "AABB", SerialNumber: "01", IssuerDN: "CN=Issuing", IssuedDN: "CN=a.example.com, OU=Web",
			IssuedCN: "a.example.com", IssuedOU: "Web", IssuedEmail: "a@example.com",
			// sub-second part must be dropped: storage is second precision
			NotBefore: utc("2026-01-01T10:11:12Z").Add(500 * time.Millisecond), NotAfter: utc("2031-01-01T00:00:00Z"),
			ImportDate: utc("2026-01-01T10:11:13Z"), State: certificate.StateActive, KeyType: certificate.KeyRSA, KeySize: 2048,
			KeyAlgorithm: "1.2.840.113549.1.1.1", SigningAlgorithm: "SHA256-RSA", KeyUsage: 5,
			TemplateID: &tplID, CAID: &caID, CertRequestID: &reqID, RequesterID: &requester, RequesterName: "admin",
			OwnerRoleID: &roleID, DER: []byte{0x30, 1, 2},
			SANs:                  []certificate.SAN{{Type: certificate.SANDNS, Value: "a.example.com"}},
			EKUs:                  []certificate.EKU{{OID: "1.3.6.1.5.5.7.3.1", DisplayName: "Server Authentication"}},
			CRLDistributionPoints: []string{"http://crl/x.crl"},
			Metadata:              map[string]string{"Owner": "alice", "Env": "prod"},
		}
		id1, err := q.InsertCertificate(ctx, &full)
		if err != nil {
			t.Fatal(err)
		}
		if full.ID != id1 {
			t.Fatalf("InsertCertificate did not set ID")
		}
		got, err := q.Certificate(ctx, id1)
		if err != nil {
			t.Fatal(err)
		}
		want := full
		want.NotBefore = utc("2026-01-01T10:11:12Z")
		want.TemplateName, want.OwnerRoleName, want.CAName = "WebServer", "Owners", `h\Issuing`
		for _, tm := range []time.Time{got.NotBefore, got.NotAfter, got.ImportDate} {
			if tm.Location() != time.UTC {
				t.Errorf("time %v not in UTC", tm)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Certificate round trip:\n got %+v\nwant %+v", got, want)
		}
		if byTP, err := q.CertificateByThumbprint(ctx, "aabb"); err != nil || byTP.ID != id1 {
			t.Fatalf("CertificateByThumbprint = %v, %v", byTP.ID, err)
		}
		if _, err := q.Certificate(ctx, 99999); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("missing certificate err = %v", err)
		}
		if _, err := q.InsertCertificate(ctx, &certificate.Record{Thumbprint: "AABB", DER: []byte{1}}); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("duplicate thumbprint err = %v, want ErrDuplicate", err)
		}

		// more certificates: b (expires 2027), c (revoked), d (expired)
		mk := func(tp, cn string, notAfter time.Time, rev *certificate.Revocation) int64 {
			r := certificate.Record{Thumbprint: tp, SerialNumber: tp, IssuedCN: cn, IssuedDN: "CN=" + cn, NotBefore: utc("2025-01-01T00:00:00Z"),
				NotAfter: notAfter, ImportDate: now, State: certificate.StateActive, DER: []byte(tp), Revocation: rev}
			if rev != nil {
				r.State = certificate.StateRevoked
			}
			id, err := q.InsertCertificate(ctx, &r)
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		idB := mk("B1", "b.example.com", utc("2027-01-01T00:00:00Z"), nil)
		idC := mk("C1", "c.example.com", utc("2032-01-01T00:00:00Z"), &certificate.Revocation{EffectiveDate: utc("2026-05-01T00:00:00Z"), Reason: 1, Comment: "oops"})
		idD := mk("D1", "d.example.com", utc("2026-02-01T00:00:00Z"), nil)

		list := func(where string, l certificate.ListQuery) []int64 {
			t.Helper()
			w, args, err := certificate.QuerySchema.Where(where, db.QueryDialect(), 1)
			if err != nil {
				t.Fatalf("Where(%q): %v", where, err)
			}
			l.Where, l.Args, l.Now = w, args, now
			if l.Limit == 0 {
				l.Limit = 100
			}
			rs, err := q.Certificates(ctx, l)
			if err != nil {
				t.Fatalf("Certificates(%q): %v", where, err)
			}
			ids := []int64{}
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			return ids
		}
		check := func(name string, got, want []int64) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: ids %v, want %v", name, got, want)
			}
		}
		check("default excludes revoked+expired", list("", certificate.ListQuery{}), []int64{id1, idB})
		check("IncludeRevoked", list("", certificate.ListQuery{IncludeRevoked: true}), []int64{id1, idB, idC})
		check("IncludeExpired", list("", certificate.ListQuery{IncludeExpired: true}), []int64{id1, idB, idD})
		check("both", list("", certificate.ListQuery{IncludeRevoked: true, IncludeExpired: true}), []int64{id1, idB, idC, idD})
		check("IssuedCN eq", list(`IssuedCN -eq "a.example.com"`, certificate.ListQuery{}), []int64{id1})
		check("IssuedCN eq case-insensitive", list(`IssuedCN -eq "A.EXAMPLE.COM"`, certificate.ListQuery{}), []int64{id1})
		check("NotAfter gt", list(`NotAfter -gt "2030-01-01"`, certificate.ListQuery{IncludeRevoked: true}), []int64{id1, idC})
		check("HasPrivateKey before", list(`HasPrivateKey -eq true`, certificate.ListQuery{}), []int64{})
		check("paging 1", list("", certificate.ListQuery{IncludeRevoked: true, IncludeExpired: true, Limit: 2}), []int64{id1, idB})
		check("paging 2", list("", certificate.ListQuery{IncludeRevoked: true, IncludeExpired: true, Limit: 2, Offset: 2}), []int64{idC, idD})

		if err := q.InsertRetainedKey(ctx, idB, []byte("sealed"), nil, now); err != nil {
			t.Fatal(err)
		}
		check("HasPrivateKey after", list(`HasPrivateKey -eq true`, certificate.ListQuery{}), []int64{idB})
		check("HasPrivateKey false", list(`HasPrivateKey -eq false`, certificate.ListQuery{}), []int64{id1})
		if k, err := q.RetainedKey(ctx, idB); err != nil || string(k) != "sealed" {
			t.Fatalf("RetainedKey = %q, %v", k, err)
		}
		if _, err := q.RetainedKey(ctx, id1); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("RetainedKey(no key) err = %v", err)
		}
		rb, _ := q.Certificate(ctx, idB)
		if !rb.HasPrivateKey {
			t.Error("Certificate(idB).HasPrivateKey = false after InsertRetainedKey")
		}
		rc, _ := q.Certificate(ctx, idC)
		if rc.Revocation == nil || !rc.Revocation.EffectiveDate.Equal(utc("2026-05-01T00:00:00Z")) || rc.Revocation.Reason != 1 || rc.Revocation.Comment != "oops" {
			t.Errorf("revocation round trip = %+v", rc.Revocation)
		}

		// metadata
		if err := q.MergeMetadata(ctx, id1, map[string]string{"Env": "", "Team": "x", "Owner": "bob"}); err != nil {
			t.Fatal(err)
		}
		got, _ = q.Certificate(ctx, id1)
		if !reflect.DeepEqual(got.Metadata, map[string]string{"Owner": "bob", "Team": "x"}) {
			t.Errorf("after MergeMetadata: %v", got.Metadata)
		}
		if err := q.ReplaceMetadata(ctx, id1, map[string]string{"Only": "1"}); err != nil {
			t.Fatal(err)
		}
		got, _ = q.Certificate(ctx, id1)
		if !reflect.DeepEqual(got.Metadata, map[string]string{"Only": "1"}) {
			t.Errorf("after ReplaceMetadata: %v", got.Metadata)
		}
		rs, _ := q.Certificates(ctx, certificate.ListQuery{Limit: 10, Now: now})
		if len(rs) == 0 || rs[0].ID != id1 || rs[0].Metadata["Only"] != "1" {
			t.Errorf("Certificates() metadata not filled: %+v", rs)
		}

		// history
		h1 := certificate.HistoryEntry{CertID: id1, At: utc("2026-01-01T00:00:01Z"), Operation: certificate.OpEnrolled, Actor: "admin", Message: "m1"}
		h2 := certificate.HistoryEntry{CertID: id1, At: utc("2026-01-02T00:00:01Z"), Operation: certificate.OpDownloaded, Actor: "bob", Message: "m2"}
		for _, h := range []certificate.HistoryEntry{h1, h2} {
			if err := q.AddHistory(ctx, h); err != nil {
				t.Fatal(err)
			}
		}
		hs, err := q.History(ctx, id1)
		if err != nil || len(hs) != 2 {
			t.Fatalf("History = %+v, %v", hs, err)
		}
		for i, w := range []certificate.HistoryEntry{h1, h2} {
			w.ID = hs[i].ID
			if !reflect.DeepEqual(hs[i], w) {
				t.Errorf("History[%d] = %+v, want %+v", i, hs[i], w)
			}
		}
		if hs, _ := q.History(ctx, idB); len(hs) != 0 {
			t.Errorf("History(idB) = %v, want empty", hs)
		}
	})
}

func TestStore_WithTxRollback(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		boom := errors.New("boom")
		var certID int64
		err := db.WithTx(ctx, func(q sqlstore.Q) error {
			if _, err := q.InsertTemplate(ctx, policy.Template{CommonName: "Ghost"}); err != nil {
				return err
			}
			r := certificate.Record{Thumbprint: "EE", DER: []byte{1}, NotAfter: time.Now().Add(time.Hour), Metadata: map[string]string{"A": "b"}}
			id, err := q.InsertCertificate(ctx, &r)
			if err != nil {
				return err
			}
			certID = id
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx err = %v, want boom", err)
		}
		q := db.Q()
		if _, err := q.TemplateByName(ctx, "Ghost"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("template survived rollback: %v", err)
		}
		if _, err := q.Certificate(ctx, certID); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("certificate survived rollback: %v", err)
		}
		if _, err := q.CertificateByThumbprint(ctx, "EE"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("certificate survived rollback: %v", err)
		}
		// and commit works
		if err := db.WithTx(ctx, func(q sqlstore.Q) error {
			_, err := q.InsertTemplate(ctx, policy.Template{CommonName: "Real"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.TemplateByName(ctx, "Real"); err != nil {
			t.Errorf("committed template missing: %v", err)
		}
	})
}
