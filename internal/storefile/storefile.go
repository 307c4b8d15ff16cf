// Package storefile reads and writes the certificate stores the certdock
// agent manages on its machine: PEM files (certificate, key and chain
// files), PKCS#12 files and Java keystores (JKS, or PKCS12 type). It adds
// an entry under an alias (refusing an existing alias unless told to
// overwrite), removes an entry by alias, and lists the entries
// (inventory).
//
// Every write is atomic: the new content goes to a temporary file in the
// same directory, which is synced, renamed over the old file, and the
// directory synced; a crash leaves either the old or the new file, never a
// half-written keystore. An existing file keeps its mode; a new file is
// created 0600.
//
// The package does no network I/O and knows nothing of the protocol: the
// agent hands it decoded keys and certificates.
package storefile

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/certdock/certdock/internal/pki"
)

// Kind is the store format.
type Kind int

const (
	// PEM is a certificate file with optional separate key and chain files.
	PEM Kind = iota + 1
	// PKCS12 is a PKCS#12 (.p12/.pfx) file.
	PKCS12
	// JKS is a Java keystore, JKS or PKCS12 type (Store.KeystoreType).
	JKS
)

func (k Kind) String() string {
	switch k {
	case PEM:
		return "PEM"
	case PKCS12:
		return "PKCS12"
	case JKS:
		return "JKS"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MaxFileSize caps every store file read: a keystore with thousands of
// entries is well below it, and a wrong path (a log file, a device) must not
// make the agent read gigabytes.
const MaxFileSize = 16 << 20

// Errors callers match with errors.Is.
var (
	// ErrAliasExists: an add without overwrite found the alias in use.
	ErrAliasExists = errors.New("storefile: alias already exists")
	// ErrNoEntry: a remove named an alias the store does not hold.
	ErrNoEntry = errors.New("storefile: no entry with this alias")
	// ErrNoStore: the store file does not exist and may not be created.
	ErrNoStore = errors.New("storefile: store file does not exist")
	// ErrPassword: the store or entry password does not open the store.
	ErrPassword = errors.New("storefile: wrong password")
	// ErrInvalid: the request or the store file content is not usable.
	ErrInvalid = errors.New("storefile: invalid")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Store is one store on this machine.
type Store struct {
	Kind Kind
	// Path is the store file: the certificate file for PEM.
	Path string
	// Password is the store password: it encrypts the PEM key file (none:
	// unencrypted PKCS#8), protects a PKCS#12 file, and is a JKS's store
	// password. PKCS#12 and JKS stores need one.
	Password string
	// PrivateKeyPath and ChainPath are the PEM store's key and chain files;
	// empty means the key (and the chain) go into the certificate file.
	PrivateKeyPath, ChainPath string
	// KeystoreType is "JKS" (default) or "PKCS12" for Kind JKS.
	KeystoreType string
	// CreateIfMissing lets Add create a missing store file.
	CreateIfMissing bool

	// beforeRename, when set (tests), runs after the temporary file is
	// written and synced, before it replaces the store file; an error
	// aborts the write as a crash would.
	beforeRename func(tmp string) error
}

// Entry is what Add puts into a store.
type Entry struct {
	// Alias names the entry; empty means the leaf's SHA-1 thumbprint
	// (upper-case hex, as Keyfactor names entries).
	Alias string
	// Key is the private key; nil adds the certificate alone.
	Key crypto.PrivateKey
	// Certificates are the leaf first, then its chain.
	Certificates []*x509.Certificate
	// Password protects the key inside a JKS (empty: the store password).
	// PEM and PKCS#12 stores protect keys with the store password.
	Password string
}

// Item is one inventory entry.
type Item struct {
	Alias           string
	PrivateKeyEntry bool
	// Certificates are DER, leaf first.
	Certificates [][]byte
}

func (s Store) check() error {
	if s.Path == "" {
		return invalidf("store path is empty")
	}
	switch s.Kind {
	case PEM:
	case PKCS12:
		if s.Password == "" {
			return invalidf("a PKCS#12 store needs a store password")
		}
	case JKS:
		if s.Password == "" {
			return invalidf("a Java keystore needs a store password")
		}
		switch strings.ToUpper(s.KeystoreType) {
		case "", "JKS", "PKCS12":
		default:
			return invalidf("KeystoreType %q is not JKS or PKCS12", s.KeystoreType)
		}
	default:
		return invalidf("unknown store kind %d", int(s.Kind))
	}
	return nil
}

// pkcs12File reports whether the store's file is PKCS#12 encoded.
func (s Store) pkcs12File() bool {
	return s.Kind == PKCS12 || (s.Kind == JKS && strings.EqualFold(s.KeystoreType, "PKCS12"))
}

func (e Entry) check() (Entry, error) {
	if len(e.Certificates) == 0 || e.Certificates[0] == nil {
		return e, invalidf("the entry has no certificate")
	}
	for i, c := range e.Certificates {
		if c == nil {
			return e, invalidf("certificate %d is nil", i)
		}
	}
	if e.Alias == "" {
		e.Alias = pki.ThumbprintDER(e.Certificates[0].Raw)
	}
	if strings.ContainsAny(e.Alias, "\x00\r\n") {
		return e, invalidf("alias contains a control character")
	}
	if e.Key != nil {
		s, ok := e.Key.(crypto.Signer)
		if !ok {
			return e, invalidf("unsupported private key type %T", e.Key)
		}
		eq, ok := s.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !eq.Equal(e.Certificates[0].PublicKey) {
			return e, invalidf("the private key does not match the certificate")
		}
	}
	return e, nil
}

// Inventory lists the store's entries. A missing store file is an empty
// store when CreateIfMissing is set, ErrNoStore otherwise.
func (s Store) Inventory() ([]Item, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	switch {
	case s.Kind == PEM:
		return s.pemInventory()
	case s.pkcs12File():
		entries, err := s.loadPKCS12()
		if err != nil {
			return nil, err
		}
		return itemsOf(entries), nil
	default:
		return s.jksInventory()
	}
}

// Add puts e into the store under e.Alias. An existing alias is replaced
// only with overwrite, otherwise ErrAliasExists.
func (s Store) Add(e Entry, overwrite bool) error {
	if err := s.check(); err != nil {
		return err
	}
	e, err := e.check()
	if err != nil {
		return err
	}
	switch {
	case s.Kind == PEM:
		return s.pemAdd(e, overwrite)
	case s.pkcs12File():
		return s.pkcs12Add(e, overwrite)
	default:
		return s.jksAdd(e, overwrite)
	}
}

// Remove deletes the entry named alias (case-insensitively), or
// ErrNoEntry.
func (s Store) Remove(alias string) error {
	if err := s.check(); err != nil {
		return err
	}
	if alias == "" {
		return invalidf("alias is empty")
	}
	switch {
	case s.Kind == PEM:
		return s.pemRemove(alias)
	case s.pkcs12File():
		return s.pkcs12Remove(alias)
	default:
		return s.jksRemove(alias)
	}
}

// Create writes an empty store if none exists.
func (s Store) Create() error {
	if err := s.check(); err != nil {
		return err
	}
	if _, err := statFile(s.Path); err == nil {
		return nil
	}
	switch {
	case s.Kind == PEM:
		return s.write(s.Path, nil)
	case s.pkcs12File():
		return s.savePKCS12(nil)
	default:
		return s.saveJKS(newJKS())
	}
}
