package enroll

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keygen"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/policy"
)

// EnrollCSR enrolls a PKCS#10 request. It runs the same checks, issuance and
// recording as EnrollPFX; only the key source differs (the CSR's public key,
// checked against the key policy) and nothing is packaged or retained.
func (s *Service) EnrollCSR(ctx context.Context, p *auth.Principal, req CSRRequest) (*CSRResult, error) {
	csr, err := pki.DecodeCSR(req.CSR)
	if err != nil {
		return nil, inputErr(err, "CSR")
	}
	r := fromCSR(&req)
	r.csr = csr
	out, err := s.enroll(ctx, p, r)
	if err != nil {
		return nil, err
	}
	res := &CSRResult{
		CertificateID: out.certID, RequestID: out.requestID, SerialNumber: out.rec.SerialNumber,
		IssuerDN: out.rec.IssuerDN, Thumbprint: out.rec.Thumbprint, Disposition: DispositionIssued,
		DispositionMessage: "The certificate was issued.", Metadata: out.metadata,
	}
	certs := []*x509.Certificate{out.issued.Certificate}
	if req.IncludeChain {
		certs = append(certs, out.issued.Chain...)
	}
	for _, c := range certs {
		if req.Format == FormatDER {
			res.Certificates = append(res.Certificates, base64.StdEncoding.EncodeToString(c.Raw))
		} else {
			res.Certificates = append(res.Certificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
		}
	}
	return res, nil
}

// ParseCSR decodes a CSR (verifying its signature) and describes it as
// Keyfactor's POST /Enrollment/CSR/Parse does: one "NAME=value" string per
// subject attribute, in the subject's string order, then one "<type>=value"
// per SAN, then the key as "Key=<type> <size or curve>".
func ParseCSR(data []byte) ([]string, error) {
	csr, err := pki.DecodeCSR(data)
	if err != nil {
		return nil, inputErr(err, "CSR")
	}
	dn, err := pki.ParseRawDN(csr.RawSubject)
	if err != nil {
		return nil, errs.Field("CSR", "subject: %v", err)
	}
	out := []string{}
	for _, rdn := range dn.RDNs {
		for _, a := range rdn {
			out = append(out, a.Name()+"="+a.Value)
		}
	}
	sans, err := csrSANs(csr)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"dns", "ip4", "ip6", "uri", "rfc822", "upn"} {
		for _, v := range sans[k] {
			out = append(out, k+"="+v)
		}
	}
	if spec, err := keygen.SpecOf(csr.PublicKey); err == nil {
		out = append(out, "Key="+spec.String())
	}
	return out, nil
}

// csrSANs lists the CSR's subjectAltName entries in the SANs-map form of a
// request, so both go through pki.ParseSANs and the same rules.
func csrSANs(csr *x509.CertificateRequest) (map[string][]string, error) {
	m := map[string][]string{}
	m["dns"] = append(m["dns"], csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		if ip.To4() != nil {
			m["ip4"] = append(m["ip4"], ip.String())
		} else {
			m["ip6"] = append(m["ip6"], ip.String())
		}
	}
	for _, u := range csr.URIs {
		m["uri"] = append(m["uri"], u.String())
	}
	m["rfc822"] = append(m["rfc822"], csr.EmailAddresses...)
	upns, err := pki.UPNsFromExtensions(csr.Extensions)
	if err != nil {
		return nil, errs.Field("CSR", "subjectAltName: %v", err)
	}
	m["upn"] = append(m["upn"], upns...)
	for k, v := range m {
		if len(v) == 0 {
			delete(m, k)
		}
	}
	return m, nil
}

// requestedNames is the subject and SANs the request asks for before
// defaults: the Subject string and SANs map of a key-generating request, or
// the CSR's subject and SANs plus the request's SANs (as Keyfactor adds them).
func (s *Service) requestedNames(req *request) (pki.DN, map[string][]string, error) {
	if req.csr == nil {
		if len(req.subject) > 4096 {
			return pki.DN{}, nil, errs.Field("Subject", "is longer than 4096 characters")
		}
		dn, err := pki.ParseDN(req.subject)
		if err != nil {
			return pki.DN{}, nil, inputErr(err, "Subject")
		}
		return dn, req.sans, nil
	}
	raw, err := pki.ParseRawDN(req.csr.RawSubject)
	if err != nil {
		return pki.DN{}, nil, errs.Field("CSR", "subject: %v", err)
	}
	// Re-parse the string form so the CSR's values meet the same value rules
	// (lengths, character sets) as a Subject string.
	dn, err := pki.ParseDN(raw.String())
	if err != nil {
		var ie *pki.InputError
		if errors.As(err, &ie) {
			return pki.DN{}, nil, errs.Field("CSR", "subject: %s", ie.Message)
		}
		return pki.DN{}, nil, errs.Field("CSR", "subject: %v", err)
	}
	sans, err := csrSANs(req.csr)
	if err != nil {
		return pki.DN{}, nil, err
	}
	for k, vs := range req.sans {
		key := strings.ToLower(strings.TrimSpace(k))
		if key == "mail" {
			key = "rfc822"
		}
		sans[key] = append(sans[key], vs...)
	}
	return dn, sans, nil
}

// resolveCSRKey checks the CSR's public key against the key policy (system,
// pattern, template) exactly as a requested key type and size are checked.
func (s *Service) resolveCSRKey(req *request, pl *plan) error {
	spec, err := keygen.SpecOf(req.csr.PublicKey)
	if err == nil {
		err = spec.Validate()
	}
	var fe *keygen.FieldError
	if errors.As(err, &fe) {
		return errs.Policy(errs.CodeKeyTypePolicy, "CSR", "the request's key is not allowed: %s: %s", fe.Field, fe.Message)
	}
	if err != nil {
		return errs.Policy(errs.CodeKeyTypePolicy, "CSR", "the request's key is not allowed: %v", err)
	}
	return pl.setKey(spec)
}

// PatternAllows says whether the principal may use the pattern: a pattern
// with AssociatedRoles is limited to principals holding one of them (by
// name, case-insensitively).
func PatternAllows(pat *policy.Pattern, p *auth.Principal) bool {
	if pat == nil || len(pat.AssociatedRoles) == 0 {
		return true
	}
	if p == nil {
		return false
	}
	for _, want := range pat.AssociatedRoles {
		for _, r := range p.Roles {
			if strings.EqualFold(strings.TrimSpace(want), r.Name) {
				return true
			}
		}
	}
	return false
}

// KindAllowed says whether the pattern (or, when it sets none, the
// template) allows enrollments of kind (KindPFX or KindCSR).
func KindAllowed(t *policy.Template, pat *policy.Pattern, kind string) bool {
	types := 0
	if pat != nil {
		types = pat.AllowedEnrollmentTypes
	}
	if t != nil && types == 0 {
		types = t.AllowedEnrollmentTypes
	}
	bit := policy.EnrollPFX
	if kind == KindCSR {
		bit = policy.EnrollCSR
	}
	return types == 0 || types&bit != 0
}
