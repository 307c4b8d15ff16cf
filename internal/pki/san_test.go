package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
)

func TestParseSANs_Accepted(t *testing.T) {
	tests := []struct {
		name string
		in   map[string][]string
		want string // fmt of the parsed SANs
	}{
		{"go-client keys", map[string][]string{
			"dns": {"san1.example.com", "san2"},
			"ip4": {"192.168.123.2", "172.51.2.4"},
			"ip6": {"2001:db8::1"},
			"uri": {"https://example.com/path?q=1"},
		}, "dns=[san1.example.com san2] ip=[192.168.123.2 172.51.2.4 2001:db8::1] uri=[https://example.com/path?q=1] mail=[] upn=[]"},
		{"keys are case-insensitive", map[string][]string{"DNS": {"a.example.com"}, "Ip4": {"10.0.0.1"}, "UPN": {"jdoe@corp.example.com"}},
			"dns=[a.example.com] ip=[10.0.0.1] uri=[] mail=[] upn=[jdoe@corp.example.com]"},
		{"wildcard", map[string][]string{"dns": {"*.example.com"}}, "dns=[*.example.com] ip=[] uri=[] mail=[] upn=[]"},
		{"punycode", map[string][]string{"dns": {"xn--caf-dma.example"}}, "dns=[xn--caf-dma.example] ip=[] uri=[] mail=[] upn=[]"},
		{"hyphens and digits", map[string][]string{"dns": {"a-b.1x.example", "0.0.0.0"}}, "dns=[a-b.1x.example 0.0.0.0] ip=[] uri=[] mail=[] upn=[]"},
		{"63-character label", map[string][]string{"dns": {strings.Repeat("a", 63) + ".com"}}, "dns=[" + strings.Repeat("a", 63) + ".com] ip=[] uri=[] mail=[] upn=[]"},
		{"mail and rfc822", map[string][]string{"mail": {"a.b+c@example.com"}, "rfc822": {"x!#$%&'*/=?^_`{|}~-@example.com"}},
			"dns=[] ip=[] uri=[] mail=[a.b+c@example.com x!#$%&'*/=?^_`{|}~-@example.com] upn=[]"},
		{"unicode UPN", map[string][]string{"upn": {"jürgen@corp.example.com"}}, "dns=[] ip=[] uri=[] mail=[] upn=[jürgen@corp.example.com]"},
		{"URNs and mailto", map[string][]string{"uri": {"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "spiffe://example.org/ns/a"}},
			"dns=[] ip=[] uri=[urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66 spiffe://example.org/ns/a] mail=[] upn=[]"},
		{"values trimmed", map[string][]string{"dns": {" a.example.com "}}, "dns=[a.example.com] ip=[] uri=[] mail=[] upn=[]"},
		{"duplicates dropped", map[string][]string{"dns": {"a.example.com", "A.Example.com"}, "ip4": {"10.0.0.1", "10.0.0.1"}, "mail": {"a@example.com"}, "rfc822": {"a@example.com"}},
			"dns=[a.example.com] ip=[10.0.0.1] uri=[] mail=[a@example.com] upn=[]"},
		{"empty lists", map[string][]string{"dns": {}, "ip4": nil}, "dns=[] ip=[] uri=[] mail=[] upn=[]"},
		{"nil map", nil, "dns=[] ip=[] uri=[] mail=[] upn=[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSANs(tt.in)
			if err != nil {
				t.Fatalf("ParseSANs: %v", err)
			}
			if got := fmtSANs(s); got != tt.want {
				t.Errorf("ParseSANs = %s\nwant       %s", got, tt.want)
			}
		})
	}
}

func fmtSANs(s SANs) string {
	uris := make([]string, len(s.URIs))
	for i, u := range s.URIs {
		uris[i] = u.String()
	}
	return fmt.Sprintf("dns=%v ip=%v uri=%v mail=%v upn=%v", s.DNS, s.IPs, uris, s.Emails, s.UPNs)
}

func TestParseSANs_IPLengths(t *testing.T) {
	s, err := ParseSANs(map[string][]string{"ip4": {"10.1.2.3"}, "ip6": {"::1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.IPs[0]) != net.IPv4len || len(s.IPs[1]) != net.IPv6len {
		t.Errorf("IP lengths = %d, %d; want 4, 16", len(s.IPs[0]), len(s.IPs[1]))
	}
}

func TestParseSANs_Rejected(t *testing.T) {
	long := strings.Repeat("a.", 126) + "ab" // 254 characters
	tests := []struct {
		name string
		in   map[string][]string
		want string
	}{
		{"space in DNS name", map[string][]string{"dns": {"exa mple.com"}}, `SANs.dns: "exa mple.com" is not a valid DNS name: label "exa mple" contains ' '; only letters, digits and '-' are allowed`},
		{"key named as sent", map[string][]string{"DNS": {"exa mple.com"}}, `SANs.DNS: "exa mple.com" is not a valid DNS name: label "exa mple" contains ' '; only letters, digits and '-' are allowed`},
		{"underscore", map[string][]string{"dns": {"_srv.example.com"}}, `SANs.dns: "_srv.example.com" is not a valid DNS name: label "_srv" contains '_'; only letters, digits and '-' are allowed`},
		{"double wildcard", map[string][]string{"dns": {"*.*.example.com"}}, `SANs.dns: "*.*.example.com" is not a valid DNS name: a wildcard is only allowed as the whole first label (*.example.com)`},
		{"inner wildcard", map[string][]string{"dns": {"foo.*.com"}}, `SANs.dns: "foo.*.com" is not a valid DNS name: a wildcard is only allowed as the whole first label (*.example.com)`},
		{"partial wildcard", map[string][]string{"dns": {"f*.example.com"}}, `SANs.dns: "f*.example.com" is not a valid DNS name: a wildcard is only allowed as the whole first label (*.example.com)`},
		{"bare wildcard", map[string][]string{"dns": {"*"}}, `SANs.dns: "*" is not a valid DNS name: a wildcard is only allowed as the whole first label (*.example.com)`},
		{"leading hyphen", map[string][]string{"dns": {"-a.example.com"}}, `SANs.dns: "-a.example.com" is not a valid DNS name: label "-a" begins or ends with '-'`},
		{"trailing hyphen", map[string][]string{"dns": {"a-.example.com"}}, `SANs.dns: "a-.example.com" is not a valid DNS name: label "a-" begins or ends with '-'`},
		{"empty label", map[string][]string{"dns": {"a..example.com"}}, `SANs.dns: "a..example.com" is not a valid DNS name: has an empty label`},
		{"trailing dot", map[string][]string{"dns": {"example.com."}}, `SANs.dns: "example.com." is not a valid DNS name: has a trailing dot`},
		{"label of 64", map[string][]string{"dns": {strings.Repeat("a", 64) + ".com"}}, `SANs.dns: "` + strings.Repeat("a", 64) + `.com" is not a valid DNS name: label "` + strings.Repeat("a", 64) + `" is longer than 63 characters`},
		{"name of 254", map[string][]string{"dns": {long}}, `SANs.dns: "` + long + `" is not a valid DNS name: longer than 253 characters`},
		{"IDN not punycode", map[string][]string{"dns": {"café.example"}}, `SANs.dns: "café.example" is not a valid DNS name: internationalized names must be given as punycode (xn--...)`},
		{"short IPv4", map[string][]string{"ip4": {"1.2.3"}}, `SANs.ip4: "1.2.3" is not a valid IPv4 address: does not parse`},
		{"IPv6 under ip4", map[string][]string{"ip4": {"2001:db8::1"}}, `SANs.ip4: "2001:db8::1" is not a valid IPv4 address: not an IPv4 address`},
		{"prefix", map[string][]string{"ip4": {"10.0.0.0/8"}}, `SANs.ip4: "10.0.0.0/8" is not a valid IPv4 address: does not parse`},
		{"IPv4 under ip6", map[string][]string{"ip6": {"10.0.0.1"}}, `SANs.ip6: "10.0.0.1" is not a valid IPv6 address: not an IPv6 address`},
		{"IPv4-mapped under ip6", map[string][]string{"ip6": {"::ffff:10.0.0.1"}}, `SANs.ip6: "::ffff:10.0.0.1" is not a valid IPv6 address: an IPv4-mapped address; give it under ip4`},
		{"zone", map[string][]string{"ip6": {"fe80::1%eth0"}}, `SANs.ip6: "fe80::1%eth0" is not a valid IPv6 address: zones are not allowed`},
		{"relative URI", map[string][]string{"uri": {"example.com"}}, `SANs.uri: "example.com" is not a valid URI: not absolute: a scheme such as https: is required`},
		{"URI without host", map[string][]string{"uri": {"https://"}}, `SANs.uri: "https://" is not a valid URI: has no host`},
		{"URI with nothing after scheme", map[string][]string{"uri": {"urn:"}}, `SANs.uri: "urn:" is not a valid URI: has nothing after the scheme`},
		{"URI with space", map[string][]string{"uri": {"https://exa mple.com"}}, `SANs.uri: "https://exa mple.com" is not a valid URI: contains spaces, control or non-ASCII characters (percent-encode them)`},
		{"URI not ASCII", map[string][]string{"uri": {"https://例え.jp/"}}, `SANs.uri: "https://例え.jp/" is not a valid URI: contains spaces, control or non-ASCII characters (percent-encode them)`},
		{"display name", map[string][]string{"mail": {"Alice <a@example.com>"}}, `SANs.mail: "Alice <a@example.com>" is not a valid e-mail address: local part contains ' '`},
		{"no at sign", map[string][]string{"rfc822": {"alice"}}, `SANs.rfc822: "alice" is not a valid e-mail address: missing '@'`},
		{"empty local part", map[string][]string{"mail": {"@example.com"}}, `SANs.mail: "@example.com" is not a valid e-mail address: local part must be 1 to 64 characters`},
		{"leading dot", map[string][]string{"mail": {".a@example.com"}}, `SANs.mail: ".a@example.com" is not a valid e-mail address: local part has an empty dot-separated part`},
		{"quoted local part", map[string][]string{"mail": {`"a b"@example.com`}}, `SANs.mail: "\"a b\"@example.com" is not a valid e-mail address: local part contains '"'`},
		{"bad mail domain", map[string][]string{"mail": {"a@exa_mple.com"}}, `SANs.mail: "a@exa_mple.com" is not a valid e-mail address: domain "exa_mple.com": label "exa_mple" contains '_'; only letters, digits and '-' are allowed`},
		{"UPN without domain", map[string][]string{"upn": {"jdoe"}}, `SANs.upn: "jdoe" is not a valid user principal name: must be user@domain`},
		{"UPN without user", map[string][]string{"upn": {"@corp.example.com"}}, `SANs.upn: "@corp.example.com" is not a valid user principal name: must be user@domain`},
		{"UPN with space", map[string][]string{"upn": {"j doe@corp.example.com"}}, `SANs.upn: "j doe@corp.example.com" is not a valid user principal name: user part contains ' '`},
		{"UPN bad domain", map[string][]string{"upn": {"jdoe@corp"}}, ""}, // single-label domains are valid DNS names
		{"unknown key", map[string][]string{"directory": {"CN=x"}}, `SANs: unknown key "directory"; use dns, ip4, ip6, uri, mail, rfc822 or upn`},
		{"empty value", map[string][]string{"dns": {"a.example.com", " "}}, `SANs.dns: empty value`},
		{"too long value", map[string][]string{"uri": {"https://example.com/" + strings.Repeat("a", 2048)}}, `SANs.uri: value of 2068 bytes is longer than the limit of 2048`},
		{"too many values", map[string][]string{"dns": make([]string, 200), "ip4": make([]string, 57)}, `SANs: has 257 values; the limit is 256`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSANs(tt.in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ParseSANs: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSANs = %s, want error %s", fmtSANs(s), tt.want)
			}
			inputErr(t, err)
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestSANs_Extension_Empty(t *testing.T) {
	if (SANs{}).Empty() != true {
		t.Error("zero SANs not Empty")
	}
	_, ok, err := SANs{}.Extension(false)
	if ok || err != nil {
		t.Errorf("Extension of empty SANs = ok %v, err %v; want false, nil", ok, err)
	}
}

func TestSANs_Extension_OpenSSLAndStdlib(t *testing.T) {
	m := map[string][]string{
		"dns":  {"www.example.com", "*.example.com"},
		"ip4":  {"192.0.2.10"},
		"ip6":  {"2001:db8::10"},
		"uri":  {"https://example.com/id"},
		"mail": {"ops@example.com"},
		"upn":  {"jdoe@corp.example.com", "jürgen@corp.example.com"},
	}
	s, err := ParseSANs(m)
	if err != nil {
		t.Fatal(err)
	}
	ext, ok, err := s.Extension(false)
	if err != nil || !ok {
		t.Fatalf("Extension: ok %v, err %v", ok, err)
	}
	raw, _ := mustDN(t, "CN=www.example.com").Marshal()
	c := selfSigned(t, raw, big.NewInt(7), []pkix.Extension{ext})

	// The standard library reads back everything but the UPNs...
	if got := fmt.Sprintf("%v %v %v %v", c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs); got != "[www.example.com *.example.com] [192.0.2.10 2001:db8::10] [ops@example.com] [https://example.com/id]" {
		t.Errorf("stdlib SANs = %s", got)
	}
	// ...which UPNsFromCertificate supplies.
	upns, err := UPNsFromCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(upns, ",") != "jdoe@corp.example.com,jürgen@corp.example.com" {
		t.Errorf("UPNs = %q", upns)
	}
	all, err := SANsFromCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	if fmtSANs(all) != fmtSANs(s) {
		t.Errorf("SANsFromCertificate = %s\nwant                  %s", fmtSANs(all), fmtSANs(s))
	}

	text := runOpenSSL(t, c, "x509", "-noout", "-ext", "subjectAltName")
	want := "X509v3 Subject Alternative Name: \n" +
		"    othername: UPN::jdoe@corp.example.com, othername: UPN::jürgen@corp.example.com, email:ops@example.com, DNS:www.example.com, DNS:*.example.com, URI:https://example.com/id, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:10\n"
	if text != want {
		t.Errorf("openssl subjectAltName\n got: %q\nwant: %q", text, want)
	}
}

func mustDN(t testing.TB, s string) DN {
	t.Helper()
	d, err := ParseDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSANs_Extension_CriticalWithEmptySubject(t *testing.T) {
	s, err := ParseSANs(map[string][]string{"dns": {"a.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	subject := DN{}
	ext, _, err := s.Extension(subject.Empty())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := subject.Marshal()
	c := selfSigned(t, raw, big.NewInt(1), []pkix.Extension{ext})
	text := runOpenSSL(t, c, "x509", "-noout", "-ext", "subjectAltName")
	if !strings.HasPrefix(text, "X509v3 Subject Alternative Name: critical\n") {
		t.Errorf("openssl shows %q, want a critical extension", text)
	}
	subj := strings.TrimSpace(runOpenSSL(t, c, "x509", "-noout", "-subject"))
	if subj != "subject=" {
		t.Errorf("subject = %q, want empty", subj)
	}
}

func TestUPNsFromExtensions_Malformed(t *testing.T) {
	oidSAN := asn1.ObjectIdentifier{2, 5, 29, 17}
	// otherName with a UPN OID but an IA5String value.
	oid, _ := asn1.Marshal(OIDUPN)
	ia5, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("x@y")})
	wrapped, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ia5})
	badType, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, wrapped...)}})
	// otherName with another OID is skipped.
	other, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 25, 1})
	octets, _ := asn1.Marshal([]byte{1, 2, 3})
	wrapped2, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: octets})
	guid, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(other, wrapped2...)}})

	tests := []struct {
		name    string
		value   []byte
		want    string
		wantErr bool
	}{
		{"not a sequence", []byte{0x04, 0x00}, "", true},
		{"trailing data", append(guid, 0), "", true},
		{"UPN not UTF8String", badType, "", true},
		{"truncated otherName", []byte{0x30, 0x03, 0xa0, 0x01, 0x06}, "", true},
		{"other otherName skipped", guid, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UPNsFromExtensions([]pkix.Extension{{Id: oidSAN, Value: tt.value}})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("UPNs = %q, want %q", got, tt.want)
			}
		})
	}
}
