package secret

import (
	"bytes"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func testKeyring(t testing.TB, fill byte) *Keyring {
	t.Helper()
	k, err := New(bytes.Repeat([]byte{fill}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSeal_RoundTrip(t *testing.T) {
	k := testKeyring(t, 1)
	for _, tc := range []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"empty plaintext", nil, []byte("store-password:7")},
		{"empty aad", []byte("secret"), nil},
		{"pkcs8 sized", bytes.Repeat([]byte{0xAB}, 1218), []byte("ca-key:3")},
		{"max size", make([]byte, MaxPlaintextSize), []byte("retained-key:cert:42")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob, err := k.Seal(tc.plaintext, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(blob), len(tc.plaintext)+sealOverhead; got != want {
				t.Errorf("blob length %d, want %d", got, want)
			}
			if len(tc.plaintext) >= 8 && bytes.Contains(blob, tc.plaintext[:8]) {
				t.Error("blob contains plaintext")
			}
			got, err := k.Open(blob, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.plaintext) {
				t.Error("round trip changed the plaintext")
			}
		})
	}
}

func TestSeal_Layout(t *testing.T) {
	master := bytes.Repeat([]byte{7}, MasterKeySize)
	k, err := New(master)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := k.Seal([]byte("x"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(master)
	if blob[0] != 1 {
		t.Errorf("version byte %d, want 1", blob[0])
	}
	if !bytes.Equal(blob[1:9], sum[:8]) {
		t.Errorf("key id %x, want first 8 bytes of SHA-256(master) %x", blob[1:9], sum[:8])
	}
	if k.KeyID() != fmt.Sprintf("%x", sum[:8]) {
		t.Errorf("KeyID() = %s", k.KeyID())
	}
}

func TestSeal_FreshDataKeyAndNonces(t *testing.T) {
	k := testKeyring(t, 1)
	a, _ := k.Seal([]byte("same"), []byte("aad"))
	b, _ := k.Seal([]byte("same"), []byte("aad"))
	if bytes.Equal(a[offWrapNonce:offDataNonce], b[offWrapNonce:offDataNonce]) {
		t.Error("two seals share wrap nonce and wrapped key")
	}
	if bytes.Equal(a[offData:], b[offData:]) {
		t.Error("two seals of the same plaintext give the same ciphertext")
	}
}

func TestSeal_TooLarge(t *testing.T) {
	k := testKeyring(t, 1)
	if _, err := k.Seal(make([]byte, MaxPlaintextSize+1), nil); err == nil {
		t.Fatal("Seal accepted plaintext over the limit")
	}
}

func TestOpen_Failures(t *testing.T) {
	k := testKeyring(t, 1)
	other := testKeyring(t, 2)
	aad := []byte("ca-key:3")
	blob, err := k.Seal([]byte("the CA private key"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		return b
	}
	// The same key id but a different key: a forged header must still
	// fail authentication rather than decrypt garbage.
	forgedID := bytes.Clone(blob)
	copy(forgedID[1:9], other.id[:])

	for _, tc := range []struct {
		name    string
		k       *Keyring
		blob    []byte
		aad     []byte
		errText string
	}{
		{"wrong aad", k, blob, []byte("ca-key:4"), "wrong aad or altered"},
		{"aad of another row prefix", k, blob, []byte("ca-key:"), "wrong aad or altered"},
		{"nil aad", k, blob, nil, "wrong aad or altered"},
		{"wrong master key", other, blob, aad, "sealed under master key"},
		{"wrong master key with forged id", other, forgedID, aad, "wrong aad or altered"},
		{"empty", k, nil, aad, "empty"},
		{"unknown version", k, flip(0), aad, "unknown format version"},
		{"altered key id", k, flip(3), aad, "sealed under master key"},
		{"altered wrap nonce", k, flip(offWrapNonce), aad, "data key does not authenticate"},
		{"altered wrapped key", k, flip(offWrapped + 5), aad, "data key does not authenticate"},
		{"altered data nonce", k, flip(offDataNonce), aad, "ciphertext does not authenticate"},
		{"altered ciphertext", k, flip(offData), aad, "ciphertext does not authenticate"},
		{"altered tag", k, flip(len(blob) - 1), aad, "ciphertext does not authenticate"},
		{"truncated tag", k, blob[:len(blob)-1], aad, "does not authenticate"},
		{"truncated below overhead", k, blob[:sealOverhead-1], aad, "truncated"},
		{"header only", k, blob[:headerSize], aad, "truncated"},
		{"appended byte", k, append(bytes.Clone(blob), 0), aad, "does not authenticate"},
		{"too large", k, append([]byte{1}, make([]byte, MaxSealedSize)...), aad, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.k.Open(tc.blob, tc.aad)
			if err == nil {
				t.Fatalf("Open succeeded with %q", got)
			}
			if !errors.Is(err, ErrDecrypt) {
				t.Errorf("error %v does not wrap ErrDecrypt", err)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not mention %q", err, tc.errText)
			}
		})
	}
}

func TestOpen_SwappedBetweenRows(t *testing.T) {
	k := testKeyring(t, 1)
	a, _ := k.Seal([]byte("key of cert 41"), []byte("retained-key:cert:41"))
	b, _ := k.Seal([]byte("key of cert 42"), []byte("retained-key:cert:42"))
	// Graft a's wrapped data key onto b and the other way round: the
	// layers are bound together, so neither half-swap opens.
	mixed := append(bytes.Clone(a[:offDataNonce]), b[offDataNonce:]...)
	for _, aad := range []string{"retained-key:cert:41", "retained-key:cert:42"} {
		if _, err := k.Open(mixed, []byte(aad)); !errors.Is(err, ErrDecrypt) {
			t.Errorf("mixed blob opened for %s: %v", aad, err)
		}
	}
	if _, err := k.Open(a, []byte("retained-key:cert:42")); !errors.Is(err, ErrDecrypt) {
		t.Errorf("row 41's blob opened as row 42: %v", err)
	}
}

func TestNew_WrongSize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte key", n)
		}
	}
}

func TestNew_CopiesKey(t *testing.T) {
	master := bytes.Repeat([]byte{5}, MasterKeySize)
	k, _ := New(master)
	blob, _ := k.Seal([]byte("x"), nil)
	clear(master)
	if _, err := k.Open(blob, nil); err != nil {
		t.Fatalf("keyring changed when the caller's slice did: %v", err)
	}
}

func TestKeyring_StringHidesKey(t *testing.T) {
	k := testKeyring(t, 0xAB)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(format, k)
		if strings.Contains(strings.ToLower(s), "abab") || strings.Contains(s, "171") {
			t.Errorf("%s prints key material: %s", format, s)
		}
		if !strings.Contains(s, k.KeyID()) {
			t.Errorf("%s = %q, want the key id", format, s)
		}
	}
}

func TestSeal_Concurrent(t *testing.T) {
	k := testKeyring(t, 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			aad := []byte(fmt.Sprint("row:", i))
			for range 50 {
				blob, err := k.Seal(aad, aad)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := k.Open(blob, aad); err != nil || !bytes.Equal(got, aad) {
					t.Errorf("Open = %q, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestLoadOrCreate_CreatesThenLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	k1, created, err := LoadOrCreate(path, cryptorand.Reader)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate = created %v, %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != MasterKeySize {
		t.Errorf("key file mode %#o size %d, want 0600 and %d", fi.Mode().Perm(), fi.Size(), MasterKeySize)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key file (temp file left behind?)", len(entries))
	}
	blob, _ := k1.Seal([]byte("ca key"), []byte("ca-key:1"))

	k2, created, err := LoadOrCreate(path, cryptorand.Reader)
	if err != nil || created {
		t.Fatalf("second LoadOrCreate = created %v, %v", created, err)
	}
	if got, err := k2.Open(blob, []byte("ca-key:1")); err != nil || string(got) != "ca key" {
		t.Fatalf("reloaded keyring cannot open: %q %v", got, err)
	}
}

func TestLoadOrCreate_UsesGivenRandomness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	key := bytes.Repeat([]byte{0x42}, MasterKeySize)
	if _, _, err := LoadOrCreate(path, bytes.NewReader(key)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, key) {
		t.Errorf("file holds %x, want the random bytes given", got)
	}
	// A short random source is an error, and leaves no file behind.
	path2 := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := LoadOrCreate(path2, bytes.NewReader(key[:10])); err == nil {
		t.Error("LoadOrCreate accepted 10 random bytes")
	}
	if _, err := os.Lstat(path2); err == nil {
		t.Error("failed creation left a key file")
	}
}

func TestLoadOrCreate_Refuses(t *testing.T) {
	if os.Geteuid() == 0 {
		// root reads 0000 files too; the mode checks below still apply.
		t.Log("running as root")
	}
	good := bytes.Repeat([]byte{1}, MasterKeySize)
	for _, tc := range []struct {
		name    string
		content []byte
		mode    os.FileMode
		dir     bool
		errText string
	}{
		{"group readable", good, 0o640, false, "mode 0640"},
		{"world readable", good, 0o644, false, "mode 0644"},
		{"group writable", good, 0o620, false, "mode 0620"},
		{"others execute", good, 0o601, false, "mode 0601"},
		{"short", good[:31], 0o600, false, "has 31 bytes"},
		{"empty", nil, 0o600, false, "has 0 bytes"},
		{"long", append(good, '\n'), 0o600, false, "has 33 bytes"},
		{"hex text", []byte(strings.Repeat("ab", 32)), 0o600, false, "has 64 bytes"},
		{"directory", nil, 0o700, true, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			if tc.dir {
				if err := os.Mkdir(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(path, tc.content, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			k, created, err := LoadOrCreate(path, cryptorand.Reader)
			if err == nil {
				t.Fatalf("LoadOrCreate accepted it (created=%v, %v)", created, k)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not say %q", err, tc.errText)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !tc.dir {
				if got, _ := os.ReadFile(path); !bytes.Equal(got, tc.content) {
					t.Error("the refused file was changed")
				}
			}
		})
	}
}

func TestLoadOrCreate_AcceptsReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, bytes.Repeat([]byte{1}, MasterKeySize), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, created, err := LoadOrCreate(path, cryptorand.Reader); err != nil || created {
		t.Fatalf("0400 key file: created %v, %v", created, err)
	}
}

func TestLoadOrCreate_MissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "master.key")
	if _, _, err := LoadOrCreate(path, cryptorand.Reader); err == nil {
		t.Fatal("LoadOrCreate created a key in a missing directory")
	}
}

func TestLoadOrCreate_ConcurrentAgreeOnOneKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	const n = 8
	keyrings := make([]*Keyring, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, _, err := LoadOrCreate(path, cryptorand.Reader)
			if err != nil {
				t.Error(err)
			}
			keyrings[i] = k
		})
	}
	wg.Wait()
	for i, k := range keyrings {
		if k != nil && k.KeyID() != keyrings[0].KeyID() {
			t.Errorf("caller %d got key %s, caller 0 got %s", i, k.KeyID(), keyrings[0].KeyID())
		}
	}
	final, _, err := LoadOrCreate(path, cryptorand.Reader)
	if err != nil || final.KeyID() != keyrings[0].KeyID() {
		t.Errorf("key on disk differs from the one handed out")
	}
}

func FuzzOpen(f *testing.F) {
	k, err := New(bytes.Repeat([]byte{1}, MasterKeySize))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := k.Seal([]byte("secret"), []byte("aad"))
	f.Add(good, []byte("aad"))
	f.Add(good[:sealOverhead], []byte("aad"))
	f.Add([]byte{1}, []byte{})
	f.Add([]byte{}, []byte("aad"))
	f.Fuzz(func(t *testing.T, blob, aad []byte) {
		pt, err := k.Open(blob, aad)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			return
		}
		// Only a genuine seal can open; the fuzzer cannot forge GCM tags.
		// (Each fuzz worker seals its own "good", so compare what was
		// sealed, not the bytes.)
		if len(blob) != len(good) || string(aad) != "aad" || string(pt) != "secret" {
			t.Fatalf("forged blob opened: %x -> %q", blob, pt)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	k := testKeyring(b, 1)
	pt := make([]byte, 1200) // about a PKCS#8 RSA-2048 key
	for b.Loop() {
		if _, err := k.Seal(pt, []byte("ca-key:1")); err != nil {
			b.Fatal(err)
		}
	}
}
