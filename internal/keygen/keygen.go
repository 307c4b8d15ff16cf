// Package keygen turns the enrollment request's KeyType, KeyLength and Curve
// into a key specification and generates keys for it: RSA 2048/3072/4096/8192,
// ECDSA on P-256/P-384/P-521, and Ed25519. It also describes existing public
// keys (CSR enrollment) with the same Spec.
//
// Edges: Ed448 is refused because Go's crypto/x509 can neither create nor
// parse Ed448 certificates; RSA below 2048 bits is refused as too weak. Since
// Go 1.26 the standard library draws key material from its own secure source
// and ignores the io.Reader passed to its key generators (unless
// GODEBUG=cryptocustomrand=1); the rand parameters here are still threaded
// through so that setting, or testing/cryptotest.SetGlobalRandom, keeps
// working.
package keygen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Algorithm is a key algorithm.
type Algorithm int

// The supported algorithms. The zero value is invalid.
const (
	RSA Algorithm = iota + 1
	ECDSA
	Ed25519
)

// String returns "RSA", "ECDSA" or "Ed25519".
func (a Algorithm) String() string {
	switch a {
	case RSA:
		return "RSA"
	case ECDSA:
		return "ECDSA"
	case Ed25519:
		return "Ed25519"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// Spec is a resolved key choice.
type Spec struct {
	Algorithm Algorithm
	// Bits is the RSA modulus size, or the EC field size (256, 384, 521);
	// 0 for Ed25519.
	Bits int
	// Curve is the ECDSA curve; nil for RSA and Ed25519.
	Curve elliptic.Curve
}

// Common specs.
var (
	RSA2048    = Spec{Algorithm: RSA, Bits: 2048}
	ECCP256    = Spec{Algorithm: ECDSA, Bits: 256, Curve: elliptic.P256()}
	ECCP384    = Spec{Algorithm: ECDSA, Bits: 384, Curve: elliptic.P384()}
	ECCP521    = Spec{Algorithm: ECDSA, Bits: 521, Curve: elliptic.P521()}
	Ed25519Key = Spec{Algorithm: Ed25519}
)

// rsaSizes are the accepted RSA modulus sizes. 8192 takes tens of seconds to
// generate on a small machine; policy may refuse it.
var rsaSizes = []int{2048, 3072, 4096, 8192}

// FieldError names the request field a key choice is wrong in, so the caller
// can report it as a 400 for that field.
type FieldError struct {
	Field   string // "KeyType", "KeyLength" or "Curve"
	Message string
}

// Error returns "Field: Message", e.g. "KeyType: Ed448 is not supported".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// String returns a short name for messages and logs: "RSA-2048",
// "ECC-P256", "ECC-P384", "ECC-P521" or "Ed25519".
func (s Spec) String() string {
	switch s.Algorithm {
	case RSA:
		return "RSA-" + strconv.Itoa(s.Bits)
	case ECDSA:
		return "ECC-P" + strconv.Itoa(s.Bits)
	case Ed25519:
		return "Ed25519"
	}
	return "invalid"
}

// KeyTypeName returns the key type as Keyfactor names it: "RSA", "ECC" or
// "Ed25519".
func (s Spec) KeyTypeName() string {
	switch s.Algorithm {
	case RSA:
		return "RSA"
	case ECDSA:
		return "ECC"
	case Ed25519:
		return "Ed25519"
	}
	return ""
}

// CurveOID returns the curve's OID as Keyfactor's Curve field carries it
// (P-256 1.2.840.10045.3.1.7, P-384 1.3.132.0.34, P-521 1.3.132.0.35,
// Ed25519 1.3.101.112), or "" for RSA.
func (s Spec) CurveOID() string {
	switch s.Algorithm {
	case ECDSA:
		if c := curveByBits(s.Bits); c != nil {
			return c.oid
		}
	case Ed25519:
		return oidEd25519
	}
	return ""
}

// Validate reports whether s is a spec this package generates, as a
// *FieldError. Use it on SpecOf results to refuse weak CSR keys.
func (s Spec) Validate() error {
	switch s.Algorithm {
	case RSA:
		return checkRSABits(s.Bits)
	case ECDSA:
		c := curveByBits(s.Bits)
		if c == nil || s.Curve == nil || s.Curve.Params().Name != c.curve().Params().Name {
			return fieldErr("Curve", "%s is not a supported curve; use P-256, P-384 or P-521", curveName(s))
		}
		return nil
	case Ed25519:
		if s.Bits != 0 || s.Curve != nil {
			return fieldErr("KeyType", "Ed25519 takes no key length or curve")
		}
		return nil
	}
	return fieldErr("KeyType", "no key type")
}

func curveName(s Spec) string {
	if s.Curve != nil && s.Curve.Params() != nil {
		return s.Curve.Params().Name
	}
	return strconv.Itoa(s.Bits) + "-bit"
}

func checkRSABits(bits int) error {
	for _, b := range rsaSizes {
		if bits == b {
			return nil
		}
	}
	if bits > 0 && bits < 2048 {
		return fieldErr("KeyLength", "RSA %d is too weak; use 2048, 3072, 4096 or 8192", bits)
	}
	return fieldErr("KeyLength", "RSA %d is not supported; use 2048, 3072, 4096 or 8192", bits)
}

const (
	oidEd25519 = "1.3.101.112"
	oidEd448   = "1.3.101.113"
)

type namedCurve struct {
	curve func() elliptic.Curve
	bits  int
	oid   string
	names []string // lower-case spellings accepted in Curve
}

var curves = []namedCurve{
	{elliptic.P256, 256, "1.2.840.10045.3.1.7", []string{"p-256", "p256", "prime256v1", "secp256r1", "nistp256"}},
	{elliptic.P384, 384, "1.3.132.0.34", []string{"p-384", "p384", "secp384r1", "nistp384"}},
	{elliptic.P521, 521, "1.3.132.0.35", []string{"p-521", "p521", "secp521r1", "nistp521"}},
}

func curveByBits(bits int) *namedCurve {
	for i := range curves {
		if curves[i].bits == bits {
			return &curves[i]
		}
	}
	return nil
}

func (c *namedCurve) spec() Spec { return Spec{Algorithm: ECDSA, Bits: c.bits, Curve: c.curve()} }

// curveKind classifies a Curve field value.
type curveKind int

const (
	curveNone curveKind = iota
	curveEC
	curveEd25519
	curveEd448
	curveUnknown
)

func lookupCurve(s string) (curveKind, *namedCurve) {
	l := strings.ToLower(s)
	switch l {
	case "":
		return curveNone, nil
	case oidEd25519, "ed25519":
		return curveEd25519, nil
	case oidEd448, "ed448":
		return curveEd448, nil
	}
	for i := range curves {
		if l == curves[i].oid {
			return curveEC, &curves[i]
		}
		for _, n := range curves[i].names {
			if l == n {
				return curveEC, &curves[i]
			}
		}
	}
	return curveUnknown, nil
}

// quote quotes a client value for a message, cut to 64 bytes so a huge value
// cannot blow up the error.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}

// ParseSpec resolves the request's key fields into a Spec:
//   - keyType, case-insensitive and trimmed: "RSA"; "ECC", "EC" or "ECDSA";
//     "Ed25519". Empty means RSA unless Curve names a curve, which then
//     decides the type; callers with a policy default (a template's
//     DefaultKeyType) substitute it before calling.
//   - keyLength: 0 means the default. RSA: 2048, 3072, 4096 or 8192, default
//     2048; below 2048 is refused as too weak. ECC: 256, 384 or 521 pick
//     P-256, P-384 or P-521 when Curve is empty, and must match Curve when
//     both are given; with neither, P-256. Ed25519: 0, 255 or 256.
//   - curve, case-insensitive: an OID or a name — P-256, P256, prime256v1,
//     secp256r1, nistp256; P-384, secp384r1, nistp384; P-521, secp521r1,
//     nistp521. Ed25519's OID 1.3.101.112 (or "Ed25519") means an Ed25519
//     key, also with KeyType ECC, since Keyfactor lists it among the curves.
//
// Errors are *FieldError naming KeyType, KeyLength or Curve: Ed448 ("KeyType:
// Ed448 is not supported", or Field Curve when it came as the curve), unknown
// key types, unsupported or weak RSA lengths, unsupported ECC lengths,
// length/curve mismatches (Field KeyLength), unknown curves, and a curve given
// with KeyType RSA.
func ParseSpec(keyType string, keyLength int, curve string) (Spec, error) {
	kt := strings.ToLower(strings.TrimSpace(keyType))
	cv := strings.TrimSpace(curve)
	ck, nc := lookupCurve(cv)
	if keyLength < 0 {
		return Spec{}, fieldErr("KeyLength", "%d must not be negative", keyLength)
	}
	if kt == "" && cv != "" {
		kt = "ecc"
		if ck == curveEd25519 {
			kt = "ed25519"
		}
	}
	switch kt {
	case "", "rsa":
		if cv != "" {
			return Spec{}, fieldErr("Curve", "%s does not apply to RSA keys", quote(cv))
		}
		if keyLength == 0 {
			keyLength = 2048
		}
		if err := checkRSABits(keyLength); err != nil {
			return Spec{}, err
		}
		return Spec{Algorithm: RSA, Bits: keyLength}, nil

	case "ecc", "ec", "ecdsa":
		switch ck {
		case curveNone:
			if keyLength == 0 {
				return ECCP256, nil
			}
			if c := curveByBits(keyLength); c != nil {
				return c.spec(), nil
			}
			return Spec{}, fieldErr("KeyLength", "ECC %d is not supported; use 256 (P-256), 384 (P-384) or 521 (P-521)", keyLength)
		case curveEC:
			if keyLength != 0 && keyLength != nc.bits {
				return Spec{}, fieldErr("KeyLength", "%d does not match Curve %s (%d bits)", keyLength, nc.curve().Params().Name, nc.bits)
			}
			return nc.spec(), nil
		case curveEd25519:
			return ed25519Spec(keyLength)
		case curveEd448:
			return Spec{}, fieldErr("Curve", "Ed448 is not supported")
		}
		return Spec{}, fieldErr("Curve", "%s is not a supported curve; use P-256 (1.2.840.10045.3.1.7), P-384 (1.3.132.0.34) or P-521 (1.3.132.0.35)", quote(cv))

	case "ed25519":
		if ck != curveNone && ck != curveEd25519 {
			return Spec{}, fieldErr("Curve", "%s does not apply to Ed25519 keys", quote(cv))
		}
		return ed25519Spec(keyLength)

	case "ed448":
		return Spec{}, fieldErr("KeyType", "Ed448 is not supported")
	}
	return Spec{}, fieldErr("KeyType", "%s is not a supported key type; use RSA, ECC or Ed25519", quote(keyType))
}

func ed25519Spec(keyLength int) (Spec, error) {
	if keyLength != 0 && keyLength != 255 && keyLength != 256 {
		return Spec{}, fieldErr("KeyLength", "%d does not apply to Ed25519 keys (leave it 0)", keyLength)
	}
	return Ed25519Key, nil
}

// Generate makes a key for s, which must pass Validate. The result is an
// *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey. RSA-8192 takes
// tens of seconds on a small machine.
func Generate(rand io.Reader, s Spec) (crypto.Signer, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("keygen: %w", err)
	}
	switch s.Algorithm {
	case RSA:
		return rsa.GenerateKey(rand, s.Bits)
	case ECDSA:
		return ecdsa.GenerateKey(s.Curve, rand)
	default: // Ed25519; Validate refused anything else
		_, k, err := ed25519.GenerateKey(rand)
		return k, err
	}
}

// SpecOf describes an existing public key, for CSR enrollment. RSA keys of
// any size are described (call Validate to refuse weak ones); ECDSA keys must
// be on P-256, P-384 or P-521.
func SpecOf(pub crypto.PublicKey) (Spec, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N == nil {
			return Spec{}, fmt.Errorf("keygen: RSA key without modulus")
		}
		return Spec{Algorithm: RSA, Bits: k.N.BitLen()}, nil
	case *ecdsa.PublicKey:
		if k.Curve == nil {
			return Spec{}, fmt.Errorf("keygen: ECDSA key without curve")
		}
		if c := curveByBits(k.Curve.Params().BitSize); c != nil && c.curve().Params().Name == k.Curve.Params().Name {
			return c.spec(), nil
		}
		return Spec{}, fieldErr("Curve", "%s is not a supported curve; use P-256, P-384 or P-521", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return Ed25519Key, nil
	}
	return Spec{}, fmt.Errorf("keygen: unsupported public key type %T", pub)
}
