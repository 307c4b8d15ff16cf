package secret

import (
	"bytes"
	cryptorand "crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestHashPassword_VerifyRoundTrip(t *testing.T) {
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd ☃", strings.Repeat("x", MaxPasswordSize)} {
		enc, err := HashPassword(pw, cryptorand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := VerifyPassword(enc, pw)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(own hash of %.10q) = %v, %v", pw, ok, err)
		}
		for _, wrong := range []string{pw + "x", strings.ToUpper(pw) + "!", "wrong"} {
			if wrong == pw {
				continue
			}
			if ok, err := VerifyPassword(enc, wrong); err != nil || ok {
				t.Errorf("wrong password %.10q: %v, %v", wrong, ok, err)
			}
		}
	}
}

func TestHashPassword_Format(t *testing.T) {
	salt := bytes.Repeat([]byte{0x11}, 16)
	enc, err := HashPassword("pw", bytes.NewReader(salt))
	if err != nil {
		t.Fatal(err)
	}
	// Recompute independently from the documented parameters.
	want := "$argon2id$v=19$m=19456,t=2,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("pw"), salt, 2, 19456, 1, 32))
	if enc != want {
		t.Errorf("HashPassword = %s\nwant           %s", enc, want)
	}
}

func TestHashPassword_SaltedPerCall(t *testing.T) {
	a, _ := HashPassword("same", cryptorand.Reader)
	b, _ := HashPassword("same", cryptorand.Reader)
	if a == b {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestHashPassword_Errors(t *testing.T) {
	if _, err := HashPassword(strings.Repeat("x", MaxPasswordSize+1), cryptorand.Reader); err == nil {
		t.Error("accepted an over-long password")
	}
	if _, err := HashPassword("pw", bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("accepted a short random source")
	}
}

func TestVerifyPassword_OtherParameters(t *testing.T) {
	// Hashes made with other (older or newer) parameters still verify.
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("pw"), salt, 1, 64, 2, 16)
	enc := "$argon2id$v=19$m=64,t=1,p=2$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	if ok, err := VerifyPassword(enc, "pw"); err != nil || !ok {
		t.Errorf("VerifyPassword = %v, %v", ok, err)
	}
}

func TestVerifyPassword_OverlongPassword(t *testing.T) {
	enc, _ := HashPassword("pw", cryptorand.Reader)
	if ok, err := VerifyPassword(enc, strings.Repeat("x", MaxPasswordSize+1)); ok || err != nil {
		t.Errorf("VerifyPassword = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyPassword_Malformed(t *testing.T) {
	good, _ := HashPassword("pw", bytes.NewReader(bytes.Repeat([]byte{1}, 16)))
	parts := strings.Split(good, "$")
	salt, hash := parts[4], parts[5]
	with := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + hash }
	for _, tc := range []struct{ name, enc string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"missing field", strings.Join(parts[:5], "$")},
		{"extra field", good + "$x"},
		{"no leading dollar", good[1:]},
		{"params order", with("t=2,m=19456,p=1")},
		{"params missing", with("m=19456,t=2")},
		{"params not numbers", with("m=x,t=2,p=1")},
		{"negative", with("m=-1,t=2,p=1")},
		{"zero time", with("m=19456,t=0,p=1")},
		{"zero threads", with("m=19456,t=2,p=0")},
		{"huge memory", with("m=4194304,t=2,p=1")},
		{"huge time", with("m=19456,t=1000,p=1")},
		{"huge threads", with("m=19456,t=2,p=255")},
		{"memory below 8p", with("m=8,t=1,p=2")},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!$" + hash},
		{"salt padded", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "==$" + hash},
		{"short salt", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$" + hash},
		{"short hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$AAAA"},
		{"too long", good + strings.Repeat("A", 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword(tc.enc, "pw")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("VerifyPassword = %v, %v; want false, ErrMalformedHash", ok, err)
			}
		})
	}
}

func TestHashPassword_Cost(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	// The documented budget is 10-30 ms on the build machine; allow wide
	// slack for a loaded CI box but catch parameters that are off by an
	// order of magnitude either way.
	start := time.Now()
	const n = 3
	for range n {
		if _, err := HashPassword("pw", cryptorand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	per := time.Since(start) / n
	if per < 3*time.Millisecond || per > 300*time.Millisecond {
		t.Errorf("one hash took %v; the parameters no longer fit the 10-30 ms budget", per)
	}
	t.Logf("argon2id m=%d KiB t=%d p=%d: %v per hash", argonMemoryKiB, argonTime, argonThreads, per)
}

func TestRandomPassword_LengthAndAlphabet(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 16, 32, 100, MaxRandomPasswordLength} {
		for range 20 {
			p, err := RandomPassword(cryptorand.Reader, n)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != n {
				t.Fatalf("length %d, want %d", len(p), n)
			}
			if i := strings.IndexAny(p, "0O1lI"); i >= 0 {
				t.Fatalf("%q contains ambiguous %q", p, p[i])
			}
			for _, c := range p {
				if !strings.ContainsRune(passwordChars, c) {
					t.Fatalf("%q contains %q outside the alphabet", p, c)
				}
			}
			if n >= 3 && !(strings.ContainsAny(p, "ABCDEFGHJKLMNPQRSTUVWXYZ") &&
				strings.ContainsAny(p, "abcdefghijkmnopqrstuvwxyz") &&
				strings.ContainsAny(p, "23456789")) {
				t.Fatalf("%q lacks a character class", p)
			}
		}
	}
}

func TestRandomPassword_AlphabetSize(t *testing.T) {
	if len(passwordChars) != 57 {
		t.Errorf("alphabet has %d characters, documented 57", len(passwordChars))
	}
	seen := map[byte]bool{}
	for i := range len(passwordChars) {
		if seen[passwordChars[i]] {
			t.Errorf("duplicate %q biases the draw", passwordChars[i])
		}
		seen[passwordChars[i]] = true
	}
}

func TestRandomPassword_UsesWholeAlphabet(t *testing.T) {
	p, err := RandomPassword(cryptorand.Reader, MaxRandomPasswordLength)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	for _, c := range p {
		counts[c]++
	}
	// 1024 draws over 57 symbols: each expected ~18 times; missing one
	// has probability about 57*e^-18, i.e. never.
	if len(counts) != len(passwordChars) {
		t.Errorf("only %d of %d symbols appear in 1024 characters", len(counts), len(passwordChars))
	}
}

func TestRandomPassword_Errors(t *testing.T) {
	for _, n := range []int{0, -1, MaxRandomPasswordLength + 1} {
		if _, err := RandomPassword(cryptorand.Reader, n); err == nil {
			t.Errorf("length %d accepted", n)
		}
	}
	for _, tc := range []struct {
		name string
		r    *bytes.Reader
	}{
		{"exhausted", bytes.NewReader(make([]byte, 3))},
		{"all zero", bytes.NewReader(make([]byte, 1<<20))},               // always 'A'
		{"all 0xff", bytes.NewReader(bytes.Repeat([]byte{0xff}, 1<<20))}, // always rejected
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := RandomPassword(tc.r, 16); err == nil {
				t.Errorf("broken random source gave %q", p)
			}
		})
	}
}

func TestRandomPassword_Deterministic(t *testing.T) {
	// Byte b < 228 maps to alphabet[b%57]; bytes >= 228 are skipped.
	src := []byte{0, 250, 24, 49, 57 + 1}
	p, err := RandomPassword(bytes.NewReader(src), 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Aa2B"; p != want {
		t.Errorf("RandomPassword = %q, want %q", p, want)
	}
}

func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", cryptorand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPasswordFuncs_NilRandUsesCryptoRand(t *testing.T) {
	p, err := RandomPassword(nil, 24)
	if err != nil || len(p) != 24 {
		t.Fatalf("RandomPassword(nil, 24) = %q, %v", p, err)
	}
	enc, err := HashPassword(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(enc, p); !ok || err != nil {
		t.Errorf("VerifyPassword = %v, %v", ok, err)
	}
}
