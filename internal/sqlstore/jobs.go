package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/stores"
)

// JobTarget reads what the job queue needs of a store; jobs.ErrStoreNotFound
// for an unknown one.
func (q Q) JobTarget(ctx context.Context, storeID string) (jobs.Target, error) {
	var t jobs.Target
	err := q.row(ctx, `SELECT id, agent_id, client_machine, store_path, store_type FROM stores WHERE id = ?`,
		strings.ToLower(storeID)).Scan(&t.StoreID, &t.AgentID, &t.ClientMachine, &t.StorePath, &t.StoreType)
	if errors.Is(err, sql.ErrNoRows) {
		return t, jobs.ErrStoreNotFound
	}
	return t, err
}

// InsertJob records a job.
func (q Q) InsertJob(ctx context.Context, r jobs.Row) error {
	var cert *int64
	if r.CertificateID != 0 {
		c := r.CertificateID
		cert = &c
	}
	_, err := q.exec(ctx, `INSERT INTO jobs (id, store_id, operation, certificate_id, alias, overwrite, entry_password_sealed,
		private_key, due_at, requested_by, source, state, attempts, agent_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?)`,
		r.ID, r.StoreID, int(r.Operation), nullInt(cert), r.Alias, r.Overwrite, nullBytes(r.EntryPasswordSealed),
		r.PrivateKey, q.db.T(r.DueAt), r.RequestedBy, r.Source, r.State, q.db.T(r.CreatedAt))
	return err
}

// PendingInventoryJob returns a waiting, unleased inventory job of the store
// due at or before dueAt.
func (q Q) PendingInventoryJob(ctx context.Context, storeID string, dueAt time.Time) (string, error) {
	var id string
	err := q.row(ctx, `SELECT id FROM jobs WHERE store_id = ? AND operation = ? AND state = ? AND due_at <= ?
		ORDER BY due_at LIMIT 1`, strings.ToLower(storeID), int(jobs.Inventory), jobs.StateScheduled, q.db.T(dueAt)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

const jobCols = `j.id, j.store_id, j.operation, j.certificate_id, j.alias, j.overwrite, j.entry_password_sealed, j.private_key,
	j.due_at, j.requested_by, j.source, j.state, j.attempts, j.agent_id, j.leased_at, j.lease_until, j.completed_at,
	j.status, j.message, j.created_at`

func scanJob(sc interface{ Scan(...any) error }, extra ...any) (jobs.Row, error) {
	var (
		r                                 jobs.Row
		op                                int
		cert                              sql.NullInt64
		due, leased, until, done, created nullTime
	)
	dest := []any{&r.ID, &r.StoreID, &op, &cert, &r.Alias, &r.Overwrite, &r.EntryPasswordSealed, &r.PrivateKey,
		&due, &r.RequestedBy, &r.Source, &r.State, &r.Attempts, &r.AgentID, &leased, &until, &done,
		&r.Status, &r.Message, &created}
	if err := sc.Scan(append(dest, extra...)...); err != nil {
		return r, err
	}
	r.Operation = jobs.Operation(op)
	if cert.Valid {
		r.CertificateID = cert.Int64
	}
	r.DueAt = due.Time
	r.LeasedAt, r.LeaseUntil, r.CompletedAt = leased.ptr(), until.ptr(), done.ptr()
	r.CreatedAt = created.Time
	return r, nil
}

// Job reads one job.
func (q Q) Job(ctx context.Context, id string) (jobs.Row, error) {
	r, err := scanJob(q.row(ctx, `SELECT `+jobCols+` FROM jobs j WHERE j.id = ?`, strings.ToLower(id)))
	return r, notFound(err)
}

// JobForUpdate reads a job and, on PostgreSQL, locks its row for the
// transaction (SQLite transactions already hold the database write lock).
func (q Q) JobForUpdate(ctx context.Context, id string) (jobs.Row, error) {
	text := `SELECT ` + jobCols + ` FROM jobs j WHERE j.id = ?`
	if q.db.dialect == Postgres {
		text += " FOR UPDATE"
	}
	r, err := scanJob(q.row(ctx, text, strings.ToLower(id)))
	return r, notFound(err)
}

// DueJobs lists the agent's due, unfinished jobs that no other agent holds.
func (q Q) DueJobs(ctx context.Context, agentID string, now time.Time, limit int) ([]jobs.Row, error) {
	rows, err := q.query(ctx, `SELECT `+jobCols+` FROM jobs j JOIN stores s ON s.id = j.store_id
		WHERE s.agent_id = ? AND j.state IN (?, ?) AND j.due_at <= ?
		  AND (j.lease_until IS NULL OR j.lease_until < ?)
		ORDER BY j.due_at, j.created_at, j.id LIMIT `+fmt.Sprint(limit),
		strings.ToLower(agentID), jobs.StateScheduled, jobs.StateLeased, q.db.T(now), q.db.T(now))
	if err != nil {
		return nil, err
	}
	return collectList(rows, func(sc rowScanner) (jobs.Row, error) { return scanJob(sc) })
}

// LeaseJob leases a job to an agent in one statement. On PostgreSQL the
// candidate row is picked FOR UPDATE SKIP LOCKED, so a concurrent leaser
// skips it instead of waiting; on SQLite the single UPDATE runs under the
// database write lock. Either way the WHERE clause is evaluated against the
// current row, so of two pollers exactly one wins, and an unexpired lease is
// never handed out again, not even to the agent holding it.
func (q Q) LeaseJob(ctx context.Context, jobID, agentID string, now, until time.Time) (bool, error) {
	cond := `j.id = ? AND j.state IN (?, ?) AND j.due_at <= ?
		AND (j.lease_until IS NULL OR j.lease_until < ?)
		AND j.store_id IN (SELECT s.id FROM stores s WHERE s.agent_id = ?)`
	condArgs := []any{jobID, jobs.StateScheduled, jobs.StateLeased, q.db.T(now), q.db.T(now), agentID}
	set := `UPDATE jobs SET state = ?, agent_id = ?, leased_at = ?, lease_until = ?, attempts = attempts + 1`
	setArgs := []any{jobs.StateLeased, agentID, q.db.T(now), q.db.T(until)}
	var text string
	if q.db.dialect == Postgres {
		text = set + ` WHERE id = (SELECT j.id FROM jobs j WHERE ` + cond + ` FOR UPDATE SKIP LOCKED)`
	} else {
		text = set + ` WHERE id IN (SELECT j.id FROM jobs j WHERE ` + cond + `)`
	}
	res, err := q.exec(ctx, text, append(setArgs, condArgs...)...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishJob writes a job's result fields.
func (q Q) FinishJob(ctx context.Context, r jobs.Row) error {
	return affected(q.exec(ctx, `UPDATE jobs SET state = ?, status = ?, message = ?, due_at = ?, lease_until = ?, completed_at = ?
		WHERE id = ?`, r.State, r.Status, r.Message, q.db.T(r.DueAt), q.db.TP(r.LeaseUntil), q.db.TP(r.CompletedAt), r.ID))
}

// InsertJobHistory records a finished attempt.
func (q Q) InsertJobHistory(ctx context.Context, h jobs.HistoryEntry) error {
	_, err := q.exec(ctx, `INSERT INTO job_history (job_id, store_id, agent_id, client_machine, store_path, store_type, operation,
		attempt, status, message, operation_start, operation_end) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		h.JobID, h.StoreID, h.AgentID, h.ClientMachine, h.StorePath, h.StoreType, int(h.Operation), h.Attempt, h.Status,
		h.Message, q.db.T(h.OperationStart), q.db.T(h.OperationEnd))
	return err
}

// ScheduledJobs lists unfinished jobs with their stores.
func (q Q) ScheduledJobs(ctx context.Context, l jobs.ListQuery) ([]jobs.ScheduledView, error) {
	text := `SELECT ` + jobCols + `, s.agent_id, s.client_machine, s.store_path, s.store_type
		FROM jobs j JOIN stores s ON s.id = j.store_id WHERE j.state IN (1, 2)`
	if l.Where != "" {
		text += " AND (" + l.Where + ")"
	}
	text += " " + orDefault(l.OrderBy, "ORDER BY j.created_at, j.id") + fmt.Sprintf(" LIMIT %d OFFSET %d", l.Limit, l.Offset)
	rows, err := q.q.QueryContext(ctx, text, l.Args...)
	if err != nil {
		return nil, err
	}
	return collectList(rows, func(sc rowScanner) (jobs.ScheduledView, error) {
		var t jobs.Target
		r, err := scanJob(sc, &t.AgentID, &t.ClientMachine, &t.StorePath, &t.StoreType)
		t.StoreID = r.StoreID
		return jobs.ScheduledView{Job: r.Job, Target: t}, err
	})
}

// JobHistory lists finished attempts.
func (q Q) JobHistory(ctx context.Context, l jobs.ListQuery) ([]jobs.HistoryEntry, error) {
	text := `SELECT h.id, h.job_id, h.store_id, h.agent_id, h.client_machine, h.store_path, h.store_type, h.operation,
		h.attempt, h.status, h.message, h.operation_start, h.operation_end FROM job_history h`
	if l.Where != "" {
		text += " WHERE " + l.Where
	}
	text += " " + orDefault(l.OrderBy, "ORDER BY h.id") + fmt.Sprintf(" LIMIT %d OFFSET %d", l.Limit, l.Offset)
	rows, err := q.q.QueryContext(ctx, text, l.Args...)
	if err != nil {
		return nil, err
	}
	return collectList(rows, func(sc rowScanner) (jobs.HistoryEntry, error) {
		var (
			h          jobs.HistoryEntry
			op         int
			start, end nullTime
		)
		err := sc.Scan(&h.ID, &h.JobID, &h.StoreID, &h.AgentID, &h.ClientMachine, &h.StorePath, &h.StoreType, &op,
			&h.Attempt, &h.Status, &h.Message, &start, &end)
		h.Operation = jobs.Operation(op)
		h.OperationStart, h.OperationEnd = start.Time, end.Time
		return h, err
	})
}

// StoresDueForInventory lists stores whose next scheduled inventory is due.
func (q Q) StoresDueForInventory(ctx context.Context, now time.Time, limit int) ([]stores.Store, error) {
	rows, err := q.query(ctx, storeSelect+` WHERE s.next_inventory_at IS NOT NULL AND s.next_inventory_at <= ?
		ORDER BY s.next_inventory_at, s.id LIMIT `+fmt.Sprint(limit), q.db.T(now))
	if err != nil {
		return nil, err
	}
	return collectList(rows, scanStoreOnly)
}

// SetNextInventory sets (or clears) a store's next scheduled inventory.
func (q Q) SetNextInventory(ctx context.Context, storeID string, next *time.Time) error {
	return affected(q.exec(ctx, `UPDATE stores SET next_inventory_at = ? WHERE id = ?`, q.db.TP(next), strings.ToLower(storeID)))
}
