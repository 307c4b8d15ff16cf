package sqlstore

import (
	"context"
	"time"

	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/orchestrator"
)

// ---- agent protocol sessions and per-session job holds (migration 00008) ----

// InsertSession records an agent session.
func (q Q) InsertSession(ctx context.Context, s orchestrator.SessionRecord) error {
	_, err := q.exec(ctx, `INSERT INTO agent_sessions (token_hash, agent_id, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?)`,
		s.TokenHash, s.AgentID, q.db.T(s.CreatedAt), q.db.T(s.LastSeen), q.db.T(s.ExpiresAt))
	return err
}

// Session returns a session by its token hash.
func (q Q) Session(ctx context.Context, tokenHash string) (orchestrator.SessionRecord, error) {
	var s orchestrator.SessionRecord
	var created, seen, exp nullTime
	err := q.row(ctx, `SELECT token_hash, agent_id, created_at, last_seen, expires_at FROM agent_sessions WHERE token_hash = ?`, tokenHash).
		Scan(&s.TokenHash, &s.AgentID, &created, &seen, &exp)
	if err != nil {
		return s, notFound(err)
	}
	s.CreatedAt, s.LastSeen, s.ExpiresAt = created.Time, seen.Time, exp.Time
	return s, nil
}

// TouchSession extends a session after a heartbeat.
func (q Q) TouchSession(ctx context.Context, tokenHash string, seen, expires time.Time) error {
	return affected(q.exec(ctx, `UPDATE agent_sessions SET last_seen = ?, expires_at = ? WHERE token_hash = ?`,
		q.db.T(seen), q.db.T(expires), tokenHash))
}

// DeleteExpiredSessions removes sessions that expired before now.
func (q Q) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	_, err := q.exec(ctx, `DELETE FROM agent_sessions WHERE expires_at < ?`, q.db.T(now))
	return err
}

// HoldJob gives the job to the session until until, unless another session
// holds it past now. It is one statement, so two sessions racing for a job
// cannot both win: the upsert's WHERE decides under the row lock.
func (q Q) HoldJob(ctx context.Context, jobID, sessionHash, agentID string, now, until time.Time) (bool, error) {
	res, err := q.exec(ctx, `INSERT INTO agent_job_leases (job_id, session_hash, agent_id, lease_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (job_id) DO UPDATE SET session_hash = excluded.session_hash, agent_id = excluded.agent_id,
			lease_until = excluded.lease_until
		WHERE agent_job_leases.session_hash = excluded.session_hash OR agent_job_leases.lease_until < ?`,
		jobID, sessionHash, agentID, q.db.T(until), q.db.T(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseSessionHolds drops the holds of one of an agent's sessions and
// ends the queue leases of the unfinished jobs it held, so the session that
// replaces it gets them at once.
func (q Q) ReleaseSessionHolds(ctx context.Context, agentID, sessionHash string) error {
	if _, err := q.exec(ctx, `UPDATE jobs SET lease_until = NULL WHERE state = ? AND agent_id = ?
		AND id IN (SELECT job_id FROM agent_job_leases WHERE agent_id = ? AND session_hash = ?)`,
		jobs.StateLeased, agentID, agentID, sessionHash); err != nil {
		return err
	}
	_, err := q.exec(ctx, `DELETE FROM agent_job_leases WHERE agent_id = ? AND session_hash = ?`, agentID, sessionHash)
	return err
}

// JobHolder returns the session holding a job, "" when none.
func (q Q) JobHolder(ctx context.Context, jobID string) (string, time.Time, error) {
	var h string
	var until nullTime
	err := q.row(ctx, `SELECT session_hash, lease_until FROM agent_job_leases WHERE job_id = ?`, jobID).Scan(&h, &until)
	if err != nil {
		if notFound(err) == ErrNotFound {
			return "", time.Time{}, nil
		}
		return "", time.Time{}, err
	}
	return h, until.Time, nil
}

// ReleaseJob drops a job's session hold.
func (q Q) ReleaseJob(ctx context.Context, jobID string) error {
	_, err := q.exec(ctx, `DELETE FROM agent_job_leases WHERE job_id = ?`, jobID)
	return err
}
