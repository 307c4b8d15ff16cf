package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/certificate"
)

type certDoc struct {
	SANs []certificate.SAN `json:",omitempty"`
	EKUs []certificate.EKU `json:",omitempty"`
	CDPs []string          `json:",omitempty"`
}

// InsertCertificate stores a certificate record and its metadata.
func (q Q) InsertCertificate(ctx context.Context, r *certificate.Record) (int64, error) {
	doc, _ := json.Marshal(certDoc{r.SANs, r.EKUs, r.CRLDistributionPoints})
	var revAt any
	var revReason, revComment any
	if r.Revocation != nil {
		revAt, revReason, revComment = q.db.T(r.Revocation.EffectiveDate), r.Revocation.Reason, r.Revocation.Comment
	}
	id, err := q.insert(ctx, `INSERT INTO certificates (thumbprint, serial_number, issuer_dn, issued_dn, issued_cn, issued_ou,
		issued_email, not_before, not_after, import_date, cert_state, key_type, key_size, key_algorithm, curve,
		signing_algorithm, key_usage, template_id, enrollment_pattern_id, ca_id, cert_request_id, requester_id,
		requester_name, owner_role_id, renewed_from_id, revocation_eff_date, revocation_reason, revocation_comment, der, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Thumbprint, r.SerialNumber, r.IssuerDN, r.IssuedDN, r.IssuedCN, r.IssuedOU, r.IssuedEmail,
		q.db.T(r.NotBefore), q.db.T(r.NotAfter), q.db.T(r.ImportDate), int(r.State), int(r.KeyType), r.KeySize,
		r.KeyAlgorithm, r.Curve, r.SigningAlgorithm, r.KeyUsage, nullInt(r.TemplateID), nullInt(r.PatternID),
		nullInt(r.CAID), nullInt(r.CertRequestID), nullInt(r.RequesterID), r.RequesterName, nullInt(r.OwnerRoleID),
		nullInt(r.RenewedFromID), revAt, revReason, revComment, r.DER, string(doc))
	if err != nil {
		return 0, dup(err)
	}
	r.ID = id
	return id, q.ReplaceMetadata(ctx, id, r.Metadata)
}

// ReplaceMetadata sets a certificate's metadata to exactly m (empty values
// remove a field).
func (q Q) ReplaceMetadata(ctx context.Context, certID int64, m map[string]string) error {
	if _, err := q.exec(ctx, `DELETE FROM certificate_metadata WHERE certificate_id = ?`, certID); err != nil {
		return err
	}
	return q.MergeMetadata(ctx, certID, m)
}

// MergeMetadata sets the given fields (an empty value removes the field).
func (q Q) MergeMetadata(ctx context.Context, certID int64, m map[string]string) error {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := m[k]
		if v == "" {
			if _, err := q.exec(ctx, `DELETE FROM certificate_metadata WHERE certificate_id = ? AND name = ?`, certID, k); err != nil {
				return err
			}
			continue
		}
		if _, err := q.exec(ctx, `INSERT INTO certificate_metadata (certificate_id, name, value) VALUES (?, ?, ?)
			ON CONFLICT (certificate_id, name) DO UPDATE SET value = excluded.value`, certID, k, v); err != nil {
			return err
		}
	}
	return nil
}

// certSelect is the column list read for a certificate, with the joins that
// fill names. Its aliases are what certificate.QuerySchema refers to.
const certSelect = `SELECT c.id, c.thumbprint, c.serial_number, c.issuer_dn, c.issued_dn, c.issued_cn, c.issued_ou,
	c.issued_email, c.not_before, c.not_after, c.import_date, c.cert_state, c.key_type, c.key_size, c.key_algorithm,
	c.curve, c.signing_algorithm, c.key_usage, c.template_id, c.enrollment_pattern_id, c.ca_id, c.cert_request_id,
	c.requester_id, c.requester_name, c.owner_role_id, c.renewed_from_id, c.revocation_eff_date, c.revocation_reason,
	c.revocation_comment, c.der, c.doc, coalesce(t.common_name, ''), coalesce(r.name, ''), coalesce(ca.logical_name, ''),
	coalesce(ca.host_name, ''), (SELECT count(*) FROM certificate_keys k WHERE k.certificate_id = c.id),
	(SELECT count(*) FROM certificate_keys k WHERE k.certificate_id = c.id AND NOT EXISTS (SELECT 1 FROM delivery_enrollments d
		WHERE d.certificate_id = c.id AND d.key_for_delivery_only = TRUE)),
	(SELECT k.retain_until FROM certificate_keys k WHERE k.certificate_id = c.id)
	FROM certificates c
	LEFT JOIN templates t ON t.id = c.template_id
	LEFT JOIN roles r ON r.id = c.owner_role_id
	LEFT JOIN certificate_authorities ca ON ca.id = c.ca_id`

func scanCert(sc interface{ Scan(...any) error }) (certificate.Record, error) {
	var r certificate.Record
	var nb, na, imp, revAt nullTime
	var state, keyType int
	var tid, pid, caid, reqid, rqid, owner, renewed, revReason sql.NullInt64
	var revComment sql.NullString
	var doc, caLogical, caHost string
	var keys, retained int
	var retainUntil nullTime
	err := sc.Scan(&r.ID, &r.Thumbprint, &r.SerialNumber, &r.IssuerDN, &r.IssuedDN, &r.IssuedCN, &r.IssuedOU,
		&r.IssuedEmail, &nb, &na, &imp, &state, &keyType, &r.KeySize, &r.KeyAlgorithm, &r.Curve,
		&r.SigningAlgorithm, &r.KeyUsage, &tid, &pid, &caid, &reqid, &rqid, &r.RequesterName, &owner, &renewed,
		&revAt, &revReason, &revComment, &r.DER, &doc, &r.TemplateName, &r.OwnerRoleName, &caLogical, &caHost, &keys, &retained, &retainUntil)
	if err != nil {
		return r, err
	}
	r.NotBefore, r.NotAfter, r.ImportDate = nb.Time, na.Time, imp.Time
	r.State, r.KeyType = certificate.State(state), certificate.KeyType(keyType)
	r.TemplateID, r.PatternID, r.CAID, r.CertRequestID = intPtr(tid), intPtr(pid), intPtr(caid), intPtr(reqid)
	r.RequesterID, r.OwnerRoleID, r.RenewedFromID = intPtr(rqid), intPtr(owner), intPtr(renewed)
	if revAt.Valid {
		r.Revocation = &certificate.Revocation{EffectiveDate: revAt.Time, Reason: int(revReason.Int64), Comment: revComment.String}
	}
	var d certDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return r, err
	}
	r.SANs, r.EKUs, r.CRLDistributionPoints = d.SANs, d.EKUs, d.CDPs
	if caLogical != "" {
		r.CAName = caHost + `\` + caLogical
	}
	r.HasPrivateKey = keys > 0
	r.KeyRetained = retained > 0
	if retainUntil.Valid {
		t := retainUntil.Time
		r.KeyRetainUntil = &t
	}
	return r, nil
}

// Certificate returns one certificate with its metadata.
func (q Q) Certificate(ctx context.Context, id int64) (certificate.Record, error) {
	r, err := scanCert(q.row(ctx, certSelect+` WHERE c.id = ?`, id))
	if err != nil {
		return r, notFound(err)
	}
	ms, err := q.metadataFor(ctx, []int64{id})
	r.Metadata = ms[id]
	return r, err
}

// CertificateByThumbprint returns one certificate by thumbprint.
func (q Q) CertificateByThumbprint(ctx context.Context, tp string) (certificate.Record, error) {
	var id int64
	if err := q.row(ctx, `SELECT id FROM certificates WHERE thumbprint = ?`, strings.ToUpper(tp)).Scan(&id); err != nil {
		return certificate.Record{}, notFound(err)
	}
	return q.Certificate(ctx, id)
}

// Certificates lists certificates with their metadata.
func (q Q) Certificates(ctx context.Context, l certificate.ListQuery) ([]certificate.Record, error) {
	var conds []string
	args := append([]any{}, l.Args...)
	if l.Where != "" {
		conds = append(conds, "("+l.Where+")")
	}
	if !l.IncludeRevoked {
		conds = append(conds, fmt.Sprintf("c.cert_state <> %d", certificate.StateRevoked))
	}
	if !l.IncludeExpired {
		conds = append(conds, "c.not_after >= "+q.placeholder(len(args)+1))
		args = append(args, q.db.T(l.Now))
	}
	sqlText := certSelect
	if len(conds) > 0 {
		sqlText += " WHERE " + strings.Join(conds, " AND ")
	}
	if l.OrderBy != "" {
		sqlText += " " + l.OrderBy
	} else {
		sqlText += " ORDER BY c.id"
	}
	sqlText += fmt.Sprintf(" LIMIT %d OFFSET %d", l.Limit, l.Offset)
	// The query package emits dialect placeholders already, so run unbound.
	rows, err := q.q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, scanCert)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(out))
	for k, r := range out {
		ids[k] = r.ID
	}
	ms, err := q.metadataFor(ctx, ids)
	if err != nil {
		return nil, err
	}
	for k := range out {
		out[k].Metadata = ms[out[k].ID]
	}
	return out, nil
}

func (q Q) placeholder(n int) string {
	if q.db.dialect == Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

func (q Q) metadataFor(ctx context.Context, ids []int64) (map[int64]map[string]string, error) {
	out := map[int64]map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.queryBuilt(ctx, `SELECT certificate_id, name, value FROM certificate_metadata WHERE certificate_id IN (`+marks(len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string]string{}
		}
		out[id][k] = v
	}
	return out, rows.Err()
}

// ---- retained keys ----

// InsertRetainedKey stores a sealed private key for a certificate.
func (q Q) InsertRetainedKey(ctx context.Context, certID int64, sealed []byte, retainUntil *time.Time, now time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO certificate_keys (certificate_id, key_sealed, retain_until, created_at) VALUES (?, ?, ?, ?)`,
		certID, sealed, q.db.TP(retainUntil), q.db.T(now))
	return err
}

// RetainedKey returns a certificate's sealed key.
func (q Q) RetainedKey(ctx context.Context, certID int64) ([]byte, error) {
	var b []byte
	err := q.row(ctx, `SELECT key_sealed FROM certificate_keys WHERE certificate_id = ?`, certID).Scan(&b)
	return b, notFound(err)
}

// ---- requests ----

// InsertRequest records a request.
func (q Q) InsertRequest(ctx context.Context, r certificate.Request) (int64, error) {
	doc := string(r.Doc)
	if doc == "" {
		doc = "{}"
	}
	return q.insert(ctx, `INSERT INTO certificate_requests (created_at, requester_id, requester_name, kind, state, template_id,
		pattern_id, ca_id, subject, doc, certificate_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		q.db.T(r.CreatedAt), nullInt(r.RequesterID), r.RequesterName, r.Kind, int(r.State), nullInt(r.TemplateID),
		nullInt(r.PatternID), nullInt(r.CAID), r.Subject, doc, nullInt(r.CertificateID))
}

// CompleteRequest links a request to its certificate and sets its state.
func (q Q) CompleteRequest(ctx context.Context, id int64, state int, certID *int64) error {
	res, err := q.exec(ctx, `UPDATE certificate_requests SET state = ?, certificate_id = ? WHERE id = ?`, state, nullInt(certID), id)
	return affected(res, err)
}

// ---- history ----

// AddHistory appends to a certificate's history.
func (q Q) AddHistory(ctx context.Context, h certificate.HistoryEntry) error {
	_, err := q.exec(ctx, `INSERT INTO certificate_history (certificate_id, at, operation, actor, message) VALUES (?, ?, ?, ?, ?)`,
		h.CertID, q.db.T(h.At), h.Operation, h.Actor, h.Message)
	return err
}

// History lists a certificate's history, oldest first.
func (q Q) History(ctx context.Context, certID int64) ([]certificate.HistoryEntry, error) {
	rows, err := q.query(ctx, `SELECT id, certificate_id, at, operation, actor, message FROM certificate_history WHERE certificate_id = ? ORDER BY id`, certID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc rowScanner) (certificate.HistoryEntry, error) {
		var h certificate.HistoryEntry
		var at nullTime
		err := sc.Scan(&h.ID, &h.CertID, &at, &h.Operation, &h.Actor, &h.Message)
		h.At = at.Time
		return h, err
	})
}
