package revocation

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
)

// Keyfactor revocation codes (API-NOTES §8). 0-6 are RFC 5280 CRLReason
// values; 8 is removeFromCRL, which releases a hold; -1 and 999 are
// Keyfactor's "unknown" and are published as unspecified.
const (
	ReasonUnknown              = -1
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonUnknown999           = 999
)

var reasonNames = map[int]string{
	ReasonUnknown: "unknown", ReasonUnspecified: "unspecified", ReasonKeyCompromise: "keyCompromise",
	ReasonCACompromise: "cACompromise", ReasonAffiliationChanged: "affiliationChanged", ReasonSuperseded: "superseded",
	ReasonCessationOfOperation: "cessationOfOperation", ReasonCertificateHold: "certificateHold",
	ReasonRemoveFromCRL: "removeFromCRL", ReasonUnknown999: "unknown",
}

// ReasonName names a Keyfactor revocation code.
func ReasonName(code int) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("code %d", code)
}

// Limits of a revocation request.
const (
	MaxRevokeIDs     = 1000
	MaxCommentLength = 4000
	// effectiveDateSkew is how far in the future an EffectiveDate may lie:
	// a CRL cannot announce a revocation before it happens, but a client's
	// clock may run a little ahead.
	effectiveDateSkew = 5 * time.Minute
)

// RevokeRequest is POST /Certificates/Revoke.
type RevokeRequest struct {
	CertificateIDs []int64
	Reason         int
	Comment        string
	// EffectiveDate is the revocation date; zero means now.
	EffectiveDate time.Time
	// PublishCRL asks for the CRL to be re-signed before the answer. When
	// false the scheduler re-signs it moments later; OCSP answers from the
	// inventory at once either way.
	PublishCRL bool
}

// Validate checks the request's shape.
func (r *RevokeRequest) Validate(now time.Time) error {
	if len(r.CertificateIDs) == 0 {
		return errs.Field("CertificateIds", "at least one certificate id is required")
	}
	if len(r.CertificateIDs) > MaxRevokeIDs {
		return errs.Field("CertificateIds", "at most %d certificates can be revoked at once, got %d", MaxRevokeIDs, len(r.CertificateIDs))
	}
	seen := map[int64]int{}
	for i, id := range r.CertificateIDs {
		f := fmt.Sprintf("CertificateIds[%d]", i)
		if id <= 0 {
			return errs.Field(f, "%d is not a positive certificate id", id)
		}
		if j, dup := seen[id]; dup {
			return errs.Field(f, "certificate %d is already listed at CertificateIds[%d]", id, j)
		}
		seen[id] = i
	}
	if _, ok := reasonNames[r.Reason]; !ok {
		return errs.Field("Reason", "%d is not a revocation reason; allowed are -1, 0, 1, 2, 3, 4, 5, 6, 8 and 999", r.Reason)
	}
	if len(r.Comment) > MaxCommentLength {
		return errs.Field("Comment", "is longer than %d characters", MaxCommentLength)
	}
	if r.EffectiveDate.After(now.Add(effectiveDateSkew)) {
		return errs.Field("EffectiveDate", "%s is in the future; a revocation takes effect at the latest now", r.EffectiveDate.UTC().Format(time.RFC3339))
	}
	return nil
}

// RevokeResult lists the certificates revoked (or, for removeFromCRL,
// released from hold).
type RevokeResult struct {
	RevokedIDs []int64
}

// Revoke revokes every listed certificate, or none: the batch runs in one
// transaction, and when any certificate cannot be revoked (unknown,
// already revoked, not on hold for removeFromCRL) nothing changes and the
// error names every failing id. Reason 6 puts certificates on hold; 8
// releases a hold. Each revoked certificate gets a history and an audit
// entry. After the commit the affected CAs' CRLs are re-signed.
func (s *Service) Revoke(ctx context.Context, p *auth.Principal, req RevokeRequest) (*RevokeResult, error) {
	now := s.now().Truncate(time.Second)
	if err := req.Validate(now); err != nil {
		return nil, err
	}
	eff := req.EffectiveDate.UTC().Truncate(time.Second)
	if req.EffectiveDate.IsZero() {
		eff = now
	}
	var failures []*errs.Error
	cas := map[int64]bool{}
	var done []int64
	err := s.o.InTx(ctx, func(st Store) error {
		failures, done = nil, nil
		for i, id := range req.CertificateIDs {
			field := fmt.Sprintf("CertificateIds[%d]", i)
			rec, err := st.Certificate(ctx, id)
			if err != nil {
				if s.o.IsNotFound(err) {
					failures = append(failures, fieldErr(errs.NotFound, errs.CodeNotFound, field, "certificate %d was not found", id))
					continue
				}
				return errs.Wrap(err, "reading certificate")
			}
			from, fromReason, to, rev, ferr := transition(rec, req, eff, field)
			if ferr != nil {
				failures = append(failures, ferr)
				continue
			}
			if err := st.SetCertificateRevocation(ctx, id, from, fromReason, to, rev); err != nil {
				if s.o.IsNotFound(err) {
					failures = append(failures, fieldErr(errs.Conflict, errs.CodeConflict, field, "certificate %d changed state while being revoked; try again", id))
					continue
				}
				return errs.Wrap(err, "revoking certificate")
			}
			msg := revokeMessage(req, eff)
			if err := st.AddHistory(ctx, certificate.HistoryEntry{CertID: id, At: now, Operation: certificate.OpRevoked, Actor: p.AccountName, Message: msg}); err != nil {
				return errs.Wrap(err, "recording history")
			}
			if err := st.Audit(ctx, now, p.AccountName, "certificate.revoke", fmt.Sprintf("certificate %d", id),
				fmt.Sprintf("serial %s issuer %q: %s", rec.SerialNumber, rec.IssuerDN, msg)); err != nil {
				return errs.Wrap(err, "recording audit entry")
			}
			if rec.CAID != nil {
				cas[*rec.CAID] = true
			}
			done = append(done, id)
		}
		if len(failures) > 0 {
			return joinFailures(failures, len(req.CertificateIDs))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(cas))
	for id := range cas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, caID := range ids {
		if _, ok := s.cas[caID]; !ok {
			continue // not a CA certdock publishes for
		}
		if !req.PublishCRL {
			s.markDirty(caID)
			continue
		}
		// The revocation is committed; a failed publication is logged and
		// retried by the scheduler rather than reported as a failed revoke.
		if _, err := s.PublishCRL(ctx, caID); err != nil {
			s.o.Logger.Error("CRL publication after revocation failed", "ca_id", caID, "err", err)
		}
	}
	return &RevokeResult{RevokedIDs: done}, nil
}

// transition decides how a revocation changes a certificate: from which
// state (and reason) to which, or why it cannot.
func transition(rec certificate.Record, req RevokeRequest, eff time.Time, field string) (certificate.State, *int, certificate.State, *certificate.Revocation, *errs.Error) {
	onHold := rec.State == certificate.StateRevoked && rec.Revocation != nil && rec.Revocation.Reason == ReasonCertificateHold
	hold := ReasonCertificateHold
	rev := &certificate.Revocation{EffectiveDate: eff, Reason: req.Reason, Comment: req.Comment}
	switch {
	case req.Reason == ReasonRemoveFromCRL:
		if !onHold {
			return 0, nil, 0, nil, fieldErr(errs.Conflict, errs.CodeConflict, field,
				"certificate %d is not on hold (certificateHold); removeFromCRL (8) only releases a hold", rec.ID)
		}
		return certificate.StateRevoked, &hold, certificate.StateActive, nil, nil
	case onHold && req.Reason == ReasonCertificateHold:
		return 0, nil, 0, nil, fieldErr(errs.Conflict, errs.CodeConflict, field, "certificate %d is already on hold since %s",
			rec.ID, rec.Revocation.EffectiveDate.UTC().Format(time.RFC3339))
	case onHold:
		// RFC 5280 5.3.1: a certificate on hold may be revoked for good.
		return certificate.StateRevoked, &hold, certificate.StateRevoked, rev, nil
	case rec.State == certificate.StateRevoked:
		at := ""
		if rec.Revocation != nil {
			at = fmt.Sprintf(" on %s (%s)", rec.Revocation.EffectiveDate.UTC().Format(time.RFC3339), ReasonName(rec.Revocation.Reason))
		}
		return 0, nil, 0, nil, fieldErr(errs.Conflict, errs.CodeConflict, field, "certificate %d is already revoked%s", rec.ID, at)
	case rec.State != certificate.StateActive:
		return 0, nil, 0, nil, fieldErr(errs.Conflict, errs.CodeConflict, field, "certificate %d is %s and cannot be revoked", rec.ID, rec.State)
	}
	return certificate.StateActive, nil, certificate.StateRevoked, rev, nil
}

func revokeMessage(req RevokeRequest, eff time.Time) string {
	var msg string
	switch req.Reason {
	case ReasonRemoveFromCRL:
		msg = "released from hold (removeFromCRL)"
	case ReasonCertificateHold:
		msg = "put on hold (certificateHold) effective " + eff.Format(time.RFC3339)
	default:
		msg = fmt.Sprintf("revoked: %s (%d) effective %s", ReasonName(req.Reason), req.Reason, eff.Format(time.RFC3339))
	}
	if req.Comment != "" {
		msg += "; comment: " + req.Comment
	}
	return msg
}

func fieldErr(kind errs.Kind, code, field, format string, args ...any) *errs.Error {
	return &errs.Error{Kind: kind, Code: code, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// joinFailures makes one error of a batch's failures: the first failure's
// kind and code, every failure's message.
func joinFailures(fs []*errs.Error, total int) error {
	msgs := make([]string, len(fs))
	for i, f := range fs {
		msgs[i] = f.Message
	}
	e := *fs[0]
	e.Message = strings.Join(msgs, "; ")
	if total > 1 {
		e.Message += "; no certificate of the batch was revoked"
	}
	return &e
}
