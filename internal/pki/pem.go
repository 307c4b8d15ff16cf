package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
)

// Size caps for decoding client-supplied objects. A PKCS#10 request with an
// RSA-8192 key and a few hundred SANs stays under 16 KiB, so 64 KiB rejects
// nothing real. A certificate is at most a few KiB; 1 MiB and 64 certificates
// cover any chain or bundle while bounding memory and parsing per request.
const (
	maxCSRSize          = 64 << 10
	maxCertificatesSize = 1 << 20
	maxCertificates     = 64
)

// DecodeCSR decodes a PKCS#10 certificate request given as PEM (a single
// "CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST" block; text around it is
// skipped as RFC 7468 allows), as bare base64
// of the DER (line breaks allowed, as Keyfactor clients send it), or as binary
// DER, and verifies its self-signature. Errors are *InputError with Field
// "CSR".
func DecodeCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > maxCSRSize {
		return nil, inputErrorf("CSR", "is %d bytes long; the limit is %d", len(data), maxCSRSize)
	}
	der, err := decodeOne(data, "CSR", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, inputErrorf("CSR", "is not a valid PKCS#10 request: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, inputErrorf("CSR", "signature does not verify: %v", err)
	}
	return csr, nil
}

var pemBegin = []byte("-----BEGIN ")

// decodeOne extracts the DER of a single object from PEM with one of types,
// bare base64, or binary DER. Base64 is tried before DER because base64 text
// may also begin with '0' (0x30), the DER SEQUENCE tag.
func decodeOne(data []byte, field string, types ...string) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, inputErrorf(field, "is empty")
	}
	if bytes.Contains(trimmed, pemBegin) {
		block, rest := pem.Decode(trimmed)
		if block == nil {
			return nil, inputErrorf(field, "has a malformed PEM block")
		}
		if !slices.Contains(types, block.Type) {
			return nil, inputErrorf(field, "PEM block is %q; expected %q", block.Type, types[0])
		}
		if bytes.Contains(rest, pemBegin) {
			return nil, inputErrorf(field, "has more than one PEM block")
		}
		return block.Bytes, nil
	}
	if der, ok := decodeBase64(trimmed); ok {
		return der, nil
	}
	if data[0] == 0x30 { // binary DER SEQUENCE; never trimmed, its last byte may be 0x0A
		return data, nil
	}
	return nil, inputErrorf(field, "is neither PEM, base64 nor DER")
}

// decodeBase64 decodes standard base64 with or without padding, ignoring
// whitespace and line breaks.
func decodeBase64(b []byte) ([]byte, bool) {
	clean := bytes.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, b)
	if der, err := base64.StdEncoding.DecodeString(string(clean)); err == nil && len(der) > 0 {
		return der, true
	}
	if der, err := base64.RawStdEncoding.DecodeString(string(clean)); err == nil && len(der) > 0 {
		return der, true
	}
	return nil, false
}

// DecodeCertificates decodes one or more certificates given as PEM
// "CERTIFICATE" blocks (other block types are an error, so a private key
// pasted by mistake is not silently ignored; text outside the blocks, such as
// openssl's "subject=" lines, is skipped as RFC 7468 allows), as bare base64
// of one DER certificate, or as binary DER. Errors are *InputError with Field
// "Certificate".
func DecodeCertificates(data []byte) ([]*x509.Certificate, error) {
	const field = "Certificate"
	if len(data) > maxCertificatesSize {
		return nil, inputErrorf(field, "is %d bytes long; the limit is %d", len(data), maxCertificatesSize)
	}
	if !bytes.Contains(data, pemBegin) {
		der, err := decodeOne(data, field, "CERTIFICATE")
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, inputErrorf(field, "is not a valid X.509 certificate: %v", err)
		}
		return []*x509.Certificate{c}, nil
	}
	var out []*x509.Certificate
	for rest := data; bytes.Contains(rest, pemBegin); {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, inputErrorf(field, "has a malformed PEM block after certificate %d", len(out))
		}
		if block.Type != "CERTIFICATE" {
			return nil, inputErrorf(field, "PEM block %d is %q; expected \"CERTIFICATE\"", len(out)+1, block.Type)
		}
		if len(out) == maxCertificates {
			return nil, inputErrorf(field, "has more than %d certificates", maxCertificates)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, inputErrorf(field, "certificate %d is not valid: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}
