package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

// specSubject is the example from the Keyfactor PFX enrollment documentation.
const specSubject = `CN=websrvr14.keyexample.com,OU=IT,O="Key Example, Inc.",L=Independence,ST=OH,C=US`

type av = [2]string // attribute name, value

// flat returns the DN as [RDN][attr]{name,value} for easy comparison.
func flat(d DN) [][]av {
	var out [][]av
	for _, rdn := range d.RDNs {
		var r []av
		for _, a := range rdn {
			r = append(r, av{a.Name(), a.Value})
		}
		out = append(out, r)
	}
	return out
}

func single(pairs ...string) [][]av {
	var out [][]av
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, []av{{pairs[i], pairs[i+1]}})
	}
	return out
}

func equalFlat(a, b [][]av) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestParseDN_Accepted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]av
	}{
		{"spec example", specSubject, single("CN", "websrvr14.keyexample.com", "OU", "IT", "O", "Key Example, Inc.", "L", "Independence", "ST", "OH", "C", "US")},
		{"terraform escaped comma", `CN=host.example.com,O=Key Example\, Inc.,C=US`, single("CN", "host.example.com", "O", "Key Example, Inc.", "C", "US")},
		{"go-client order", `CN=a.example.com,OU=Dev Ops,O=Acme,L=Cleveland,ST=Ohio,C=US`, single("CN", "a.example.com", "OU", "Dev Ops", "O", "Acme", "L", "Cleveland", "ST", "Ohio", "C", "US")},
		{"empty", "", nil},
		{"only spaces", "   ", nil},
		{"spaces around separators", ` CN = a , OU= b ;O =c `, single("CN", "a", "OU", "b", "O", "c")},
		{"semicolon separator", `CN=a;O=b`, single("CN", "a", "O", "b")},
		{"lower-case names", `cn=a,ou=b,o=c,l=d,st=e,c=US`, single("CN", "a", "OU", "b", "O", "c", "L", "d", "ST", "e", "C", "US")},
		{"S is state", `S=Ohio`, single("ST", "Ohio")},
		{"email aliases", `E=a@example.com,EMAIL=b@example.com,emailAddress=c@example.com`, single("E", "a@example.com", "E", "b@example.com", "E", "c@example.com")},
		{"other names", `STREET=1 Main St,SERIALNUMBER=1234,DC=example,UID=jdoe,T=Dr,TITLE=Boss,G=Jane,GIVENNAME=J,SN=Doe,SURNAME=D,POSTALCODE=44101`,
			single("STREET", "1 Main St", "SERIALNUMBER", "1234", "DC", "example", "UID", "jdoe", "T", "Dr", "T", "Boss", "G", "Jane", "G", "J", "SN", "Doe", "SN", "D", "POSTALCODE", "44101")},
		{"known OID becomes its name", `2.5.4.3=a,OID.2.5.4.10=b`, single("CN", "a", "O", "b")},
		{"unknown OID kept", `1.3.6.1.4.1.99999.1=x`, single("1.3.6.1.4.1.99999.1", "x")},
		{"multi-valued RDN", `CN=a+UID=b,O=c`, [][]av{{{"CN", "a"}, {"UID", "b"}}, {{"O", "c"}}}},
		{"escaped plus", `CN=a\+b`, single("CN", "a+b")},
		{"escaped quote", `CN=\"q\"`, single("CN", `"q"`)},
		{"escaped backslash", `CN=back\\slash`, single("CN", `back\slash`)},
		{"escaped specials", `CN=\<\>\;\=\#`, single("CN", `<>;=#`)},
		{"hex escape UTF-8", `CN=caf\C3\A9`, single("CN", "café")},
		{"hex escape comma", `O=Key Example\2C Inc.`, single("O", "Key Example, Inc.")},
		{"escaped leading and trailing space", `CN=\ a\ `, single("CN", " a ")},
		{"unescaped trailing spaces trimmed", `CN=a  ,O=b`, single("CN", "a", "O", "b")},
		{"inner spaces kept", `O=Key  Example`, single("O", "Key  Example")},
		{"quoted keeps spaces and separators", `O=" a, b; c+d=e "`, single("O", " a, b; c+d=e ")},
		{"quoted doubled quote", `O="Say ""hi"""`, single("O", `Say "hi"`)},
		{"quoted backslash escapes", `O="a\"b\\c\2Cd"`, single("O", `a"b\c,d`)},
		{"unescaped equals in value", `CN=a=b`, single("CN", "a=b")},
		{"leading hash is literal", `CN=#1 team`, single("CN", "#1 team")},
		{"unicode value", `O=Société Générale,L=Zürich`, single("O", "Société Générale", "L", "Zürich")},
		{"empty values dropped", `CN=a,OU=,O="",L=b`, single("CN", "a", "L", "b")},
		{"empty attr in multi-valued RDN dropped", `CN=a+OU=,O=b`, single("CN", "a", "O", "b")},
		{"C lower-case letters", `C=us`, single("C", "us")},
		{"CN of 64 characters", "CN=" + strings.Repeat("a", 64), single("CN", strings.Repeat("a", 64))},
		{"CN of 64 multibyte characters", "CN=" + strings.Repeat("é", 64), single("CN", strings.Repeat("é", 64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDN(tt.in)
			if err != nil {
				t.Fatalf("ParseDN(%q): %v", tt.in, err)
			}
			if got := flat(d); !equalFlat(got, tt.want) {
				t.Errorf("ParseDN(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDN_SpecExampleFromJSON(t *testing.T) {
	// The request body as a client sends it: the quotes are JSON-escaped.
	body := `{"Subject":"CN=websrvr14.keyexample.com,OU=IT,O=\"Key Example, Inc.\",L=Independence,ST=OH,C=US"}`
	var req struct{ Subject string }
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatal(err)
	}
	d, err := ParseDN(req.Subject)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Get("O"); len(got) != 1 || got[0] != "Key Example, Inc." {
		t.Errorf("O = %q, want [Key Example, Inc.]", got)
	}
	if got := d.String(); got != specSubject {
		t.Errorf("String() = %s, want %s", got, specSubject)
	}
}

func TestParseDN_Rejected(t *testing.T) {
	tests := []struct {
		name, in, want string // want is the full error message
	}{
		{"unterminated quote", `CN=a,O="Key Example`, `Subject: unterminated quote at position 8`},
		{"unknown attribute", `CN=a,FOO=bar`, `Subject: unknown attribute type "FOO" at position 6`},
		{"missing equals", `CN`, `Subject: expected '=' after CN at position 3`},
		{"space instead of equals", `CN a`, `Subject: expected '=' after CN at position 4`},
		{"trailing comma", `CN=a,`, `Subject: expected an attribute type at position 6`},
		{"double comma", `CN=a,,O=b`, `Subject: expected an attribute type, found ',' at position 6`},
		{"trailing plus", `CN=a+`, `Subject: expected an attribute type at position 6`},
		{"leading equals", `=a`, `Subject: expected an attribute type, found '=' at position 1`},
		{"dangling backslash", `CN=a\`, `Subject: dangling '\' at the end at position 5`},
		{"incomplete hex escape", `CN=a\4`, `Subject: incomplete hex escape (\XX needs two hex digits) at position 5`},
		{"hex digit then letter", `CN=\Example`, `Subject: incomplete hex escape (\XX needs two hex digits) at position 4`},
		{"invalid escape", `CN=a\q`, `Subject: invalid escape "\\q" at position 5`},
		{"quote inside plain value", `CN=a"b"`, `Subject: unexpected '"' in value of CN (quote the whole value or escape it as \") at position 5`},
		{"text after closing quote", `O="a" b`, `Subject: unexpected 'b' after closing quote at position 7`},
		{"three-letter country", `CN=a,C=USA`, `Subject: C must be a two-letter country code, got "USA" at position 8`},
		{"one-letter country", `C=E`, `Subject: C must be a two-letter country code, got "E" at position 3`},
		{"digit country", `C=U1`, `Subject: C must be a two-letter country code, got "U1" at position 3`},
		{"CN too long", "CN=" + strings.Repeat("a", 65), `Subject: CN is 65 characters long; the limit is 64 (RFC 5280) at position 4`},
		{"O too long", "O=" + strings.Repeat("b", 65), `Subject: O is 65 characters long; the limit is 64 (RFC 5280) at position 3`},
		{"non-ASCII email", `E=jürgen@example.com`, `Subject: E may only contain ASCII characters (IA5String), got "jürgen@example.com" at position 3`},
		{"serial number not printable", `SERIALNUMBER=a*b`, `Subject: SERIALNUMBER may only contain letters, digits, spaces and '()+,-./:=? (PrintableString), got "a*b" at position 14`},
		{"control character via escape", `CN=a\0Ab`, `Subject: value of CN contains the control character U+000A at position 4`},
		{"raw control character", "CN=a\x01b", `Subject: value of CN contains the control character U+0001 at position 4`},
		{"invalid UTF-8 via escape", `CN=\FF`, `Subject: value of CN is not valid UTF-8 after unescaping at position 4`},
		{"invalid UTF-8 input", "CN=\xff", `Subject: is not valid UTF-8`},
		{"bad OID first arc", `3.1=x`, `Subject: attribute type "3.1" is not a valid OID: first arcs 3.1 are out of range at position 1`},
		{"non-canonical OID arc", `1.02=x`, `Subject: attribute type "1.02" is not a valid OID: arc "02" is not a canonical number at position 1`},
		{"single-arc OID", `OID.5=x`, `Subject: attribute type "OID.5" is not a valid OID: needs at least two arcs at position 1`},
		{"too long", "CN=a,O=" + strings.Repeat("x", 4090), `Subject: is 4097 bytes long; the limit is 4096`},
		{"too many attributes", strings.Repeat("OU=a,", 64) + "OU=b", `Subject: more than 64 attributes at position 321`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDN(tt.in)
			if err == nil {
				t.Fatalf("ParseDN(%q) = %v, want error %q", tt.in, d, tt.want)
			}
			ie := inputErr(t, err)
			if ie.Field != "Subject" {
				t.Errorf("Field = %q, want Subject", ie.Field)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseDN(%q) error\n got: %s\nwant: %s", tt.in, err, tt.want)
			}
		})
	}
}

func TestDN_String_QuotingRule(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"plain", "Acme", `O=Acme`},
		{"inner space", "Key Example", `O=Key Example`},
		{"unicode", "Société", `O=Société`},
		{"comma", "Key Example, Inc.", `O="Key Example, Inc."`},
		{"plus", "a+b", `O="a+b"`},
		{"semicolon", "a;b", `O="a;b"`},
		{"equals", "a=b", `O="a=b"`},
		{"angle brackets", "<a>", `O="<a>"`},
		{"quote", `say "hi"`, `O="say \"hi\""`},
		{"backslash", `a\b`, `O="a\\b"`},
		{"leading space", " a", `O=" a"`},
		{"trailing space", "a ", `O="a "`},
		{"leading hash", "#1", `O="#1"`},
		{"inner hash", "a#1", `O=a#1`},
		{"control character", "a\nb", `O="a\0Ab"`},
		{"empty", "", `O=""`},
	}
	oidO := asn1.ObjectIdentifier{2, 5, 4, 10}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DN{RDNs: []RDN{{{Type: oidO, Value: tt.value}}}}
			if got := d.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
			if tt.value == "" || strings.ContainsRune(tt.value, '\n') {
				return // ParseDN drops empty values and refuses control characters
			}
			back, err := ParseDN(d.String())
			if err != nil {
				t.Fatalf("ParseDN(%s): %v", d.String(), err)
			}
			if !back.Equal(d) {
				t.Errorf("ParseDN(String()) = %v, want %v", flat(back), flat(d))
			}
		})
	}
}

func TestDN_String_RoundTrip(t *testing.T) {
	for _, in := range []string{
		specSubject,
		`CN=a+UID=b,O=c`,
		`CN=a,1.3.6.1.4.1.99999.1=x,DC=example,DC=com`,
		`E=admin@example.com,CN=Admin`,
	} {
		d, err := ParseDN(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.String(); got != in {
			t.Errorf("String() = %s, want %s", got, in)
		}
	}
	// Inputs in other spellings normalize to the canonical form.
	for in, want := range map[string]string{
		`cn = a ; S=OH ; email=x@example.com`:      `CN=a,ST=OH,E=x@example.com`,
		`CN=host,O=Key Example\, Inc.`:             `CN=host,O="Key Example, Inc."`,
		`OID.2.5.4.3=a`:                            `CN=a`,
		`O="Say ""hi"""`:                           `O="Say \"hi\""`,
		`CN=a,OU=,O=b`:                             `CN=a,O=b`,
		`O=caf\c3\a9`:                              `O=café`,
		`CN=websrvr14.keyexample.com, OU=IT, C=US`: `CN=websrvr14.keyexample.com,OU=IT,C=US`,
	} {
		d, err := ParseDN(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.String(); got != want {
			t.Errorf("ParseDN(%s).String() = %s, want %s", in, got, want)
		}
	}
}

func TestDN_Get(t *testing.T) {
	d, err := ParseDN(`CN=a,OU=x,OU=y,ST=OH,E=m@example.com`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		attr string
		want []string
	}{
		{"CN", []string{"a"}},
		{"cn", []string{"a"}},
		{"2.5.4.3", []string{"a"}},
		{"OU", []string{"x", "y"}},
		{"S", []string{"OH"}},
		{"st", []string{"OH"}},
		{"EMAILADDRESS", []string{"m@example.com"}},
		{"O", nil},
		{"NOPE", nil},
	}
	for _, tt := range tests {
		got := d.Get(tt.attr)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Get(%q) = %q, want %q", tt.attr, got, tt.want)
		}
	}
	if got := d.CommonName(); got != "a" {
		t.Errorf("CommonName() = %q", got)
	}
	if got := (DN{}).CommonName(); got != "" {
		t.Errorf("empty CommonName() = %q", got)
	}
}

func TestDN_With(t *testing.T) {
	tests := []struct {
		name, base, attr, value, want string
	}{
		{"adds O before C", `CN=a,C=US`, "O", "Acme", `CN=a,O=Acme,C=US`},
		{"adds ST between L and C", `CN=a,O=Acme,L=Cleveland,C=US`, "ST", "OH", `CN=a,O=Acme,L=Cleveland,ST=OH,C=US`},
		{"adds C at the end", `CN=a,O=Acme`, "C", "US", `CN=a,O=Acme,C=US`},
		{"adds CN first", `O=Acme,C=US`, "CN", "host", `CN=host,O=Acme,C=US`},
		{"adds to empty", ``, "O", "Acme", `O=Acme`},
		{"keeps existing value", `CN=a,O=Mine`, "O", "Default", `CN=a,O=Mine`},
		{"alias sees existing", `CN=a,ST=OH`, "S", "CA", `CN=a,ST=OH`},
		{"empty value is a no-op", `CN=a`, "O", "", `CN=a`},
		{"unknown OID goes last", `CN=a,C=US`, "1.2.3.4", "x", `CN=a,C=US,1.2.3.4=x`},
		{"quoted value", `CN=a`, "O", "Key Example, Inc.", `CN=a,O="Key Example, Inc."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDN(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			before := d.String()
			got, err := d.With(tt.attr, tt.value)
			if err != nil {
				t.Fatalf("With: %v", err)
			}
			if got.String() != tt.want {
				t.Errorf("With(%s, %s) = %s, want %s", tt.attr, tt.value, got, tt.want)
			}
			if d.String() != before {
				t.Errorf("With modified its receiver: %s, was %s", d, before)
			}
		})
	}
	d, _ := ParseDN("CN=a")
	if _, err := d.With("C", "USA"); err == nil || err.Error() != `Subject: C must be a two-letter country code, got "USA"` {
		t.Errorf("With(C, USA) error = %v", err)
	}
	if _, err := d.With("FOO", "x"); err == nil || err.Error() != `Subject: unknown attribute type "FOO"` {
		t.Errorf("With(FOO) error = %v", err)
	}
}

func TestDN_RDNSequence_CertificateOrder(t *testing.T) {
	d, err := ParseDN(specSubject)
	if err != nil {
		t.Fatal(err)
	}
	seq := d.RDNSequence()
	if len(seq) != 6 {
		t.Fatalf("len = %d", len(seq))
	}
	// ASN.1 order is the reverse of string order: C first, CN last.
	if !seq[0][0].Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 6}) || seq[0][0].Value != "US" {
		t.Errorf("first RDN = %v, want C=US", seq[0])
	}
	if !seq[5][0].Type.Equal(asn1.ObjectIdentifier{2, 5, 4, 3}) {
		t.Errorf("last RDN = %v, want CN", seq[5])
	}
	if got := FormatName(seq); got != specSubject {
		t.Errorf("FormatName = %s, want %s", got, specSubject)
	}
}

func TestDN_Marshal_ParseRawDN(t *testing.T) {
	d, err := ParseDN(`CN=a+UID=b,E=x@example.com,O="Key Example, Inc.",DC=example,C=US`)
	if err != nil {
		t.Fatal(err)
	}
	der, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRawDN(der)
	if err != nil {
		t.Fatal(err)
	}
	// DER sorts the multi-valued RDN's attributes; the rest keeps its order.
	if got, want := back.String(), `CN=a+UID=b,E=x@example.com,O="Key Example, Inc.",DC=example,C=US`; got != want {
		t.Errorf("ParseRawDN(Marshal()) = %s, want %s", got, want)
	}
	// Value types: C PrintableString, E and DC IA5String, O PrintableString or UTF8String.
	var seq []asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		t.Fatal(err)
	}
	wantTags := []int{asn1.TagPrintableString, asn1.TagIA5String, asn1.TagPrintableString, asn1.TagIA5String}
	for i, tag := range wantTags {
		var set []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(seq[i].FullBytes, &set, "set"); err != nil {
			t.Fatal(err)
		}
		if set[0].Value.Tag != tag {
			t.Errorf("RDN %d (%v) has tag %d, want %d", i, set[0].Type, set[0].Value.Tag, tag)
		}
	}
	if _, err := ParseRawDN(append(der, 0)); err == nil {
		t.Error("ParseRawDN accepted trailing data")
	}
}

func TestFormatName_NonStringValues(t *testing.T) {
	seq := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "a"}},
		{{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: 5}},
		{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("com")}}},
	}
	if got, want := FormatName(seq), `DC=com,1.2.3.4=#020105,CN=a`; got != want {
		t.Errorf("FormatName = %s, want %s", got, want)
	}
}

func TestIssuedDN_MatchesRequestSubject(t *testing.T) {
	for _, subject := range []string{
		specSubject,
		`CN=Jane Doe,E=jane@example.com,OU=People,DC=corp,DC=example,DC=com`,
		`CN=a,O="Say \"hi\"",L=Zürich,C=CH`,
	} {
		d, err := ParseDN(subject)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c := selfSigned(t, raw, big.NewInt(1), nil)
		if got := IssuedDN(c); got != subject {
			t.Errorf("IssuedDN = %s, want %s", got, subject)
		}
		if got := IssuerDN(c); got != subject {
			t.Errorf("IssuerDN = %s, want %s", got, subject)
		}
	}
}

func TestDN_OpenSSLShowsSubject(t *testing.T) {
	d, err := ParseDN(specSubject)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c := selfSigned(t, raw, big.NewInt(1), nil)

	// RFC 2253 form: most specific first, the same order as the request.
	got := strings.TrimSpace(runOpenSSL(t, c, "x509", "-noout", "-subject", "-nameopt", "RFC2253"))
	if want := `subject=CN=websrvr14.keyexample.com,OU=IT,O=Key Example\, Inc.,L=Independence,ST=OH,C=US`; got != want {
		t.Errorf("openssl RFC2253 subject\n got: %s\nwant: %s", got, want)
	}
	// OpenSSL's default form lists the RDNs in certificate order.
	got = strings.TrimSpace(runOpenSSL(t, c, "x509", "-noout", "-subject"))
	if want := `subject=C = US, ST = OH, L = Independence, O = "Key Example, Inc.", OU = IT, CN = websrvr14.keyexample.com`; got != want {
		t.Errorf("openssl default subject\n got: %s\nwant: %s", got, want)
	}
}

func TestDN_OpenSSLShowsStringTypes(t *testing.T) {
	d, err := ParseDN(`CN=Zoë,E=z@example.com,DC=example,C=US`)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c := selfSigned(t, raw, big.NewInt(1), nil)
	got := strings.TrimSpace(runOpenSSL(t, c, "x509", "-noout", "-subject", "-nameopt", "RFC2253,show_type,-esc_msb,utf8"))
	want := `subject=CN=UTF8STRING:Zoë,emailAddress=IA5STRING:z@example.com,DC=IA5STRING:example,C=PRINTABLESTRING:US`
	if got != want {
		t.Errorf("openssl subject with types\n got: %s\nwant: %s", got, want)
	}
}
