package storefile

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"strings"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/pki"
)

// storedEntry is one decoded entry of a PKCS#12 store.
type storedEntry struct {
	alias string
	key   crypto.PrivateKey
	certs []*x509.Certificate
}

func itemsOf(entries []storedEntry) []Item {
	items := make([]Item, 0, len(entries))
	for _, e := range entries {
		it := Item{Alias: e.alias, PrivateKeyEntry: e.key != nil}
		for _, c := range e.certs {
			it.Certificates = append(it.Certificates, c.Raw)
		}
		items = append(items, it)
	}
	return items
}

// decodePKCS12Store splits a PKCS#12 file into entries: each key with the
// certificate sharing its localKeyID and that certificate's chain, found
// among the certificates that carry no attributes; then each remaining
// certificate as a certificate-only entry. An entry's alias is its
// friendlyName, or the leaf's thumbprint without one.
//
// It reads files with two safes (what OpenSSL, Windows, Java and certdock
// write) and RSA and ECDSA keys: go-pkcs12's bag-level decoder has those
// limits.
func decodePKCS12Store(data []byte, password string) ([]storedEntry, error) {
	blocks, err := pkcs12.ToPEM(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, ErrPassword
		}
		return nil, invalidf("PKCS#12: %v", err)
	}
	type certInfo struct {
		cert        *x509.Certificate
		name, keyID string
		used        bool
	}
	var certs []*certInfo
	var entries []storedEntry
	var keyIDs []string
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, invalidf("PKCS#12 certificate: %v", err)
			}
			certs = append(certs, &certInfo{cert: c, name: b.Headers["friendlyName"], keyID: b.Headers["localKeyId"]})
		case "PRIVATE KEY":
			var key crypto.PrivateKey
			if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
				key = k
			} else if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
				key = k
			} else {
				return nil, invalidf("PKCS#12 private key: unsupported encoding")
			}
			entries = append(entries, storedEntry{alias: b.Headers["friendlyName"], key: key})
			keyIDs = append(keyIDs, b.Headers["localKeyId"])
		}
	}
	// Keys: the leaf shares the localKeyID (or, without one, the public key).
	for i := range entries {
		var leaf *certInfo
		for _, ci := range certs {
			if ci.used {
				continue
			}
			if keyIDs[i] != "" && ci.keyID == keyIDs[i] {
				leaf = ci
				break
			}
		}
		if leaf == nil {
			pub := entries[i].key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
			for _, ci := range certs {
				if !ci.used && pub.Equal(ci.cert.PublicKey) {
					leaf = ci
					break
				}
			}
		}
		if leaf == nil {
			return nil, invalidf("PKCS#12: a private key has no certificate")
		}
		leaf.used = true
		entries[i].certs = []*x509.Certificate{leaf.cert}
		if entries[i].alias == "" {
			entries[i].alias = leaf.name
		}
		if entries[i].alias == "" {
			entries[i].alias = pki.ThumbprintDER(leaf.cert.Raw)
		}
	}
	// Chains: follow issuers among the attribute-less certificates. A CA
	// certificate may serve several entries.
	pool := []*x509.Certificate{}
	for _, ci := range certs {
		if ci.name == "" && ci.keyID == "" {
			pool = append(pool, ci.cert)
		}
	}
	inChain := map[string]bool{}
	for i := range entries {
		entries[i].certs = append(entries[i].certs, chainOf(entries[i].certs[0], pool, inChain)...)
	}
	for _, ci := range certs {
		if ci.used || inChain[string(ci.cert.Raw)] {
			continue
		}
		alias := ci.name
		if alias == "" {
			alias = pki.ThumbprintDER(ci.cert.Raw)
		}
		entries = append(entries, storedEntry{alias: alias, certs: []*x509.Certificate{ci.cert}})
	}
	return entries, nil
}

// chainOf follows leaf's issuers through pool, marking what it uses; it
// stops at a self-signed certificate, a missing issuer or a loop.
func chainOf(leaf *x509.Certificate, pool []*x509.Certificate, used map[string]bool) []*x509.Certificate {
	var out []*x509.Certificate
	cur := leaf
	seen := map[string]bool{string(leaf.Raw): true}
	for len(out) < len(pool) {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && cur.CheckSignatureFrom(cur) == nil {
			break
		}
		var next *x509.Certificate
		for _, c := range pool {
			if !seen[string(c.Raw)] && bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		seen[string(next.Raw)] = true
		used[string(next.Raw)] = true
		out = append(out, next)
		cur = next
	}
	return out
}

func (s Store) loadPKCS12() ([]storedEntry, error) {
	data, ok, err := readFile(s.Path)
	if err != nil {
		return nil, err
	}
	if !ok {
		if s.CreateIfMissing {
			return nil, nil
		}
		return nil, ErrNoStore
	}
	return decodePKCS12Store(data, s.Password)
}

func (s Store) savePKCS12(entries []storedEntry) error {
	se := make([]keystore.StoreEntry, 0, len(entries))
	for _, e := range entries {
		se = append(se, keystore.StoreEntry{Alias: e.alias, Key: e.key, Certificates: e.certs})
	}
	data, err := keystore.EncodePKCS12Store(se, keystore.Options{Password: s.Password})
	if err != nil {
		return invalidf("PKCS#12: %v", err)
	}
	return s.write(s.Path, data)
}

func findAlias(entries []storedEntry, alias string) int {
	for i, e := range entries {
		if strings.EqualFold(e.alias, alias) {
			return i
		}
	}
	return -1
}

func (s Store) pkcs12Add(e Entry, overwrite bool) error {
	entries, err := s.loadPKCS12()
	if err != nil {
		return err
	}
	ne := storedEntry{alias: e.Alias, key: e.Key, certs: e.Certificates}
	if i := findAlias(entries, e.Alias); i >= 0 {
		if !overwrite {
			return ErrAliasExists
		}
		entries[i] = ne
	} else {
		entries = append(entries, ne)
	}
	return s.savePKCS12(entries)
}

func (s Store) pkcs12Remove(alias string) error {
	entries, err := s.loadPKCS12()
	if err != nil {
		return err
	}
	i := findAlias(entries, alias)
	if i < 0 {
		return ErrNoEntry
	}
	return s.savePKCS12(append(entries[:i], entries[i+1:]...))
}
