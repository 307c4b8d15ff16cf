package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/certdock/certdock/internal/atomicfile"
)

// MasterKeySize is the size in bytes of the master key and of the master key file.
const MasterKeySize = 32

// MaxPlaintextSize caps what Seal accepts. The largest secrets certdock
// stores are PKCS#8 private keys (an RSA-8192 key is under 5 KiB), so 1 MiB
// is generous while still bounding the memory one Open can be made to use.
const MaxPlaintextSize = 1 << 20

// MaxSealedSize is the largest blob Open will look at: MaxPlaintextSize plus
// the fixed envelope overhead. Larger input is rejected before any work.
const MaxSealedSize = MaxPlaintextSize + sealOverhead

// ErrDecrypt is wrapped by every error Open returns: the blob is malformed,
// was sealed under another master key or for another aad, or was altered.
var ErrDecrypt = errors.New("secret: cannot decrypt sealed data")

// Blob layout, version 1. See the package documentation.
const (
	version1     = 1
	keyIDSize    = 8
	nonceSize    = 12 // standard GCM nonce
	tagSize      = 16 // standard GCM tag
	dataKeySize  = 32 // AES-256
	headerSize   = 1 + keyIDSize
	wrappedSize  = dataKeySize + tagSize
	offWrapNonce = headerSize
	offWrapped   = offWrapNonce + nonceSize
	offDataNonce = offWrapped + wrappedSize
	offData      = offDataNonce + nonceSize
	sealOverhead = offData + tagSize
)

// Domain separation labels, so that the two AES-GCM layers never
// authenticate the same associated data even if a data key collided with
// the master key.
const (
	labelWrap = "certdock/secret/v1/wrap\x00"
	labelData = "certdock/secret/v1/data\x00"
)

// Keyring holds the master key and seals and opens envelope-encrypted
// secrets. It is safe for concurrent use. Its String method never prints the
// key.
type Keyring struct {
	master [MasterKeySize]byte
	id     [keyIDSize]byte
}

// New returns a Keyring for a 32-byte master key. The key is copied.
func New(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("secret: master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	k := &Keyring{}
	copy(k.master[:], master)
	sum := sha256.Sum256(master)
	copy(k.id[:], sum[:keyIDSize])
	return k, nil
}

// KeyID returns the master key's identifier (the first 8 bytes of its
// SHA-256) in hex. It is recorded in every sealed blob and safe to log.
func (k *Keyring) KeyID() string { return hex.EncodeToString(k.id[:]) }

// String describes the keyring by its key id only.
func (k *Keyring) String() string { return "secret.Keyring{id:" + k.KeyID() + "}" }

// GoString keeps %#v from printing the key.
func (k *Keyring) GoString() string { return k.String() }

// Seal encrypts plaintext under a fresh random data key, wraps the data key
// with the master key and binds aad into both layers. aad should name the
// place the secret belongs to (for example "ca-key:3"); Open needs the same
// aad. Randomness comes from crypto/rand.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintextSize {
		return nil, fmt.Errorf("secret: plaintext of %d bytes exceeds the %d byte limit", len(plaintext), MaxPlaintextSize)
	}
	blob := make([]byte, offData, offData+len(plaintext)+tagSize)
	blob[0] = version1
	copy(blob[1:headerSize], k.id[:])
	var dataKey [dataKeySize]byte
	defer clear(dataKey[:])
	if _, err := io.ReadFull(cryptorand.Reader, dataKey[:]); err != nil {
		return nil, fmt.Errorf("secret: reading random data key: %w", err)
	}
	if _, err := io.ReadFull(cryptorand.Reader, blob[offWrapNonce:offWrapped]); err != nil {
		return nil, fmt.Errorf("secret: reading random nonce: %w", err)
	}
	if _, err := io.ReadFull(cryptorand.Reader, blob[offDataNonce:offData]); err != nil {
		return nil, fmt.Errorf("secret: reading random nonce: %w", err)
	}

	wrap, err := newGCM(k.master[:])
	if err != nil {
		return nil, err
	}
	wrap.Seal(blob[offWrapped:offWrapped], blob[offWrapNonce:offWrapped], dataKey[:], wrapAAD(blob, aad))

	data, err := newGCM(dataKey[:])
	if err != nil {
		return nil, err
	}
	return data.Seal(blob, blob[offDataNonce:offData], plaintext, dataAAD(blob, aad)), nil
}

// Open decrypts a blob made by Seal with the same master key and aad. Every
// failure wraps ErrDecrypt.
func (k *Keyring) Open(blob, aad []byte) ([]byte, error) {
	switch {
	case len(blob) > MaxSealedSize:
		return nil, fmt.Errorf("%w: sealed blob of %d bytes exceeds the %d byte limit", ErrDecrypt, len(blob), MaxSealedSize)
	case len(blob) == 0:
		return nil, fmt.Errorf("%w: empty blob", ErrDecrypt)
	case blob[0] != version1:
		return nil, fmt.Errorf("%w: unknown format version %d", ErrDecrypt, blob[0])
	case len(blob) < sealOverhead:
		return nil, fmt.Errorf("%w: blob truncated (%d bytes, at least %d needed)", ErrDecrypt, len(blob), sealOverhead)
	case !bytes.Equal(blob[1:headerSize], k.id[:]):
		return nil, fmt.Errorf("%w: sealed under master key %x, this keyring has %s", ErrDecrypt, blob[1:headerSize], k.KeyID())
	}
	wrap, err := newGCM(k.master[:])
	if err != nil {
		return nil, err
	}
	dataKey, err := wrap.Open(nil, blob[offWrapNonce:offWrapped], blob[offWrapped:offDataNonce], wrapAAD(blob, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: data key does not authenticate (wrong aad or altered blob)", ErrDecrypt)
	}
	defer clear(dataKey)
	data, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	plaintext, err := data.Open(nil, blob[offDataNonce:offData], blob[offData:], dataAAD(blob, aad))
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext does not authenticate (wrong aad or altered blob)", ErrDecrypt)
	}
	return plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return cipher.NewGCM(block)
}

// wrapAAD authenticates the header (version, key id) and the caller's aad
// in the data-key wrapping. Everything before aad has a fixed length, so the
// concatenation is unambiguous.
func wrapAAD(blob, aad []byte) []byte {
	out := make([]byte, 0, len(labelWrap)+headerSize+len(aad))
	out = append(out, labelWrap...)
	out = append(out, blob[:headerSize]...)
	return append(out, aad...)
}

// dataAAD authenticates the header, the wrap nonce and the wrapped key as
// well as the caller's aad in the data encryption.
func dataAAD(blob, aad []byte) []byte {
	out := make([]byte, 0, len(labelData)+offDataNonce+len(aad))
	out = append(out, labelData...)
	out = append(out, blob[:offDataNonce]...)
	return append(out, aad...)
}

// LoadOrCreate reads the master key file at path, or creates it with 32
// bytes from rand (crypto/rand when rand is nil) when it does not exist;
// created reports which. The parent directory must exist.
//
// An existing file must be a regular file of exactly 32 bytes with no
// permissions for group or others (0600 or 0400); otherwise LoadOrCreate
// refuses it and says why rather than guessing. A new file is written
// atomically and never replaces a file another process created meanwhile:
// see the package documentation.
func LoadOrCreate(path string, rand io.Reader) (k *Keyring, created bool, err error) {
	k, err = load(path)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	return create(path, rand)
}

func load(path string) (*Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secret: opening master key file: %w", err)
	}
	defer f.Close()
	// Check the file we opened, not the name, so the checks and the read
	// see the same file.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secret: master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret: master key file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	// Windows has no Unix permission bits to check.
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("secret: master key file %s has mode %#o, which lets group or others read it; it must be 0600 (chmod 600 %s)", path, perm, path)
	}
	// Read one byte more than needed to tell "too long" from "exact".
	buf, err := io.ReadAll(io.LimitReader(f, MasterKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("secret: reading master key file: %w", err)
	}
	defer clear(buf)
	if len(buf) != MasterKeySize {
		size := fmt.Sprint(len(buf))
		if len(buf) > MasterKeySize {
			size = fmt.Sprint(fi.Size())
		}
		return nil, fmt.Errorf("secret: master key file %s has %s bytes, want exactly %d raw bytes; it is damaged or not a certdock master key", path, size, MasterKeySize)
	}
	return New(buf)
}

func create(path string, rand io.Reader) (*Keyring, bool, error) {
	var key [MasterKeySize]byte
	defer clear(key[:])
	if _, err := io.ReadFull(rand, key[:]); err != nil {
		return nil, false, fmt.Errorf("secret: reading random master key: %w", err)
	}
	dir := filepath.Dir(path)
	tmpName, err := atomicfile.WriteTemp(dir, filepath.Base(path), key[:], 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("secret: writing master key file: %w", err)
	}
	defer os.Remove(tmpName) // after Link the key lives on under path

	// Link, unlike Rename, fails when path exists: if another process
	// created the key meanwhile, use that one.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err := load(path)
			return k, false, err
		}
		// No hard links on this file system: fall back to rename, which
		// is still atomic but may replace a key created concurrently.
		if _, serr := os.Lstat(path); serr == nil {
			k, err := load(path)
			return k, false, err
		}
		if err := os.Rename(tmpName, path); err != nil {
			return nil, false, fmt.Errorf("secret: installing master key file: %w", err)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return nil, false, fmt.Errorf("secret: syncing directory of master key file: %w", err)
	}
	k, err := New(key[:])
	return k, true, err
}
