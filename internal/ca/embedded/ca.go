// Package embedded is certdock's built-in CA: it creates a root and an
// issuing CA (Bootstrap), and signs certificates with the issuing key as a
// ca.Connector (CA.Issue).
//
// Every certificate it signs follows RFC 5280:
//   - the serial is 20 random bytes with the top bit cleared: positive,
//     at most 20 octets encoded, never zero (4.1.2.2);
//   - NotBefore is backdated a little (a minute by default) to tolerate
//     clock skew between certdock and relying parties, but never before the
//     issuing CA's NotBefore; NotAfter is never after the NotAfter of any CA
//     in the chain (the lifetime is shortened to fit);
//   - subjectKeyIdentifier is derived from the key (RFC 7093 method 1: the
//     leftmost 160 bits of SHA-256 of the subjectPublicKey bits) and
//     authorityKeyIdentifier is the issuer's subjectKeyIdentifier (4.2.1.1,
//     4.2.1.2);
//   - basicConstraints is present and critical, cA=FALSE for end entities
//     (4.2.1.9); keyUsage is critical and fits the key type (see
//     ca.KeyUsageFor);
//   - an empty subject is allowed only with a subjectAltName, which must
//     then be critical (4.1.2.6, 4.2.1.6);
//   - the signature algorithm follows the issuing key: ECDSA with SHA-256
//     for P-256, SHA-384 for P-384, SHA-512 for P-521, SHA-256 with
//     PKCS#1 v1.5 for RSA, Ed25519 for Ed25519.
//
// Key custody (sealing keys with internal/secret), serial bookkeeping,
// CRLs and OCSP live with the callers for now; this package signs and does
// no I/O. Time and randomness are inputs.
package embedded

import (
	"context"
	"crypto"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"time"

	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/pki"
)

// DefaultBackdate is how far NotBefore is set before the time of issue.
const DefaultBackdate = time.Minute

// Options configures a CA.
type Options struct {
	// Cert is the issuing CA certificate and Signer its private key.
	Cert   *x509.Certificate
	Signer crypto.Signer
	// Chain is Cert's issuers up to the root, nearest first (for the
	// bootstrapped hierarchy: [root]). Empty when Cert is a root itself.
	Chain []*x509.Certificate

	// Clock gives the time of issue; nil means time.Now.
	Clock func() time.Time
	// Rand is the source for serial numbers; nil means crypto/rand. It
	// must be safe for concurrent use.
	Rand io.Reader

	// CRLURLs become the cRLDistributionPoints extension, OCSPURLs and
	// IssuerURLs the authorityInfoAccess extension (OCSP and caIssuers).
	// Each extension is left out when its lists are empty.
	CRLURLs, OCSPURLs, IssuerURLs []string

	// Backdate is how far NotBefore precedes the time of issue; zero
	// means DefaultBackdate.
	Backdate time.Duration
}

// CA signs certificates with an issuing CA key. It implements ca.Connector
// and is safe for concurrent use.
type CA struct {
	cert     *x509.Certificate
	signer   crypto.Signer
	chain    []*x509.Certificate // cert's issuers, nearest first
	notAfter time.Time           // earliest NotAfter in cert and chain
	clock    func() time.Time
	rand     io.Reader
	crl      []string
	ocsp     []string
	issuer   []string
	backdate time.Duration
}

var _ ca.Connector = (*CA)(nil)

// New checks the options and returns a CA. Cert must be a CA certificate
// with a subjectKeyIdentifier, Signer must hold its key, and Chain must
// certify Cert link by link.
func New(o Options) (*CA, error) {
	if o.Cert == nil || o.Signer == nil {
		return nil, errors.New("embedded: a CA needs a certificate and a signer")
	}
	if !o.Cert.BasicConstraintsValid || !o.Cert.IsCA {
		return nil, fmt.Errorf("embedded: %s is not a CA certificate", o.Cert.Subject)
	}
	if o.Cert.KeyUsage != 0 && o.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("embedded: %s may not sign certificates (no keyCertSign usage)", o.Cert.Subject)
	}
	if len(o.Cert.SubjectKeyId) == 0 {
		// Without it certificates could not carry an
		// authorityKeyIdentifier, which RFC 5280 4.2.1.1 requires.
		return nil, fmt.Errorf("embedded: %s has no subjectKeyIdentifier", o.Cert.Subject)
	}
	pub, ok := o.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(o.Cert.PublicKey) {
		return nil, fmt.Errorf("embedded: the signer's key is not the key of %s", o.Cert.Subject)
	}
	notAfter := o.Cert.NotAfter
	child := o.Cert
	for _, parent := range o.Chain {
		if err := child.CheckSignatureFrom(parent); err != nil {
			return nil, fmt.Errorf("embedded: chain: %s is not signed by %s: %w", child.Subject, parent.Subject, err)
		}
		if parent.NotAfter.Before(notAfter) {
			notAfter = parent.NotAfter
		}
		child = parent
	}
	if o.Backdate < 0 {
		return nil, fmt.Errorf("embedded: negative backdate %v", o.Backdate)
	}
	c := &CA{
		cert:     o.Cert,
		signer:   o.Signer,
		chain:    slices.Clone(o.Chain),
		notAfter: notAfter,
		clock:    o.Clock,
		rand:     o.Rand,
		crl:      slices.Clone(o.CRLURLs),
		ocsp:     slices.Clone(o.OCSPURLs),
		issuer:   slices.Clone(o.IssuerURLs),
		backdate: o.Backdate,
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if c.rand == nil {
		c.rand = cryptorand.Reader
	}
	if c.backdate == 0 {
		c.backdate = DefaultBackdate
	}
	return c, nil
}

// Certificate returns the issuing CA certificate.
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Chain returns the issuing CA certificate followed by its issuers, the
// root last: the chain that certifies what this CA issues.
func (c *CA) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{c.cert}, c.chain...)
}

// CA-controlled extensions: a request may not supply these in
// ExtraExtensions, because x509.CreateCertificate lets ExtraExtensions
// replace what it would build, which would let a request make itself a CA.
var reservedExtensions = []asn1.ObjectIdentifier{
	{2, 5, 29, 14},                     // subjectKeyIdentifier
	{2, 5, 29, 15},                     // keyUsage
	{2, 5, 29, 19},                     // basicConstraints
	{2, 5, 29, 30},                     // nameConstraints
	{2, 5, 29, 31},                     // cRLDistributionPoints
	{2, 5, 29, 35},                     // authorityKeyIdentifier
	{2, 5, 29, 37},                     // extKeyUsage
	{1, 3, 6, 1, 5, 5, 7, 1, 1},        // authorityInfoAccess
	{2, 5, 29, 36},                     // policyConstraints
	{2, 5, 29, 54},                     // inhibitAnyPolicy
	{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}, // CT precertificate poison
}

// minRSABits is the smallest RSA key this CA certifies (NIST SP 800-131A
// disallows smaller keys for signatures since 2013).
const minRSABits = 2048

// Issue signs the request's certificate with the issuing key. Malformed
// requests are errors; requests this CA will not sign as given (an empty
// subject without a SAN, a weak key, reserved extensions, a CA beyond the
// path length, an expired issuing CA) are ca.RejectedError.
func (c *CA) Issue(ctx context.Context, req *ca.IssueRequest) (*ca.IssueResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tmpl, err := c.template(req)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, c.cert, req.PublicKey, c.signer)
	if err != nil {
		return nil, fmt.Errorf("embedded: signing: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("embedded: parsing the signed certificate: %w", err)
	}
	return &ca.IssueResponse{Certificate: cert, Chain: c.Chain()}, nil
}

// template checks req and builds the certificate template.
func (c *CA) template(req *ca.IssueRequest) (*x509.Certificate, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	p := req.Profile
	if k, ok := req.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
		return nil, ca.Rejectf("an RSA key of %d bits is too small; at least %d bits are required", k.N.BitLen(), minRSABits)
	}
	for _, e := range req.ExtraExtensions {
		for _, r := range reservedExtensions {
			if e.Id.Equal(r) {
				return nil, ca.Rejectf("extension %s is set by the CA and may not be requested", e.Id)
			}
		}
	}

	rawSubject, err := asn1.Marshal(req.Subject)
	if err != nil {
		return nil, fmt.Errorf("embedded: encoding subject: %w", err)
	}
	if len(req.Subject) == 0 {
		san, ok := req.SANExtension()
		switch {
		case ok && !san.Critical:
			return nil, ca.Rejectf("the subject is empty, so the subjectAltName extension must be critical (RFC 5280 4.2.1.6)")
		case ok && !sanHasNames(san.Value):
			return nil, ca.Rejectf("the subject is empty and the subjectAltName extension has no names")
		case !ok && !req.HasPlainSANs():
			return nil, ca.Rejectf("the subject is empty and there is no subjectAltName")
		}
		// With plain SANs, x509.CreateCertificate marks the SAN
		// extension critical itself when the subject is empty.
	}

	ku, err := ca.KeyUsageFor(req.PublicKey, p.KeyUsage, p.IsCA)
	if err != nil {
		return nil, err
	}
	maxPathLen, maxPathLenZero := p.MaxPathLen, false
	if p.IsCA {
		if err := c.checkPathLen(p.MaxPathLen); err != nil {
			return nil, err
		}
		maxPathLenZero = p.MaxPathLen == 0
	} else {
		maxPathLen = -1 // no pathLenConstraint
	}

	now := c.clock()
	notBefore := now.Add(-c.backdate)
	if notBefore.Before(c.cert.NotBefore) {
		notBefore = c.cert.NotBefore
	}
	notAfter := now.Add(p.Validity)
	if notAfter.After(c.notAfter) {
		notAfter = c.notAfter
	}
	if now.Before(c.cert.NotBefore) {
		return nil, ca.Rejectf("the issuing CA %s is not valid before %s", c.cert.Subject, c.cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if !now.Before(c.notAfter) {
		return nil, ca.Rejectf("the issuing CA %s or its chain expired at %s", c.cert.Subject, c.notAfter.UTC().Format(time.RFC3339))
	}

	serial, err := c.serial()
	if err != nil {
		return nil, err
	}
	ski, err := pki.SubjectKeyID(req.PublicKey)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            rawSubject,
		NotBefore:             notBefore.UTC().Truncate(time.Second),
		NotAfter:              notAfter.UTC().Truncate(time.Second),
		KeyUsage:              ku,
		ExtKeyUsage:           slices.Clone(p.ExtKeyUsages),
		UnknownExtKeyUsage:    slices.Clone(p.UnknownExtKeyUsages),
		BasicConstraintsValid: true,
		IsCA:                  p.IsCA,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLenZero,
		SubjectKeyId:          ski,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		EmailAddresses:        req.EmailAddresses,
		URIs:                  req.URIs,
		ExtraExtensions:       req.ExtraExtensions,
		CRLDistributionPoints: c.crl,
		OCSPServer:            c.ocsp,
		IssuingCertificateURL: c.issuer,
	}, nil
}

// checkPathLen refuses a subordinate CA this CA's own pathLenConstraint
// does not leave room for (RFC 5280 4.2.1.9).
func (c *CA) checkPathLen(child int) error {
	limit := c.cert.MaxPathLen // -1: none; 0 with MaxPathLenZero: zero
	if limit < 0 && !c.cert.MaxPathLenZero {
		return nil
	}
	if limit == 0 {
		return ca.Rejectf("the issuing CA %s has path length 0 and may not issue CA certificates", c.cert.Subject)
	}
	if child < 0 || child >= limit {
		return ca.Rejectf("a CA certificate under %s needs a path length below %d", c.cert.Subject, limit)
	}
	return nil
}

// maxSerialDraws bounds the redraws of an all-zero serial: a real random
// source yields zero with probability 2^-159 per draw.
const maxSerialDraws = 8

func (c *CA) serial() (*big.Int, error) { return randomSerial(c.rand) }

// randomSerial returns 20 random bytes with the top bit cleared as a
// positive integer (RFC 5280 4.1.2.2: positive, at most 20 octets).
func randomSerial(rand io.Reader) (*big.Int, error) {
	var b [20]byte
	for range maxSerialDraws {
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, fmt.Errorf("embedded: reading random serial: %w", err)
		}
		b[0] &= 0x7f
		if s := new(big.Int).SetBytes(b[:]); s.Sign() > 0 {
			return s, nil
		}
	}
	return nil, errors.New("embedded: the random source gives only zero serials")
}

// sanHasNames reports whether a subjectAltName extension value is a
// well-formed, non-empty SEQUENCE OF GeneralName (RFC 5280 4.2.1.6:
// "SubjectAltName ::= GeneralNames", SIZE (1..MAX)).
func sanHasNames(value []byte) bool {
	var names []asn1.RawValue
	rest, err := asn1.Unmarshal(value, &names)
	return err == nil && len(rest) == 0 && len(names) > 0
}
