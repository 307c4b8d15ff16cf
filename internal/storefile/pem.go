package storefile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"

	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/pki"
)

// A PEM store is in one of two shapes:
//
//   - single entry: the certificate file holds a leaf (and its chain when
//     there is no ChainPath) and a private key lives in PrivateKeyPath or,
//     without one, in the certificate file itself. A store with a
//     PrivateKeyPath or ChainPath property, or with a key, is always this
//     shape; it holds at most one entry.
//   - certificate list: the certificate file holds certificates only (a
//     trust bundle); each certificate is an entry.
//
// PEM has nowhere to keep an alias: entries are named by their leaf's
// thumbprint, and the alias of an add is not stored.

// pemFile is a parsed PEM file.
type pemFile struct {
	certs []*x509.Certificate
	key   *pem.Block // the first private key block, if any
}

// maxPEMBlocks bounds the blocks of one PEM file (a trust bundle of every
// public root has a few hundred).
const maxPEMBlocks = 10000

func isKeyBlock(t string) bool {
	return t == "PRIVATE KEY" || t == "ENCRYPTED PRIVATE KEY" || t == "RSA PRIVATE KEY" || t == "EC PRIVATE KEY"
}

// parsePEM reads certificates and the first private key from data; text
// between blocks is ignored, other block types are refused.
func parsePEM(data []byte) (pemFile, error) {
	var f pemFile
	rest := data
	for n := 0; ; n++ {
		if n > maxPEMBlocks {
			return f, invalidf("more than %d PEM blocks", maxPEMBlocks)
		}
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return f, invalidf("PEM certificate %d: %v", len(f.certs)+1, err)
			}
			f.certs = append(f.certs, c)
		case isKeyBlock(b.Type):
			if f.key != nil {
				return f, invalidf("more than one private key")
			}
			f.key = b
		default:
			return f, invalidf("unexpected PEM block %q", b.Type)
		}
	}
	if len(bytes.TrimSpace(rest)) > 0 && bytes.Contains(rest, []byte("-----BEGIN")) {
		return f, invalidf("a PEM block is malformed")
	}
	return f, nil
}

// pemState is what the store's files hold now.
type pemState struct {
	exists  bool
	cert    pemFile
	chain   []*x509.Certificate
	haveKey bool
}

func (s Store) readPEM() (pemState, error) {
	var st pemState
	data, ok, err := readFile(s.Path)
	if err != nil {
		return st, err
	}
	st.exists = ok
	if st.cert, err = parsePEM(data); err != nil {
		return st, err
	}
	st.haveKey = st.cert.key != nil
	if s.PrivateKeyPath != "" {
		kd, ok, err := readFile(s.PrivateKeyPath)
		if err != nil {
			return st, err
		}
		if ok {
			kf, err := parsePEM(kd)
			if err != nil {
				return st, err
			}
			st.haveKey = st.haveKey || kf.key != nil
		}
	}
	if s.ChainPath != "" {
		cd, _, err := readFile(s.ChainPath)
		if err != nil {
			return st, err
		}
		cf, err := parsePEM(cd)
		if err != nil {
			return st, err
		}
		st.chain = cf.certs
	}
	return st, nil
}

// singleEntry reports whether the store is (or becomes) the one-entry shape.
func (s Store) singleEntry(st pemState) bool {
	return s.PrivateKeyPath != "" || s.ChainPath != "" || st.haveKey
}

func (s Store) pemInventory() ([]Item, error) {
	st, err := s.readPEM()
	if err != nil {
		return nil, err
	}
	if !st.exists && !s.CreateIfMissing {
		return nil, ErrNoStore
	}
	items := []Item{}
	if len(st.cert.certs) == 0 {
		return items, nil
	}
	if s.singleEntry(st) {
		it := Item{Alias: pki.ThumbprintDER(st.cert.certs[0].Raw), PrivateKeyEntry: st.haveKey}
		seen := map[string]bool{}
		for _, c := range append(append([]*x509.Certificate{}, st.cert.certs...), st.chain...) {
			if !seen[string(c.Raw)] {
				seen[string(c.Raw)] = true
				it.Certificates = append(it.Certificates, c.Raw)
			}
		}
		return append(items, it), nil
	}
	for _, c := range st.cert.certs {
		items = append(items, Item{Alias: pki.ThumbprintDER(c.Raw), Certificates: [][]byte{c.Raw}})
	}
	return items, nil
}

func certsPEM(certs []*x509.Certificate) []byte { return keystore.CertsPEM(certs, false) }

// keyPEM is the entry's key as PKCS#8: encrypted (PBES2, AES-256) with the
// store password when there is one.
func (s Store) keyPEM(e Entry) ([]byte, error) {
	if s.Password != "" {
		b, err := keystore.EncryptPKCS8(e.Key, s.Password, 0, nil)
		if err != nil {
			return nil, invalidf("private key: %v", err)
		}
		return pem.EncodeToMemory(b), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(e.Key)
	if err != nil {
		return nil, invalidf("private key: %v", err)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func (s Store) pemAdd(e Entry, overwrite bool) error {
	st, err := s.readPEM()
	if err != nil {
		return err
	}
	if !st.exists && !s.CreateIfMissing {
		return ErrNoStore
	}
	leaf := e.Certificates[0]
	if !(s.singleEntry(st) || e.Key != nil) {
		// Certificate list: append the leaf.
		for _, c := range st.cert.certs {
			if bytes.Equal(c.Raw, leaf.Raw) {
				if !overwrite {
					return ErrAliasExists
				}
				return nil
			}
		}
		return s.write(s.Path, append(certsPEM(st.cert.certs), certsPEM([]*x509.Certificate{leaf})...))
	}
	if len(st.cert.certs) > 0 && !overwrite {
		return ErrAliasExists
	}
	var certFile []byte
	if e.Key != nil {
		kp, err := s.keyPEM(e)
		if err != nil {
			return err
		}
		if s.PrivateKeyPath != "" {
			// The key file first: the certificate file is written last, so
			// inventory never shows the new certificate before its key.
			if err := s.write(s.PrivateKeyPath, kp); err != nil {
				return err
			}
		} else {
			certFile = kp
		}
	} else if s.PrivateKeyPath != "" {
		if err := remove(s.PrivateKeyPath); err != nil {
			return err
		}
	}
	if s.ChainPath != "" {
		if err := s.write(s.ChainPath, certsPEM(e.Certificates[1:])); err != nil {
			return err
		}
		certFile = append(certFile, certsPEM(e.Certificates[:1])...)
	} else {
		certFile = append(certFile, certsPEM(e.Certificates)...)
	}
	return s.write(s.Path, certFile)
}

func (s Store) pemRemove(alias string) error {
	st, err := s.readPEM()
	if err != nil {
		return err
	}
	if !st.exists {
		return ErrNoStore
	}
	if s.singleEntry(st) {
		if len(st.cert.certs) == 0 || !strings.EqualFold(pki.ThumbprintDER(st.cert.certs[0].Raw), alias) {
			return ErrNoEntry
		}
		// The certificate file first: once it is empty the store holds no
		// entry, whatever happens to the key and chain files after.
		if err := s.write(s.Path, nil); err != nil {
			return err
		}
		if s.PrivateKeyPath != "" {
			if err := remove(s.PrivateKeyPath); err != nil {
				return err
			}
		}
		if s.ChainPath != "" {
			if _, err := statFile(s.ChainPath); err == nil {
				return s.write(s.ChainPath, nil)
			}
		}
		return nil
	}
	var keep []*x509.Certificate
	found := false
	for _, c := range st.cert.certs {
		if strings.EqualFold(pki.ThumbprintDER(c.Raw), alias) {
			found = true
			continue
		}
		keep = append(keep, c)
	}
	if !found {
		return ErrNoEntry
	}
	return s.write(s.Path, certsPEM(keep))
}
