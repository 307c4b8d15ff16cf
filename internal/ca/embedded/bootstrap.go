package embedded

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/pki"
)

// Default names of the bootstrapped CAs.
const (
	DefaultRootCommonName    = "certdock Root CA"
	DefaultIssuingCommonName = "certdock Issuing CA 1"
	DefaultOrganization      = "certdock"
)

// BootstrapOptions adjusts Bootstrap. The zero value gives the defaults.
type BootstrapOptions struct {
	// RootSubject and IssuingSubject name the CAs. Empty names mean
	// "CN=certdock Root CA,O=certdock" and "CN=certdock Issuing CA 1,O=certdock".
	RootSubject, IssuingSubject pkix.Name

	// RootValidity and IssuingValidity are the lifetimes; zero means 20
	// and 10 years (calendar years from now). The issuing CA never
	// outlives the root.
	RootValidity, IssuingValidity time.Duration

	// IssuingCurve is the issuing CA's curve: elliptic.P256() (the
	// default) or elliptic.P384(). The root always uses P-384.
	//
	// P-256 is the default because the issuing key signs every
	// certificate: ECDSA-SHA256 is understood by every TLS stack and Java
	// and Windows version certdock's clients run, signs about twice as fast
	// as P-384, and its 128-bit strength matches the RSA-3072 and P-256
	// keys it certifies. The long-lived root gets P-384's margin.
	IssuingCurve elliptic.Curve

	// RootCRLURLs and RootIssuerURLs become the cRLDistributionPoints and
	// authorityInfoAccess caIssuers of the issuing CA certificate: where
	// the root's CRL and certificate are published. Empty: left out.
	RootCRLURLs, RootIssuerURLs []string
}

// Material is a freshly made CA hierarchy: the caller seals the keys
// (MarshalPrivateKey, then secret.Keyring.Seal) and stores the certificates.
type Material struct {
	RootCert, IssuingCert *x509.Certificate
	RootKey, IssuingKey   crypto.Signer
}

// Bootstrap makes a new self-signed root CA (P-384 ECDSA key, pathlen 1,
// 20 years) and an issuing CA (P-256 by default, pathlen 0, 10 years)
// signed by it. now is the time of creation; NotBefore is backdated by
// DefaultBackdate. rand supplies serial numbers (nil means crypto/rand);
// keys come from the crypto packages' own secure source, since Go 1.26
// ignores custom readers for key generation.
func Bootstrap(rand io.Reader, now time.Time, opts BootstrapOptions) (*Material, error) {
	rootName := nameOr(opts.RootSubject, DefaultRootCommonName)
	issuingName := nameOr(opts.IssuingSubject, DefaultIssuingCommonName)
	curve := opts.IssuingCurve
	if curve == nil {
		curve = elliptic.P256()
	}
	if curve != elliptic.P256() && curve != elliptic.P384() {
		return nil, fmt.Errorf("embedded: issuing CA curve %s is not P-256 or P-384", curve.Params().Name)
	}
	if opts.RootValidity < 0 || opts.IssuingValidity < 0 {
		return nil, errors.New("embedded: negative CA validity")
	}
	now = now.UTC()
	rootNotAfter := now.AddDate(20, 0, 0)
	if opts.RootValidity > 0 {
		rootNotAfter = now.Add(opts.RootValidity)
	}
	issuingNotAfter := now.AddDate(10, 0, 0)
	if opts.IssuingValidity > 0 {
		issuingNotAfter = now.Add(opts.IssuingValidity)
	}
	if issuingNotAfter.After(rootNotAfter) {
		issuingNotAfter = rootNotAfter
	}
	notBefore := now.Add(-DefaultBackdate).Truncate(time.Second)

	if rand == nil {
		rand = cryptorand.Reader
	}
	rootKey, err := ecdsa.GenerateKey(elliptic.P384(), rand)
	if err != nil {
		return nil, fmt.Errorf("embedded: generating root key: %w", err)
	}
	issuingKey, err := ecdsa.GenerateKey(curve, rand)
	if err != nil {
		return nil, fmt.Errorf("embedded: generating issuing key: %w", err)
	}

	// Self-signing needs the template directly; the issuing CA below goes
	// through the same Issue path as every other certificate.
	rootSerial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	rootSKI, err := pki.SubjectKeyID(rootKey.Public())
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          rootSerial,
		Subject:               rootName,
		NotBefore:             notBefore,
		NotAfter:              rootNotAfter.Truncate(time.Second),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
		SubjectKeyId:          rootSKI,
	}
	rootDER, err := x509.CreateCertificate(rand, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("embedded: signing root: %w", err)
	}
	rootCert, err := x509.ParseCertificate(rootDER)
	if err != nil {
		return nil, fmt.Errorf("embedded: parsing root: %w", err)
	}

	root, err := New(Options{
		Cert:       rootCert,
		Signer:     rootKey,
		Clock:      func() time.Time { return now },
		Rand:       rand,
		CRLURLs:    opts.RootCRLURLs,
		IssuerURLs: opts.RootIssuerURLs,
	})
	if err != nil {
		return nil, err
	}
	// digitalSignature lets the issuing key sign OCSP responses itself.
	resp, err := root.Issue(context.Background(), &ca.IssueRequest{
		PublicKey: issuingKey.Public(),
		Subject:   issuingName.ToRDNSequence(),
		Profile: ca.Profile{
			Validity:   issuingNotAfter.Sub(now),
			KeyUsage:   x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			IsCA:       true,
			MaxPathLen: 0,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: signing issuing CA: %w", err)
	}
	return &Material{
		RootCert:    rootCert,
		IssuingCert: resp.Certificate,
		RootKey:     rootKey,
		IssuingKey:  issuingKey,
	}, nil
}

// nameOr returns n, or CN=cn,O=certdock when n is empty.
func nameOr(n pkix.Name, cn string) pkix.Name {
	if len(n.ToRDNSequence()) > 0 {
		return n
	}
	return pkix.Name{CommonName: cn, Organization: []string{DefaultOrganization}}
}
