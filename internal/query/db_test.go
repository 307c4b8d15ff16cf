package query

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// pgEnv names the PostgreSQL test database, as for every other package's
// tests (.ci/run sets it to postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
const pgEnv = "CERTDOCK_TEST_POSTGRES_DSN"

// testDB is one real database holding the certs fixture table.
type testDB struct {
	name    string
	dialect Dialect
	db      *sql.DB
	table   string // qualified table name
}

// certRow is one fixture row. Pointers are NULL when nil.
type certRow struct {
	id          int64
	thumbprint  string
	issuedCN    *string
	reqID       int64
	containerID *int64
	notAfter    time.Time
	revoked     *time.Time
	owner       *string
	hasKey      *bool
	name        *string
}

func sp(s string) *string { return &s }
func ip(n int64) *int64   { return &n }
func bp(b bool) *bool     { return &b }
func tp(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// fixture is the data every database test runs against. Expected results in
// the tests are worked out by hand from this table.
var fixture = []certRow{
	{1, "AB12CD", sp("www.example.com"), 5, ip(5), *tp("2026-06-01T12:00:00Z"), nil, sp("Admins"), bp(true), sp("Alpha")},
	{2, "EF34AB", sp("web01.example.com"), 6, ip(5), *tp("2027-01-01T00:00:00Z"), tp("2025-03-01T08:00:00Z"), nil, bp(false), sp("beta")},
	{3, "0099FF", sp("Web02.Example.com"), 7, nil, *tp("2027-01-01T23:59:59Z"), nil, sp("Ops"), bp(true), sp("Gamma")},
	{4, "1111AA", sp("api.example.org"), 8, ip(7), *tp("2027-01-02T00:00:00Z"), nil, sp("Admins"), bp(false), sp("100%_done")},
	{5, "2222BB", sp("100%_sure.example.com"), 9, ip(7), *tp("2025-12-31T23:59:59Z"), tp("2025-06-01T00:00:00Z"), sp("ops"), bp(true), sp(`x"; DROP TABLE certs; --`)},
	{6, "3333CC", sp("mail.example.com"), 10, ip(8), *tp("2028-02-29T10:00:00Z"), nil, nil, bp(false), sp(`say "hi"`)},
	{7, "4444DD", sp("WEB03.example.net"), 11, ip(8), *tp("2030-01-01T00:00:00Z"), nil, sp("Ops"), nil, sp("it's")},
	{8, "5555EE", nil, 12, ip(9), *tp("2026-01-01T00:00:00Z"), tp("2026-01-01T00:00:30Z"), sp("Admins"), bp(true), nil},
	{9, "6666FF", sp(`bang!path\back`), -3, ip(9), *tp("2029-07-04T00:00:00Z"), nil, nil, bp(false), sp("Zeta")},
	{10, "7777AB", sp("under_score.example.com"), 3000000000, ip(10), *tp("2027-01-01T12:30:45Z"), nil, sp("Ops"), bp(true), sp("zeta")},
}

// certSchema describes the fixture table the way a list endpoint would.
var certSchema = NewSchema(
	Field{Name: "Id", Column: "c.id", Kind: Int, Key: true},
	Field{Name: "Thumbprint", Column: "c.thumbprint", Kind: String, CaseInsensitive: true},
	Field{Name: "IssuedCN", Column: "c.issued_cn", Kind: String, CaseInsensitive: true},
	Field{Name: "CertRequestId", Column: "c.cert_request_id", Kind: Int},
	Field{Name: "ContainerId", Column: "c.container_id", Kind: Int},
	Field{Name: "NotAfter", Column: "c.not_after", Kind: Date},
	Field{Name: "RevocationEffDate", Column: "c.revocation_eff_date", Kind: Date},
	Field{Name: "OwnerRoleName", Column: "c.owner_role_name", Kind: String},
	Field{Name: "HasPrivateKey", Column: "c.has_private_key", Kind: Bool},
	Field{Name: "Name", Column: "c.name", Kind: String},
)

// container_id is a 4-byte integer on PostgreSQL on purpose: comparing it
// with a value beyond int4 must not be a driver error. The PostgreSQL text
// columns get a locale-aware ICU collation when the server has one, as a
// production database created with en_US.UTF-8 would, so the tests show that
// ordering does not depend on the database's locale.
const (
	sqliteDDL = `CREATE TABLE %[1]s (
		id INTEGER PRIMARY KEY,
		thumbprint TEXT NOT NULL,
		issued_cn TEXT,
		cert_request_id INTEGER NOT NULL,
		container_id INTEGER,
		not_after TEXT NOT NULL,
		revocation_eff_date TEXT,
		owner_role_name TEXT,
		has_private_key INTEGER,
		name TEXT)`
	postgresDDL = `CREATE TABLE %[1]s (
		id BIGINT PRIMARY KEY,
		thumbprint TEXT NOT NULL,
		issued_cn TEXT %[2]s,
		cert_request_id BIGINT NOT NULL,
		container_id INTEGER,
		not_after TIMESTAMPTZ NOT NULL,
		revocation_eff_date TIMESTAMPTZ,
		owner_role_name TEXT %[2]s,
		has_private_key BOOLEAN,
		name TEXT %[2]s)`
)

// openSQLite creates the fixture in a new SQLite file under t.TempDir().
func openSQLite(t testing.TB) *testDB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "query.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tdb := &testDB{name: "sqlite", dialect: SQLite, db: db, table: "certs"}
	tdb.load(t, sqliteDDL, "")
	return tdb
}

// openPostgres creates the fixture in a uniquely named schema of the test
// database named by CERTDOCK_TEST_POSTGRES_DSN and drops it afterwards. It
// returns nil when that variable is unset; a server it names that cannot be
// reached fails the test.
func openPostgres(t testing.TB) *testDB {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	if dsn == "" {
		return nil
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("PostgreSQL at %s (%s) unreachable: %v", dsn, pgEnv, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	schema := "query_test_" + hex.EncodeToString(rnd[:])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
		db.Close()
	})
	collate := ""
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_collation WHERE collname = 'und-x-icu'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		collate = `COLLATE "und-x-icu"`
	} else {
		t.Log("PostgreSQL has no ICU collation; text columns use the database default")
	}
	tdb := &testDB{name: "postgres", dialect: Postgres, db: db, table: schema + ".certs"}
	tdb.load(t, postgresDDL, collate)
	return tdb
}

// openAll returns the databases to run against: SQLite always, PostgreSQL
// when CERTDOCK_TEST_POSTGRES_DSN is set.
func openAll(t testing.TB) []*testDB {
	dbs := []*testDB{openSQLite(t)}
	if pg := openPostgres(t); pg != nil {
		dbs = append(dbs, pg)
	} else {
		t.Log(pgEnv + " is not set: PostgreSQL not tested")
	}
	return dbs
}

func (d *testDB) load(t testing.TB, ddl string, collate string) {
	t.Helper()
	if _, err := d.db.Exec(fmt.Sprintf(ddl, d.table, collate)); err != nil {
		t.Fatal(err)
	}
	ins := "INSERT INTO " + d.table + " (id, thumbprint, issued_cn, cert_request_id, container_id, not_after, revocation_eff_date, owner_role_name, has_private_key, name) VALUES "
	if d.dialect == SQLite {
		ins += "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	} else {
		ins += "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	}
	for _, r := range fixture {
		var notAfter, revoked, hasKey any = r.notAfter, nil, nil
		if r.revoked != nil {
			revoked = *r.revoked
		}
		if r.hasKey != nil {
			hasKey = *r.hasKey
		}
		if d.dialect == SQLite {
			// The storage contract: dates as fixed-width UTC text, bools as 0/1.
			notAfter = FormatSQLiteTime(r.notAfter)
			if r.revoked != nil {
				revoked = FormatSQLiteTime(*r.revoked)
			}
			if r.hasKey != nil {
				hasKey = 0
				if *r.hasKey {
					hasKey = 1
				}
			}
		}
		if _, err := d.db.Exec(ins, r.id, r.thumbprint, r.issuedCN, r.reqID, r.containerID, notAfter, revoked, r.owner, hasKey, r.name); err != nil {
			t.Fatalf("%s: insert %d: %v", d.name, r.id, err)
		}
	}
}

// ids runs `SELECT c.id FROM table c [WHERE where] [tail]` and returns the ids
// in the order the database gave them.
func (d *testDB) ids(t testing.TB, where, tail string, args ...any) ([]int64, error) {
	t.Helper()
	q := "SELECT c.id FROM " + d.table + " c"
	if where != "" {
		q += " WHERE " + where
	}
	if tail != "" {
		q += " " + tail
	}
	rows, err := d.db.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
