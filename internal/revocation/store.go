// Package revocation owns what happens to a certificate after issuance that
// changes what relying parties are told about it: revocation and holds
// (POST /Certificates/Revoke), metadata updates, the history and
// validation views, and the revocation information the built-in CAs
// publish over plain HTTP: CRLs (RFC 5280), an OCSP responder (RFC 6960)
// and the CA certificates named by authorityInfoAccess.
//
// Signing stays in the CA package (embedded.CA.SignCRL and SignOCSP,
// reached through the Signer interface); this package decides what is
// signed and when, and keeps CRL numbering in storage so that it survives
// restarts. docs/revocation.md records the decisions the spec leaves open.
package revocation

import (
	"context"
	"crypto/x509"
	"math/big"
	"time"

	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/policy"
)

// Store is what revocation reads and writes; sqlstore.Q implements it.
type Store interface {
	Certificate(ctx context.Context, id int64) (certificate.Record, error)
	Certificates(ctx context.Context, q certificate.ListQuery) ([]certificate.Record, error)
	MetadataFields(ctx context.Context) ([]policy.MetadataField, error)
	MergeMetadata(ctx context.Context, certID int64, m map[string]string) error
	History(ctx context.Context, certID int64) ([]certificate.HistoryEntry, error)
	AddHistory(ctx context.Context, h certificate.HistoryEntry) error
	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error

	// SetCertificateRevocation moves certificate id from state from (and,
	// when fromReason is not nil, that revocation reason) to state to with
	// rev (nil clears the revocation fields). It returns an error matching
	// the not-found test when no row is in the expected state.
	SetCertificateRevocation(ctx context.Context, id int64, from certificate.State, fromReason *int, to certificate.State, rev *certificate.Revocation) error

	// RevokedCertificates lists the revoked certificates CA caID issued
	// that expire at or after notAfter.
	RevokedCertificates(ctx context.Context, caID int64, notAfter time.Time) ([]Revoked, error)
	// CertificateStatus finds the certificate CA caID issued with the
	// serial (upper-case hex as stored).
	CertificateStatus(ctx context.Context, caID int64, serialHex string) (Status, error)

	// NextCRLNumber takes the next CRL number for the CA, holding the CA's
	// CRL row until the transaction ends.
	NextCRLNumber(ctx context.Context, caID int64) (int64, error)
	SaveCRL(ctx context.Context, caID int64, c CRL) error
	CRL(ctx context.Context, caID int64) (CRL, error)
}

// Revoked is one entry for a CRL.
type Revoked struct {
	SerialHex string
	At        time.Time
	Reason    int // as stored: the Keyfactor code
}

// Status is what the inventory says about one certificate.
type Status struct {
	CertID     int64
	State      certificate.State
	Revocation *certificate.Revocation
}

// CRL is a CA's published CRL.
type CRL struct {
	Number     int64
	ThisUpdate time.Time
	NextUpdate time.Time
	DER        []byte
}

// Signer is a CA that can sign revocation information; embedded.CA is
// one. Callers find it by type assertion on a ca.Connector.
type Signer interface {
	Certificate() *x509.Certificate
	Chain() []*x509.Certificate
	SignCRL(number *big.Int, entries []embedded.CRLEntry, thisUpdate, nextUpdate time.Time) ([]byte, error)
	SignOCSP(s embedded.OCSPStatus) ([]byte, error)
}

// CA is one issuing CA whose revocation information this package
// publishes.
type CA struct {
	ID          int64
	LogicalName string
	Signer      Signer
	// CRLOnly marks a CA that publishes a CRL and its certificate but does
	// not answer OCSP: the root, whose key signs only certificates and
	// CRLs (no digitalSignature usage) and is used as rarely as possible.
	CRLOnly bool
}
