// Package sqlstore is certdock's storage on SQLite (the embedded default) and
// PostgreSQL. It owns the SQL: embedded per-dialect migrations, row types and
// hand-written queries with named columns. Domain packages declare the small
// interfaces they need; this package implements them.
//
// Conventions shared by both dialects (see docs/storage.md):
//   - Queries are written with ? placeholders and rebound to $n for PostgreSQL.
//   - Times are UTC. SQLite stores them as fixed-width RFC 3339 text
//     (2006-01-02T15:04:05Z) so text order is time order; PostgreSQL uses
//     timestamptz. Values pass through DB.T and scan through nullTime.
//   - Booleans are 0/1 integers in SQLite and booleans in PostgreSQL; Go bool
//     values work for both.
//   - Secrets never reach this package in the clear: columns named *_sealed
//     hold envelopes made by internal/secret.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // SQLite driver "sqlite"

	"github.com/certdock/certdock/internal/query"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Dialect names the SQL engine.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// TimeFormat is how SQLite stores times: fixed width, UTC, so that text
// comparison orders like time.
const TimeFormat = "2006-01-02T15:04:05Z"

// DB is an open, migrated database.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	stmts   *stmtCache // SQLite only (stmtcache.go)
}

// Open connects to dsn: empty means the SQLite file certdock.db in dataDir; a
// postgres:// or postgresql:// URL means PostgreSQL. It runs the migrations.
func Open(ctx context.Context, dsn, dataDir string) (*DB, error) {
	var (
		db      *sql.DB
		dialect Dialect
		err     error
	)
	switch {
	case dsn == "" || strings.HasPrefix(dsn, "sqlite:") || strings.HasPrefix(dsn, "file:"):
		path := filepath.Join(dataDir, "certdock.db")
		if rest, ok := strings.CutPrefix(dsn, "sqlite:"); ok && rest != "" {
			path = rest
		}
		dialect = SQLite
		db, err = sql.Open("sqlite", sqliteDSN(path))
		if err != nil {
			return nil, err
		}
		// One writer at a time is SQLite's model; _txlock=immediate makes every
		// transaction take the write lock up front so two never deadlock on
		// upgrade, and busy_timeout makes the second one wait instead of failing.
		db.SetMaxOpenConns(4)
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		dialect = Postgres
		db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
	default:
		return nil, fmt.Errorf("database: unsupported DSN %q (want empty for SQLite or a postgres:// URL)", redactDSN(dsn))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database: cannot reach %s: %w", dialect, err)
	}
	s := &DB{sql: db, dialect: dialect}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if dialect == SQLite {
		s.stmts = newStmtCache(db)
	}
	return s, nil
}

func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	// FULL: a committed transaction survives power loss, which is what a 200
	// from an enrollment promises.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

func (s *DB) migrate(ctx context.Context) error {
	dir, gd := "migrations/sqlite", goose.DialectSQLite3
	if s.dialect == Postgres {
		dir, gd = "migrations/postgres", goose.DialectPostgres
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(gd, s.sql, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *DB) Close() error { return s.sql.Close() }

// Dialect reports the engine.
func (s *DB) Dialect() Dialect { return s.dialect }

// QueryDialect maps to the query package's dialect.
func (s *DB) QueryDialect() query.Dialect {
	if s.dialect == Postgres {
		return query.Postgres
	}
	return query.SQLite
}

// Ping checks the database is reachable (health checks).
func (s *DB) Ping(ctx context.Context) error { return s.sql.PingContext(ctx) }

// T converts a time to the value the dialect stores.
func (s *DB) T(t time.Time) any {
	if s.dialect == Postgres {
		return t.UTC().Truncate(time.Second) // same precision as SQLite's TimeFormat
	}
	return t.UTC().Format(TimeFormat)
}

// TP converts an optional time.
func (s *DB) TP(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.T(*t)
}

// rebind turns ? placeholders into $1, $2, ... for PostgreSQL. Queries in this
// package never contain a literal '?'.
func (s *DB) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is a transaction; repositories take a Tx or the DB through Q.
type Tx struct {
	db *DB
	tx *sql.Tx
}

// Q is a handle that runs queries either in a transaction or not.
type Q struct {
	db *DB
	q  querier
	tx *sql.Tx // q's transaction, if any
}

// Q returns a non-transactional handle.
func (s *DB) Q() Q { return Q{db: s, q: s.sql} }

// WithTx runs fn in a transaction, committing when fn returns nil.
func (s *DB) WithTx(ctx context.Context, fn func(q Q) error) error {
	tx, err := s.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(Q{db: s, q: tx, tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (q Q) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.q.ExecContext(ctx, q.db.rebind(query), args...)
}

func (q Q) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if q.tx == nil { // in a transaction, the same text could run again while these rows are open
		if st := q.stmt(ctx, query); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return q.q.QueryContext(ctx, q.db.rebind(query), args...)
}

// queryBuilt runs a query whose text is built at run time (an IN list of
// marks(n), a LIMIT/OFFSET): it goes around the statement cache, where
// every distinct text would hold a slot for good and, once maxCachedStmts
// is reached, keep the package's fixed texts from being cached.
func (q Q) queryBuilt(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.q.QueryContext(ctx, q.db.rebind(query), args...)
}

// marks returns n ? placeholders separated by commas, for an IN list.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func (q Q) row(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.q.QueryRowContext(ctx, q.db.rebind(query), args...)
}

// insert runs an INSERT ... RETURNING id and returns the id.
func (q Q) insert(ctx context.Context, query string, args ...any) (int64, error) {
	var id int64
	err := q.row(ctx, query+" RETURNING id", args...).Scan(&id)
	return id, err
}

// nullTime scans a time from either dialect.
type nullTime struct {
	Time  time.Time
	Valid bool
}

func (n *nullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		n.Valid = false
		return nil
	case time.Time:
		n.Time, n.Valid = x.UTC(), true
		return nil
	case string:
		return n.parse(x)
	case []byte:
		return n.parse(string(x))
	}
	return fmt.Errorf("sqlstore: cannot scan %T into a time", v)
}

func (n *nullTime) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("sqlstore: bad stored time %q: %w", s, err)
	}
	n.Time, n.Valid = t.UTC(), true
	return nil
}

func (n nullTime) ptr() *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time
	return &t
}

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// isUnique reports a unique-constraint violation in either dialect.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	m := strings.ToLower(err.Error())
	return strings.Contains(m, "unique constraint") || strings.Contains(m, "duplicate key") || strings.Contains(m, "sqlstate 23505")
}

// ErrDuplicate is returned when a unique name is already taken.
var ErrDuplicate = errors.New("duplicate")

func dup(err error) error {
	if isUnique(err) {
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	}
	return err
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func intPtr(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}
