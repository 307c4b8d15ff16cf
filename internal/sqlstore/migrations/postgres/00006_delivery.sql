-- +goose Up
-- delivery_enrollments: one row per enrollment whose key certdock keeps so a
-- later Deploy, Replace or v2 delivery can send it to certificate stores
-- (x-certificateformat STORE or REPLACE, or v2 with Stores). The key itself is
-- in certificate_keys; this row says why it is kept and holds the argon2id
-- hash of the enrollment Password that Deploy checks.
CREATE TABLE delivery_enrollments (
    certificate_id  BIGINT PRIMARY KEY REFERENCES certificates(id) ON DELETE CASCADE,
    request_id      BIGINT NOT NULL,
    format          TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    key_for_delivery_only BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX delivery_enrollments_request ON delivery_enrollments(request_id);

-- +goose Down
DROP TABLE delivery_enrollments;
