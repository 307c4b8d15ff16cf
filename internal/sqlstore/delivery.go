package sqlstore

import (
	"context"
	"database/sql"

	"github.com/certdock/certdock/internal/delivery"
)

// InsertDeliveryEnrollment records that an enrollment's key is kept for
// delivery into certificate stores (table delivery_enrollments, migration 00006).
func (q Q) InsertDeliveryEnrollment(ctx context.Context, e delivery.Enrollment) error {
	_, err := q.exec(ctx, `INSERT INTO delivery_enrollments (certificate_id, request_id, format, password_hash,
		key_for_delivery_only, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		e.CertificateID, e.RequestID, e.Format, e.PasswordHash, e.KeyForDeliveryOnly, q.db.T(e.CreatedAt))
	return dup(err)
}

const deliverySelect = `SELECT certificate_id, request_id, format, password_hash, key_for_delivery_only, created_at
	FROM delivery_enrollments`

func scanDelivery(row *sql.Row) (delivery.Enrollment, error) {
	var e delivery.Enrollment
	var at nullTime
	if err := row.Scan(&e.CertificateID, &e.RequestID, &e.Format, &e.PasswordHash, &e.KeyForDeliveryOnly, &at); err != nil {
		return e, notFound(err)
	}
	e.CreatedAt = at.Time
	return e, nil
}

// DeliveryEnrollment returns the delivery record of a certificate
// (ErrNotFound when its enrollment kept no key for delivery).
func (q Q) DeliveryEnrollment(ctx context.Context, certID int64) (delivery.Enrollment, error) {
	return scanDelivery(q.row(ctx, deliverySelect+` WHERE certificate_id = ?`, certID))
}

// CertificateIDForRequest returns the certificate issued for a request.
func (q Q) CertificateIDForRequest(ctx context.Context, requestID int64) (int64, error) {
	var id sql.NullInt64
	err := q.row(ctx, `SELECT certificate_id FROM certificate_requests WHERE id = ?`, requestID).Scan(&id)
	if err != nil {
		return 0, notFound(err)
	}
	if !id.Valid {
		return 0, ErrNotFound
	}
	return id.Int64, nil
}
