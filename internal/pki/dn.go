package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits on subject strings. RFC 5280's upper bounds keep each attribute to
// 64..255 characters and real subjects have well under 20 attributes, so 4 KiB
// and 64 attributes are generous; they bound the memory and work one untrusted
// request can cause before any other validation runs.
const (
	maxDNLength     = 4096
	maxDNAttributes = 64
)

const subjectField = "Subject"

// Attribute is one attribute type and value of a distinguished name.
type Attribute struct {
	Type  asn1.ObjectIdentifier
	Value string
}

// Name returns the attribute's short name (CN, OU, ST, E, ...) or, for types
// without one, its dotted OID.
func (a Attribute) Name() string { return typeForOID(a.Type).name }

// RDN is a relative distinguished name: one attribute, or several joined with
// '+' in the string form (a multi-valued RDN).
type RDN []Attribute

// DN is a distinguished name in string order: RDNs[0] is the first RDN written
// in the subject string (normally CN), which is the last RDN of the encoded
// certificate subject (RFC 4514 section 2.1).
type DN struct {
	RDNs []RDN
}

// ParseDN parses a Keyfactor subject string such as
//
//	CN=websrvr14.keyexample.com,OU=IT,O="Key Example, Inc.",L=Independence,ST=OH,C=US
//
// The syntax is RFC 4514 with the extensions Keyfactor's Windows heritage
// implies:
//   - attribute types are short names, case-insensitive: CN, OU, O, L, ST or S,
//     C, E or EMAIL or EMAILADDRESS, STREET, SERIALNUMBER, DC, UID, T or TITLE,
//     G or GIVENNAME, SN or SURNAME, POSTALCODE; or dotted OIDs, optionally
//     prefixed "OID.";
//   - RDNs are separated by ',' or ';' and multi-valued RDNs join attributes
//     with '+'; spaces around '=', ',', ';' and '+' are ignored;
//   - a value may be double-quoted, in which case ',', ';', '+', '=' and
//     leading or trailing spaces are literal, and a quote inside is written \"
//     or "";
//   - backslash escapes \, \+ \" \\ \; \< \> \= \# and \space, any other
//     ASCII punctuation character, and \XX hex pairs (UTF-8 bytes) work quoted
//     and unquoted;
//   - a leading '#' is literal text: hex-encoded BER values are not supported.
//
// Attributes with an empty value ("OU=") are dropped, since clients that build
// the subject from a fixed template send them for unset fields. Values are
// checked against the attribute's ASN.1 type and RFC 5280 upper bound (CN, O
// and OU at most 64 characters, C exactly two letters, E and DC ASCII only) and
// may not contain control characters.
//
// Errors are *InputError with Field "Subject" and a message naming the
// problem and its position (1-based byte offset), for example
// `Subject: unterminated quote at position 12`.
func ParseDN(s string) (DN, error) {
	if len(s) > maxDNLength {
		return DN{}, inputErrorf(subjectField, "is %d bytes long; the limit is %d", len(s), maxDNLength)
	}
	if !utf8.ValidString(s) {
		return DN{}, inputErrorf(subjectField, "is not valid UTF-8")
	}
	p := dnParser{s: s}
	return p.parse()
}

type dnParser struct {
	s     string
	i     int
	count int // attributes parsed, to enforce maxDNAttributes
}

func (p *dnParser) errorf(pos int, format string, args ...any) error {
	return inputErrorf(subjectField, "%s at position %d", fmt.Sprintf(format, args...), pos+1)
}

func (p *dnParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *dnParser) parse() (DN, error) {
	var d DN
	p.skipSpace()
	if p.i == len(p.s) {
		return d, nil
	}
	for {
		var rdn RDN
		for {
			a, keep, err := p.parseAttribute()
			if err != nil {
				return DN{}, err
			}
			if keep {
				rdn = append(rdn, a)
			}
			p.skipSpace()
			if p.i < len(p.s) && p.s[p.i] == '+' {
				p.i++
				continue
			}
			break
		}
		if len(rdn) > 0 {
			d.RDNs = append(d.RDNs, rdn)
		}
		if p.i == len(p.s) {
			return d, nil
		}
		switch c := p.s[p.i]; c {
		case ',', ';':
			p.i++
		default:
			return DN{}, p.errorf(p.i, "unexpected %q", c)
		}
	}
}

// parseAttribute parses "type=value" at p.i. keep is false for empty values.
func (p *dnParser) parseAttribute() (Attribute, bool, error) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("= \t,;+\"\\", rune(p.s[p.i])) {
		p.i++
	}
	name := p.s[start:p.i]
	if name == "" {
		if p.i == len(p.s) {
			return Attribute{}, false, p.errorf(p.i, "expected an attribute type")
		}
		return Attribute{}, false, p.errorf(p.i, "expected an attribute type, found %q", p.s[p.i])
	}
	t, err := lookupAttr(name)
	if err != nil {
		return Attribute{}, false, p.errorf(start, "%v", err)
	}
	p.skipSpace()
	if p.i == len(p.s) || p.s[p.i] != '=' {
		return Attribute{}, false, p.errorf(p.i, "expected '=' after %s", name)
	}
	p.i++
	p.skipSpace()
	valueStart := p.i
	var value string
	if p.i < len(p.s) && p.s[p.i] == '"' {
		value, err = p.quotedValue()
	} else {
		value, err = p.plainValue(name)
	}
	if err != nil {
		return Attribute{}, false, err
	}
	if value == "" {
		return Attribute{}, false, nil
	}
	p.count++
	if p.count > maxDNAttributes {
		return Attribute{}, false, p.errorf(start, "more than %d attributes", maxDNAttributes)
	}
	if !utf8.ValidString(value) {
		return Attribute{}, false, p.errorf(valueStart, "value of %s is not valid UTF-8 after unescaping", t.name)
	}
	if msg := checkValue(t, value); msg != "" {
		return Attribute{}, false, p.errorf(valueStart, "%s", msg)
	}
	return Attribute{Type: t.oid, Value: value}, true, nil
}

// quotedValue parses a double-quoted value starting at the opening quote.
func (p *dnParser) quotedValue() (string, error) {
	open := p.i
	p.i++
	var b []byte
	for {
		if p.i == len(p.s) {
			return "", p.errorf(open, "unterminated quote")
		}
		switch c := p.s[p.i]; c {
		case '\\':
			ch, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, ch)
		case '"':
			if p.i+1 < len(p.s) && p.s[p.i+1] == '"' { // "" is a literal quote
				b = append(b, '"')
				p.i += 2
				continue
			}
			p.i++
			p.skipSpace()
			if p.i < len(p.s) && !strings.ContainsRune(",;+", rune(p.s[p.i])) {
				return "", p.errorf(p.i, "unexpected %q after closing quote", p.s[p.i])
			}
			return string(b), nil
		default:
			b = append(b, c)
			p.i++
		}
	}
}

// plainValue parses an unquoted value up to the next unescaped separator.
// Unescaped leading spaces were skipped by the caller; unescaped trailing
// spaces are trimmed here.
func (p *dnParser) plainValue(name string) (string, error) {
	var b []byte
	keep := 0 // length of b up to the last non-space or escaped byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case ',', ';', '+':
			return string(b[:keep]), nil
		case '\\':
			ch, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, ch)
			keep = len(b)
		case '"':
			return "", p.errorf(p.i, "unexpected '\"' in value of %s (quote the whole value or escape it as \\\")", name)
		default:
			b = append(b, c)
			p.i++
			if c != ' ' && c != '\t' {
				keep = len(b)
			}
		}
	}
	return string(b[:keep]), nil
}

// escape decodes the escape sequence at p.i (a backslash) into one byte.
func (p *dnParser) escape() (byte, error) {
	at := p.i
	if p.i+1 >= len(p.s) {
		return 0, p.errorf(at, "dangling '\\' at the end")
	}
	c := p.s[p.i+1]
	if isHex(c) {
		if p.i+2 >= len(p.s) || !isHex(p.s[p.i+2]) {
			return 0, p.errorf(at, "incomplete hex escape (\\XX needs two hex digits)")
		}
		v, _ := hex.DecodeString(p.s[p.i+1 : p.i+3])
		p.i += 3
		return v[0], nil
	}
	if c == ' ' || (c > ' ' && c < 0x7f && !isAlnum(c)) {
		p.i += 2
		return c, nil
	}
	return 0, p.errorf(at, "invalid escape %q", p.s[at:min(len(p.s), at+2)])
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// checkValue returns a message when value is not acceptable for t, or "".
func checkValue(t *attrType, value string) string {
	for _, r := range value {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("value of %s contains the control character U+%04X", t.name, r)
		}
	}
	n := utf8.RuneCountInString(value)
	if t.exact > 0 && n != t.exact {
		if t.name == "C" {
			return fmt.Sprintf("C must be a two-letter country code, got %q", value)
		}
		return fmt.Sprintf("%s must be %d characters, got %q", t.name, t.exact, value)
	}
	if t.maxLen > 0 && n > t.maxLen {
		return fmt.Sprintf("%s is %d characters long; the limit is %d (RFC 5280)", t.name, n, t.maxLen)
	}
	switch t.kind {
	case kindPrintable:
		for i := 0; i < len(value); i++ {
			if !isPrintableChar(value[i]) {
				if t.name == "C" {
					return fmt.Sprintf("C must be a two-letter country code, got %q", value)
				}
				return fmt.Sprintf("%s may only contain letters, digits, spaces and '()+,-./:=? (PrintableString), got %q", t.name, value)
			}
		}
		if t.name == "C" && !(isLetter(value[0]) && isLetter(value[1])) {
			return fmt.Sprintf("C must be a two-letter country code, got %q", value)
		}
	case kindIA5:
		for i := 0; i < len(value); i++ {
			if value[i] >= 0x80 {
				return fmt.Sprintf("%s may only contain ASCII characters (IA5String), got %q", t.name, value)
			}
		}
	}
	return ""
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// isPrintableChar reports whether c is in the ASN.1 PrintableString alphabet.
func isPrintableChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte(" '()+,-./:=?", c) >= 0
}

// Empty reports whether d has no attributes.
func (d DN) Empty() bool { return len(d.RDNs) == 0 }

// Equal reports whether d and o have the same RDNs, attributes and values in
// the same order.
func (d DN) Equal(o DN) bool {
	return slices.EqualFunc(d.RDNs, o.RDNs, func(a, b RDN) bool {
		return slices.EqualFunc(a, b, func(x, y Attribute) bool {
			return x.Type.Equal(y.Type) && x.Value == y.Value
		})
	})
}

// Get returns the values of the attribute named attr (a short name or alias,
// case-insensitive, or a dotted OID) in string order, or nil.
func (d DN) Get(attr string) []string {
	t, err := lookupAttr(attr)
	if err != nil {
		return nil
	}
	var out []string
	for _, rdn := range d.RDNs {
		for _, a := range rdn {
			if a.Type.Equal(t.oid) {
				out = append(out, a.Value)
			}
		}
	}
	return out
}

// CommonName returns the first CN in string order (the most specific), or "".
func (d DN) CommonName() string {
	if v := d.Get("CN"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// With returns d with attr=value added as its own RDN when d has no attribute
// of that type, and d unchanged otherwise; an empty value also leaves d
// unchanged. The enrollment uses it to fill missing subject parts from
// defaults. The new RDN goes where it conventionally belongs in the string
// (CN, OU, O, STREET, L, ST, C, DC from first to last): before the first RDN
// whose type conventionally comes later, or at the end. The value is checked
// as ParseDN checks values. d itself is not modified.
func (d DN) With(attr, value string) (DN, error) {
	t, err := lookupAttr(attr)
	if err != nil {
		return d, inputErrorf(subjectField, "%v", err)
	}
	if value == "" || len(d.Get(t.oid.String())) > 0 {
		return d, nil
	}
	if !utf8.ValidString(value) {
		return d, inputErrorf(subjectField, "value of %s is not valid UTF-8", t.name)
	}
	if msg := checkValue(t, value); msg != "" {
		return d, inputErrorf(subjectField, "%s", msg)
	}
	at := len(d.RDNs)
	if t.rank >= 0 {
		for i, rdn := range d.RDNs {
			if len(rdn) == 0 {
				continue
			}
			if r := typeForOID(rdn[0].Type).rank; r > t.rank {
				at = i
				break
			}
		}
	}
	out := DN{RDNs: make([]RDN, 0, len(d.RDNs)+1)}
	out.RDNs = append(out.RDNs, d.RDNs[:at]...)
	out.RDNs = append(out.RDNs, RDN{{Type: slices.Clone(t.oid), Value: value}})
	out.RDNs = append(out.RDNs, d.RDNs[at:]...)
	return out, nil
}

// String formats d in the Keyfactor style: RDNs in string order joined by ','
// (no space), multi-valued RDNs joined by '+', each attribute as NAME=value
// with the short names listed at ParseDN (ST for state, E for email) and
// dotted OIDs for other types.
//
// Quoting rule: a value is written bare unless it is empty, begins or ends
// with a space, begins with '#', or contains any of , + " \ ; < > = or a
// control character; such a value is enclosed in double quotes with " and \
// written as \" and \\ and control characters (and invalid UTF-8 bytes) as
// \XX. Example: CN=a,OU=b,O="x, y". ParseDN(d.String()) gives d back.
func (d DN) String() string {
	var b strings.Builder
	for i, rdn := range d.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, a := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(a.Name())
			b.WriteByte('=')
			writeValue(&b, a.Value)
		}
	}
	return b.String()
}

func needsQuotes(v string) bool {
	if v == "" || v[0] == ' ' || v[len(v)-1] == ' ' || v[0] == '#' {
		return true
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(",+\"\\;<>=", c) >= 0 {
			return true
		}
	}
	return !utf8.ValidString(v)
}

func writeValue(b *strings.Builder, v string) {
	if !needsQuotes(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(b, "\\%02X", v[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		default:
			b.WriteString(v[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// RDNSequence returns d in certificate (ASN.1) order, the reverse of string
// order, for use in x509 templates. Values are strings, except E and DC, which
// are asn1.RawValue IA5Strings as PKCS#9 and RFC 4519 require; C and
// SERIALNUMBER are checked PrintableString characters, so encoding/asn1 writes
// them as PrintableString. Because of the RawValue entries, set the template's
// RawSubject from Marshal rather than passing this through pkix.Name.
func (d DN) RDNSequence() pkix.RDNSequence {
	seq := make(pkix.RDNSequence, 0, len(d.RDNs))
	for i := len(d.RDNs) - 1; i >= 0; i-- {
		set := make(pkix.RelativeDistinguishedNameSET, 0, len(d.RDNs[i]))
		for _, a := range d.RDNs[i] {
			var v any = a.Value
			if typeForOID(a.Type).kind == kindIA5 {
				v = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagIA5String, Bytes: []byte(a.Value)}
			}
			set = append(set, pkix.AttributeTypeAndValue{Type: a.Type, Value: v})
		}
		seq = append(seq, set)
	}
	return seq
}

// Marshal returns the DER encoding of d's RDNSequence, for
// x509.Certificate.RawSubject and x509.CertificateRequest.RawSubject.
// encoding/asn1 sorts the attributes of a multi-valued RDN as DER requires.
func (d DN) Marshal() ([]byte, error) {
	return asn1.Marshal(d.RDNSequence())
}

// ParseRawDN decodes a DER Name (such as a certificate's or CSR's RawSubject)
// into a DN in string order. Every value must be a string type.
func ParseRawDN(der []byte) (DN, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return DN{}, fmt.Errorf("pki: decoding name: %w", err)
	}
	if len(rest) > 0 {
		return DN{}, fmt.Errorf("pki: trailing data after name")
	}
	d := DN{RDNs: make([]RDN, 0, len(seq))}
	for i := len(seq) - 1; i >= 0; i-- {
		rdn := make(RDN, 0, len(seq[i]))
		for _, atv := range seq[i] {
			s, ok := atv.Value.(string)
			if !ok {
				return DN{}, fmt.Errorf("pki: attribute %s has a non-string value", typeForOID(atv.Type).name)
			}
			rdn = append(rdn, Attribute{Type: atv.Type, Value: s})
		}
		d.RDNs = append(d.RDNs, rdn)
	}
	return d, nil
}

// FormatName formats a name as DN.String does, for IssuedDN and IssuerDN:
// RDNs most specific first (the reverse of seq, which is in certificate
// order), attributes within a multi-valued RDN in certificate order. Values
// that are not strings are written as #hex of their DER encoding (RFC 4514
// section 2.4). Pass the RDNSequence decoded from RawSubject or RawIssuer, not
// pkix.Name.ToRDNSequence, which loses the order; IssuedDN and IssuerDN do
// that for a certificate.
func FormatName(seq pkix.RDNSequence) string {
	var b strings.Builder
	for i := len(seq) - 1; i >= 0; i-- {
		if i < len(seq)-1 {
			b.WriteByte(',')
		}
		for j, atv := range seq[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(typeForOID(atv.Type).name)
			b.WriteByte('=')
			switch v := atv.Value.(type) {
			case string:
				writeValue(&b, v)
			case asn1.RawValue:
				if v.Class == asn1.ClassUniversal && isStringTag(v.Tag) {
					writeValue(&b, string(v.Bytes))
					break
				}
				der := v.FullBytes
				if len(der) == 0 {
					der, _ = asn1.Marshal(v)
				}
				b.WriteString("#" + strings.ToUpper(hex.EncodeToString(der)))
			default:
				der, err := asn1.Marshal(v)
				if err != nil {
					b.WriteString(`""`)
					break
				}
				b.WriteString("#" + strings.ToUpper(hex.EncodeToString(der)))
			}
		}
	}
	return b.String()
}

func isStringTag(tag int) bool {
	switch tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, asn1.TagNumericString:
		return true
	}
	return false
}

// FormatRawName formats a DER Name (RawSubject, RawIssuer) with FormatName.
func FormatRawName(der []byte) (string, error) {
	var seq pkix.RDNSequence
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return "", fmt.Errorf("pki: decoding name: %w", err)
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("pki: trailing data after name")
	}
	return FormatName(seq), nil
}

// IssuedDN returns the certificate's subject formatted with FormatName, as the
// Keyfactor API's IssuedDN.
func IssuedDN(c *x509.Certificate) string {
	s, err := FormatRawName(c.RawSubject)
	if err != nil { // cannot happen for a certificate x509 parsed
		return c.Subject.String()
	}
	return s
}

// IssuerDN returns the certificate's issuer formatted with FormatName, as the
// Keyfactor API's IssuerDN.
func IssuerDN(c *x509.Certificate) string {
	s, err := FormatRawName(c.RawIssuer)
	if err != nil { // cannot happen for a certificate x509 parsed
		return c.Issuer.String()
	}
	return s
}
