// Package keygen turns the request's KeyType, KeyLength and Curve into a key
// specification and generates keys for it: RSA 2048/3072/4096/8192, ECDSA on
// P-256/P-384/P-521, and Ed25519. Ed448 is refused: Go's crypto/x509 can
// neither create nor parse Ed448 certificates.
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

// Algorithms.
const (
	RSA Algorithm = iota + 1
	ECDSA
	Ed25519
)

// Spec is a resolved key choice.
type Spec struct {
	Algorithm Algorithm
	Bits      int // RSA modulus size, or the EC field size (256, 384, 521); 0 for Ed25519
	Curve     elliptic.Curve
}

// FieldError names the request field a key choice is wrong in.
type FieldError struct {
	Field   string // "KeyType", "KeyLength" or "Curve"
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func (s Spec) String() string {
	switch s.Algorithm {
	case RSA:
		return "RSA-" + strconv.Itoa(s.Bits)
	case ECDSA:
		return "ECC-" + strings.ReplaceAll(s.Curve.Params().Name, "-", "")
	case Ed25519:
		return "Ed25519"
	}
	return "unknown"
}

// KeyTypeName is the Keyfactor key type name: "RSA", "ECC" or "Ed25519".
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

// CurveOID is the curve's OID, "" for RSA.
func (s Spec) CurveOID() string {
	switch s.Algorithm {
	case ECDSA:
		switch s.Bits {
		case 256:
			return "1.2.840.10045.3.1.7"
		case 384:
			return "1.3.132.0.34"
		case 521:
			return "1.3.132.0.35"
		}
	case Ed25519:
		return "1.3.101.112"
	}
	return ""
}

func curveFor(s string) (elliptic.Curve, int, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1.2.840.10045.3.1.7", "p-256", "p256", "prime256v1", "secp256r1", "nistp256":
		return elliptic.P256(), 256, true
	case "1.3.132.0.34", "p-384", "p384", "secp384r1", "nistp384":
		return elliptic.P384(), 384, true
	case "1.3.132.0.35", "p-521", "p521", "secp521r1", "nistp521":
		return elliptic.P521(), 521, true
	}
	return nil, 0, false
}

// ParseSpec resolves KeyType (case-insensitive: RSA; ECC, EC or ECDSA;
// Ed25519; empty means RSA), KeyLength (0 = the default: RSA 2048; for ECC
// the curve comes from 256/384/521 when Curve is empty) and Curve (an OID or
// a name such as P-256, prime256v1, secp384r1; Ed25519's OID 1.3.101.112
// means KeyType Ed25519).
func ParseSpec(keyType string, keyLength int, curve string) (Spec, error) {
	kt := strings.ToLower(strings.TrimSpace(keyType))
	c := strings.TrimSpace(curve)
	if kt == "" && c != "" {
		kt = "ecc"
		if c == "1.3.101.112" || strings.EqualFold(c, "ed25519") {
			kt = "ed25519"
		}
	}
	if keyLength < 0 {
		return Spec{}, fieldErr("KeyLength", "must not be negative")
	}
	switch kt {
	case "", "rsa":
		if c != "" {
			return Spec{}, fieldErr("Curve", "does not apply to RSA keys")
		}
		if keyLength == 0 {
			keyLength = 2048
		}
		switch keyLength {
		case 2048, 3072, 4096, 8192:
			return Spec{Algorithm: RSA, Bits: keyLength}, nil
		}
		return Spec{}, fieldErr("KeyLength", "%d is not a supported RSA key size (2048, 3072, 4096, 8192)", keyLength)
	case "ecc", "ec", "ecdsa":
		if c == "" {
			switch keyLength {
			case 256, 384, 521:
				cv, bits, _ := curveFor("p-" + strconv.Itoa(keyLength))
				return Spec{Algorithm: ECDSA, Bits: bits, Curve: cv}, nil
			case 0:
				return Spec{}, fieldErr("Curve", "is required for ECC keys (or give KeyLength 256, 384 or 521)")
			}
			return Spec{}, fieldErr("KeyLength", "%d is not an ECC key size (256, 384, 521)", keyLength)
		}
		cv, bits, ok := curveFor(c)
		if !ok {
			if c == "1.3.101.113" || strings.EqualFold(c, "ed448") {
				return Spec{}, fieldErr("Curve", "Ed448 is not supported")
			}
			return Spec{}, fieldErr("Curve", "%q is not a supported curve (P-256 1.2.840.10045.3.1.7, P-384 1.3.132.0.34, P-521 1.3.132.0.35)", c)
		}
		if keyLength != 0 && keyLength != bits {
			return Spec{}, fieldErr("KeyLength", "%d does not match curve %s (%d bits)", keyLength, cv.Params().Name, bits)
		}
		return Spec{Algorithm: ECDSA, Bits: bits, Curve: cv}, nil
	case "ed25519":
		if c != "" && c != "1.3.101.112" && !strings.EqualFold(c, "ed25519") {
			return Spec{}, fieldErr("Curve", "%q does not apply to Ed25519 keys", c)
		}
		if keyLength != 0 && keyLength != 255 && keyLength != 256 {
			return Spec{}, fieldErr("KeyLength", "%d does not apply to Ed25519 keys", keyLength)
		}
		return Spec{Algorithm: Ed25519}, nil
	case "ed448":
		return Spec{}, fieldErr("KeyType", "Ed448 is not supported")
	}
	return Spec{}, fieldErr("KeyType", "%q is not a supported key type (RSA, ECC, Ed25519)", keyType)
}

// Generate makes a key. Since Go 1.26 the standard library draws key
// material from its own secure source; rand is passed for APIs that still
// take it.
func Generate(rand io.Reader, s Spec) (crypto.Signer, error) {
	switch s.Algorithm {
	case RSA:
		return rsa.GenerateKey(rand, s.Bits)
	case ECDSA:
		return ecdsa.GenerateKey(s.Curve, rand)
	case Ed25519:
		_, k, err := ed25519.GenerateKey(rand)
		return k, err
	}
	return nil, fmt.Errorf("keygen: unknown algorithm %d", s.Algorithm)
}

// SpecOf describes an existing public key (CSR enrollment).
func SpecOf(pub crypto.PublicKey) (Spec, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return Spec{Algorithm: RSA, Bits: k.N.BitLen()}, nil
	case *ecdsa.PublicKey:
		return Spec{Algorithm: ECDSA, Bits: k.Curve.Params().BitSize, Curve: k.Curve}, nil
	case ed25519.PublicKey:
		return Spec{Algorithm: Ed25519}, nil
	}
	return Spec{}, fmt.Errorf("keygen: unsupported public key type %T", pub)
}
