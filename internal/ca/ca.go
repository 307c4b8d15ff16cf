// Package ca is the contract between enrollment and the certificate
// authorities that sign: the Connector interface, its request and response
// structs, the issuance Profile, and the ErrRejected vocabulary for a CA's
// policy refusals.
//
// Connectors only sign what they are given. Deciding what may be issued
// (templates, patterns, approval) belongs to the policy and workflow
// packages; a connector may still refuse a request it cannot or will not
// sign, and says so with an error matching ErrRejected.
//
// Requests and responses are structs so that fields can be added without
// breaking implementations. Optional abilities (revocation, CRLs) will be
// separate small interfaces that callers find by type assertion, so a
// connector that cannot revoke does not have to pretend it can.
//
// This package is pure: it has no I/O and imports nothing of the project.
package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Connector is what enrollment sees of a CA: it signs one certificate per
// call. Implementations must be safe for concurrent use.
type Connector interface {
	Issue(ctx context.Context, req *IssueRequest) (*IssueResponse, error)
}

// IssueRequest is one certificate to be signed.
type IssueRequest struct {
	// PublicKey is the subject's key: *rsa.PublicKey, *ecdsa.PublicKey or
	// ed25519.PublicKey.
	PublicKey crypto.PublicKey

	// Subject is put into the certificate exactly as given, RDN by RDN in
	// this order (the first element is the most significant, for example
	// C or DC). It may be empty when a subjectAltName is present.
	Subject pkix.RDNSequence

	// ExtraExtensions are added to the certificate as given. This is how a
	// caller supplies a subjectAltName it built itself (for example with
	// UPN otherNames); a connector refuses extensions it must control
	// itself, such as basicConstraints or keyUsage.
	ExtraExtensions []pkix.Extension

	// Plain subject alternative names, used when ExtraExtensions has no
	// subjectAltName extension. Giving both is an error.
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string
	URIs           []*url.URL

	// Profile says what kind of certificate to make.
	Profile Profile

	// AdditionalFields are custom enrollment fields, passed through to
	// connectors that forward them to an upstream CA. The embedded CA
	// ignores them.
	AdditionalFields map[string]string

	// RequestID is certdock's request id, for connectors that correlate
	// with an upstream CA and for logs.
	RequestID int64
}

// Profile is the shape of the certificate: validity, key usages, and
// whether it is a CA.
type Profile struct {
	// Validity is the requested lifetime. A connector may shorten it, for
	// example so that it does not outlive the issuing CA.
	Validity time.Duration

	// KeyUsage is the requested keyUsage. Zero means "derive from the key
	// type" (see KeyUsageFor). Bits the key type must not carry are
	// dropped.
	KeyUsage x509.KeyUsage

	// ExtKeyUsages and UnknownExtKeyUsages make up the extKeyUsage
	// extension; both empty means no extKeyUsage extension.
	ExtKeyUsages        []x509.ExtKeyUsage
	UnknownExtKeyUsages []asn1.ObjectIdentifier

	// IsCA asks for a CA certificate (basicConstraints cA=TRUE).
	IsCA bool
	// MaxPathLen is the CA certificate's pathLenConstraint: -1 for none,
	// 0 or more for that limit. It must be 0 when IsCA is false.
	MaxPathLen int
}

// IssueResponse is the signed certificate and the chain that certifies it.
type IssueResponse struct {
	Certificate *x509.Certificate
	// Chain is the issuing CA first, then its issuers, the root last.
	Chain []*x509.Certificate
}

// ErrRejected matches (with errors.Is) every refusal by a CA to sign a
// request as given: a policy decision, not a failure. The transport shows
// the reason to the requester.
var ErrRejected = errors.New("ca: request rejected")

// RejectedError is a CA's refusal; Reason says why in words a requester can
// act on. It matches ErrRejected.
type RejectedError struct {
	Reason string
}

// Error returns the reason with a prefix saying the CA refused.
func (e *RejectedError) Error() string { return "ca: request rejected: " + e.Reason }

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

// Rejectf returns a *RejectedError with a formatted reason.
func Rejectf(format string, args ...any) error {
	return &RejectedError{Reason: fmt.Sprintf(format, args...)}
}

// OIDSubjectAltName is the subjectAltName extension's OID (RFC 5280 4.2.1.6).
var OIDSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// SANExtension returns the subjectAltName extension among
// r.ExtraExtensions, if there is one.
func (r *IssueRequest) SANExtension() (pkix.Extension, bool) {
	for _, e := range r.ExtraExtensions {
		if e.Id.Equal(OIDSubjectAltName) {
			return e, true
		}
	}
	return pkix.Extension{}, false
}

// HasPlainSANs reports whether any of the plain SAN fields is set.
func (r *IssueRequest) HasPlainSANs() bool {
	return len(r.DNSNames)+len(r.IPAddresses)+len(r.EmailAddresses)+len(r.URIs) > 0
}

// Validate checks the request's shape, the things every connector needs:
// a supported public key, a positive validity, consistent CA fields, at
// most one source of SANs and no duplicate extensions. Errors from Validate
// are mistakes of the caller, not rejections.
func (r *IssueRequest) Validate() error {
	if r == nil {
		return errors.New("ca: nil request")
	}
	if _, err := keyAlgorithm(r.PublicKey); err != nil {
		return err
	}
	p := r.Profile
	if p.Validity <= 0 {
		return fmt.Errorf("ca: validity %v must be positive", p.Validity)
	}
	if !p.IsCA && p.MaxPathLen != 0 {
		return errors.New("ca: MaxPathLen is only for CA certificates")
	}
	if p.IsCA && p.MaxPathLen < -1 {
		return fmt.Errorf("ca: MaxPathLen %d must be -1 or more", p.MaxPathLen)
	}
	seen := make(map[string]bool, len(r.ExtraExtensions))
	for _, e := range r.ExtraExtensions {
		// RFC 5280 4.2: a certificate must not include more than one
		// instance of a particular extension.
		if seen[e.Id.String()] {
			return fmt.Errorf("ca: extension %s given twice", e.Id)
		}
		seen[e.Id.String()] = true
	}
	if _, ok := r.SANExtension(); ok && r.HasPlainSANs() {
		return errors.New("ca: subjectAltName given both as an extension and as plain names")
	}
	return nil
}
