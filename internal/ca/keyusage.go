package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
)

// Key usages each key type may carry.
//
//   - RSA (RFC 3279 2.3.1, RFC 4055): anything but keyAgreement,
//     encipherOnly and decipherOnly.
//   - ECDSA keys, id-ecPublicKey (RFC 8813 3): never keyEncipherment or
//     dataEncipherment.
//   - Ed25519 (RFC 8410 5): only digitalSignature, nonRepudiation,
//     keyCertSign and cRLSign.
const (
	signOnly = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment |
		x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	rsaUsages     = signOnly | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	ecdsaUsages   = signOnly | x509.KeyUsageKeyAgreement | x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly
	ed25519Usages = signOnly
)

// KeyUsageFor returns the keyUsage to put into a certificate for pub.
//
// Bits of requested the key type must not carry are dropped (so one
// template's usages can serve RSA and ECC keys alike); encipherOnly and
// decipherOnly are dropped without keyAgreement, whose meaning they refine
// (RFC 5280 4.2.1.3). If nothing is left, the default for the key type is
// used: RSA digitalSignature|keyEncipherment, ECDSA and Ed25519
// digitalSignature, and for a CA keyCertSign|cRLSign|digitalSignature.
// A CA always gets keyCertSign. keyCertSign on a certificate that is not a
// CA is refused with a RejectedError: RFC 5280 4.2.1.3 requires the cA bit
// with it, and silently dropping it would hide a broken profile.
func KeyUsageFor(pub crypto.PublicKey, requested x509.KeyUsage, isCA bool) (x509.KeyUsage, error) {
	alg, err := keyAlgorithm(pub)
	if err != nil {
		return 0, err
	}
	if requested&x509.KeyUsageCertSign != 0 && !isCA {
		return 0, Rejectf("keyCertSign key usage is only for CA certificates")
	}
	var allowed, deflt x509.KeyUsage
	switch alg {
	case x509.RSA:
		allowed, deflt = rsaUsages, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment
	case x509.ECDSA:
		allowed, deflt = ecdsaUsages, x509.KeyUsageDigitalSignature
	case x509.Ed25519:
		allowed, deflt = ed25519Usages, x509.KeyUsageDigitalSignature
	}
	ku := requested & allowed
	if ku&x509.KeyUsageKeyAgreement == 0 {
		ku &^= x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly
	}
	if isCA {
		deflt = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	}
	if ku == 0 {
		ku = deflt
	}
	if isCA {
		ku |= x509.KeyUsageCertSign
	}
	return ku, nil
}

// keyAlgorithm checks that pub is a key certdock issues certificates for
// and says which kind it is.
func keyAlgorithm(pub crypto.PublicKey) (x509.PublicKeyAlgorithm, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return 0, fmt.Errorf("ca: empty RSA public key")
		}
		return x509.RSA, nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return 0, fmt.Errorf("ca: empty ECDSA public key")
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return x509.ECDSA, nil
		}
		return 0, fmt.Errorf("ca: unsupported elliptic curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return 0, fmt.Errorf("ca: Ed25519 public key of %d bytes", len(k))
		}
		return x509.Ed25519, nil
	case nil:
		return 0, fmt.Errorf("ca: no public key")
	default:
		return 0, fmt.Errorf("ca: unsupported public key type %T", pub)
	}
}
