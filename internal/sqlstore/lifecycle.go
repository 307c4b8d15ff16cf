package sqlstore

import (
	"context"
	"time"

	"github.com/certdock/certdock/internal/certificate"
)

// Lifecycle reads: certificates by serial number, retained keys with their
// retention end, and the kind of the request that produced a certificate.

// CertificatesBySerial returns the certificates with this serial number
// (upper-case hex without leading zeros, as stored); different issuers may
// reuse a serial.
func (q Q) CertificatesBySerial(ctx context.Context, serial string) ([]certificate.Record, error) {
	rows, err := q.query(ctx, `SELECT id FROM certificates WHERE serial_number = ? ORDER BY id`, serial)
	if err != nil {
		return nil, err
	}
	ids, err := collect(rows, scanValue[int64])
	if err != nil {
		return nil, err
	}
	out := make([]certificate.Record, 0, len(ids))
	for _, id := range ids {
		r, err := q.Certificate(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// RetainedKeyInfo returns a certificate's retained key, sealed, and the end
// of its retention (nil: indefinite). A key kept only so that a store
// delivery job can install it (delivery_enrollments.key_for_delivery_only:
// the template does not retain keys) is not a retained key: ErrNotFound.
func (q Q) RetainedKeyInfo(ctx context.Context, certID int64) ([]byte, *time.Time, error) {
	var (
		b     []byte
		until nullTime
	)
	err := q.row(ctx, `SELECT k.key_sealed, k.retain_until FROM certificate_keys k WHERE k.certificate_id = ?
		AND NOT EXISTS (SELECT 1 FROM delivery_enrollments d WHERE d.certificate_id = k.certificate_id AND d.key_for_delivery_only = ?)`,
		certID, true).Scan(&b, &until)
	if err != nil {
		return nil, nil, notFound(err)
	}
	if !until.Valid {
		return b, nil, nil
	}
	t := until.Time
	return b, &t, nil
}

// RequestKind returns the kind ("pfx", "csr", ...) of a recorded request.
func (q Q) RequestKind(ctx context.Context, requestID int64) (string, error) {
	var k string
	err := q.row(ctx, `SELECT kind FROM certificate_requests WHERE id = ?`, requestID).Scan(&k)
	return k, notFound(err)
}
