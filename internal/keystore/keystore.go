package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// ChainOrder is the order in which certificates are written.
type ChainOrder int

const (
	// EndEntityFirst writes the leaf, then its issuer, up to the root.
	EndEntityFirst ChainOrder = iota
	// RootFirst writes the root first and the leaf last.
	RootFirst
)

// String returns the Keyfactor spelling of o.
func (o ChainOrder) String() string {
	switch o {
	case EndEntityFirst:
		return "EndEntityFirst"
	case RootFirst:
		return "RootFirst"
	}
	return fmt.Sprintf("ChainOrder(%d)", int(o))
}

// Profile is the PKCS#12 encryption profile.
type Profile int

const (
	// ProfileModern (the default) encrypts the key bag and the certificate
	// safe with PBES2 + PBKDF2-HMAC-SHA256 + AES-256-CBC and authenticates the
	// file with an HMAC-SHA256 MAC keyed by the PKCS#12 KDF.
	ProfileModern Profile = iota
	// ProfileLegacy encrypts the certificate safe with
	// pbeWithSHAAnd40BitRC2-CBC and the key bag with
	// pbeWithSHAAnd3-KeyTripleDES-CBC, with an HMAC-SHA1 MAC.
	ProfileLegacy
)

// String returns a short name of p.
func (p Profile) String() string {
	switch p {
	case ProfileModern:
		return "modern"
	case ProfileLegacy:
		return "legacy"
	}
	return fmt.Sprintf("Profile(%d)", int(p))
}

// Bundle is what gets packaged.
type Bundle struct {
	// Key is a *rsa.PrivateKey, a *ecdsa.PrivateKey (P-256, P-384, P-521)
	// or an ed25519.PrivateKey. Its public key must be the leaf's.
	Key crypto.PrivateKey
	// Leaf is the end-entity certificate.
	Leaf *x509.Certificate
	// Chain holds the CA certificates, the leaf's issuer first and the
	// root last. It may be empty (IncludeChain=false).
	Chain []*x509.Certificate
	// FriendlyName is the PFX friendlyName on the key bag and the leaf
	// cert bag, and the JKS alias. Empty means no friendlyName attribute
	// (and the default JKS alias, see JKSAlias).
	FriendlyName string
	// CSPName is the Microsoft CSP name attribute (1.3.6.1.4.1.311.17.1)
	// on the PFX key bag. Empty means none.
	CSPName string
}

// Options controls the encoding.
type Options struct {
	// Password protects the key (all formats), the PFX MAC and the JKS
	// store. It must not be empty.
	Password string
	// Profile is the PKCS#12 encryption profile; ProfileModern by default.
	// Only EncodePKCS12 uses it.
	Profile Profile
	// Order is the certificate order for PKCS#12, PEM and ZIP output.
	Order ChainOrder
	// IncludeSubjectHeader puts a "subject=..." line before each
	// CERTIFICATE block of PEM output (also the PEM files in a ZIP).
	IncludeSubjectHeader bool
	// Iterations is the PBKDF2 / PKCS#12 KDF iteration count for every
	// encryption and the MAC; 0 means DefaultIterations.
	Iterations int
	// Rand is the source of salts and IVs; nil means crypto/rand.
	Rand io.Reader
	// Now is the JKS entry creation date and the ZIP file modification
	// time; the zero value means the leaf's NotBefore, so that no clock
	// is read here.
	Now time.Time
}

// DefaultIterations is the iteration count used when Options.Iterations is
// 0. 2048 is what OpenSSL and Windows write by default, and it keeps a
// modern-profile PFX well under a few milliseconds to encode.
const DefaultIterations = 2048

// MaxIterations caps Options.Iterations: the count multiplies CPU time per
// request, and a misconfigured value must not turn into a denial of service.
const MaxIterations = 1_000_000

// ErrInvalid is matched (with errors.Is) by every error caused by the input
// rather than by a failure of randomness or encoding; callers map it to a
// client error.
var ErrInvalid = errors.New("keystore: invalid input")

// ErrEmptyPassword is returned when Options.Password is empty. It matches
// ErrInvalid.
var ErrEmptyPassword error = &inputError{msg: "password must not be empty"}

type inputError struct{ msg string }

func (e *inputError) Error() string        { return "keystore: " + e.msg }
func (e *inputError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// settings is Options after defaults and checks.
type settings struct {
	Options
	iterations int
	rand       io.Reader
}

func (o Options) settings() (settings, error) {
	s := settings{Options: o, iterations: o.Iterations, rand: o.Rand}
	if o.Password == "" {
		return s, ErrEmptyPassword
	}
	if !utf8.ValidString(o.Password) {
		return s, invalidf("password is not valid UTF-8")
	}
	if strings.ContainsRune(o.Password, 0) {
		// OpenSSL, Windows and Java take passwords as NUL-terminated
		// or char strings: nobody could type this one.
		return s, invalidf("password contains a NUL character")
	}
	if s.iterations == 0 {
		s.iterations = DefaultIterations
	}
	if s.iterations < 1 || s.iterations > MaxIterations {
		return s, invalidf("iterations %d out of range 1..%d", o.Iterations, MaxIterations)
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	switch o.Order {
	case EndEntityFirst, RootFirst:
	default:
		return s, invalidf("unknown chain order %d", int(o.Order))
	}
	switch o.Profile {
	case ProfileModern, ProfileLegacy:
	default:
		return s, invalidf("unknown PKCS#12 profile %d", int(o.Profile))
	}
	return s, nil
}

// settingsFor is settings, then b.check: the start of every single-bundle
// encoder.
func (o Options) settingsFor(b Bundle) (settings, error) {
	s, err := o.settings()
	if err != nil {
		return s, err
	}
	return s, b.check()
}

// now returns the time to stamp on JKS entries and ZIP members.
func (s settings) now(b Bundle) time.Time {
	if !s.Now.IsZero() {
		return s.Now
	}
	return b.Leaf.NotBefore
}

// check validates the bundle: a supported key whose public key is the
// leaf's, and no nil certificates.
func (b Bundle) check() error {
	if b.Leaf == nil {
		return invalidf("no leaf certificate")
	}
	for i, c := range b.Chain {
		if c == nil {
			return invalidf("chain certificate %d is nil", i)
		}
	}
	if err := checkKey(b.Key); err != nil {
		return err
	}
	pub := b.Key.(crypto.Signer).Public()
	eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(b.Leaf.PublicKey) {
		return invalidf("private key does not match the leaf certificate")
	}
	return nil
}

func checkKey(key crypto.PrivateKey) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k == nil {
			return invalidf("nil RSA key")
		}
	case *ecdsa.PrivateKey:
		if k == nil {
			return invalidf("nil ECDSA key")
		}
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return invalidf("unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return invalidf("malformed Ed25519 key")
		}
	case nil:
		return invalidf("no private key")
	default:
		return invalidf("unsupported private key type %T", key)
	}
	return nil
}

// Ordered returns the leaf, then the chain (the leaf's issuer first), in
// order o: as given for EndEntityFirst, reversed for RootFirst.
func (o ChainOrder) Ordered(leaf *x509.Certificate, chain []*x509.Certificate) []*x509.Certificate {
	out := append([]*x509.Certificate{leaf}, chain...)
	if o == RootFirst {
		slices.Reverse(out)
	}
	return out
}

// certs returns the leaf and the chain in the requested order.
func (b Bundle) certs(order ChainOrder) []*x509.Certificate {
	return order.Ordered(b.Leaf, b.Chain)
}

// leafThenChain returns the leaf, then the CA certificates in the requested
// order: the order of PFX certificate bags. The leaf always comes first
// because go-pkcs12's DecodeChain (the Keyfactor Go client's UnpackPkcs12,
// Terraform) takes the first certificate bag as the key's certificate.
func (b Bundle) leafThenChain(order ChainOrder) []*x509.Certificate {
	return append([]*x509.Certificate{b.Leaf}, b.chainInOrder(order)...)
}

// chainInOrder returns only the CA certificates in the requested order.
func (b Bundle) chainInOrder(order ChainOrder) []*x509.Certificate {
	out := slices.Clone(b.Chain)
	if order == RootFirst {
		slices.Reverse(out)
	}
	return out
}

// bmpString encodes s as a BMPString (UCS-2, big endian). Characters
// outside the Basic Multilingual Plane cannot be represented in UCS-2 and
// are rejected: go-pkcs12, which the Keyfactor Go client decodes with,
// rejects them too. NUL is rejected as well.
func bmpString(what, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, invalidf("%s is not valid UTF-8", what)
	}
	if strings.ContainsRune(s, 0) {
		// Readers treat BMPStrings as NUL-terminated (Windows reads the
		// CSP name as a C wide string, go-pkcs12 strips a trailing NUL).
		return nil, invalidf("%s contains a NUL character", what)
	}
	out := make([]byte, 0, 2*len(s))
	for _, r := range s {
		if r >= 0x10000 || utf16.IsSurrogate(r) {
			return nil, invalidf("%s contains %q, which is outside the Basic Multilingual Plane", what, r)
		}
		out = append(out, byte(r>>8), byte(r))
	}
	return out, nil
}
