package keystore

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
)

// Object identifiers of the password-based encryption schemes.
var (
	oidPBES2                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACWithSHA256       = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAES256CBC            = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidPBEWithSHAAnd3DESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd40RC2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
)

// Salt lengths. PBES2 gets 16 bytes (NIST SP 800-132 asks for at least
// 128 bits); the PKCS#12 PBEs and the MAC get 8 bytes, OpenSSL's default,
// which every reader accepts.
const (
	pbes2SaltLen  = 16
	pkcs12SaltLen = 8
)

// PKCS#12 KDF purposes (RFC 7292, appendix B.3).
const (
	kdfIDKey byte = 1
	kdfIDIV  byte = 2
	kdfIDMAC byte = 3
)

// encryptedPrivateKeyInfo is PKCS#8's EncryptedPrivateKeyInfo, also the value
// of a pkcs8ShroudedKeyBag.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbes2Params is PBES2-params (RFC 8018, A.4).
type pbes2Params struct {
	KeyDerivationFunc pkix.AlgorithmIdentifier
	EncryptionScheme  pkix.AlgorithmIdentifier
}

// pbkdf2Params is PBKDF2-params (RFC 8018, A.2) without keyLength, which
// OpenSSL also leaves out for AES (the cipher fixes it).
type pbkdf2Params struct {
	Salt           []byte
	IterationCount int
	PRF            pkix.AlgorithmIdentifier
}

// pkcs12PBEParams is pkcs-12PbeParams (RFC 7292, appendix C).
type pkcs12PBEParams struct {
	Salt       []byte
	Iterations int
}

// encrypter is one configured password-based encryption: the algorithm
// identifier to write and the CBC encrypter that goes with it.
type encrypter struct {
	alg pkix.AlgorithmIdentifier
	cbc cipher.BlockMode
}

// newPBES2 sets up PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC. The
// password goes into PBKDF2 as its UTF-8 bytes, as RFC 8018 recommends and
// OpenSSL, Windows and Java do (unlike the PKCS#12 KDF, which takes a
// BMPString).
func newPBES2(password string, iterations int, rand io.Reader) (encrypter, error) {
	salt := make([]byte, pbes2SaltLen)
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return encrypter{}, fmt.Errorf("keystore: reading salt: %w", err)
	}
	if _, err := io.ReadFull(rand, iv); err != nil {
		return encrypter{}, fmt.Errorf("keystore: reading IV: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return encrypter{}, fmt.Errorf("keystore: PBKDF2: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return encrypter{}, err
	}
	kdfParams, err := asn1.Marshal(pbkdf2Params{
		Salt:           salt,
		IterationCount: iterations,
		PRF:            pkix.AlgorithmIdentifier{Algorithm: oidHMACWithSHA256, Parameters: asn1.NullRawValue},
	})
	if err != nil {
		return encrypter{}, err
	}
	ivDER, err := asn1.Marshal(iv)
	if err != nil {
		return encrypter{}, err
	}
	params, err := asn1.Marshal(pbes2Params{
		KeyDerivationFunc: pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdfParams}},
		EncryptionScheme:  pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		return encrypter{}, err
	}
	return encrypter{
		alg: pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}},
		cbc: cipher.NewCBCEncrypter(block, iv),
	}, nil
}

// newPKCS12PBE sets up one of the PKCS#12 v1 PBEs (RFC 7292, appendix C):
// key and IV both come from the PKCS#12 KDF with SHA-1 over the BMPString
// password. bmpPassword must already include the two-byte terminator.
func newPKCS12PBE(oid asn1.ObjectIdentifier, bmpPassword []byte, iterations int, rand io.Reader) (encrypter, error) {
	salt := make([]byte, pkcs12SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return encrypter{}, fmt.Errorf("keystore: reading salt: %w", err)
	}
	var block cipher.Block
	var err error
	switch {
	case oid.Equal(oidPBEWithSHAAnd3DESCBC):
		key := pkcs12KDF(sha1.New, bmpPassword, salt, iterations, kdfIDKey, 24)
		block, err = des.NewTripleDESCipher(key)
	case oid.Equal(oidPBEWithSHAAnd40RC2):
		key := pkcs12KDF(sha1.New, bmpPassword, salt, iterations, kdfIDKey, 5)
		block, err = newRC2(key, 40)
	default:
		return encrypter{}, fmt.Errorf("keystore: no PKCS#12 PBE %s", oid)
	}
	if err != nil {
		return encrypter{}, err
	}
	iv := pkcs12KDF(sha1.New, bmpPassword, salt, iterations, kdfIDIV, block.BlockSize())
	params, err := asn1.Marshal(pkcs12PBEParams{Salt: salt, Iterations: iterations})
	if err != nil {
		return encrypter{}, err
	}
	return encrypter{
		alg: pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}},
		cbc: cipher.NewCBCEncrypter(block, iv),
	}, nil
}

// encrypt pads plaintext as PKCS#5/#7 and encrypts it with CBC.
func (e encrypter) encrypt(plaintext []byte) []byte {
	bs := e.cbc.BlockSize()
	pad := bs - len(plaintext)%bs
	out := make([]byte, len(plaintext)+pad)
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = byte(pad)
	}
	e.cbc.CryptBlocks(out, out)
	return out
}

// pkcs12KDF is the key derivation of RFC 7292, appendix B.2, producing size
// bytes for purpose id. password is the BMPString with its terminator.
func pkcs12KDF(newHash func() hash.Hash, password, salt []byte, iterations int, id byte, size int) []byte {
	h := newHash()
	u := h.Size()
	v := h.BlockSize()

	// D: v copies of the ID byte.
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	// I = S || P, each the input repeated to a multiple of v bytes.
	repeat := func(in []byte) []byte {
		if len(in) == 0 {
			return nil
		}
		n := v * ((len(in) + v - 1) / v)
		out := make([]byte, n)
		for i := range out {
			out[i] = in[i%len(in)]
		}
		return out
	}
	I := append(repeat(salt), repeat(password)...)

	out := make([]byte, 0, size+u)
	b := make([]byte, v)
	for len(out) < size {
		// A = H^r(D || I)
		h.Reset()
		h.Write(d)
		h.Write(I)
		a := h.Sum(nil)
		for r := 1; r < iterations; r++ {
			h.Reset()
			h.Write(a)
			a = h.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= size {
			break
		}
		// B = A repeated to v bytes; each v-byte block Ij of I becomes
		// (Ij + B + 1) mod 2^(8v).
		for i := range b {
			b[i] = a[i%u]
		}
		for j := 0; j < len(I); j += v {
			carry := uint16(1)
			for k := v - 1; k >= 0; k-- {
				sum := uint16(I[j+k]) + uint16(b[k]) + carry
				I[j+k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:size]
}

// bmpPassword is the PKCS#12 KDF's password form: BMPString plus a two-byte
// zero terminator (RFC 7292, appendix B.1).
func bmpPassword(password string) ([]byte, error) {
	b, err := bmpString("password", password)
	if err != nil {
		return nil, err
	}
	return append(b, 0, 0), nil
}

// marshalPKCS8 is x509.MarshalPKCS8PrivateKey after the key type check.
func marshalPKCS8(key crypto.PrivateKey) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: PKCS#8: %w", err)
	}
	return der, nil
}

// shroud encrypts a PKCS#8 PrivateKeyInfo into an EncryptedPrivateKeyInfo.
func shroud(pkcs8 []byte, e encrypter) ([]byte, error) {
	return asn1.Marshal(encryptedPrivateKeyInfo{Algorithm: e.alg, EncryptedData: e.encrypt(pkcs8)})
}

// EncryptPKCS8 encrypts key as a PKCS#8 EncryptedPrivateKeyInfo with PBES2,
// PBKDF2-HMAC-SHA256 and AES-256-CBC, and returns it as an "ENCRYPTED
// PRIVATE KEY" PEM block, which "openssl pkey -passin" reads. iterations 0
// means DefaultIterations; rand nil means crypto/rand. The password must not
// be empty (ErrEmptyPassword).
func EncryptPKCS8(key crypto.PrivateKey, password string, iterations int, rand io.Reader) (*pem.Block, error) {
	s, err := Options{Password: password, Iterations: iterations, Rand: rand}.settings()
	if err != nil {
		return nil, err
	}
	der, err := marshalPKCS8(key)
	if err != nil {
		return nil, err
	}
	enc, err := newPBES2(s.Password, s.iterations, s.rand)
	if err != nil {
		return nil, err
	}
	out, err := shroud(der, enc)
	if err != nil {
		return nil, err
	}
	return &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: out}, nil
}
