package pki

import (
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
)

// stringKind is the ASN.1 string type an attribute's value is encoded with.
type stringKind int

const (
	// kindDirectory is a DirectoryString: encoding/asn1 picks PrintableString
	// when every character allows it and UTF8String otherwise, as
	// crypto/x509 does for pkix.Name.
	kindDirectory stringKind = iota
	// kindPrintable must be a PrintableString (X.520 countryName, serialNumber).
	kindPrintable
	// kindIA5 must be an IA5String (PKCS#9 emailAddress, RFC 4519 dc).
	kindIA5
)

// attrType describes one attribute type the subject parser knows by name.
type attrType struct {
	name   string // short name used when formatting
	oid    asn1.ObjectIdentifier
	kind   stringKind
	maxLen int // upper bound in characters from RFC 5280 Appendix A / X.520; 0 = none
	exact  int // exact length in characters (countryName); 0 = any
	rank   int // conventional position, most specific first; used by DN.With
}

// attrTypes lists the attribute types known by name. The first alias is the
// short name used when formatting (Keyfactor and go-client write ST, not S).
var attrTypes = []struct {
	aliases []string
	t       attrType
}{
	{[]string{"CN", "COMMONNAME"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 3}, maxLen: 64, rank: 10}},
	{[]string{"SN", "SURNAME"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 4}, rank: 12}},
	{[]string{"SERIALNUMBER"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 5}, kind: kindPrintable, maxLen: 64, rank: 11}},
	{[]string{"C"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 6}, kind: kindPrintable, exact: 2, rank: 70}},
	{[]string{"L"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 7}, maxLen: 128, rank: 50}},
	{[]string{"ST", "S"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 8}, maxLen: 128, rank: 60}},
	{[]string{"STREET"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 9}, maxLen: 128, rank: 40}},
	{[]string{"O"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 10}, maxLen: 64, rank: 30}},
	{[]string{"OU"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 11}, maxLen: 64, rank: 20}},
	{[]string{"T", "TITLE"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 12}, maxLen: 64, rank: 14}},
	{[]string{"POSTALCODE"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 17}, maxLen: 40, rank: 45}},
	{[]string{"G", "GIVENNAME"}, attrType{oid: asn1.ObjectIdentifier{2, 5, 4, 42}, rank: 12}},
	{[]string{"E", "EMAIL", "EMAILADDRESS"}, attrType{oid: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, kind: kindIA5, maxLen: 255, rank: 13}},
	{[]string{"DC"}, attrType{oid: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, kind: kindIA5, rank: 80}},
	{[]string{"UID"}, attrType{oid: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, rank: 9}},
}

var (
	attrByAlias = map[string]*attrType{} // upper-case alias → type
	attrByOID   = map[string]*attrType{} // dotted OID → type
)

func init() {
	for i := range attrTypes {
		t := &attrTypes[i].t
		t.name = attrTypes[i].aliases[0]
		for _, a := range attrTypes[i].aliases {
			attrByAlias[a] = t
		}
		attrByOID[t.oid.String()] = t
	}
}

// maxOIDArcs bounds dotted OIDs in subject strings; real attribute OIDs have
// fewer than 15 arcs.
const maxOIDArcs = 32

// lookupAttr resolves an attribute name: a short name or alias
// (case-insensitive), a dotted OID, or "OID." followed by a dotted OID.
// Unknown OIDs get a generic DirectoryString type named by the OID.
func lookupAttr(name string) (*attrType, error) {
	if t, ok := attrByAlias[strings.ToUpper(name)]; ok {
		return t, nil
	}
	s := name
	if len(s) > 4 && strings.EqualFold(s[:4], "OID.") {
		s = s[4:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' {
		return nil, fmt.Errorf("unknown attribute type %q", name)
	}
	oid, err := parseOID(s)
	if err != nil {
		return nil, fmt.Errorf("attribute type %q is not a valid OID: %v", name, err)
	}
	if t, ok := attrByOID[oid.String()]; ok {
		return t, nil
	}
	return &attrType{name: oid.String(), oid: oid, rank: -1}, nil
}

// typeForOID returns the known type for oid, or a generic one named by the OID.
func typeForOID(oid asn1.ObjectIdentifier) *attrType {
	if t, ok := attrByOID[oid.String()]; ok {
		return t
	}
	return &attrType{name: oid.String(), oid: oid, rank: -1}
}

// parseOID parses a dotted-decimal OID with the constraints of X.660: at least
// two arcs, first arc 0..2, second arc below 40 unless the first is 2.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("needs at least two arcs")
	}
	if len(parts) > maxOIDArcs {
		return nil, fmt.Errorf("more than %d arcs", maxOIDArcs)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("arc %q is not a canonical number", p)
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("arc %q is not a number", p)
			}
		}
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("arc %q is too large", p)
		}
		oid[i] = int(n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, fmt.Errorf("first arcs %d.%d are out of range", oid[0], oid[1])
	}
	return oid, nil
}
