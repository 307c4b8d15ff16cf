package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// maxCachedStmts bounds the statement cache. The package has a few hundred
// fixed query texts; SQL built at run time (query-language filters, paging,
// IN lists) goes through Q.queryBuilt or q.q directly and is never cached.
const maxCachedStmts = 512

// stmtCache keeps SQLite statements prepared, so that a query text is parsed
// and planned once per connection instead of on every call: on the
// enrollment path, parsing cost more CPU than running the statements
// (docs/performance.md). PostgreSQL needs none: pgx already caches prepared
// statements per connection.
//
// A cached statement must never be stepped twice at once on one
// connection. Single-row statements (Q.row, Q.exec, Q.insert) consume their
// result before the call returns, so they use the cache everywhere.
// Multi-row Q.query uses it only outside transactions, where rows being
// iterated hold their connection and a second run of the text gets another;
// inside a transaction (one connection), a caller could run the same text
// again while iterating its rows.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	// m holds a prepared statement per query text; a nil entry means it is
	// being prepared, or could not be (the text then always runs unprepared).
	m map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for query, or nil when the caller
// should run the text unprepared. The first call for a text returns nil and
// prepares it in the background: preparing takes a connection from the
// pool, and a caller holding a transaction's connection must not wait for
// another one (with every connection held by such callers, none would ever
// come free).
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	st, seen := c.m[query]
	if seen || len(c.m) >= maxCachedStmts {
		c.mu.Unlock()
		return st
	}
	c.m[query] = nil
	c.mu.Unlock()
	go c.prepare(query)
	return nil
}

func (c *stmtCache) prepare(query string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return // stays nil: runs unprepared
	}
	c.mu.Lock()
	c.m[query] = st
	c.mu.Unlock()
}

// stmt returns query's cached statement for q (bound to q's transaction
// when there is one), or nil.
func (q Q) stmt(ctx context.Context, query string) *sql.Stmt {
	st := q.db.stmts.get(query)
	if st == nil {
		return nil
	}
	if q.tx != nil {
		// Reuses the statement already prepared on the transaction's
		// connection, or prepares it there; closed with the transaction.
		return q.tx.StmtContext(ctx, st)
	}
	return st
}
