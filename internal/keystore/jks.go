package keystore

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"

	jks "github.com/pavlo-v-chernykh/keystore-go/v4"
)

// JKSAlias returns the alias EncodeJKS gives the key entry: the friendly
// name in lower case, or, without one, the leaf's SHA-1 thumbprint in
// lower-case hex. JKS aliases are case-insensitive: Sun's JKS provider and
// keytool lower-case every alias they store or look up, so a mixed-case
// alias in the file could not be found by keytool -alias. (A PKCS#12 file
// keeps the friendly name's case.) strings.ToLower agrees with Java's
// toLowerCase(Locale.ENGLISH) except for a few special cases such as
// U+0130, which Java lowers to two characters.
func JKSAlias(b Bundle) string {
	if b.FriendlyName != "" {
		return strings.ToLower(b.FriendlyName)
	}
	if b.Leaf == nil {
		return ""
	}
	sum := sha1.Sum(b.Leaf.Raw)
	return hex.EncodeToString(sum[:])
}

// EncodeJKS encodes b as a Java KeyStore (JKS, version 2) with a single
// PrivateKeyEntry named JKSAlias(b). The store password and the key
// password are both o.Password. The entry's chain is the leaf followed by
// b.Chain (issuer first): Java requires the leaf first, so o.Order does not
// apply. The entry's creation date is o.Now (the leaf's NotBefore when
// zero). RSA, ECDSA and Ed25519 keys are written as PKCS#8; keytool 17
// lists and converts all three.
//
// The password must be Latin-1 (U+0001..U+00FF): JKS hashes each Java
// char as two bytes, and the JKS library builds them from single bytes.
func EncodeJKS(b Bundle, o Options) ([]byte, error) {
	s, err := o.settingsFor(b)
	if err != nil {
		return nil, err
	}
	password, err := latin1("JKS password", s.Password)
	if err != nil {
		return nil, err
	}
	defer clear(password)
	alias := JKSAlias(b)
	// JKS stores the alias as Java's modified UTF-8 with a 16-bit length;
	// the library writes plain UTF-8, which is the same thing for the
	// Basic Multilingual Plane without NUL (bmpString rejects the rest).
	if _, err := bmpString("JKS alias", alias); err != nil {
		return nil, err
	}
	if len(alias) > 0xFFFF {
		return nil, invalidf("JKS alias is longer than 65535 bytes")
	}

	der, err := marshalPKCS8(b.Key)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	entry := jks.PrivateKeyEntry{CreationTime: s.now(b), PrivateKey: der}
	for _, c := range b.certs(EndEntityFirst) {
		entry.CertificateChain = append(entry.CertificateChain, jks.Certificate{Type: "X.509", Content: c.Raw})
	}

	ks := jks.New(jks.WithCustomRandomNumberGenerator(s.rand))
	if err := ks.SetPrivateKeyEntry(alias, entry, password); err != nil {
		return nil, fmt.Errorf("keystore: JKS entry: %w", err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, password); err != nil {
		return nil, fmt.Errorf("keystore: JKS: %w", err)
	}
	return buf.Bytes(), nil
}

// latin1 returns s as one byte per character. keystore-go turns each
// password byte b into the Java char (0, b), which is right exactly for
// characters up to U+00FF.
func latin1(what, s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return nil, invalidf("%s contains %q: only Latin-1 characters are supported", what, r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}
