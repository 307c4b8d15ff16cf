package storefile

import (
	"os"
	"path/filepath"
	"testing"
)

// The readers take files from disk that anything on the machine may have
// written: they must return an error, never panic or allocate without bound.

func FuzzParsePEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = parsePEM(data)
	})
}

func FuzzDecodePKCS12Store(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	seedStores(f, func(s Store) bool { return s.Kind == PKCS12 })
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodePKCS12Store(data, "fuzz-pw-1")
	})
}

func FuzzDecodeJKS(f *testing.F) {
	f.Add([]byte{0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 0})
	seedStores(f, func(s Store) bool { return s.Kind == JKS })
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, err := decodeJKS(data, "fuzz-pw-1")
		if err == nil {
			_, _ = jksItems(ks)
		}
	})
}

// seedStores adds real store files written by this package as seeds.
func seedStores(f *testing.F, want func(Store) bool) {
	dir := f.TempDir()
	for _, s := range []Store{
		{Kind: PKCS12, Path: filepath.Join(dir, "seed.p12"), Password: "fuzz-pw-1", CreateIfMissing: true},
		{Kind: JKS, Path: filepath.Join(dir, "seed.jks"), Password: "fuzz-pw-1", CreateIfMissing: true},
	} {
		if !want(s) {
			continue
		}
		if err := s.Create(); err != nil {
			f.Fatal(err)
		}
		data, err := os.ReadFile(s.Path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}
