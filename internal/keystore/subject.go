package keystore

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"unicode/utf8"
)

// SubjectHeader returns the line "subject=<DN>" for c, byte for byte as
// OpenSSL 3.0 prints it with "openssl x509 -noout -subject" (its default
// name options, the same as -nameopt oneline): the RDNs in certificate
// order, "TYPE = value" joined by ", ", multi-valued RDNs joined by " + ",
// OpenSSL's short names (CN, O, OU, C, ST, L, emailAddress, DC, UID, ...)
// and dotted OIDs for other types. Values holding , + ; < > (or a leading #
// or leading/trailing space) are put in double quotes; " and \ are
// backslash-escaped; control characters and every byte of a non-ASCII
// character's UTF-8 encoding are written as \XX. Values that are not
// strings are written as # and the hex of their DER.
//
// This is also the "subject=" line that "openssl pkcs12 -nodes" writes
// before each certificate, which is what Keyfactor users see in PEM
// downloads.
func SubjectHeader(c *x509.Certificate) string {
	return "subject=" + formatName(c.RawSubject)
}

// rawATV and rawRDNSET parse a Name keeping each value's tag, which
// pkix.Name loses. A slice type whose name ends in SET is a SET OF for
// encoding/asn1.
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

type rawRDNSET []rawATV

// formatName formats a DER Name the OpenSSL way; see SubjectHeader.
func formatName(der []byte) string {
	var rdns []rawRDNSET
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil || len(rest) != 0 {
		// crypto/x509 has already parsed this name, so this does not
		// happen; write the DER rather than guess.
		return "#" + upperHex(der)
	}
	var out []byte
	for i, rdn := range rdns {
		for j, atv := range rdn {
			switch {
			case j > 0:
				out = append(out, " + "...)
			case i > 0:
				out = append(out, ", "...)
			}
			out = append(out, attributeName(atv.Type)...)
			out = append(out, " = "...)
			out = appendValue(out, atv.Value)
		}
	}
	return string(out)
}

// shortNames are OpenSSL's short names (OBJ_nid2sn) of the attribute types
// seen in distinguished names.
var shortNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.13":                   "description",
	"2.5.4.15":                   "businessCategory",
	"2.5.4.16":                   "postalAddress",
	"2.5.4.17":                   "postalCode",
	"2.5.4.18":                   "postOfficeBox",
	"2.5.4.20":                   "telephoneNumber",
	"2.5.4.41":                   "name",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationQualifier",
	"2.5.4.45":                   "x500UniqueIdentifier",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"2.5.4.72":                   "role",
	"2.5.4.97":                   "organizationIdentifier",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"1.2.840.113549.1.9.2":       "unstructuredName",
	"1.2.840.113549.1.9.8":       "unstructuredAddress",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.3.6.1.4.1.311.60.2.1.1":   "jurisdictionL",
	"1.3.6.1.4.1.311.60.2.1.2":   "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionC",
}

func attributeName(oid asn1.ObjectIdentifier) string {
	s := oid.String()
	if n, ok := shortNames[s]; ok {
		return n
	}
	return s
}

// appendValue appends one attribute value, escaped as OpenSSL's do_buf
// and do_esc_char do with ASN1_STRFLGS_RFC2253 | ASN1_STRFLGS_ESC_QUOTE.
func appendValue(out []byte, v asn1.RawValue) []byte {
	runes, ok := decodeString(v)
	if !ok {
		return append(append(out, '#'), upperHex(v.FullBytes)...)
	}
	var body []byte
	quote := false
	for i, r := range runes {
		// OpenSSL marks the first character, then overwrites the mark
		// with "last" on the last one: a one-character value is only
		// "last" (so a lone "#" stays unquoted).
		last := i == len(runes)-1
		first := i == 0 && !last
		if r > 0x7f {
			var buf [utf8.UTFMax]byte
			n := utf8.EncodeRune(buf[:], r)
			for _, b := range buf[:n] {
				body = appendHexEscape(body, b)
			}
			continue
		}
		c := byte(r)
		switch {
		case c < 0x20 || c == 0x7f:
			body = appendHexEscape(body, c)
		case c == '"' || c == '\\':
			body = append(body, '\\', c)
		case c == ',' || c == '+' || c == ';' || c == '<' || c == '>',
			c == '#' && first,
			c == ' ' && (first || last):
			quote = true
			body = append(body, c)
		default:
			body = append(body, c)
		}
	}
	if quote {
		out = append(out, '"')
		out = append(out, body...)
		return append(out, '"')
	}
	return append(out, body...)
}

// decodeString returns the characters of a string value the way OpenSSL
// reads them: UTF8String as UTF-8, BMPString as UCS-2, UniversalString as
// UCS-4, and the one-byte types (Numeric, Printable, T61, IA5, Visible and
// the two time types) as Latin-1. ok is false for other types and for
// malformed strings; OpenSSL dumps those as hex too.
func decodeString(v asn1.RawValue) (runes []rune, ok bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return nil, false
	}
	b := v.Bytes
	switch v.Tag {
	case asn1.TagUTF8String:
		if !utf8.Valid(b) {
			return nil, false
		}
		return []rune(string(b)), true
	case asn1.TagNumericString, asn1.TagPrintableString, asn1.TagT61String,
		asn1.TagIA5String, asn1.TagUTCTime, asn1.TagGeneralizedTime, 26: // 26 VisibleString
		for _, c := range b {
			runes = append(runes, rune(c))
		}
		return runes, true
	case 30: // BMPString
		if len(b)%2 != 0 {
			return nil, false
		}
		for i := 0; i < len(b); i += 2 {
			runes = append(runes, rune(binary.BigEndian.Uint16(b[i:])))
		}
	case 28: // UniversalString
		if len(b)%4 != 0 {
			return nil, false
		}
		for i := 0; i < len(b); i += 4 {
			runes = append(runes, rune(binary.BigEndian.Uint32(b[i:])))
		}
	default:
		return nil, false
	}
	for _, r := range runes {
		if !utf8.ValidRune(r) {
			return nil, false
		}
	}
	return runes, true
}

func appendHexEscape(out []byte, b byte) []byte {
	const digits = "0123456789ABCDEF"
	return append(out, '\\', digits[b>>4], digits[b&15])
}

func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
