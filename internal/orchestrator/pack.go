package orchestrator

import (
	"crypto"
	"crypto/x509"

	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/pki"
)

func parseCSR(b []byte) (*x509.CertificateRequest, error) { return pki.DecodeCSR(b) }

// packPKCS12 is a management job's EntryContents: the key, the leaf and
// its chain in a PKCS#12 protected by a one-time password.
func packPKCS12(key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, alias, password string) ([]byte, error) {
	return keystore.EncodePKCS12(keystore.Bundle{Key: key, Leaf: leaf, Chain: chain, FriendlyName: alias},
		keystore.Options{Password: password})
}
