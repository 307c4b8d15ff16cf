package secret

import (
	cryptorand "crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new password hashes. They are the OWASP Password
// Storage Cheat Sheet's first argon2id choice (19 MiB, 2 passes, 1 lane).
// Measured with BenchmarkHashPassword on the project's 2-core Xeon build
// machine: about 19 ms per hash (m=16 MiB,t=2 took 16 ms; m=32 MiB,t=2 took
// 37 ms), inside the 10-30 ms a login may cost. Memory is the main defence
// against GPU guessing, and 19 MiB per concurrent login is affordable.
// VerifyPassword reads the parameters from the stored string, so they can be
// raised later without invalidating existing hashes.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltSize  = 16
	argonKeySize   = 32
)

// MaxPasswordSize caps passwords HashPassword accepts (in bytes). Argon2
// pre-hashes the password, so the cap is not about the hash's cost but keeps
// megabyte "passwords" from being carried around.
const MaxPasswordSize = 1024

// Limits on what VerifyPassword accepts from a stored hash. Stored hashes
// come from the database, which may be restored from elsewhere; these caps
// keep a planted hash from costing gigabytes or minutes per login.
const (
	maxEncodedSize     = 256
	maxArgonMemoryKiB  = 256 * 1024
	maxArgonTime       = 16
	maxArgonThreads    = 16
	minArgonSaltSize   = 8
	maxArgonSaltSize   = 64
	minArgonKeySize    = 16
	maxArgonKeySize    = 64
	argonVersionString = "v=19"
)

// ErrMalformedHash is wrapped by VerifyPassword's errors for a stored hash it
// cannot read.
var ErrMalformedHash = errors.New("secret: malformed password hash")

var b64 = base64.RawStdEncoding

// HashPassword returns an argon2id hash of password in the PHC string format
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded standard base64),
// with a 16-byte salt read from rand (crypto/rand when rand is nil).
func HashPassword(password string, rand io.Reader) (string, error) {
	if len(password) > MaxPasswordSize {
		return "", fmt.Errorf("secret: password longer than %d bytes", MaxPasswordSize)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	salt := make([]byte, argonSaltSize)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return "", fmt.Errorf("secret: reading random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeySize)
	return fmt.Sprintf("$argon2id$%s$m=%d,t=%d,p=%d$%s$%s",
		argonVersionString, argonMemoryKiB, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches an encoded hash from
// HashPassword, comparing in constant time. A wrong password is (false, nil);
// an unreadable or out-of-bounds hash is an error wrapping ErrMalformedHash.
// Passwords longer than MaxPasswordSize never match, since HashPassword
// refuses them.
func VerifyPassword(encoded, password string) (bool, error) {
	p, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordSize {
		return false, nil
	}
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseHash(encoded string) (*argonHash, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformedHash, why) }
	if len(encoded) > maxEncodedSize {
		return nil, bad("too long")
	}
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, bad("want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if parts[1] != "argon2id" {
		return nil, bad("algorithm is not argon2id")
	}
	if parts[2] != argonVersionString {
		return nil, bad("unsupported argon2 version")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, bad("want parameters m=..,t=..,p=..")
	}
	var h argonHash
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return nil, bad("want parameters m=..,t=..,p=..")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, bad("parameter " + name + " is not a number")
		}
		switch name {
		case "m":
			h.memory = uint32(n)
		case "t":
			h.time = uint32(n)
		case "p":
			if n > maxArgonThreads {
				return nil, bad("parameter p out of range")
			}
			h.threads = uint8(n)
		}
	}
	// argon2 needs m >= 8*p; IDKey raises smaller m, but a stored hash
	// that asks for it was not made by us.
	if h.threads < 1 || h.time < 1 || h.time > maxArgonTime ||
		h.memory < 8*uint32(h.threads) || h.memory > maxArgonMemoryKiB {
		return nil, bad("parameters out of range")
	}
	var err error
	if h.salt, err = b64.Strict().DecodeString(parts[4]); err != nil {
		return nil, bad("salt is not base64")
	}
	if h.key, err = b64.Strict().DecodeString(parts[5]); err != nil {
		return nil, bad("hash is not base64")
	}
	if len(h.salt) < minArgonSaltSize || len(h.salt) > maxArgonSaltSize {
		return nil, bad("salt length out of range")
	}
	if len(h.key) < minArgonKeySize || len(h.key) > maxArgonKeySize {
		return nil, bad("hash length out of range")
	}
	return &h, nil
}

// Alphabets for RandomPassword: look-alikes 0/O, 1/l/I are left out so a
// password read aloud or off a screen is typed right the first time.
const (
	upperChars    = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	lowerChars    = "abcdefghijkmnopqrstuvwxyz"
	digitChars    = "23456789"
	passwordChars = upperChars + lowerChars + digitChars
)

// MaxRandomPasswordLength caps RandomPassword's length argument.
const MaxRandomPasswordLength = 1024

// maxPasswordAttempts bounds the redraws RandomPassword makes to satisfy
// the class rule. For length 3 a draw succeeds with probability about 0.16,
// so 1000 failures in a row means the random source is broken, not unlucky.
const maxPasswordAttempts = 1000

// RandomPassword returns length characters drawn uniformly from an alphabet
// of upper-case letters, lower-case letters and digits without the look-alike
// characters 0, O, 1, l and I (57 characters, about 5.8 bits each). When
// length is 3 or more the password contains at least one of each class; it
// is redrawn until it does, which keeps it uniform among such passwords.
// rand nil means crypto/rand.
func RandomPassword(rand io.Reader, length int) (string, error) {
	if length < 1 || length > MaxRandomPasswordLength {
		return "", fmt.Errorf("secret: password length %d out of range 1..%d", length, MaxRandomPasswordLength)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	const limit = 256 / len(passwordChars) * len(passwordChars) // 228 = 4*57
	out := make([]byte, length)
	var buf [64]byte
	rejected := 0 // consecutive; about 11% of bytes are rejected
	for range maxPasswordAttempts {
		for i := 0; i < length; {
			chunk := buf[:min(len(buf), length-i)]
			if _, err := io.ReadFull(rand, chunk); err != nil {
				return "", fmt.Errorf("secret: reading randomness: %w", err)
			}
			for _, b := range chunk {
				// Rejection sampling: b%57 is uniform for b < 228.
				if int(b) >= limit {
					if rejected++; rejected > 256 {
						return "", errRandom
					}
					continue
				}
				rejected = 0
				out[i] = passwordChars[int(b)%len(passwordChars)]
				i++
			}
		}
		if length < 3 || hasAllClasses(out) {
			return string(out), nil
		}
	}
	return "", errRandom
}

var errRandom = errors.New("secret: the random source produced no acceptable password; it is not random")

func hasAllClasses(p []byte) bool {
	return strings.ContainsAny(string(p), upperChars) &&
		strings.ContainsAny(string(p), lowerChars) &&
		strings.ContainsAny(string(p), digitChars)
}
