package pki

import (
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// Thumbprint returns the certificate's SHA-1 thumbprint as upper-case hex
// without separators, as the Keyfactor API and Windows report it.
func Thumbprint(c *x509.Certificate) string { return ThumbprintDER(c.Raw) }

// ThumbprintDER is Thumbprint of a DER certificate not parsed yet (inventory
// reports, store entries).
func ThumbprintDER(der []byte) string {
	sum := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// SerialHex returns the certificate's serial number as upper-case hex without
// separators or leading zero bytes, always of even length ("00" for zero).
// crypto/x509 rejects negative serials by default; should one appear, its
// magnitude is written with a leading '-'.
func SerialHex(c *x509.Certificate) string {
	return FormatSerial(c.SerialNumber)
}

// FormatSerial formats a serial number as SerialHex does.
func FormatSerial(n *big.Int) string {
	if n == nil || n.Sign() == 0 {
		return "00"
	}
	s := strings.ToUpper(hex.EncodeToString(new(big.Int).Abs(n).Bytes()))
	if n.Sign() < 0 {
		return "-" + s
	}
	return s
}

// maxSerialHexLength bounds ParseSerialHex input: RFC 5280 serials are at most
// 20 octets; 128 characters leaves room for separators and leading zeros.
const maxSerialHexLength = 128

// ParseSerialHex parses a serial number as clients send it back: hex digits in
// either case, optionally separated by ':', '-' or spaces, optionally with
// leading zeros (Windows keeps the DER sign byte). The result compares equal
// to the certificate's SerialNumber.
func ParseSerialHex(s string) (*big.Int, error) {
	if len(s) > maxSerialHexLength {
		return nil, inputErrorf("SerialNumber", "is longer than %d characters", maxSerialHexLength)
	}
	clean := strings.Map(func(r rune) rune {
		if r == ':' || r == '-' || r == ' ' {
			return -1
		}
		return r
	}, s)
	if clean == "" {
		return nil, inputErrorf("SerialNumber", "is empty")
	}
	for i := 0; i < len(clean); i++ {
		if !isHex(clean[i]) {
			return nil, inputErrorf("SerialNumber", "%q is not hexadecimal", s)
		}
	}
	n, _ := new(big.Int).SetString(clean, 16)
	return n, nil
}

// SubjectKeyID returns the subject key identifier for pub by RFC 7093
// section 2 method 1: the leftmost 160 bits of the SHA-256 hash of the
// subjectPublicKey BIT STRING (without tag, length and unused-bits byte).
// This is what crypto/x509.CreateCertificate computes for CA templates
// without a SubjectKeyId since Go 1.25 (RFC 5280's SHA-1 method was the
// earlier default), so keys identify the same way whether certdock or the
// standard library fills the field.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("pki: subject key id: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("pki: subject key id: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}
