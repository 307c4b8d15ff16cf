package enroll

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keygen"
	"github.com/certdock/certdock/internal/pki"
)

// RenewalType is Keyfactor's AvailableRenewalType (the numbers are the
// vendor's; the meanings are certdock's, see docs/lifecycle.md).
type RenewalType int

const (
	// RenewalNone: no one-click renewal; enroll again (PFX with
	// RenewalCertificateId, or a new CSR).
	RenewalNone RenewalType = 0
	// RenewalSeamless is reserved for renewal that also re-deploys to the
	// certificate stores holding the certificate; certdock does not
	// answer it today.
	RenewalSeamless RenewalType = 1
	// RenewalOneClick: POST /Enrollment/Renew makes a new key and
	// certificate with the same subject, SANs, template, pattern, metadata
	// and owner.
	RenewalOneClick RenewalType = 2
)

// RenewRequest is POST /Enrollment/Renew.
type RenewRequest struct {
	CertificateID        int64 // 0 = absent
	Thumbprint           string
	CertificateAuthority string // "" = the CA of the old certificate's template choice
	Template             string // "" = the old certificate's
	EnrollmentPatternID  int64  // 0 = the old certificate's
	Timestamp            time.Time
}

// RenewResult is what the transport renders for a renewal.
type RenewResult struct {
	CertificateID      int64
	RequestID          int64
	Thumbprint         string
	SerialNumber       string
	IssuerDN           string
	Disposition        string
	DispositionMessage string
	Password           string
}

// findCertificate resolves an id or a thumbprint (the id wins).
func (s *Service) findCertificate(ctx context.Context, id int64, tp string) (certificate.Record, error) {
	switch {
	case id < 0:
		return certificate.Record{}, errs.Field("CertificateId", "must be a positive certificate id")
	case id > 0:
		r, err := s.o.Store.Certificate(ctx, id)
		if s.o.IsNotFound(err) {
			return r, errs.NotFoundf("CertificateId: certificate %d does not exist", id)
		}
		return r, err
	case strings.TrimSpace(tp) != "":
		tp = strings.ToUpper(strings.TrimSpace(tp))
		r, err := s.o.Store.CertificateByThumbprint(ctx, tp)
		if s.o.IsNotFound(err) {
			return r, errs.NotFoundf("Thumbprint: no certificate has thumbprint %s", tp)
		}
		return r, err
	}
	return certificate.Record{}, errs.Field("CertificateId", "one of CertificateId or Thumbprint is required")
}

// AvailableRenewal says whether the certificate can be renewed with one
// click, and why not when it cannot.
func (s *Service) AvailableRenewal(ctx context.Context, p *auth.Principal, id int64, tp string) (RenewalType, string, error) {
	r, err := s.findCertificate(ctx, id, tp)
	if err != nil {
		return 0, "", err
	}
	if why, err := s.oneClickBlocker(ctx, r); err != nil {
		return 0, "", err
	} else if why != "" {
		return RenewalNone, why, nil
	}
	return RenewalOneClick, fmt.Sprintf("Certificate %d can be renewed with one click: POST /Enrollment/Renew makes a new key and certificate with the same subject, SANs, template and metadata.", r.ID), nil
}

// oneClickBlocker returns why r cannot be renewed with one click, or "".
func (s *Service) oneClickBlocker(ctx context.Context, r certificate.Record) (string, error) {
	if r.State == certificate.StateRevoked || r.Revocation != nil {
		return fmt.Sprintf("Certificate %d is revoked; enroll a new certificate instead.", r.ID), nil
	}
	if r.State != certificate.StateActive {
		return fmt.Sprintf("Certificate %d is not active (state %s).", r.ID, r.State), nil
	}
	if r.CertRequestID == nil {
		return fmt.Sprintf("Certificate %d was not enrolled through certdock, so there is no enrollment to repeat.", r.ID), nil
	}
	kind, err := s.o.Store.RequestKind(ctx, *r.CertRequestID)
	if err != nil && !s.o.IsNotFound(err) {
		return "", errs.Wrap(err, "reading the certificate's request")
	}
	if kind == KindCSR {
		return fmt.Sprintf("Certificate %d was enrolled from a CSR, and certdock holds no key for it; renew it by enrolling a new CSR.", r.ID), nil
	}
	// The rule of POST /Certificates/Recover: a key kept only for store
	// delivery, or past its retention, is not a retained key. A renewal
	// would otherwise issue a certificate whose new key (retained only as
	// the template says) the caller could never obtain.
	if !r.RecoverableAt(s.o.Now().UTC()) {
		return fmt.Sprintf("Certificate %d has no recoverable private key (its template does not retain keys, the key was kept only for store delivery, or its retention ended); renew it by PFX enrollment with RenewalCertificateId.", r.ID), nil
	}
	if r.TemplateID != nil {
		t, err := s.o.Store.Template(ctx, *r.TemplateID)
		if err != nil {
			return "", errs.Wrap(err, "reading the certificate's template")
		}
		if !t.AllowOneClickRenewals {
			return fmt.Sprintf("Template %q does not allow one-click renewals.", t.CommonName), nil
		}
	}
	return "", nil
}

// Renew makes a new key and certificate with the old certificate's subject,
// SANs, key type and size, template and pattern (unless the request names
// others), metadata and owner, through the same path as a PFX enrollment
// with RenewalCertificateId: the new certificate records renewed_from_id,
// both get a "Renewed" history entry, and the new key is retained as the
// template says. The returned Password is generated to the Password Length
// setting as Keyfactor's response carries one; certdock does not keep the
// package it would protect, so the new key is fetched with POST
// /Certificates/Recover and a password of the caller's choice.
func (s *Service) Renew(ctx context.Context, p *auth.Principal, req RenewRequest) (*RenewResult, error) {
	old, err := s.findCertificate(ctx, req.CertificateID, req.Thumbprint)
	if err != nil {
		return nil, err
	}
	why, err := s.oneClickBlocker(ctx, old)
	if err != nil {
		return nil, err
	}
	if why != "" {
		field := "CertificateId"
		if req.CertificateID == 0 {
			field = "Thumbprint"
		}
		return nil, errs.Policy(errs.CodeEnrollmentPolicy, field, "%s", why)
	}
	leaf, err := x509.ParseCertificate(old.DER)
	if err != nil {
		return nil, errs.Wrap(err, "parsing the certificate to renew")
	}
	spec, err := keygen.SpecOf(leaf.PublicKey)
	if err != nil {
		return nil, errs.Wrap(err, "reading the key type of the certificate to renew")
	}
	sans, err := pki.SANsFromCertificate(leaf)
	if err != nil {
		return nil, errs.Wrap(err, "reading the SANs of the certificate to renew")
	}
	pfx := PFXRequest{
		APIVersion: 1, Format: FormatPFX, Template: req.Template, EnrollmentPatternID: req.EnrollmentPatternID,
		CertificateAuthority: req.CertificateAuthority, KeyType: spec.KeyTypeName(),
		Subject: old.IssuedDN, SANs: sanMap(sans), Metadata: old.Metadata,
		RenewalCertificateID: old.ID, Timestamp: req.Timestamp, IncludeChain: true,
	}
	switch spec.Algorithm {
	case keygen.RSA:
		pfx.KeyLength = spec.Bits
	case keygen.ECDSA:
		pfx.Curve = spec.CurveOID()
	}
	if pfx.Timestamp.IsZero() {
		pfx.Timestamp = s.o.Now().UTC()
	}
	if pfx.EnrollmentPatternID == 0 && pfx.Template == "" {
		if old.PatternID != nil {
			pfx.EnrollmentPatternID = *old.PatternID
		} else if old.TemplateID != nil {
			t, err := s.o.Store.Template(ctx, *old.TemplateID)
			if err != nil {
				return nil, errs.Wrap(err, "reading the certificate's template")
			}
			pfx.Template = t.CommonName
		}
	}
	if pfx.CertificateAuthority == "" && pfx.Template == "" && pfx.EnrollmentPatternID == 0 {
		pfx.CertificateAuthority = old.CAName // a standalone CA issued it
	}
	if old.OwnerRoleID != nil {
		pfx.OwnerRoleID = *old.OwnerRoleID
	}
	out, err := s.enroll(ctx, p, fromPFX(&pfx))
	if err != nil {
		return nil, err
	}
	if out.pending != nil { // the renewal waits for approval (docs/workflow.md)
		return &RenewResult{RequestID: out.pending.RequestID, Disposition: DispositionPending, DispositionMessage: out.pending.Message}, nil
	}
	return &RenewResult{
		CertificateID: out.certID, RequestID: out.requestID, Thumbprint: out.rec.Thumbprint,
		SerialNumber: out.rec.SerialNumber, IssuerDN: out.rec.IssuerDN, Disposition: DispositionIssued,
		DispositionMessage: fmt.Sprintf("Certificate %d was renewed as certificate %d.", old.ID, out.certID),
		Password:           out.password,
	}, nil
}

// sanMap turns SANs back into the request map form.
func sanMap(s pki.SANs) map[string][]string {
	m := map[string][]string{}
	m["dns"] = append(m["dns"], s.DNS...)
	for _, ip := range s.IPs {
		if ip.To4() != nil {
			m["ip4"] = append(m["ip4"], ip.String())
		} else {
			m["ip6"] = append(m["ip6"], ip.String())
		}
	}
	for _, u := range s.URIs {
		m["uri"] = append(m["uri"], u.String())
	}
	m["rfc822"] = append(m["rfc822"], s.Emails...)
	m["upn"] = append(m["upn"], s.UPNs...)
	for k, v := range m {
		if len(v) == 0 {
			delete(m, k)
		}
	}
	return m
}
