package keystore

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"hash"
	"strconv"
	"strings"
	"testing"
)

// TestPKCS12KDF_MatchesOpenSSL compares the RFC 7292 appendix B KDF with
// OpenSSL's PKCS12KDF for each purpose, both hashes used here, output
// lengths that are shorter than, equal to and longer than one hash, and
// passwords and salts that are not multiples of the block size.
func TestPKCS12KDF_MatchesOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	tests := []struct {
		name       string
		hash       func() hash.Hash
		digest     string
		password   string
		salt       []byte
		iterations int
		id         byte
		size       int
	}{
		{"3DES key", sha1.New, "SHA1", "sesame", bytes.Repeat([]byte{0xff}, 8), 2048, kdfIDKey, 24},
		{"RC2-40 key", sha1.New, "SHA1", "Passw0rd 1", []byte("saltsalt"), 2048, kdfIDKey, 5},
		{"IV", sha1.New, "SHA1", "Passw0rd 1", []byte("saltsalt"), 2048, kdfIDIV, 8},
		{"SHA-1 MAC key", sha1.New, "SHA1", "Pässwörd", []byte{1, 2, 3, 4, 5, 6, 7, 8}, 1, kdfIDMAC, 20},
		{"SHA-256 MAC key", sha256.New, "SHA256", "Pässwörd", []byte{1, 2, 3, 4, 5, 6, 7, 8}, 2048, kdfIDMAC, 32},
		{"long password and salt", sha1.New, "SHA1", strings.Repeat("0123456789", 10), bytes.Repeat([]byte{7}, 70), 3, kdfIDKey, 24},
		{"two hash blocks", sha256.New, "SHA256", "x", []byte("s"), 5, kdfIDKey, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pass, err := bmpPassword(tt.password)
			if err != nil {
				t.Fatal(err)
			}
			got := pkcs12KDF(tt.hash, pass, tt.salt, tt.iterations, tt.id, tt.size)
			out := mustRun(t, nil, "openssl", "kdf", "-keylen", strconv.Itoa(tt.size),
				"-kdfopt", "digest:"+tt.digest,
				"-kdfopt", "hexpass:"+hex.EncodeToString(pass),
				"-kdfopt", "hexsalt:"+hex.EncodeToString(tt.salt),
				"-kdfopt", "iter:"+strconv.Itoa(tt.iterations),
				"-kdfopt", "id:"+strconv.Itoa(int(tt.id)),
				"PKCS12KDF")
			want, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(out), ":", ""))
			if err != nil {
				t.Fatalf("openssl output %q: %v", out, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("KDF = %x, openssl = %x", got, want)
			}
		})
	}
}

// TestRC2_RFC2268Vectors checks the test vectors of RFC 2268, section 5,
// and that decryption inverts encryption.
func TestRC2_RFC2268Vectors(t *testing.T) {
	tests := []struct {
		key, plain, cipher string
		bits               int
	}{
		{"0000000000000000", "0000000000000000", "ebb773f993278eff", 63},
		{"ffffffffffffffff", "ffffffffffffffff", "278b27e42e2f0d49", 64},
		{"3000000000000000", "1000000000000001", "30649edf9be7d2c2", 64},
		{"88", "0000000000000000", "61a8a244adacccf0", 64},
		{"88bca90e90875a", "0000000000000000", "6ccf4308974c267f", 64},
		{"88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "1a807d272bbe5db1", 64},
		{"88bca90e90875a7f0f79c384627bafb2", "0000000000000000", "2269552ab0f85ca6", 128},
		{"88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e", "0000000000000000", "5b78d3a43dfff1f1", 129},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+strconv.Itoa(tt.bits), func(t *testing.T) {
			key, _ := hex.DecodeString(tt.key)
			plain, _ := hex.DecodeString(tt.plain)
			want, _ := hex.DecodeString(tt.cipher)
			c, err := newRC2(key, tt.bits)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 8)
			c.Encrypt(got, plain)
			if !bytes.Equal(got, want) {
				t.Fatalf("Encrypt = %x, want %x", got, want)
			}
			back := make([]byte, 8)
			c.Decrypt(back, got)
			if !bytes.Equal(back, plain) {
				t.Fatalf("Decrypt = %x, want %x", back, plain)
			}
		})
	}
}

func TestRC2_PiTableIsPermutation(t *testing.T) {
	var seen [256]bool
	for _, v := range rc2PiTable {
		if seen[v] {
			t.Fatalf("PITABLE repeats %#02x", v)
		}
		seen[v] = true
	}
}

// TestRC2_MatchesOpenSSLCBC compares RC2-40-CBC, the exact mode the legacy
// profile uses, with OpenSSL's legacy provider over several blocks.
func TestRC2_MatchesOpenSSLCBC(t *testing.T) {
	needTool(t, "openssl")
	key := []byte{0x3a, 0x91, 0x07, 0xee, 0x55}
	iv := []byte{9, 8, 7, 6, 5, 4, 3, 2}
	plain := []byte("The quick brown fox jumps over the lazy dog, twice over.")
	block, err := newRC2(key, 40)
	if err != nil {
		t.Fatal(err)
	}
	got := encrypter{cbc: cipher.NewCBCEncrypter(block, iv)}.encrypt(plain)

	in := writeFile(t, "plain.bin", plain)
	out, err := run(t, nil, "openssl", "enc", "-rc2-40-cbc", "-K", hex.EncodeToString(key), "-iv", hex.EncodeToString(iv),
		"-provider", "legacy", "-provider", "default", "-in", in, "-out", in+".enc")
	if err != nil {
		t.Skipf("openssl has no legacy provider for RC2: %v\n%s", err, out)
	}
	want := readFile(t, in+".enc")
	if !bytes.Equal(got, want) {
		t.Errorf("RC2-40-CBC = %x\nopenssl     = %x", got, want)
	}
}

// TestEncryptPKCS8_OpenSSL decrypts the key with "openssl pkey" and checks
// that it is the certificate's key, for every key type and curve.
func TestEncryptPKCS8_OpenSSL(t *testing.T) {
	needTool(t, "openssl")
	for _, kt := range []string{"RSA-2048", "P-256", "P-384", "P-521", "Ed25519"} {
		t.Run(kt, func(t *testing.T) {
			key := newKey(kt)
			block, err := EncryptPKCS8(key, testPassword, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if block.Type != "ENCRYPTED PRIVATE KEY" {
				t.Fatalf("block type %q", block.Type)
			}
			f := writeFile(t, "key.pem", pem.EncodeToMemory(block))
			got := mustRun(t, nil, "openssl", "pkey", "-in", f, "-passin", "pass:"+testPassword, "-pubout")
			pub := publicKeyPEM(t, key.Public())
			if got != pub {
				t.Errorf("openssl pkey public key:\n%s\nwant:\n%s", got, pub)
			}
			info := mustRun(t, nil, "openssl", "asn1parse", "-in", f)
			for _, want := range []string{"PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc", ":0800"} {
				if !strings.Contains(info, want) {
					t.Errorf("asn1parse output lacks %q:\n%s", want, info)
				}
			}
		})
	}
}

func TestEncryptPKCS8_WrongPasswordFailsInOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	block, err := EncryptPKCS8(newKey("P-256"), testPassword, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, "key.pem", pem.EncodeToMemory(block))
	if out, err := run(t, nil, "openssl", "pkey", "-in", f, "-passin", "pass:wrong", "-noout"); err == nil {
		t.Fatalf("openssl pkey accepted a wrong password:\n%s", out)
	}
}

func TestEncryptPKCS8_Errors(t *testing.T) {
	tests := []struct {
		name       string
		key        any
		password   string
		iterations int
		want       error
	}{
		{"empty password", newKey("P-256"), "", 0, ErrEmptyPassword},
		{"negative iterations", newKey("P-256"), "x", -1, ErrInvalid},
		{"too many iterations", newKey("P-256"), "x", MaxIterations + 1, ErrInvalid},
		{"nil key", nil, "x", 0, ErrInvalid},
		{"unsupported key type", "not a key", "x", 0, ErrInvalid},
		{"invalid UTF-8 password", newKey("P-256"), "\xff", 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncryptPKCS8(tt.key, tt.password, tt.iterations, rand.Reader)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestEncryptPKCS8_UsesRand checks that salt and IV come from the given
// reader: equal readers give equal output, different ones differ.
func TestEncryptPKCS8_UsesRand(t *testing.T) {
	key := newKey("P-256")
	a, err := EncryptPKCS8(key, "x", 1, fixedRand(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EncryptPKCS8(key, "x", 1, fixedRand(1))
	c, _ := EncryptPKCS8(key, "x", 1, fixedRand(2))
	if !bytes.Equal(a.Bytes, b.Bytes) {
		t.Error("same randomness gave different output")
	}
	if bytes.Equal(a.Bytes, c.Bytes) {
		t.Error("different randomness gave the same output")
	}
	if _, err := EncryptPKCS8(key, "x", 1, bytes.NewReader(nil)); err == nil {
		t.Error("an empty randomness source did not fail")
	}
}
