-- +goose Up
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    doc  TEXT NOT NULL
);

CREATE TABLE certificate_authorities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    logical_name TEXT NOT NULL UNIQUE,
    host_name    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    role         TEXT NOT NULL,
    cert_der     BLOB NOT NULL,
    chain_der    BLOB NOT NULL,
    key_sealed   BLOB,
    doc          TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

CREATE TABLE templates (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    common_name TEXT NOT NULL UNIQUE,
    doc         TEXT NOT NULL
);

CREATE TABLE enrollment_patterns (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    template_id      INTEGER NOT NULL REFERENCES templates(id),
    template_default INTEGER NOT NULL DEFAULT 0,
    doc              TEXT NOT NULL
);
CREATE INDEX enrollment_patterns_template ON enrollment_patterns(template_id);

CREATE TABLE metadata_fields (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    doc  TEXT NOT NULL
);

CREATE TABLE identities (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_name  TEXT NOT NULL,
    account_key   TEXT NOT NULL UNIQUE,
    identity_type TEXT NOT NULL,
    password_hash TEXT,
    valid         INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);

CREATE TABLE roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1,
    private     INTEGER NOT NULL DEFAULT 0,
    immutable   INTEGER NOT NULL DEFAULT 0,
    permissions TEXT NOT NULL
);

CREATE TABLE role_identities (
    role_id     INTEGER NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    identity_id INTEGER NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, identity_id)
);

CREATE TABLE certificate_requests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at     TEXT NOT NULL,
    requester_id   INTEGER,
    requester_name TEXT NOT NULL,
    kind           TEXT NOT NULL,
    state          INTEGER NOT NULL,
    template_id    INTEGER,
    pattern_id     INTEGER,
    ca_id          INTEGER,
    subject        TEXT NOT NULL,
    doc            TEXT NOT NULL,
    certificate_id INTEGER
);

CREATE TABLE certificates (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    thumbprint            TEXT NOT NULL UNIQUE,
    serial_number         TEXT NOT NULL,
    issuer_dn             TEXT NOT NULL,
    issued_dn             TEXT NOT NULL,
    issued_cn             TEXT NOT NULL,
    issued_ou             TEXT NOT NULL,
    issued_email          TEXT NOT NULL,
    not_before            TEXT NOT NULL,
    not_after             TEXT NOT NULL,
    import_date           TEXT NOT NULL,
    cert_state            INTEGER NOT NULL,
    key_type              INTEGER NOT NULL,
    key_size              INTEGER NOT NULL,
    key_algorithm         TEXT NOT NULL,
    curve                 TEXT NOT NULL,
    signing_algorithm     TEXT NOT NULL,
    key_usage             INTEGER NOT NULL,
    template_id           INTEGER,
    enrollment_pattern_id INTEGER,
    ca_id                 INTEGER,
    cert_request_id       INTEGER,
    requester_id          INTEGER,
    requester_name        TEXT NOT NULL,
    owner_role_id         INTEGER REFERENCES roles(id) ON DELETE SET NULL,
    renewed_from_id       INTEGER REFERENCES certificates(id),
    revocation_eff_date   TEXT,
    revocation_reason     INTEGER,
    revocation_comment    TEXT,
    der                   BLOB NOT NULL,
    doc                   TEXT NOT NULL
);
CREATE INDEX certificates_serial ON certificates(serial_number);
CREATE INDEX certificates_cn ON certificates(issued_cn);
CREATE INDEX certificates_request ON certificates(cert_request_id);
CREATE INDEX certificates_not_after ON certificates(not_after);

CREATE TABLE certificate_metadata (
    certificate_id INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    value          TEXT NOT NULL,
    PRIMARY KEY (certificate_id, name)
);

CREATE TABLE certificate_keys (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates(id) ON DELETE CASCADE,
    key_sealed     BLOB NOT NULL,
    retain_until   TEXT,
    created_at     TEXT NOT NULL
);

CREATE TABLE certificate_history (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_id INTEGER NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
    at             TEXT NOT NULL,
    operation      TEXT NOT NULL,
    actor          TEXT NOT NULL,
    message        TEXT NOT NULL
);
CREATE INDEX certificate_history_cert ON certificate_history(certificate_id);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT NOT NULL,
    details TEXT NOT NULL
);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE certificate_history;
DROP TABLE certificate_keys;
DROP TABLE certificate_metadata;
DROP TABLE certificates;
DROP TABLE certificate_requests;
DROP TABLE role_identities;
DROP TABLE roles;
DROP TABLE identities;
DROP TABLE metadata_fields;
DROP TABLE enrollment_patterns;
DROP TABLE templates;
DROP TABLE certificate_authorities;
DROP TABLE settings;
