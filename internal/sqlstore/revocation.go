package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/revocation"
)

// SetCertificateRevocation moves a certificate between states, only when
// it is in the expected state (and revocation reason), so that two
// concurrent revocations cannot both succeed. rev nil clears the
// revocation fields. ErrNotFound means no row was in the expected state.
func (q Q) SetCertificateRevocation(ctx context.Context, id int64, from certificate.State, fromReason *int, to certificate.State, rev *certificate.Revocation) error {
	var at, reason, comment any
	if rev != nil {
		at, reason, comment = q.db.T(rev.EffectiveDate), rev.Reason, rev.Comment
	}
	query := `UPDATE certificates SET cert_state = ?, revocation_eff_date = ?, revocation_reason = ?, revocation_comment = ?
		WHERE id = ? AND cert_state = ?`
	args := []any{int(to), at, reason, comment, id, int(from)}
	if fromReason != nil {
		query += ` AND revocation_reason = ?`
		args = append(args, *fromReason)
	}
	res, err := q.exec(ctx, query, args...)
	return affected(res, err)
}

// RevokedCertificates lists the revoked certificates a CA issued that
// expire at or after notAfter, by serial.
func (q Q) RevokedCertificates(ctx context.Context, caID int64, notAfter time.Time) ([]revocation.Revoked, error) {
	rows, err := q.query(ctx, `SELECT serial_number, revocation_eff_date, revocation_reason FROM certificates
		WHERE ca_id = ? AND cert_state = ? AND not_after >= ? ORDER BY serial_number`,
		caID, int(certificate.StateRevoked), q.db.T(notAfter))
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc rowScanner) (revocation.Revoked, error) {
		var r revocation.Revoked
		var at nullTime
		var reason sql.NullInt64
		err := sc.Scan(&r.SerialHex, &at, &reason)
		r.At, r.Reason = at.Time, int(reason.Int64)
		return r, err
	})
}

// CertificateStatus finds a certificate by issuing CA and serial.
func (q Q) CertificateStatus(ctx context.Context, caID int64, serialHex string) (revocation.Status, error) {
	var s revocation.Status
	var state int
	var at nullTime
	var reason sql.NullInt64
	var comment sql.NullString
	err := q.row(ctx, `SELECT id, cert_state, revocation_eff_date, revocation_reason, revocation_comment FROM certificates
		WHERE ca_id = ? AND serial_number = ? ORDER BY id LIMIT 1`, caID, serialHex).Scan(&s.CertID, &state, &at, &reason, &comment)
	if err != nil {
		return s, notFound(err)
	}
	s.State = certificate.State(state)
	if at.Valid {
		s.Revocation = &certificate.Revocation{EffectiveDate: at.Time, Reason: int(reason.Int64), Comment: comment.String}
	}
	return s, nil
}

// NextCRLNumber increments the CA's CRL number (starting at 1) and returns
// it. The upsert takes the row lock, so concurrent publications of one CA
// serialise and numbers never repeat.
func (q Q) NextCRLNumber(ctx context.Context, caID int64) (int64, error) {
	var n int64
	epoch := q.db.T(time.Unix(0, 0))
	err := q.row(ctx, `INSERT INTO crl_state (ca_id, crl_number, this_update, next_update, der) VALUES (?, 1, ?, ?, ?)
		ON CONFLICT (ca_id) DO UPDATE SET crl_number = crl_state.crl_number + 1 RETURNING crl_number`,
		caID, epoch, epoch, []byte{}).Scan(&n)
	return n, err
}

// SaveCRL stores the CRL just signed with the number NextCRLNumber gave.
func (q Q) SaveCRL(ctx context.Context, caID int64, c revocation.CRL) error {
	res, err := q.exec(ctx, `UPDATE crl_state SET this_update = ?, next_update = ?, der = ? WHERE ca_id = ? AND crl_number = ?`,
		q.db.T(c.ThisUpdate), q.db.T(c.NextUpdate), c.DER, caID, c.Number)
	return affected(res, err)
}

// CRL returns the CA's last published CRL; ErrNotFound when there is none.
func (q Q) CRL(ctx context.Context, caID int64) (revocation.CRL, error) {
	var c revocation.CRL
	var tu, nu nullTime
	err := q.row(ctx, `SELECT crl_number, this_update, next_update, der FROM crl_state WHERE ca_id = ?`, caID).Scan(&c.Number, &tu, &nu, &c.DER)
	if err != nil {
		return c, notFound(err)
	}
	if len(c.DER) == 0 {
		return c, ErrNotFound
	}
	c.ThisUpdate, c.NextUpdate = tu.Time, nu.Time
	return c, nil
}

var _ revocation.Store = Q{}
