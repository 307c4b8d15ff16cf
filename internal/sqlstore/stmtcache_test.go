package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func openSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitPrepared waits until the background preparation of query finished.
func waitPrepared(t *testing.T, db *DB, query string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for db.stmts.get(query) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("%q was never prepared", query)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A cached statement used inside a transaction runs on the transaction's
// connection: its writes are seen by the transaction and undone by a
// rollback, and a commit keeps them.
func TestStmtCache_TransactionsStayTransactions(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE cache_probe (v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const (
		ins   = `INSERT INTO cache_probe (v) VALUES (?)`
		count = `SELECT COUNT(*) FROM cache_probe WHERE v = ?`
	)
	q := db.Q()
	if _, err := q.exec(ctx, ins, 0); err != nil { // first use: unprepared, starts preparing
		t.Fatal(err)
	}
	var n int
	if err := q.row(ctx, count, 0).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v; want 1", n, err)
	}
	waitPrepared(t, db, ins)
	waitPrepared(t, db, count)

	countIn := func(q Q, v int) int {
		t.Helper()
		var n int
		if err := q.row(ctx, count, v).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.WithTx(ctx, func(tq Q) error {
		if _, err := tq.exec(ctx, ins, 1); err != nil {
			return err
		}
		if got := countIn(tq, 1); got != 1 {
			t.Errorf("inside the transaction: %d rows, want its own write", got)
		}
		return context.Canceled // roll back
	})
	if err != context.Canceled {
		t.Fatalf("WithTx: %v", err)
	}
	if got := countIn(db.Q(), 1); got != 0 {
		t.Fatalf("after rollback: %d rows, want 0", got)
	}
	if err := db.WithTx(ctx, func(tq Q) error { _, err := tq.exec(ctx, ins, 2); return err }); err != nil {
		t.Fatal(err)
	}
	if got := countIn(db.Q(), 2); got != 1 {
		t.Fatalf("after commit: %d rows, want 1", got)
	}
}

// A transaction that runs a text never seen before while every other
// pooled connection is busy must not block: preparing needs a connection
// of its own, which would only come free after this transaction ends.
func TestStmtCache_NoPoolDeadlock(t *testing.T) {
	db := openSQLite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const conns = 4 // Open's SetMaxOpenConns for SQLite
	for i := range conns - 1 {
		rows, err := db.sql.QueryContext(ctx, `SELECT 1 UNION ALL SELECT 2`)
		if err != nil {
			t.Fatal(err)
		}
		if !rows.Next() { // keeps its connection until closed
			t.Fatalf("rows %d: %v", i, rows.Err())
		}
		defer rows.Close()
	}
	err := db.WithTx(ctx, func(tq Q) error {
		for i := range 3 {
			var v int
			if err := tq.row(ctx, `SELECT ? + 1 /* `+strconv.Itoa(i)+` */`, i).Scan(&v); err != nil {
				return err
			}
			if v != i+1 {
				return fmt.Errorf("got %d, want %d", v, i+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("transaction with the pool exhausted: %v", err)
	}
}

// The cache stops growing at maxCachedStmts; further texts run unprepared.
func TestStmtCache_Bounded(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	q := db.Q()
	for i := range maxCachedStmts + 20 {
		var v int
		if err := q.row(ctx, `SELECT `+strconv.Itoa(i)).Scan(&v); err != nil || v != i {
			t.Fatalf("SELECT %d = %d, %v", i, v, err)
		}
	}
	db.stmts.mu.Lock()
	n := len(db.stmts.m)
	db.stmts.mu.Unlock()
	if n != maxCachedStmts {
		t.Fatalf("cache holds %d texts, want %d", n, maxCachedStmts)
	}
}

// Outside a transaction a cached multi-row text can run again while its
// first rows are still being read: each run gets its own connection.
func TestStmtCache_NestedQueries(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	const text = `SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3`
	q := db.Q()
	read := func() []int {
		t.Helper()
		rows, err := q.query(ctx, text)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	read()
	waitPrepared(t, db, text)
	outer, err := q.query(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Close()
	var got []int
	for outer.Next() {
		var v int
		if err := outer.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
		if inner := read(); fmt.Sprint(inner) != "[1 2 3]" {
			t.Fatalf("inner run read %v", inner)
		}
	}
	if err := outer.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("outer run read %v, want [1 2 3]", got)
	}
}

// Texts built per call (a page's LIMIT/OFFSET, an IN list per id count)
// stay out of the cache: each would hold one of its slots for good.
func TestStmtCache_BuiltTextsNotCached(t *testing.T) {
	db := openSQLite(t)
	ctx := context.Background()
	q := db.Q()
	cached := func() int {
		db.stmts.mu.Lock()
		defer db.stmts.mu.Unlock()
		return len(db.stmts.m)
	}
	before := cached()
	var ids []int64
	for i := range 5 {
		if _, err := q.Inventory(ctx, "no-such-store", 10, 10*i); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int64(i+1))
		if _, err := q.LocationsOfMany(ctx, ids); err != nil {
			t.Fatal(err)
		}
	}
	if n := cached(); n != before {
		t.Fatalf("cache grew from %d to %d texts", before, n)
	}
}
