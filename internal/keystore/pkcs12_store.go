package keystore

import (
	"crypto"
	"crypto/sha1"
	"crypto/x509"
)

// StoreEntry is one entry of a multi-entry PKCS#12 keystore (a store file
// an agent maintains, not a download).
type StoreEntry struct {
	// Alias becomes the friendlyName of the entry's key bag and leaf bag.
	Alias string
	// Key is the entry's private key; nil for a certificate-only entry.
	Key crypto.PrivateKey
	// Certificates are the leaf first, then its chain.
	Certificates []*x509.Certificate
}

// EncodePKCS12Store encodes entries as one password-protected PKCS#12 file
// in the profile o.Profile. Like EncodePKCS12 it writes exactly two safes:
// a data safe with one pkcs8ShroudedKeyBag per key entry (possibly none),
// then an encrypted safe with every entry's certificates, leaf first. A key
// bag and its leaf's cert bag share a localKeyID (SHA-1 of the leaf) and
// carry the alias as friendlyName; a certificate-only entry's leaf carries
// only the friendlyName. o.Order does not apply: every entry is written
// leaf first.
func EncodePKCS12Store(entries []StoreEntry, o Options) ([]byte, error) {
	s, err := o.settings()
	if err != nil {
		return nil, err
	}
	prof := s.Profile.algorithms()
	bmpPass, err := bmpPassword(s.Password)
	if err != nil {
		return nil, err
	}
	var keyBags, certBags []safeBag
	for i, e := range entries {
		if len(e.Certificates) == 0 || e.Certificates[0] == nil {
			return nil, invalidf("entry %d has no certificate", i)
		}
		b := Bundle{Key: e.Key, Leaf: e.Certificates[0], Chain: e.Certificates[1:], FriendlyName: e.Alias}
		var leafAttrs [][]byte
		if e.Key != nil {
			if err := b.check(); err != nil {
				return nil, err
			}
			attrs, err := b.bagAttributes()
			if err != nil {
				return nil, err
			}
			bag, err := shroudedKeyBag(b, s, prof, bmpPass, attrs.key)
			if err != nil {
				return nil, err
			}
			keyBags = append(keyBags, bag)
			leafAttrs = attrs.leaf
		} else if e.Alias != "" {
			attr, err := bmpAttribute(oidFriendlyName, "friendly name", e.Alias)
			if err != nil {
				return nil, err
			}
			leafAttrs = [][]byte{attr}
		}
		for j, c := range e.Certificates {
			if c == nil {
				return nil, invalidf("entry %d certificate %d is nil", i, j)
			}
			var attrs [][]byte
			if j == 0 {
				attrs = leafAttrs
			}
			bag, err := newCertBag(c, attrs)
			if err != nil {
				return nil, err
			}
			certBags = append(certBags, bag)
		}
	}
	return encodePFX(keyBags, certBags, s, prof, bmpPass)
}

// LocalKeyID is the localKeyID EncodePKCS12 and EncodePKCS12Store give a
// key and its leaf: the SHA-1 of the leaf's DER.
func LocalKeyID(leaf *x509.Certificate) []byte {
	sum := sha1.Sum(leaf.Raw)
	return sum[:]
}
