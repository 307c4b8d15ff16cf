package keystore

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"unicode/utf16"
)

// atv is one attribute of a test subject with an explicit string type.
type atv struct {
	oid   asn1.ObjectIdentifier
	tag   int
	value []byte
	full  []byte // a complete encoded value instead of tag+value
}

func utf8v(oid asn1.ObjectIdentifier, s string) atv {
	return atv{oid: oid, tag: asn1.TagUTF8String, value: []byte(s)}
}

func bmpv(oid asn1.ObjectIdentifier, s string) atv {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return atv{oid: oid, tag: 30, value: b}
}

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidEmail  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidCustom = asn1.ObjectIdentifier{1, 2, 3, 4}
)

// rawName encodes an RDNSequence; each inner slice is one RDN, so a slice
// of two is a multi-valued RDN (DER-sorted as a SET OF).
func rawName(t *testing.T, rdns ...[]atv) []byte {
	t.Helper()
	type rawATV struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var seq [][]byte
	for _, rdn := range rdns {
		var elems [][]byte
		for _, a := range rdn {
			v := asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.tag, Bytes: a.value}
			if a.full != nil {
				v = asn1.RawValue{FullBytes: a.full}
			}
			der, err := asn1.Marshal(rawATV{a.oid, v})
			if err != nil {
				t.Fatal(err)
			}
			elems = append(elems, der)
		}
		set, err := asn1.Marshal(derSet(elems))
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, set)
	}
	var body []byte
	for _, s := range seq {
		body = append(body, s...)
	}
	out, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// certWithSubject signs a throwaway certificate with the raw subject and
// returns its DER (crypto/x509 may refuse to parse exotic names).
func certWithSubject(t *testing.T, raw []byte) []byte {
	t.Helper()
	ca := mustCA(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(99),
		RawSubject:   raw,
		NotBefore:    fixtureNotBefore,
		NotAfter:     fixtureNotBefore.AddDate(0, 0, 1),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, ca.interKey.Public(), ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSubjectHeader_MatchesOpenSSL compares the subject line with "openssl
// x509 -noout -subject" for names that exercise quoting, escaping, string
// types, multi-valued RDNs, OpenSSL's short names and unknown types.
func TestSubjectHeader_MatchesOpenSSL(t *testing.T) {
	needTool(t, "openssl")
	var shortNameRDNs [][]atv
	for oid := range shortNames {
		var o asn1.ObjectIdentifier
		for _, part := range strings.Split(oid, ".") {
			n := 0
			for _, c := range part {
				n = n*10 + int(c-'0')
			}
			o = append(o, n)
		}
		v := utf8v(o, "v")
		if oid == "2.5.4.6" || oid == "1.3.6.1.4.1.311.60.2.1.3" {
			v = atv{oid: o, tag: asn1.TagPrintableString, value: []byte("US")}
		}
		shortNameRDNs = append(shortNameRDNs, []atv{v})
	}
	tests := []struct {
		name string
		rdns [][]atv
	}{
		{"plain", [][]atv{
			{{oid: asn1.ObjectIdentifier{2, 5, 4, 6}, tag: asn1.TagPrintableString, value: []byte("US")}},
			{utf8v(oidO, "Example Org")}, {utf8v(oidCN, "www.example.com")},
		}},
		{"specials quoted", [][]atv{{utf8v(oidCN, "a+b,c;d<e>f")}, {utf8v(oidO, "x=y/z")}}},
		{"quote and backslash escaped", [][]atv{{utf8v(oidCN, `say "hi" \o/`)}}},
		{"leading hash", [][]atv{{utf8v(oidCN, "#tag")}, {utf8v(oidO, "#")}, {utf8v(oidOU, "a#b")}}},
		{"leading and trailing spaces", [][]atv{{utf8v(oidCN, " lead")}, {utf8v(oidO, "trail ")}, {utf8v(oidOU, " ")}, {utf8v(oidOU, "in side")}}},
		{"control characters", [][]atv{{utf8v(oidCN, "tab\there")}, {utf8v(oidO, "del\x7fx")}, {utf8v(oidOU, "nl\n")}}},
		{"UTF-8", [][]atv{{utf8v(oidCN, "Größe 日本 😀")}}},
		{"BMPString", [][]atv{{bmpv(oidCN, "Größe 日本")}}},
		{"UniversalString", [][]atv{{{oid: oidCN, tag: 28, value: []byte{0, 0, 0, 'A', 0, 0, 0, 0xe9, 0, 1, 0xf6, 0}}}}},
		{"T61String Latin-1", [][]atv{{{oid: oidCN, tag: asn1.TagT61String, value: []byte("caf\xe9")}}}},
		{"IA5 email", [][]atv{{{oid: oidEmail, tag: asn1.TagIA5String, value: []byte("a@example.com")}}}},
		{"multi-valued RDN", [][]atv{{utf8v(oidCN, "name"), utf8v(oidOU, "unit"), utf8v(oidO, "org")}, {utf8v(oidCN, "second")}}},
		{"unknown OID string", [][]atv{{utf8v(oidCustom, "custom, value")}}},
		{"SEQUENCE value dumped", [][]atv{{{oid: oidCN, full: []byte{0x30, 0x03, 0x02, 0x01, 0x07}}}}},
		{"empty subject", nil},
		{"short names", shortNameRDNs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := rawName(t, tt.rdns...)
			der := certWithSubject(t, raw)
			f := writeFile(t, "c.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
			want := strings.TrimSuffix(mustRun(t, nil, "openssl", "x509", "-noout", "-subject", "-in", f), "\n")
			if got := "subject=" + formatName(raw); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if c, err := x509.ParseCertificate(der); err == nil {
				if got := SubjectHeader(c); got != want {
					t.Errorf("SubjectHeader = %s\nwant          %s", got, want)
				}
			}
		})
	}
}

func TestSubjectHeader_GoName(t *testing.T) {
	b := bundleFor(t, "P-256")
	if got, want := SubjectHeader(b.Leaf), "subject=C = US, O = Example Org, CN = www.example.com"; got != want {
		t.Errorf("SubjectHeader = %q, want %q", got, want)
	}
}

// FuzzFormatName feeds arbitrary bytes as a DER name: formatting must not
// panic and must produce one line (a header with a newline in it would
// break the PEM bundle's layout).
func FuzzFormatName(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add(mustCA(f).root.RawSubject)
	f.Add([]byte{0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		if s := formatName(der); strings.ContainsAny(s, "\r\n") {
			t.Fatalf("formatted name has a line break: %q", s)
		}
	})
}
