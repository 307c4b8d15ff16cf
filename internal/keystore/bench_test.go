package keystore

import (
	"errors"
	"testing"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// BenchmarkEncodePKCS12 measures one PFX with the default 2048 iterations
// and a three-certificate chain, per profile and key type; the performance
// documentation cites it.
func BenchmarkEncodePKCS12(b *testing.B) {
	for _, p := range profileNames {
		for _, kt := range []string{"RSA-2048", "P-256"} {
			b.Run(p.String()+"/"+kt, func(b *testing.B) {
				bundle := bundleFor(b, kt)
				o := Options{Password: testPassword, Profile: p}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := EncodePKCS12(bundle, o); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzEncodePKCS12 encodes with arbitrary friendly names, CSP names and
// passwords (all user input): the encoder either refuses with ErrInvalid
// or writes a file go-pkcs12 opens with that password, with the same
// leaf and the same attribute values.
func FuzzEncodePKCS12(f *testing.F) {
	f.Add("Web Server", "Microsoft Enhanced RSA and AES Cryptographic Provider", "Passw0rd 1", false)
	f.Add("", "", "x", true)
	f.Add("Größe 日本", "c", "Pässwörd", false)
	f.Add("\U0001F600", "", "pw", true)
	f.Add("a", "b", "\xff", false)
	bundle := bundleFor(f, "P-256")
	f.Fuzz(func(t *testing.T, friendly, csp, password string, legacy bool) {
		b := bundle
		b.FriendlyName, b.CSPName = friendly, csp
		o := Options{Password: password, Iterations: 1}
		if legacy {
			o.Profile = ProfileLegacy
		}
		data, err := EncodePKCS12(b, o)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error that is not ErrInvalid: %v", err)
			}
			return
		}
		_, leaf, chain, err := gopkcs12.DecodeChain(data, password)
		if err != nil {
			t.Fatalf("go-pkcs12: %v", err)
		}
		if !leaf.Equal(b.Leaf) || len(chain) != len(b.Chain) {
			t.Fatal("go-pkcs12 decoded a different leaf or chain")
		}
		blocks, err := gopkcs12.ToPEM(data, password)
		if err != nil {
			t.Fatalf("go-pkcs12 ToPEM: %v", err)
		}
		if got := blocks[0].Headers["friendlyName"]; got != friendly {
			t.Fatalf("friendlyName %q, want %q", got, friendly)
		}
		if got := blocks[0].Headers["Microsoft CSP Name"]; got != csp {
			t.Fatalf("CSP name %q, want %q", got, csp)
		}
	})
}
