package embedded

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

// OIDOCSPNonce is id-pkix-ocsp-nonce (RFC 6960 4.4.1, RFC 8954).
var OIDOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// MaxOCSPNonce is the longest nonce echoed (RFC 8954 2.1: a responder
// must accept 16 to 32 octets and may leave longer ones unanswered).
const MaxOCSPNonce = 32

// The parts of an OCSP response (RFC 6960 4.2.1) that withNonce rewrites.
type ocspResponseASN1 struct {
	Status   asn1.Enumerated
	Response ocspResponseBytes `asn1:"explicit,tag:0,optional"`
}

type ocspResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspBasicResponse struct {
	TBSResponseData    asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// Signature algorithms golang.org/x/crypto/ocsp chooses, and their hashes.
var ocspSigHash = map[string]crypto.Hash{
	"1.2.840.10045.4.3.2":   crypto.SHA256, // ecdsa-with-SHA256
	"1.2.840.10045.4.3.3":   crypto.SHA384,
	"1.2.840.10045.4.3.4":   crypto.SHA512,
	"1.2.840.113549.1.1.11": crypto.SHA256, // sha256WithRSAEncryption
	"1.2.840.113549.1.1.12": crypto.SHA384,
	"1.2.840.113549.1.1.13": crypto.SHA512,
}

// withNonce adds responseExtensions holding the nonce extension (value:
// the request's extnValue, an OCTET STRING) to a signed successful OCSP
// response and signs the new ResponseData with the same algorithm.
// golang.org/x/crypto/ocsp cannot write responseExtensions, so the
// response it made is taken apart and re-signed here.
func (c *CA) withNonce(der, nonce []byte) ([]byte, error) {
	var outer ocspResponseASN1
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("embedded: re-reading the OCSP response: %v", err)
	}
	var basic ocspBasicResponse
	if rest, err := asn1.Unmarshal(outer.Response.Response, &basic); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("embedded: re-reading the basic OCSP response: %v", err)
	}
	tbs := basic.TBSResponseData
	if tbs.Class != asn1.ClassUniversal || tbs.Tag != asn1.TagSequence {
		return nil, errors.New("embedded: ResponseData is not a SEQUENCE")
	}
	exts, err := asn1.Marshal([]pkix.Extension{{Id: OIDOCSPNonce, Value: nonce}})
	if err != nil {
		return nil, err
	}
	// responseExtensions [1] EXPLICIT Extensions, the last field.
	tagged, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: exts})
	if err != nil {
		return nil, err
	}
	content := append(append([]byte{}, tbs.Bytes...), tagged...)
	newTBS, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: content})
	if err != nil {
		return nil, err
	}
	h, ok := ocspSigHash[basic.SignatureAlgorithm.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("embedded: cannot re-sign an OCSP response with %v", basic.SignatureAlgorithm.Algorithm)
	}
	hh := h.New()
	hh.Write(newTBS)
	sig, err := c.signer.Sign(c.rand, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("embedded: signing OCSP response: %w", err)
	}
	basic.TBSResponseData = asn1.RawValue{FullBytes: newTBS}
	basic.Signature = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	if outer.Response.Response, err = asn1.Marshal(basic); err != nil {
		return nil, err
	}
	return asn1.Marshal(outer)
}

// ValidOCSPNonce reports whether v, a request's nonce extnValue, is one
// to echo: an OCTET STRING of 1 to MaxOCSPNonce octets (RFC 8954 2.1).
func ValidOCSPNonce(v []byte) bool {
	var inner []byte
	rest, err := asn1.Unmarshal(v, &inner)
	return err == nil && len(rest) == 0 && len(inner) >= 1 && len(inner) <= MaxOCSPNonce
}
