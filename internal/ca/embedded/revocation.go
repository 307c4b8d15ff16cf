package embedded

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// CRLEntry is one revoked certificate on a CRL.
type CRLEntry struct {
	Serial *big.Int
	// RevokedAt is the revocationDate (RFC 5280 5.1.2.6).
	RevokedAt time.Time
	// Reason is the RFC 5280 CRLReason code. 0 (unspecified) is left out of
	// the entry, as RFC 5280 5.3.1 asks.
	Reason int
}

// SignCRL signs a complete CRL (RFC 5280 section 5, version 2) for the
// certificates this CA issued, with the given cRLNumber and validity.
// x509.CreateRevocationList adds the authorityKeyIdentifier from the CA's
// subjectKeyIdentifier and refuses a CA certificate without the cRLSign
// usage.
func (c *CA) SignCRL(number *big.Int, entries []CRLEntry, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if number == nil || number.Sign() <= 0 {
		return nil, errors.New("embedded: a CRL number must be positive")
	}
	// RFC 5280 5.2.3: a conforming CA must not use cRLNumber values longer
	// than 20 octets.
	if number.BitLen() > 159 {
		return nil, errors.New("embedded: the CRL number exceeds 20 octets")
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, fmt.Errorf("embedded: nextUpdate %v is not after thisUpdate %v", nextUpdate, thisUpdate)
	}
	tmpl := &x509.RevocationList{
		Number:     number,
		ThisUpdate: thisUpdate.UTC().Truncate(time.Second),
		NextUpdate: nextUpdate.UTC().Truncate(time.Second),
	}
	for _, e := range entries {
		if e.Serial == nil || e.Serial.Sign() <= 0 {
			return nil, errors.New("embedded: a CRL entry needs a positive serial")
		}
		if e.Reason < 0 || e.Reason > 10 || e.Reason == 7 {
			return nil, fmt.Errorf("embedded: CRL reason %d is not an RFC 5280 CRLReason", e.Reason)
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   e.Serial,
			RevocationTime: e.RevokedAt.UTC().Truncate(time.Second),
			ReasonCode:     e.Reason,
		})
	}
	der, err := x509.CreateRevocationList(c.rand, tmpl, c.cert, c.signer)
	if err != nil {
		return nil, fmt.Errorf("embedded: signing CRL: %w", err)
	}
	return der, nil
}

// OCSPStatus is what an OCSP response says about one certificate.
type OCSPStatus struct {
	// Status is ocsp.Good, ocsp.Revoked or ocsp.Unknown.
	Status    int
	Serial    *big.Int
	RevokedAt time.Time
	// Reason is the RFC 5280 CRLReason code, for Revoked.
	Reason int
	// Hash is the hash algorithm of the request's CertID, echoed in the
	// response's CertID; zero means SHA-1.
	Hash                   crypto.Hash
	ThisUpdate, NextUpdate time.Time
	// Nonce is the extnValue of the request's nonce extension (RFC 8954),
	// echoed in responseExtensions; nil for none. It must pass
	// ValidOCSPNonce.
	Nonce []byte
}

// SignOCSP signs a basic OCSP response (RFC 6960 4.2.1) about a
// certificate this CA issued. The issuing CA signs it itself (RFC 6960
// 4.2.2.2, the CA that issued the certificate), so relying parties need no
// delegated responder certificate. The response carries no certificates:
// the client already holds the issuer (it needed it to build the request),
// and an included issuer would be checked as if it were a delegated
// responder signed by itself.
func (c *CA) SignOCSP(s OCSPStatus) ([]byte, error) {
	if s.Serial == nil {
		return nil, errors.New("embedded: an OCSP response needs a serial")
	}
	switch s.Status {
	case ocsp.Good, ocsp.Revoked, ocsp.Unknown:
	default:
		return nil, fmt.Errorf("embedded: OCSP status %d", s.Status)
	}
	h := s.Hash
	if h == 0 {
		h = crypto.SHA1
	}
	tmpl := ocsp.Response{
		Status:       s.Status,
		SerialNumber: s.Serial,
		ThisUpdate:   s.ThisUpdate.UTC().Truncate(time.Second),
		NextUpdate:   s.NextUpdate.UTC().Truncate(time.Second),
		IssuerHash:   h,
	}
	if s.Status == ocsp.Revoked {
		tmpl.RevokedAt = s.RevokedAt.UTC().Truncate(time.Second)
		tmpl.RevocationReason = s.Reason
	}
	der, err := ocsp.CreateResponse(c.cert, c.cert, tmpl, c.signer)
	if err != nil {
		return nil, fmt.Errorf("embedded: signing OCSP response: %w", err)
	}
	if s.Nonce != nil {
		if !ValidOCSPNonce(s.Nonce) {
			return nil, errors.New("embedded: the OCSP nonce is not an OCTET STRING of 1 to 32 octets")
		}
		return c.withNonce(der, s.Nonce)
	}
	return der, nil
}
