-- +goose Up
-- Approval workflows (issue 6): definitions with a draft and a published
-- step list, instances holding a sealed enrollment until it is decided,
-- one row per approval/denial signal, and a durable webhook outbox.
CREATE TABLE workflow_definitions (
    id                TEXT PRIMARY KEY,
    display_name      TEXT NOT NULL,
    description       TEXT NOT NULL,
    workflow_type     TEXT NOT NULL,
    key_kind          TEXT NOT NULL,
    key_id            INTEGER NOT NULL,
    enabled           INTEGER NOT NULL,
    draft_version     INTEGER NOT NULL,
    published_version INTEGER,
    draft_steps       TEXT NOT NULL,
    published_steps   TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (workflow_type, key_kind, key_id)
);

CREATE TABLE workflow_instances (
    id                 TEXT PRIMARY KEY,
    definition_id      TEXT,
    definition_version INTEGER NOT NULL,
    definition_name    TEXT NOT NULL,
    workflow_type      TEXT NOT NULL,
    title              TEXT NOT NULL,
    request_id         INTEGER NOT NULL UNIQUE REFERENCES certificate_requests(id),
    requester_id       INTEGER NOT NULL,
    requester_name     TEXT NOT NULL,
    status             INTEGER NOT NULL,
    current_step       INTEGER NOT NULL,
    status_message     TEXT NOT NULL,
    steps              TEXT NOT NULL,
    summary            TEXT NOT NULL,
    payload_sealed     BLOB,
    certificate_id     INTEGER,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    decided_by         TEXT NOT NULL DEFAULT '',
    decision_comment   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX workflow_instances_status ON workflow_instances(status, expires_at);

CREATE TABLE workflow_signals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL REFERENCES workflow_instances(id) ON DELETE CASCADE,
    step_index   INTEGER NOT NULL,
    identity_id  INTEGER NOT NULL,
    account_name TEXT NOT NULL,
    decision     TEXT NOT NULL,
    comment      TEXT NOT NULL,
    at           TEXT NOT NULL,
    UNIQUE (instance_id, step_index, identity_id)
);

CREATE TABLE workflow_webhooks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    url         TEXT NOT NULL,
    method      TEXT NOT NULL,
    headers     TEXT NOT NULL,
    body        TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT NOT NULL,
    state       TEXT NOT NULL,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX workflow_webhooks_due ON workflow_webhooks(state, next_at);

-- +goose Down
DROP TABLE workflow_webhooks;
DROP TABLE workflow_signals;
DROP TABLE workflow_instances;
DROP TABLE workflow_definitions;
