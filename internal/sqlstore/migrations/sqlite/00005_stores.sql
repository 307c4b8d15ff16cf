-- +goose Up
-- Certificate store types: the three built-in ones (ids 100-102) and
-- user-defined ones (ids from 1000). doc holds the full definition as JSON.
CREATE TABLE store_types (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    short_name     TEXT NOT NULL,
    short_name_key TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    builtin        INTEGER NOT NULL DEFAULT 0,
    doc            TEXT NOT NULL
);

CREATE TABLE store_containers (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL UNIQUE,
    overwrite_schedules INTEGER NOT NULL DEFAULT 0,
    schedule            TEXT NOT NULL DEFAULT '',
    store_type          INTEGER NOT NULL REFERENCES store_types(id)
);

-- Orchestrators (agents). status: 1 New, 2 Approved, 3 Disapproved.
CREATE TABLE agents (
    agent_id           TEXT PRIMARY KEY,
    client_machine     TEXT NOT NULL,
    client_machine_key TEXT NOT NULL,
    username           TEXT NOT NULL DEFAULT '',
    platform           INTEGER NOT NULL DEFAULT 0,
    status             INTEGER NOT NULL DEFAULT 1,
    version            TEXT NOT NULL DEFAULT '',
    last_seen          TEXT,
    capabilities       TEXT NOT NULL DEFAULT '[]',
    thumbprint         TEXT NOT NULL DEFAULT '',
    last_error_code    INTEGER NOT NULL DEFAULT 0,
    last_error_message TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL
);
CREATE INDEX agents_client_machine ON agents(client_machine_key);

-- One-time agent bootstrap tokens (certdock extension); only a hash is kept.
CREATE TABLE agent_registration_tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash  TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    used_by     TEXT
);

CREATE TABLE stores (
    id                 TEXT PRIMARY KEY,
    container_id       INTEGER REFERENCES store_containers(id) ON DELETE SET NULL,
    display_name       TEXT NOT NULL DEFAULT '',
    client_machine     TEXT NOT NULL,
    client_machine_key TEXT NOT NULL,
    store_path         TEXT NOT NULL,
    store_type         INTEGER NOT NULL REFERENCES store_types(id),
    approved           INTEGER NOT NULL DEFAULT 1,
    create_if_missing  INTEGER NOT NULL DEFAULT 0,
    properties         TEXT NOT NULL DEFAULT '{}',
    agent_id           TEXT NOT NULL REFERENCES agents(agent_id),
    inventory_schedule TEXT NOT NULL DEFAULT '',
    password_sealed    BLOB,
    set_new_password_allowed INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    next_inventory_at  TEXT,
    UNIQUE (client_machine_key, store_path, store_type)
);
CREATE INDEX stores_agent ON stores(agent_id);
CREATE INDEX stores_container ON stores(container_id);

-- Orchestrator jobs. operation: 1 inventory, 2 add, 3 remove.
-- state: 1 scheduled, 2 leased (running), 3 completed, 4 failed (final).
-- status: the last JobCompleteStatus reported (2 ok, 3 warning, 4 error).
CREATE TABLE jobs (
    id                    TEXT PRIMARY KEY,
    store_id              TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    operation             INTEGER NOT NULL,
    certificate_id        INTEGER,
    alias                 TEXT NOT NULL DEFAULT '',
    overwrite             INTEGER NOT NULL DEFAULT 0,
    entry_password_sealed BLOB,
    private_key           INTEGER NOT NULL DEFAULT 0,
    due_at                TEXT NOT NULL,
    requested_by          TEXT NOT NULL DEFAULT '',
    source                TEXT NOT NULL DEFAULT '',
    state                 INTEGER NOT NULL DEFAULT 1,
    attempts              INTEGER NOT NULL DEFAULT 0,
    agent_id              TEXT NOT NULL DEFAULT '',
    leased_at             TEXT,
    lease_until           TEXT,
    completed_at          TEXT,
    status                INTEGER NOT NULL DEFAULT 0,
    message               TEXT NOT NULL DEFAULT '',
    created_at            TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, due_at);
CREATE INDEX jobs_store ON jobs(store_id, state);

-- One row per finished attempt of a job (GET /OrchestratorJobs/JobHistory).
CREATE TABLE job_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id          TEXT NOT NULL,
    store_id        TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    client_machine  TEXT NOT NULL,
    store_path      TEXT NOT NULL,
    store_type      INTEGER NOT NULL,
    operation       INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    message         TEXT NOT NULL,
    operation_start TEXT NOT NULL,
    operation_end   TEXT NOT NULL
);
CREATE INDEX job_history_job ON job_history(job_id);

-- The latest inventory of each store: one row per entry (alias), and one
-- row per certificate of that entry (chain_level 0 = the entry's own
-- certificate). certificate_id is set when certdock knows the certificate.
CREATE TABLE store_inventory (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    store_id          TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    alias             TEXT NOT NULL,
    private_key_entry INTEGER NOT NULL DEFAULT 0,
    reported_at       TEXT NOT NULL,
    UNIQUE (store_id, alias)
);

CREATE TABLE store_inventory_certificates (
    item_id        INTEGER NOT NULL REFERENCES store_inventory(id) ON DELETE CASCADE,
    chain_level    INTEGER NOT NULL,
    thumbprint     TEXT NOT NULL,
    certificate_id INTEGER REFERENCES certificates(id) ON DELETE SET NULL,
    der            BLOB NOT NULL,
    PRIMARY KEY (item_id, chain_level)
);
CREATE INDEX store_inventory_certificates_cert ON store_inventory_certificates(certificate_id);
CREATE INDEX store_inventory_certificates_tp ON store_inventory_certificates(thumbprint);

INSERT INTO store_types (id, short_name, short_name_key, name, builtin, doc) VALUES
    (100, 'PEM', 'pem', 'PEM file', 1, '{}'),
    (101, 'PKCS12', 'pkcs12', 'PKCS#12 file', 1, '{}'),
    (102, 'JKS', 'jks', 'Java keystore', 1, '{}');
-- user-defined store types get ids from 1000
INSERT INTO sqlite_sequence (name, seq) SELECT 'store_types', 999
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'store_types');
UPDATE sqlite_sequence SET seq = 999 WHERE name = 'store_types' AND seq < 999;

-- +goose Down
DROP TABLE store_inventory_certificates;
DROP TABLE store_inventory;
DROP TABLE job_history;
DROP TABLE jobs;
DROP TABLE stores;
DROP TABLE agent_registration_tokens;
DROP TABLE agents;
DROP TABLE store_containers;
DROP TABLE store_types;
