// Package retrieve hands out what certdock holds for an issued certificate:
// the certificate itself with its chain (POST /Certificates/Download, as DER,
// PEM or a PKCS#7 bundle) and, when the template retained it, the private key
// (POST /Certificates/Recover, packaged by internal/keystore exactly as a PFX
// enrollment packages it). Every hand-out is recorded in the certificate's
// history (and recovery in the audit log) before it is returned.
package retrieve

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/policy"
)

// Store is what retrieval reads and writes; sqlstore.Q implements it.
type Store interface {
	Settings(ctx context.Context) (policy.Settings, error)
	Certificate(ctx context.Context, id int64) (certificate.Record, error)
	CertificateByThumbprint(ctx context.Context, tp string) (certificate.Record, error)
	CertificatesBySerial(ctx context.Context, serial string) ([]certificate.Record, error)
	RetainedKeyInfo(ctx context.Context, certID int64) (sealed []byte, retainUntil *time.Time, err error)
	AddHistory(ctx context.Context, h certificate.HistoryEntry) error
	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}

// Options wires the service.
type Options struct {
	Store Store
	InTx  func(ctx context.Context, fn func(Store) error) error
	// Open unseals a retained key (secret.Keyring.Open).
	Open func(blob, aad []byte) ([]byte, error)
	// Chain returns the CA certificates above certificates issued by the CA
	// with this id, the issuing CA first and the root last.
	Chain      func(caID int64) ([]*x509.Certificate, bool)
	IsNotFound func(error) bool
	Now        func() time.Time
	Rand       io.Reader
}

// Service serves downloads and key recovery.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Service{o: o}
}

// Selector names one certificate: CertID, or Thumbprint, or SerialNumber
// with IssuerDN. When several are given, CertID wins, then Thumbprint.
type Selector struct {
	CertID       int64
	Thumbprint   string
	SerialNumber string
	IssuerDN     string
}

// Download formats.
const (
	FormatDER = "DER"
	FormatPEM = "PEM"
	FormatP7B = "P7B"
)

// DownloadRequest is POST /Certificates/Download.
type DownloadRequest struct {
	Selector
	Format               string // DER, PEM or P7B
	IncludeChain         bool
	ChainOrder           keystore.ChainOrder
	IncludeSubjectHeader bool
}

// Recovery formats.
const (
	FormatPFX = "PFX"
	FormatZIP = "ZIP"
	FormatJKS = "JKS"
)

// RecoverRequest is POST /Certificates/Recover.
type RecoverRequest struct {
	Selector
	Format               string // PFX, PEM, ZIP or JKS
	Password             string
	IncludeChain         bool
	ChainOrder           keystore.ChainOrder
	IncludeSubjectHeader bool
	FriendlyName         string
	UseLegacyEncryption  bool
	MicrosoftTargetCSP   string
}

// MsgNoPrivateKey is Keyfactor's message for a certificate without a key.
const MsgNoPrivateKey = "No private key could be found for the given certificate."

// find resolves a selector to a certificate record.
func (s *Service) find(ctx context.Context, sel Selector) (certificate.Record, error) {
	st := s.o.Store
	switch {
	case sel.CertID < 0:
		return certificate.Record{}, errs.Field("CertID", "must be a positive certificate id")
	case sel.CertID > 0:
		r, err := st.Certificate(ctx, sel.CertID)
		if s.o.IsNotFound(err) {
			return r, errs.NotFoundf("CertID: certificate %d does not exist", sel.CertID)
		}
		return r, err
	case strings.TrimSpace(sel.Thumbprint) != "":
		tp := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(sel.Thumbprint), ":", ""))
		if !thumbprintRE.MatchString(tp) {
			return certificate.Record{}, errs.Field("Thumbprint", "%q is not 40 hexadecimal digits (a SHA-1 thumbprint)", sel.Thumbprint)
		}
		r, err := st.CertificateByThumbprint(ctx, tp)
		if s.o.IsNotFound(err) {
			return r, errs.NotFoundf("Thumbprint: no certificate has thumbprint %s", tp)
		}
		return r, err
	case strings.TrimSpace(sel.SerialNumber) != "" || strings.TrimSpace(sel.IssuerDN) != "":
		if strings.TrimSpace(sel.SerialNumber) == "" {
			return certificate.Record{}, errs.Field("SerialNumber", "is required with IssuerDN")
		}
		if strings.TrimSpace(sel.IssuerDN) == "" {
			return certificate.Record{}, errs.Field("IssuerDN", "is required with SerialNumber")
		}
		n, err := pki.ParseSerialHex(strings.TrimSpace(sel.SerialNumber))
		if err != nil {
			return certificate.Record{}, errs.Field("SerialNumber", "%q is not a hexadecimal serial number", sel.SerialNumber)
		}
		want, err := pki.ParseDN(sel.IssuerDN)
		if err != nil {
			return certificate.Record{}, errs.Field("IssuerDN", "%q is not a distinguished name", sel.IssuerDN)
		}
		recs, err := st.CertificatesBySerial(ctx, pki.FormatSerial(n))
		if err != nil {
			return certificate.Record{}, err
		}
		for _, r := range recs {
			if got, err := pki.ParseDN(r.IssuerDN); err == nil && got.Equal(want) {
				return r, nil
			}
		}
		return certificate.Record{}, errs.NotFoundf("SerialNumber: no certificate with serial number %s from issuer %s", pki.FormatSerial(n), sel.IssuerDN)
	}
	return certificate.Record{}, errs.Field("CertID", "one of CertID, Thumbprint, or SerialNumber with IssuerDN is required")
}

var thumbprintRE = regexp.MustCompile(`^[0-9A-F]{40}$`)

// certs parses the record's certificate and, when asked, its chain.
func (s *Service) certs(r certificate.Record, withChain bool) (*x509.Certificate, []*x509.Certificate, error) {
	leaf, err := x509.ParseCertificate(r.DER)
	if err != nil {
		return nil, nil, errs.Wrap(err, fmt.Sprintf("parsing stored certificate %d", r.ID))
	}
	if !withChain || r.CAID == nil || s.o.Chain == nil {
		return leaf, nil, nil
	}
	chain, ok := s.o.Chain(*r.CAID)
	if !ok || len(chain) == 0 || leaf.CheckSignatureFrom(chain[0]) != nil {
		// The CA is gone or was re-keyed: hand out the certificate alone
		// rather than a chain that does not certify it.
		return leaf, nil, nil
	}
	return leaf, chain, nil
}

// Download returns the certificate in the asked format: DER (the leaf only;
// DER holds one certificate), PEM (CERTIFICATE blocks in ChainOrder,
// optionally each after its subject line) or P7B (a DER PKCS#7 certs-only
// bundle in ChainOrder, not DER-sorted). It records a "Downloaded" history
// entry before returning.
func (s *Service) Download(ctx context.Context, p *auth.Principal, req DownloadRequest) ([]byte, error) {
	format := strings.ToUpper(strings.TrimSpace(req.Format))
	switch format {
	case FormatDER, FormatPEM, FormatP7B:
	default:
		return nil, errs.Field("x-certificateformat", "%q is not one of DER, PEM, P7B", req.Format)
	}
	r, err := s.find(ctx, req.Selector)
	if err != nil {
		return nil, err
	}
	leaf, chain, err := s.certs(r, req.IncludeChain && format != FormatDER)
	if err != nil {
		return nil, err
	}
	all := req.ChainOrder.Ordered(leaf, chain)
	var out []byte
	switch format {
	case FormatDER:
		out = leaf.Raw
	case FormatPEM:
		out = keystore.CertsPEM(all, req.IncludeSubjectHeader)
	case FormatP7B:
		if out, err = PKCS7(all); err != nil {
			return nil, errs.Wrap(err, "encoding PKCS#7")
		}
	}
	msg := fmt.Sprintf("downloaded as %s", format)
	if len(chain) > 0 {
		msg += " with chain (" + req.ChainOrder.String() + ")"
	}
	err = s.o.InTx(ctx, func(st Store) error {
		return st.AddHistory(ctx, certificate.HistoryEntry{CertID: r.ID, At: s.o.Now().UTC(), Operation: certificate.OpDownloaded,
			Actor: p.AccountName, Message: msg})
	})
	if err != nil {
		return nil, errs.Wrap(err, "recording the download")
	}
	return out, nil
}

// Recover packages the certificate with its retained private key, protected
// by the caller's password, in the asked format, and returns it with a file
// name. No retained key (never retained, retention ended, or a CSR
// enrollment) is NotFound with CodeNoPrivateKey. The recovery is written to
// the history and the audit log before the package is returned.
func (s *Service) Recover(ctx context.Context, p *auth.Principal, req RecoverRequest) ([]byte, string, error) {
	format := strings.ToUpper(strings.TrimSpace(req.Format))
	ext := map[string]string{FormatPFX: "pfx", FormatPEM: "pem", FormatZIP: "zip", FormatJKS: "jks"}[format]
	if ext == "" {
		return nil, "", errs.Field("x-certificateformat", "%q is not one of PFX, PEM, ZIP, JKS", req.Format)
	}
	settings, err := s.o.Store.Settings(ctx)
	if err != nil {
		return nil, "", errs.Wrap(err, "reading settings")
	}
	if req.Password == "" {
		return nil, "", errs.Field("Password", "is required: it protects the recovered private key")
	}
	if n := settings.PasswordLength; utf8.RuneCountInString(req.Password) < n {
		return nil, "", errs.Field("Password", "must be at least %d characters (the Password Length setting)", n)
	}
	if len(req.Password) > 256 {
		return nil, "", errs.Field("Password", "must be at most 256 characters")
	}
	if len(req.FriendlyName) > 256 || strings.ContainsAny(req.FriendlyName, "\x00\r\n") {
		return nil, "", errs.Field("FriendlyName", "must be at most 256 characters without control characters")
	}
	if req.MicrosoftTargetCSP != "" {
		if !settings.AllowCSPs {
			return nil, "", errs.Field("MicrosoftTargetCSP", "is not allowed: the Allow Cryptographic Service Providers setting is off")
		}
		found := false
		for _, c := range settings.CSPs {
			found = found || c == req.MicrosoftTargetCSP
		}
		if !found {
			return nil, "", errs.Field("MicrosoftTargetCSP", "%q is not in the Cryptographic Service Providers list", req.MicrosoftTargetCSP)
		}
	}
	r, err := s.find(ctx, req.Selector)
	if err != nil {
		return nil, "", err
	}
	noKey := errs.E(errs.NotFound, errs.CodeNoPrivateKey, MsgNoPrivateKey)
	sealed, until, err := s.o.Store.RetainedKeyInfo(ctx, r.ID)
	if s.o.IsNotFound(err) {
		return nil, "", noKey
	} else if err != nil {
		return nil, "", errs.Wrap(err, "reading the retained key")
	}
	now := s.o.Now().UTC()
	if until != nil && now.After(*until) {
		return nil, "", noKey
	}
	der, err := s.o.Open(sealed, enroll.RetainedKeyAAD(r.ID))
	if err != nil {
		return nil, "", errs.Wrap(err, fmt.Sprintf("opening the retained key of certificate %d", r.ID))
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, "", errs.Wrap(err, fmt.Sprintf("parsing the retained key of certificate %d", r.ID))
	}
	leaf, chain, err := s.certs(r, req.IncludeChain)
	if err != nil {
		return nil, "", err
	}
	if pub, ok := key.(crypto.Signer); !ok || !publicEqual(pub.Public(), leaf.PublicKey) {
		return nil, "", errs.E(errs.Internal, errs.CodeInternal, "the retained key of certificate %d does not match it", r.ID)
	}
	b := keystore.Bundle{Key: key, Leaf: leaf, Chain: chain, FriendlyName: req.FriendlyName, CSPName: req.MicrosoftTargetCSP}
	o := keystore.Options{Password: req.Password, Order: req.ChainOrder, IncludeSubjectHeader: req.IncludeSubjectHeader, Rand: s.o.Rand, Now: now}
	if req.UseLegacyEncryption {
		o.Profile = keystore.ProfileLegacy
	}
	out, err := enroll.Package(enroll.Format(format), b, o)
	if err != nil {
		return nil, "", err
	}
	profile := "modern"
	if req.UseLegacyEncryption {
		profile = "legacy"
	}
	msg := fmt.Sprintf("private key recovered as %s (%s encryption)", format, profile)
	err = s.o.InTx(ctx, func(st Store) error {
		if err := st.AddHistory(ctx, certificate.HistoryEntry{CertID: r.ID, At: now, Operation: certificate.OpRecovered,
			Actor: p.AccountName, Message: msg}); err != nil {
			return err
		}
		return st.Audit(ctx, now, p.AccountName, "certificate.recover", fmt.Sprintf("certificate %d", r.ID),
			fmt.Sprintf("thumbprint %s, %s", r.Thumbprint, msg))
	})
	if err != nil {
		return nil, "", errs.Wrap(err, "recording the recovery")
	}
	return out, FileName(r, ext), nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// FileName is the suggested file name: the certificate's CN made safe for
// file systems (wildcards become "_"), or its thumbprint when it has no CN,
// with the format's extension.
func FileName(r certificate.Record, ext string) string {
	base := strings.Trim(unsafeName.ReplaceAllString(r.IssuedCN, "_"), "._")
	if base == "" {
		base = r.Thumbprint
	}
	if len(base) > 64 {
		base = base[:64]
	}
	return base + "." + ext
}
