package embedded

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
)

// MaxPrivateKeySize caps the DER accepted by ParsePrivateKey. A PKCS#8
// RSA-8192 key is under 5 KiB; 64 KiB leaves room and still bounds the work
// a corrupted or hostile row can cause.
const MaxPrivateKeySize = 64 << 10

// MarshalPrivateKey encodes a CA key as unencrypted PKCS#8 DER, ready to be
// sealed with secret.Keyring.Seal. Never store the result unsealed.
func MarshalPrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("embedded: encoding CA key: %w", err)
	}
	return der, nil
}

// ParsePrivateKey decodes PKCS#8 DER (as opened from a sealed blob) into a
// signer: RSA, ECDSA or Ed25519.
func ParsePrivateKey(der []byte) (crypto.Signer, error) {
	if len(der) > MaxPrivateKeySize {
		return nil, fmt.Errorf("embedded: CA key of %d bytes exceeds %d", len(der), MaxPrivateKeySize)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("embedded: decoding CA key: %w", err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("embedded: CA key cannot sign")
	}
	return s, nil
}

// MarshalKeys encodes the root and issuing keys with MarshalPrivateKey.
func (m *Material) MarshalKeys() (root, issuing []byte, err error) {
	if root, err = MarshalPrivateKey(m.RootKey); err != nil {
		return nil, nil, err
	}
	if issuing, err = MarshalPrivateKey(m.IssuingKey); err != nil {
		return nil, nil, err
	}
	return root, issuing, nil
}

// IssuingCA returns a CA that signs with m's issuing key, with m's root as
// its chain. o's Cert, Signer and Chain are filled in; its other fields
// (clock, randomness, URLs) are kept.
func (m *Material) IssuingCA(o Options) (*CA, error) {
	o.Cert, o.Signer, o.Chain = m.IssuingCert, m.IssuingKey, []*x509.Certificate{m.RootCert}
	return New(o)
}
