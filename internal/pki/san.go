package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Limits on the SANs map. Certificates with more than a few hundred names are
// rejected by many TLS stacks anyway; these bound the extension size and the
// validation work one request can cause.
const (
	maxSANEntries     = 256  // all values of all keys together
	maxSANValueLength = 2048 // bytes of one value (long URIs); DNS names are held to 253
	maxDNSNameLength  = 253  // RFC 1035, without the trailing dot
	maxEmailLocalPart = 64   // RFC 5321 section 4.5.3.1.1
)

var (
	oidExtensionSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDUPN is the Microsoft user principal name otherName
	// (szOID_NT_PRINCIPAL_NAME), whose value is a UTF8String.
	OIDUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// GeneralName tags (RFC 5280 section 4.2.1.6), context-specific.
const (
	tagOtherName = 0
	tagRFC822    = 1
	tagDNS       = 2
	tagURI       = 6
	tagIP        = 7
)

// SANs are the subject alternative names of a request or certificate.
type SANs struct {
	DNS    []string
	IPs    []net.IP
	URIs   []*url.URL
	Emails []string
	UPNs   []string
}

// ParseSANs validates the request's SANs map. Keys are matched
// case-insensitively: dns, ip4, ip6, uri, mail and rfc822 (both e-mail
// addresses), upn. An unknown key is an error naming it. Values are trimmed of
// surrounding spaces, must not be empty, and are checked:
//   - dns: LDH labels of 1..63 characters, at most 253 characters, no
//     trailing dot, optionally one leading "*." wildcard label;
//     internationalized names must be given as punycode (xn--...);
//   - ip4: a dotted-quad IPv4 address; ip6: an IPv6 address that is not
//     IPv4-mapped (give those under ip4); no zones, no prefixes;
//   - uri: an absolute URI with a scheme, in ASCII; "scheme://" needs a host;
//   - mail, rfc822: an addr-spec local@domain with an ASCII dot-atom local part
//     and a DNS domain (no display names, no quoted local parts);
//   - upn: user@domain with a non-empty user part without spaces or control
//     characters and a DNS domain.
//
// Duplicates are dropped (DNS names case-insensitively). Keys are processed in
// sorted order, values in the order given. Errors are *InputError with Field
// "SANs.<key as sent>", for example `SANs.dns: "exa mple.com" is not a valid
// DNS name: ...`.
func ParseSANs(m map[string][]string) (SANs, error) {
	var out SANs
	total := 0
	for _, v := range m {
		total += len(v)
	}
	if total > maxSANEntries {
		return SANs{}, inputErrorf("SANs", "has %d values; the limit is %d", total, maxSANEntries)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		field := "SANs." + key
		kind := strings.ToLower(strings.TrimSpace(key))
		switch kind {
		case "dns", "ip4", "ip6", "uri", "mail", "rfc822", "upn":
		default:
			return SANs{}, inputErrorf("SANs", "unknown key %q; use dns, ip4, ip6, uri, mail, rfc822 or upn", key)
		}
		for _, raw := range m[key] {
			v := strings.TrimSpace(raw)
			if v == "" {
				return SANs{}, inputErrorf(field, "empty value")
			}
			if len(v) > maxSANValueLength {
				return SANs{}, inputErrorf(field, "value of %d bytes is longer than the limit of %d", len(v), maxSANValueLength)
			}
			if err := out.add(kind, v); err != nil {
				return SANs{}, inputErrorf(field, "%q is not a valid %s: %v", v, kindNoun[kind], err)
			}
		}
	}
	return out, nil
}

var kindNoun = map[string]string{
	"dns":    "DNS name",
	"ip4":    "IPv4 address",
	"ip6":    "IPv6 address",
	"uri":    "URI",
	"mail":   "e-mail address",
	"rfc822": "e-mail address",
	"upn":    "user principal name",
}

func (s *SANs) add(kind, v string) error {
	switch kind {
	case "dns":
		if err := checkDNSName(v, true); err != nil {
			return err
		}
		if !slices.ContainsFunc(s.DNS, func(x string) bool { return strings.EqualFold(x, v) }) {
			s.DNS = append(s.DNS, v)
		}
	case "ip4", "ip6":
		ip, err := parseIP(kind, v)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(s.IPs, ip.Equal) {
			s.IPs = append(s.IPs, ip)
		}
	case "uri":
		u, err := parseURI(v)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(s.URIs, func(x *url.URL) bool { return x.String() == u.String() }) {
			s.URIs = append(s.URIs, u)
		}
	case "mail", "rfc822":
		if err := checkEmail(v); err != nil {
			return err
		}
		if !slices.Contains(s.Emails, v) {
			s.Emails = append(s.Emails, v)
		}
	case "upn":
		if err := checkUPN(v); err != nil {
			return err
		}
		if !slices.Contains(s.UPNs, v) {
			s.UPNs = append(s.UPNs, v)
		}
	}
	return nil
}

// checkDNSName checks a host name made of LDH labels. With wildcard, a single
// leading "*." label is allowed.
func checkDNSName(name string, wildcard bool) error {
	if len(name) > maxDNSNameLength {
		return fmt.Errorf("longer than %d characters", maxDNSNameLength)
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Errorf("has a trailing dot")
	}
	labels := strings.Split(name, ".")
	if wildcard && labels[0] == "*" && len(labels) > 1 {
		labels = labels[1:]
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("has an empty label")
		}
		if len(l) > 63 {
			return fmt.Errorf("label %q is longer than 63 characters", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case isAlnum(c):
			case c == '-':
				if i == 0 || i == len(l)-1 {
					return fmt.Errorf("label %q begins or ends with '-'", l)
				}
			case c == '*':
				return fmt.Errorf("a wildcard is only allowed as the whole first label (*.example.com)")
			case c >= 0x80:
				return fmt.Errorf("internationalized names must be given as punycode (xn--...)")
			default:
				return fmt.Errorf("label %q contains %q; only letters, digits and '-' are allowed", l, c)
			}
		}
	}
	return nil
}

func parseIP(kind, v string) (net.IP, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return nil, fmt.Errorf("does not parse")
	}
	if a.Zone() != "" {
		return nil, fmt.Errorf("zones are not allowed")
	}
	if kind == "ip4" {
		if !a.Is4() {
			return nil, fmt.Errorf("not an IPv4 address")
		}
		return net.IP(a.AsSlice()), nil // 4 bytes
	}
	if !a.Is6() {
		return nil, fmt.Errorf("not an IPv6 address")
	}
	if a.Is4In6() {
		return nil, fmt.Errorf("an IPv4-mapped address; give it under ip4")
	}
	return net.IP(a.AsSlice()), nil // 16 bytes
}

func parseURI(v string) (*url.URL, error) {
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			return nil, fmt.Errorf("contains spaces, control or non-ASCII characters (percent-encode them)")
		}
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("does not parse")
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("not absolute: a scheme such as https: is required")
	}
	if strings.HasPrefix(v[len(u.Scheme)+1:], "//") && u.Host == "" {
		return nil, fmt.Errorf("has no host")
	}
	if u.Opaque == "" && u.Host == "" && u.Path == "" {
		return nil, fmt.Errorf("has nothing after the scheme")
	}
	return u, nil
}

// checkEmail checks an RFC 5322 addr-spec with a dot-atom local part.
func checkEmail(v string) error {
	at := strings.LastIndexByte(v, '@')
	if at < 0 {
		return fmt.Errorf("missing '@'")
	}
	local, domain := v[:at], v[at+1:]
	if local == "" || len(local) > maxEmailLocalPart {
		return fmt.Errorf("local part must be 1 to %d characters", maxEmailLocalPart)
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return fmt.Errorf("local part has an empty dot-separated part")
		}
		for i := 0; i < len(atom); i++ {
			if c := atom[i]; !isAlnum(c) && strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) < 0 {
				return fmt.Errorf("local part contains %q", c)
			}
		}
	}
	if err := checkDNSName(domain, false); err != nil {
		return fmt.Errorf("domain %q: %v", domain, err)
	}
	return nil
}

// checkUPN checks user@domain as Active Directory user principal names look.
func checkUPN(v string) error {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		return fmt.Errorf("must be user@domain")
	}
	user, domain := v[:at], v[at+1:]
	if !utf8.ValidString(user) {
		return fmt.Errorf("user part is not valid UTF-8")
	}
	for _, r := range user {
		if r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '@' {
			return fmt.Errorf("user part contains %q", r)
		}
	}
	if err := checkDNSName(domain, false); err != nil {
		return fmt.Errorf("domain %q: %v", domain, err)
	}
	return nil
}

// Empty reports whether s has no names.
func (s SANs) Empty() bool {
	return len(s.DNS) == 0 && len(s.IPs) == 0 && len(s.URIs) == 0 && len(s.Emails) == 0 && len(s.UPNs) == 0
}

// Extension builds the subjectAltName extension for s. It exists because
// crypto/x509 cannot encode the UPN otherName (1.3.6.1.4.1.311.20.2.3 with a
// UTF8String). Names are written in GeneralName tag order: UPN otherNames,
// rfc822Names, dNSNames, URIs, iPAddresses (IPv4 as 4 bytes). Pass
// critical=true when the certificate's subject is empty (RFC 5280 section
// 4.2.1.6). ok is false when s is empty.
//
// Put the result in the template's ExtraExtensions and leave DNSNames,
// EmailAddresses, IPAddresses and URIs unset: crypto/x509 then writes this
// extension instead of its own. Note that crypto/x509 treats a critical SAN
// extension that holds only UPNs as unhandled when it verifies chains.
func (s SANs) Extension(critical bool) (ext pkix.Extension, ok bool, err error) {
	if s.Empty() {
		return pkix.Extension{}, false, nil
	}
	var names []asn1.RawValue
	for _, upn := range s.UPNs {
		if !utf8.ValidString(upn) {
			return pkix.Extension{}, false, fmt.Errorf("pki: UPN %q is not valid UTF-8", upn)
		}
		names = append(names, upnOtherName(upn))
	}
	for _, e := range s.Emails {
		if !isASCII(e) {
			return pkix.Extension{}, false, fmt.Errorf("pki: e-mail address %q is not ASCII", e)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagRFC822, Bytes: []byte(e)})
	}
	for _, d := range s.DNS {
		if !isASCII(d) {
			return pkix.Extension{}, false, fmt.Errorf("pki: DNS name %q is not ASCII", d)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagDNS, Bytes: []byte(d)})
	}
	for _, u := range s.URIs {
		us := u.String()
		if !isASCII(us) {
			return pkix.Extension{}, false, fmt.Errorf("pki: URI %q is not ASCII", us)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagURI, Bytes: []byte(us)})
	}
	for _, ip := range s.IPs {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		if b == nil {
			return pkix.Extension{}, false, fmt.Errorf("pki: IP address of %d bytes", len(ip))
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagIP, Bytes: b})
	}
	value, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, false, fmt.Errorf("pki: encoding subjectAltName: %w", err)
	}
	return pkix.Extension{Id: oidExtensionSubjectAltName, Critical: critical, Value: value}, true, nil
}

// upnOtherName encodes
//
//	otherName [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
//
// by hand: encoding/asn1 ignores tag parameters on RawValue fields.
func upnOtherName(upn string) asn1.RawValue {
	oid, _ := asn1.Marshal(OIDUPN) // a constant, valid OID
	utf8Str, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTF8String, Bytes: []byte(upn)})
	explicit, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8Str})
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagOtherName, IsCompound: true, Bytes: append(oid, explicit...)}
}

// parseOtherName decodes the content of an otherName: the type OID and the
// value inside the [0] EXPLICIT wrapper.
func parseOtherName(content []byte) (asn1.ObjectIdentifier, asn1.RawValue, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(content, &oid)
	if err != nil {
		return nil, asn1.RawValue{}, fmt.Errorf("pki: malformed otherName type: %w", err)
	}
	var explicit asn1.RawValue
	rest, err = asn1.Unmarshal(rest, &explicit)
	if err != nil || len(rest) > 0 || explicit.Class != asn1.ClassContextSpecific || explicit.Tag != 0 || !explicit.IsCompound {
		return nil, asn1.RawValue{}, fmt.Errorf("pki: malformed otherName value")
	}
	var value asn1.RawValue
	rest, err = asn1.Unmarshal(explicit.Bytes, &value)
	if err != nil || len(rest) > 0 {
		return nil, asn1.RawValue{}, fmt.Errorf("pki: malformed otherName value")
	}
	return oid, value, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// UPNsFromCertificate returns the UPN otherNames in the certificate's
// subjectAltName extension, which crypto/x509 does not expose, or nil.
func UPNsFromCertificate(c *x509.Certificate) ([]string, error) {
	return UPNsFromExtensions(c.Extensions)
}

// UPNsFromExtensions returns the UPN otherNames in the subjectAltName
// extension among exts (a certificate's or a CSR's Extensions), or nil.
func UPNsFromExtensions(exts []pkix.Extension) ([]string, error) {
	var upns []string
	for _, e := range exts {
		if !e.Id.Equal(oidExtensionSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		rest, err := asn1.Unmarshal(e.Value, &names)
		if err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("pki: malformed subjectAltName extension")
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != tagOtherName {
				continue
			}
			typeID, value, err := parseOtherName(n.Bytes)
			if err != nil {
				return nil, err
			}
			if !typeID.Equal(OIDUPN) {
				continue
			}
			if value.Class != asn1.ClassUniversal || value.Tag != asn1.TagUTF8String || !utf8.Valid(value.Bytes) {
				return nil, fmt.Errorf("pki: UPN otherName is not a UTF8String")
			}
			upns = append(upns, string(value.Bytes))
		}
	}
	return upns, nil
}

// SANsFromCertificate returns all subject alternative names of c, including
// UPNs.
func SANsFromCertificate(c *x509.Certificate) (SANs, error) {
	upns, err := UPNsFromCertificate(c)
	if err != nil {
		return SANs{}, err
	}
	return SANs{DNS: c.DNSNames, IPs: c.IPAddresses, URIs: c.URIs, Emails: c.EmailAddresses, UPNs: upns}, nil
}
