package storefile

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"time"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
)

// JKS aliases are case-insensitive: keytool lower-cases them, and so does
// the library (without WithCaseExactAliases).

func newJKS() jks.KeyStore { return jks.New(jks.WithOrderedAliases()) }

// latin1 turns a password into the single bytes the JKS library widens to
// Java chars; other characters cannot be represented.
func latin1(what, s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r == 0 || r > 0xFF {
			return nil, invalidf("%s has a character a JKS password cannot hold", what)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// jksDigestOK checks a JKS file's integrity digest (SHA-1 over the
// password as UTF-16BE, "Mighty Aphrodite" and the content) before the
// library parses it: the library allocates whatever length fields say, so
// only an authentic file reaches it, and a wrong password is told apart
// from a damaged file.
func jksDigestOK(data, password []byte) bool {
	if len(data) < 12+sha1.Size || binary.BigEndian.Uint32(data) != 0xFEEDFEED {
		return false
	}
	h := sha1.New()
	for _, b := range password {
		h.Write([]byte{0, b})
	}
	h.Write([]byte("Mighty Aphrodite"))
	body := data[:len(data)-sha1.Size]
	h.Write(body)
	return bytes.Equal(h.Sum(nil), data[len(data)-sha1.Size:])
}

func decodeJKS(data []byte, password string) (jks.KeyStore, error) {
	pw, err := latin1("store password", password)
	if err != nil {
		return jks.KeyStore{}, err
	}
	defer clear(pw)
	if len(data) < 4 || binary.BigEndian.Uint32(data) != 0xFEEDFEED {
		return jks.KeyStore{}, invalidf("not a JKS keystore")
	}
	if !jksDigestOK(data, pw) {
		return jks.KeyStore{}, ErrPassword
	}
	ks := newJKS()
	if err := ks.Load(bytes.NewReader(data), pw); err != nil {
		return jks.KeyStore{}, invalidf("JKS: %v", err)
	}
	return ks, nil
}

func (s Store) loadJKS() (jks.KeyStore, bool, error) {
	data, ok, err := readFile(s.Path)
	if err != nil {
		return jks.KeyStore{}, false, err
	}
	if !ok {
		if s.CreateIfMissing {
			return newJKS(), false, nil
		}
		return jks.KeyStore{}, false, ErrNoStore
	}
	ks, err := decodeJKS(data, s.Password)
	return ks, true, err
}

func (s Store) saveJKS(ks jks.KeyStore) error {
	pw, err := latin1("store password", s.Password)
	if err != nil {
		return err
	}
	defer clear(pw)
	var buf bytes.Buffer
	if err := ks.Store(&buf, pw); err != nil {
		return fmt.Errorf("storefile: JKS: %w", err)
	}
	return s.write(s.Path, buf.Bytes())
}

func jksItems(ks jks.KeyStore) ([]Item, error) {
	items := []Item{}
	for _, alias := range ks.Aliases() {
		it := Item{Alias: alias}
		switch {
		case ks.IsPrivateKeyEntry(alias):
			it.PrivateKeyEntry = true
			chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
			if err != nil {
				return nil, invalidf("JKS entry %q: %v", alias, err)
			}
			for _, c := range chain {
				it.Certificates = append(it.Certificates, c.Content)
			}
		case ks.IsTrustedCertificateEntry(alias):
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err != nil {
				return nil, invalidf("JKS entry %q: %v", alias, err)
			}
			it.Certificates = [][]byte{e.Certificate.Content}
		default:
			continue // a secret-key entry: no certificate to report
		}
		items = append(items, it)
	}
	return items, nil
}

func (s Store) jksInventory() ([]Item, error) {
	ks, _, err := s.loadJKS()
	if err != nil {
		return nil, err
	}
	return jksItems(ks)
}

func (s Store) jksAdd(e Entry, overwrite bool) error {
	ks, _, err := s.loadJKS()
	if err != nil {
		return err
	}
	if !overwrite && (ks.IsPrivateKeyEntry(e.Alias) || ks.IsTrustedCertificateEntry(e.Alias)) {
		return ErrAliasExists
	}
	ks.DeleteEntry(e.Alias)
	now := time.Now()
	if e.Key == nil {
		err = ks.SetTrustedCertificateEntry(e.Alias, jks.TrustedCertificateEntry{
			CreationTime: now, Certificate: jks.Certificate{Type: "X.509", Content: e.Certificates[0].Raw}})
	} else {
		der, merr := x509.MarshalPKCS8PrivateKey(e.Key)
		if merr != nil {
			return invalidf("private key: %v", merr)
		}
		defer clear(der)
		entry := jks.PrivateKeyEntry{CreationTime: now, PrivateKey: der}
		for _, c := range e.Certificates {
			entry.CertificateChain = append(entry.CertificateChain, jks.Certificate{Type: "X.509", Content: c.Raw})
		}
		pwStr := e.Password
		if pwStr == "" {
			pwStr = s.Password
		}
		pw, perr := latin1("entry password", pwStr)
		if perr != nil {
			return perr
		}
		defer clear(pw)
		err = ks.SetPrivateKeyEntry(e.Alias, entry, pw)
	}
	if err != nil {
		return invalidf("JKS entry: %v", err)
	}
	return s.saveJKS(ks)
}

func (s Store) jksRemove(alias string) error {
	ks, exists, err := s.loadJKS()
	if err != nil {
		return err
	}
	if !exists {
		return ErrNoStore
	}
	if !ks.IsPrivateKeyEntry(alias) && !ks.IsTrustedCertificateEntry(alias) {
		return ErrNoEntry
	}
	ks.DeleteEntry(alias)
	return s.saveJKS(ks)
}
