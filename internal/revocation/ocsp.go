package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/pki"
)

// MaxOCSPRequest caps an OCSP request. A request for one certificate with
// a nonce is about 120 bytes; 8 KiB leaves room for several CertIDs and
// extensions while bounding the parser's work.
const MaxOCSPRequest = 8 << 10

// RespondOCSP answers one DER OCSP request (RFC 6960). It always returns
// a DER OCSP response to send with status 200: malformed requests get
// malformedRequest, certificates of a CA not served here unauthorized
// (RFC 6960 2.3), and storage or signing failures internalError. Only the
// first CertID of a request is answered, as most responders do.
func (s *Service) RespondOCSP(ctx context.Context, der []byte) []byte {
	if len(der) == 0 || len(der) > MaxOCSPRequest {
		return ocsp.MalformedRequestErrorResponse
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil || req.SerialNumber == nil {
		return ocsp.MalformedRequestErrorResponse
	}
	c, ok := s.issuerOf(req)
	if !ok {
		return ocsp.UnauthorizedErrorResponse
	}
	now := s.now().Truncate(time.Second)
	st := embedded.OCSPStatus{
		Serial: req.SerialNumber, Hash: req.HashAlgorithm,
		ThisUpdate: now, NextUpdate: now.Add(s.o.OCSPValidity),
		Nonce: RequestNonce(der),
	}
	rec, err := s.o.Store.CertificateStatus(ctx, c.ID, pki.FormatSerial(req.SerialNumber))
	switch {
	case err != nil && s.o.IsNotFound(err):
		// RFC 6960 2.2: unknown, the responder does not know the serial.
		st.Status = ocsp.Unknown
	case err != nil:
		s.o.Logger.Error("OCSP status lookup failed", "ca", c.LogicalName, "err", err)
		return ocsp.InternalErrorErrorResponse
	case rec.State == certificate.StateRevoked && rec.Revocation != nil:
		st.Status, st.RevokedAt, st.Reason = ocsp.Revoked, rec.Revocation.EffectiveDate, crlReason(rec.Revocation.Reason)
	default:
		st.Status = ocsp.Good
	}
	resp, err := c.Signer.SignOCSP(st)
	if err != nil {
		s.o.Logger.Error("OCSP signing failed", "ca", c.LogicalName, "err", err)
		return ocsp.InternalErrorErrorResponse
	}
	return resp
}

// issuerOf finds the CA whose name and key hash match the request's
// CertID (RFC 6960 4.1.1), with the hash the client chose.
func (s *Service) issuerOf(req *ocsp.Request) (CA, bool) {
	h := req.HashAlgorithm
	if !h.Available() {
		return CA{}, false
	}
	for _, c := range s.CAs() {
		if c.CRLOnly {
			continue
		}
		cert := c.Signer.Certificate()
		name, key, ok := certIDHashes(cert, h)
		if ok && bytes.Equal(name, req.IssuerNameHash) && bytes.Equal(key, req.IssuerKeyHash) {
			return c, true
		}
	}
	return CA{}, false
}

// certIDHashes are the issuerNameHash (of the DER subject) and
// issuerKeyHash (of the subjectPublicKey BIT STRING's value) of a CertID.
func certIDHashes(issuer *x509.Certificate, h crypto.Hash) (name, key []byte, ok bool) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, nil, false
	}
	hn := h.New()
	hn.Write(issuer.RawSubject)
	hk := h.New()
	hk.Write(spki.PublicKey.RightAlign())
	return hn.Sum(nil), hk.Sum(nil), true
}

// ocspTBSRequest is the TBSRequest of RFC 6960 4.1.1, read only for its
// requestExtensions (ocsp.ParseRequest drops them).
type ocspTBSRequest struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []asn1.RawValue
	Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type ocspRequestASN1 struct {
	TBSRequest ocspTBSRequest
}

// RequestNonce returns the extnValue of the nonce extension of a DER OCSP
// request, to echo in the response (RFC 8954), or nil when the request
// has none or one certdock does not echo (not an OCTET STRING of 1 to 32
// octets: RFC 8954 2.1 lets a responder leave those unanswered).
func RequestNonce(der []byte) []byte {
	var req ocspRequestASN1
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		return nil
	}
	for _, e := range req.TBSRequest.Extensions {
		if e.Id.Equal(embedded.OIDOCSPNonce) {
			if embedded.ValidOCSPNonce(e.Value) {
				return e.Value
			}
			return nil
		}
	}
	return nil
}
