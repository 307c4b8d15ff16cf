package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"slices"
	"testing"
)

// FuzzParseDN checks that ParseDN never panics and that what it accepts
// formats and parses back to the same DN, and encodes to DER that decodes to
// the same attributes.
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{
		specSubject,
		`CN=host,O=Key Example\, Inc.,C=US`,
		`cn = a ; S=OH ; email=x@example.com`,
		`CN=a+UID=b,O=c`,
		`O="Say ""hi""",OU=\ x\ `,
		`CN=caf\C3\A9,1.3.6.1.4.1.99999.1=#x`,
		`OID.2.5.4.3=a,DC=example,DC=com`,
		`CN=a,OU=,O=""`,
		`O="unterminated`,
		`CN=a\`,
		``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDN(s)
		if err != nil {
			inputErr(t, err)
			return
		}
		str := d.String()
		d2, err := ParseDN(str)
		if err != nil {
			t.Fatalf("ParseDN(%q) ok, but ParseDN of its String %q fails: %v", s, str, err)
		}
		if !d2.Equal(d) {
			t.Fatalf("round trip of %q via %q changed the DN: %v != %v", s, str, flat(d2), flat(d))
		}
		if str2 := d2.String(); str2 != str {
			t.Fatalf("String not stable: %q then %q", str, str2)
		}
		der, err := d.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed %q: %v", s, err)
		}
		back, err := ParseRawDN(der)
		if err != nil {
			t.Fatalf("ParseRawDN of Marshal of %q: %v", s, err)
		}
		if !sameAttributeSets(back, d) {
			t.Fatalf("DER round trip of %q: %v != %v", s, flat(back), flat(d))
		}
	})
}

// sameAttributeSets compares DNs RDN by RDN, ignoring the order of
// attributes inside a multi-valued RDN (DER sorts them).
func sameAttributeSets(a, b DN) bool {
	if len(a.RDNs) != len(b.RDNs) {
		return false
	}
	key := func(r RDN) []string {
		var k []string
		for _, x := range r {
			k = append(k, x.Type.String()+"="+x.Value)
		}
		slices.Sort(k)
		return k
	}
	for i := range a.RDNs {
		if !slices.Equal(key(a.RDNs[i]), key(b.RDNs[i])) {
			return false
		}
	}
	return true
}

// FuzzParseSANs checks that ParseSANs never panics, that accepted SANs encode
// into an extension, and that the extension decodes back to the same UPNs.
func FuzzParseSANs(f *testing.F) {
	f.Add("dns", "www.example.com", "*.example.com")
	f.Add("ip4", "192.0.2.1", "10.0.0.1")
	f.Add("ip6", "2001:db8::1", "::1")
	f.Add("uri", "https://example.com/a", "urn:x:y")
	f.Add("mail", "a@example.com", "b.c@example.com")
	f.Add("upn", "jdoe@corp.example.com", "jürgen@corp")
	f.Add("DNS", "exa mple.com", "")
	f.Add("directory", "CN=x", "y")
	f.Fuzz(func(t *testing.T, key, v1, v2 string) {
		s, err := ParseSANs(map[string][]string{key: {v1, v2}})
		if err != nil {
			inputErr(t, err)
			return
		}
		ext, ok, err := s.Extension(false)
		if err != nil || !ok {
			t.Fatalf("accepted SANs %s do not encode: ok %v, err %v", fmtSANs(s), ok, err)
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
			t.Fatalf("extension does not decode: %v", err)
		}
		if want := len(s.DNS) + len(s.IPs) + len(s.URIs) + len(s.Emails) + len(s.UPNs); len(names) != want {
			t.Fatalf("extension has %d names, want %d", len(names), want)
		}
		upns, err := UPNsFromExtensions([]pkix.Extension{ext})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(upns, s.UPNs) {
			t.Fatalf("UPNs %q decode as %q", s.UPNs, upns)
		}
	})
}

// FuzzDecodeCSR checks that DecodeCSR never panics and only returns
// *InputError.
func FuzzDecodeCSR(f *testing.F) {
	der := goCSR(f, "CN=fuzz.example.com")
	f.Add(der)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte(base64.StdEncoding.EncodeToString(der)))
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\nMIIB\n-----END NEW CERTIFICATE REQUEST-----\n"))
	f.Add([]byte("0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		csr, err := DecodeCSR(b)
		if err != nil {
			inputErr(t, err)
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatal("returned a CSR whose signature does not verify")
		}
	})
}

// FuzzDecodeCertificates checks that DecodeCertificates never panics, only
// returns *InputError, and never returns more than the cap.
func FuzzDecodeCertificates(f *testing.F) {
	c := selfSigned(f, mustRaw(f, "CN=fuzz"), big.NewInt(1), nil)
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	f.Add(c.Raw)
	f.Add(p)
	f.Add(append(append([]byte("subject=CN=fuzz\n"), p...), p...))
	f.Add([]byte(base64.StdEncoding.EncodeToString(c.Raw)))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := DecodeCertificates(b)
		if err != nil {
			inputErr(t, err)
			return
		}
		if len(certs) == 0 || len(certs) > maxCertificates {
			t.Fatalf("returned %d certificates", len(certs))
		}
	})
}

// FuzzParseRawDN checks that decoding and formatting untrusted DER names
// (from CSRs) never panics, that FormatRawName and ParseRawDN agree, and that
// a formatted name ParseDN accepts parses back to the same DN.
func FuzzParseRawDN(f *testing.F) {
	for _, s := range []string{specSubject, `CN=a+UID=b,DC=example`} {
		f.Add(mustRaw(f, s))
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		s, ferr := FormatRawName(der)
		d, err := ParseRawDN(der)
		if err != nil {
			return
		}
		if ferr != nil {
			t.Fatalf("ParseRawDN ok but FormatRawName fails: %v", ferr)
		}
		if s != d.String() {
			t.Fatalf("FormatRawName %q != ParseRawDN.String %q", s, d.String())
		}
		back, err := ParseDN(s)
		if err != nil || hasEmpty(d) {
			return // values ParseDN refuses, or empty ones it drops
		}
		if !back.Equal(d) {
			t.Fatalf("ParseDN(%q) = %v, want %v", s, flat(back), flat(d))
		}
	})
}

func hasEmpty(d DN) bool {
	for _, rdn := range d.RDNs {
		if len(rdn) == 0 {
			return true
		}
		for _, a := range rdn {
			if a.Value == "" {
				return true
			}
		}
	}
	return false
}
