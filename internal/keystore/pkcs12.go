package keystore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"hash"
	"io"
	"slices"
)

// Object identifiers of PKCS#7 content types, PKCS#12 bags and attributes.
var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidPKCS8ShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Certificate     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidFriendlyName        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	oidMicrosoftCSPName    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 17, 1}
	oidSHA1                = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

// pfxPDU is PFX (RFC 7292, section 4).
type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

// contentInfo is PKCS#7 ContentInfo; Content is the [0] EXPLICIT wrapper,
// built by explicit0.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"optional"`
}

// encryptedData is PKCS#7 EncryptedData, version 0.
type encryptedData struct {
	Version              int
	EncryptedContentInfo encryptedContentInfo
}

type encryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           []byte `asn1:"tag:0,optional"`
}

// safeBag is SafeBag; Value is the [0] EXPLICIT wrapper, Attributes the
// DER-sorted SET OF PKCS12Attribute (absent when empty).
type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue
	Attributes asn1.RawValue `asn1:"optional"`
}

// attribute is PKCS12Attribute with a single value.
type attribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue // SET OF, one element
}

// certBag is CertBag holding an X.509 certificate.
type certBag struct {
	ID   asn1.ObjectIdentifier
	Cert asn1.RawValue // [0] EXPLICIT OCTET STRING
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

// explicit0 wraps DER in a [0] EXPLICIT tag.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// derSet builds a DER SET OF from already encoded elements: X.690 11.6
// wants them in ascending order of their encodings.
func derSet(elems [][]byte) asn1.RawValue {
	sorted := slices.Clone(elems)
	slices.SortFunc(sorted, bytes.Compare)
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Join(sorted, nil)}
}

// newAttribute encodes one single-valued attribute.
func newAttribute(id asn1.ObjectIdentifier, value asn1.RawValue) ([]byte, error) {
	v, err := asn1.Marshal(value)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(attribute{ID: id, Values: derSet([][]byte{v})})
}

// bmpValue is a BMPString value (universal tag 30); encoding/asn1 cannot
// write one by itself.
func bmpValue(ucs2 []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: 30, Bytes: ucs2}
}

// bmpAttribute encodes a bag attribute whose value is s as a BMPString;
// what names s in the error.
func bmpAttribute(id asn1.ObjectIdentifier, what, s string) ([]byte, error) {
	v, err := bmpString(what, s)
	if err != nil {
		return nil, err
	}
	return newAttribute(id, bmpValue(v))
}

// bagAttributes holds the encoded attributes of the key bag and of the
// leaf's cert bag.
type bagAttributes struct {
	key, leaf [][]byte
}

func (b Bundle) bagAttributes() (bagAttributes, error) {
	var out bagAttributes
	localKeyID, err := newAttribute(oidLocalKeyID, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagOctetString, Bytes: LocalKeyID(b.Leaf)})
	if err != nil {
		return out, err
	}
	out.key = append(out.key, localKeyID)
	out.leaf = append(out.leaf, localKeyID)
	if b.FriendlyName != "" {
		attr, err := bmpAttribute(oidFriendlyName, "friendly name", b.FriendlyName)
		if err != nil {
			return out, err
		}
		out.key = append(out.key, attr)
		out.leaf = append(out.leaf, attr)
	}
	if b.CSPName != "" {
		attr, err := bmpAttribute(oidMicrosoftCSPName, "CSP name", b.CSPName)
		if err != nil {
			return out, err
		}
		out.key = append(out.key, attr)
	}
	return out, nil
}

// pkcs12Profile lists the algorithms of a Profile.
type pkcs12Profile struct {
	keyPBE  asn1.ObjectIdentifier // oidPBES2 or a PKCS#12 PBE
	certPBE asn1.ObjectIdentifier
	macAlg  asn1.ObjectIdentifier
	macHash func() hash.Hash
}

// algorithms returns the algorithms of p, which settings has checked.
func (p Profile) algorithms() pkcs12Profile {
	if p == ProfileLegacy {
		return pkcs12Profile{keyPBE: oidPBEWithSHAAnd3DESCBC, certPBE: oidPBEWithSHAAnd40RC2, macAlg: oidSHA1, macHash: sha1.New}
	}
	return pkcs12Profile{keyPBE: oidPBES2, certPBE: oidPBES2, macAlg: oidSHA256, macHash: sha256.New}
}

// newEncrypter sets up the scheme oid with the password in the form it
// needs: UTF-8 for PBES2, BMPString for the PKCS#12 PBEs.
func newEncrypter(oid asn1.ObjectIdentifier, password string, bmpPass []byte, iterations int, rand io.Reader) (encrypter, error) {
	if oid.Equal(oidPBES2) {
		return newPBES2(password, iterations, rand)
	}
	return newPKCS12PBE(oid, bmpPass, iterations, rand)
}

// EncodePKCS12 encodes b as a password-protected PKCS#12 file (PFX) in the
// profile o.Profile. The AuthenticatedSafe holds exactly two safes: first
// an unencrypted data safe with exactly one pkcs8ShroudedKeyBag, then an
// encrypted safe with one certBag per certificate: always the leaf first,
// then the CA certificates issuer first for EndEntityFirst, root first for
// RootFirst (see Bundle.leafThenChain). The key bag and
// the leaf's bag carry localKeyID (SHA-1 of the leaf) and friendlyName;
// the key bag also the Microsoft CSP name. See the package documentation.
func EncodePKCS12(b Bundle, o Options) ([]byte, error) {
	s, err := o.settingsFor(b)
	if err != nil {
		return nil, err
	}
	prof := s.Profile.algorithms()
	bmpPass, err := bmpPassword(s.Password)
	if err != nil {
		return nil, err
	}
	attrs, err := b.bagAttributes()
	if err != nil {
		return nil, err
	}

	// Safe 1: the shrouded key, in a plain data safe (the key is already
	// encrypted, as OpenSSL does it).
	keyBag, err := shroudedKeyBag(b, s, prof, bmpPass, attrs.key)
	if err != nil {
		return nil, err
	}
	// Safe 2: the certificates, encrypted.
	var certBags []safeBag
	for _, c := range b.leafThenChain(s.Order) {
		var leafAttrs [][]byte
		if c == b.Leaf {
			leafAttrs = attrs.leaf
		}
		bag, err := newCertBag(c, leafAttrs)
		if err != nil {
			return nil, err
		}
		certBags = append(certBags, bag)
	}
	return encodePFX([]safeBag{keyBag}, certBags, s, prof, bmpPass)
}

// encodePFX assembles the PFX of EncodePKCS12 and EncodePKCS12Store: an
// AuthenticatedSafe of exactly two safes, keyBags (already shrouded) in a
// plain data safe, then certBags in a password-encrypted safe, with the
// password MAC over it. Randomness is read in that order: the certificate
// safe's encryption, then the MAC salt.
func encodePFX(keyBags, certBags []safeBag, s settings, prof pkcs12Profile, bmpPass []byte) ([]byte, error) {
	keySafe, err := dataSafe(keyBags)
	if err != nil {
		return nil, err
	}
	certSafe, err := encryptedSafe(certBags, s, prof, bmpPass)
	if err != nil {
		return nil, err
	}
	authSafe, err := asn1.Marshal([]contentInfo{keySafe, certSafe})
	if err != nil {
		return nil, err
	}
	mac, err := computeMAC(prof, authSafe, bmpPass, s.iterations, s.rand)
	if err != nil {
		return nil, err
	}
	authSafeOctets, err := asn1.Marshal(authSafe)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(pfxPDU{
		Version:  3,
		AuthSafe: contentInfo{ContentType: oidData, Content: explicit0(authSafeOctets)},
		MacData:  mac,
	})
}

// dataSafe is a plain (unencrypted) safe holding bags.
func dataSafe(bags []safeBag) (contentInfo, error) {
	contents, err := asn1.Marshal(nonNilBags(bags))
	if err != nil {
		return contentInfo{}, err
	}
	octets, err := asn1.Marshal(contents)
	if err != nil {
		return contentInfo{}, err
	}
	return contentInfo{ContentType: oidData, Content: explicit0(octets)}, nil
}

// encryptedSafe is a safe holding bags encrypted with the password under
// the profile's certificate PBE.
func encryptedSafe(bags []safeBag, s settings, prof pkcs12Profile, bmpPass []byte) (contentInfo, error) {
	contents, err := asn1.Marshal(nonNilBags(bags))
	if err != nil {
		return contentInfo{}, err
	}
	enc, err := newEncrypter(prof.certPBE, s.Password, bmpPass, s.iterations, s.rand)
	if err != nil {
		return contentInfo{}, err
	}
	ed, err := asn1.Marshal(encryptedData{
		Version: 0,
		EncryptedContentInfo: encryptedContentInfo{
			ContentType:                oidData,
			ContentEncryptionAlgorithm: enc.alg,
			EncryptedContent:           enc.encrypt(contents),
		},
	})
	if err != nil {
		return contentInfo{}, err
	}
	return contentInfo{ContentType: oidEncryptedData, Content: explicit0(ed)}, nil
}

// nonNilBags makes an empty safe encode as an empty SEQUENCE OF.
func nonNilBags(b []safeBag) []safeBag {
	if b == nil {
		return []safeBag{}
	}
	return b
}

// shroudedKeyBag is b's key as a pkcs8ShroudedKeyBag with attrs.
func shroudedKeyBag(b Bundle, s settings, prof pkcs12Profile, bmpPass []byte, attrs [][]byte) (safeBag, error) {
	der, err := marshalPKCS8(b.Key)
	if err != nil {
		return safeBag{}, err
	}
	defer clear(der)
	enc, err := newEncrypter(prof.keyPBE, s.Password, bmpPass, s.iterations, s.rand)
	if err != nil {
		return safeBag{}, err
	}
	shrouded, err := shroud(der, enc)
	if err != nil {
		return safeBag{}, err
	}
	return safeBag{ID: oidPKCS8ShroudedKeyBag, Value: explicit0(shrouded), Attributes: derSet(attrs)}, nil
}

// newCertBag is c as a certBag; attrs, when not empty, become its
// attributes.
func newCertBag(c *x509.Certificate, attrs [][]byte) (safeBag, error) {
	octets, err := asn1.Marshal(c.Raw)
	if err != nil {
		return safeBag{}, err
	}
	cb, err := asn1.Marshal(certBag{ID: oidX509Certificate, Cert: explicit0(octets)})
	if err != nil {
		return safeBag{}, err
	}
	bag := safeBag{ID: oidCertBag, Value: explicit0(cb)}
	if len(attrs) > 0 {
		bag.Attributes = derSet(attrs)
	}
	return bag, nil
}

// computeMAC is the password-integrity MAC (RFC 7292, appendix B.4 and
// section 5.1): HMAC keyed with the PKCS#12 KDF (ID 3) over the
// AuthenticatedSafe's DER. The MAC hash also serves as the KDF hash, as
// OpenSSL does for -macalg sha256.
func computeMAC(prof pkcs12Profile, authSafe, bmpPass []byte, iterations int, rand io.Reader) (macData, error) {
	salt := make([]byte, pkcs12SaltLen)
	if _, err := io.ReadFull(rand, salt); err != nil {
		return macData{}, fmt.Errorf("keystore: reading MAC salt: %w", err)
	}
	key := pkcs12KDF(prof.macHash, bmpPass, salt, iterations, kdfIDMAC, prof.macHash().Size())
	m := hmac.New(prof.macHash, key)
	m.Write(authSafe)
	return macData{
		Mac: digestInfo{
			Algorithm: pkix.AlgorithmIdentifier{Algorithm: prof.macAlg, Parameters: asn1.NullRawValue},
			Digest:    m.Sum(nil),
		},
		MacSalt:    salt,
		Iterations: iterations,
	}, nil
}
