-- +goose Up
-- Agent protocol sessions (/KeyfactorAgents). Only a SHA-256 of the session
-- token is kept; a session ends when it expires (three heartbeat intervals
-- without a heartbeat).
CREATE TABLE agent_sessions (
    token_hash  TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX agent_sessions_agent ON agent_sessions(agent_id);

-- Which session runs a job: a job is handed to one session at a time, so two
-- processes of the same agent never both run it. A crashed session's hold
-- ends at lease_until.
CREATE TABLE agent_job_leases (
    job_id       TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    agent_id     TEXT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE agent_job_leases;
DROP TABLE agent_sessions;
