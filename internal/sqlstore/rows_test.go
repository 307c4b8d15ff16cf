package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"reflect"
	"testing"
)

// collectBackends opens a fresh SQLite store and, when
// CERTDOCK_TEST_POSTGRES_DSN is set, a bare PostgreSQL connection: collect
// is tested on literal SELECTs, which need no schema or migrations.
func collectBackends(t *testing.T) map[string]*DB {
	t.Helper()
	ctx := context.Background()
	lite, err := Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	out := map[string]*DB{"sqlite": lite}
	if dsn := os.Getenv("CERTDOCK_TEST_POSTGRES_DSN"); dsn != "" {
		pg, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		if err := pg.PingContext(ctx); err != nil {
			t.Fatalf("postgres unreachable (CERTDOCK_TEST_POSTGRES_DSN is set): %v", err)
		}
		out["postgres"] = &DB{sql: pg, dialect: Postgres}
	}
	return out
}

func TestCollect(t *testing.T) {
	ctx := context.Background()
	scanInt := scanValue[int64]
	boom := errors.New("scan failed")
	for name, db := range collectBackends(t) {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				name     string
				query    string
				scan     func(rowScanner) (int64, error)
				list     bool
				want     []int64
				wantNil  bool
				wantErr  error
				anyError bool
			}{
				{name: "rows in order", query: `SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3`, scan: scanInt, want: []int64{1, 2, 3}},
				{name: "no rows is nil", query: `SELECT 1 WHERE 1 = 0`, scan: scanInt, wantNil: true},
				{name: "no rows in a list is empty", query: `SELECT 1 WHERE 1 = 0`, scan: scanInt, list: true, want: []int64{}},
				{name: "rows in a list", query: `SELECT 7 UNION ALL SELECT 8`, scan: scanInt, list: true, want: []int64{7, 8}},
				{name: "scan error stops", query: `SELECT 1 UNION ALL SELECT 2`, scan: func(sc rowScanner) (int64, error) {
					n, err := scanInt(sc)
					if n == 2 {
						return 0, boom
					}
					return n, err
				}, wantNil: true, wantErr: boom},
				{name: "column type error", query: `SELECT 'x'`, scan: scanInt, wantNil: true, anyError: true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					// In a transaction: one connection, so a row set left
					// open would block the statement after collect.
					db.WithTx(ctx, func(q Q) error {
						rows, err := q.query(ctx, tc.query)
						if err != nil {
							t.Fatal(err)
						}
						var got []int64
						if tc.list {
							got, err = collectList(rows, tc.scan)
						} else {
							got, err = collect(rows, tc.scan)
						}
						switch {
						case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
							t.Fatalf("err = %v, want %v", err, tc.wantErr)
						case tc.anyError && err == nil:
							t.Fatal("no error")
						case tc.wantErr == nil && !tc.anyError && err != nil:
							t.Fatal(err)
						}
						if tc.wantNil != (got == nil) {
							t.Fatalf("got %#v, nil wanted: %v", got, tc.wantNil)
						}
						if !tc.wantNil && !reflect.DeepEqual(got, tc.want) {
							t.Fatalf("got %v, want %v", got, tc.want)
						}
						// rows are closed: the transaction's connection is free
						// for the next statement at once.
						if _, err := scanInt(q.row(ctx, `SELECT 1`)); err != nil {
							t.Fatalf("statement after collect: %v", err)
						}
						return nil
					})
				})
			}
		})
	}
}
