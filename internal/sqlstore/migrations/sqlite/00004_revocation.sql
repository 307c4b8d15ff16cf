-- +goose Up
-- One row per issuing CA: the last CRL it published. crl_number only grows,
-- so CRL numbering survives restarts (RFC 5280 5.2.3).
CREATE TABLE crl_state (
    ca_id       INTEGER PRIMARY KEY REFERENCES certificate_authorities(id) ON DELETE CASCADE,
    crl_number  INTEGER NOT NULL,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    der         BLOB NOT NULL
);
-- CRL generation lists a CA's revoked certificates; OCSP finds one by serial.
CREATE INDEX certificates_ca_state ON certificates(ca_id, cert_state);
CREATE INDEX certificates_ca_serial ON certificates(ca_id, serial_number);

-- +goose Down
DROP INDEX certificates_ca_serial;
DROP INDEX certificates_ca_state;
DROP TABLE crl_state;
