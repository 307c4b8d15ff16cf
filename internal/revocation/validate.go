package revocation

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/errs"
)

// Validation is GET /Certificates/{id}/Validate: Valid is true when every
// check passed; Results says, per check, what was found.
type Validation struct {
	Valid   bool
	Results map[string]string
}

// Result keys of a Validation.
const (
	CheckChain      = "Chain"
	CheckValidity   = "Validity"
	CheckRevocation = "Revocation"
)

// Validate checks a certificate as a relying party would: the chain up to
// its CA's root (signatures, validity periods, CA constraints), its own
// validity period, and its revocation status on the CA's current CRL
// (signature-checked against the issuing CA).
func (s *Service) Validate(ctx context.Context, id int64) (*Validation, error) {
	rec, err := s.o.Store.Certificate(ctx, id)
	if err != nil {
		if s.o.IsNotFound(err) {
			return nil, errs.NotFoundf("certificate %d was not found", id)
		}
		return nil, errs.Wrap(err, "reading certificate")
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, errs.Wrap(err, "parsing stored certificate")
	}
	now := s.now()
	v := &Validation{Valid: true, Results: map[string]string{}}
	fail := func(k, format string, args ...any) {
		v.Valid = false
		v.Results[k] = fmt.Sprintf(format, args...)
	}

	switch {
	case now.Before(cert.NotBefore):
		fail(CheckValidity, "not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
	case now.After(cert.NotAfter):
		fail(CheckValidity, "expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
	default:
		v.Results[CheckValidity] = "valid until " + cert.NotAfter.UTC().Format(time.RFC3339)
	}

	var c CA
	ok := false
	if rec.CAID != nil {
		c, ok = s.cas[*rec.CAID]
	}
	if !ok {
		fail(CheckChain, "the certificate was not issued by a certdock CA; its chain cannot be built")
		fail(CheckRevocation, "no revocation information is published for its issuer")
		return v, nil
	}
	chain := c.Signer.Chain()
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, ic := range chain[:len(chain)-1] {
		inter.AddCert(ic)
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		fail(CheckChain, "%v", err)
	} else {
		names := make([]string, len(chains[0]))
		for i, cc := range chains[0] {
			names[i] = cc.Subject.String()
		}
		v.Results[CheckChain] = "valid: " + strings.Join(names, " <- ")
	}

	crl, err := s.CurrentCRL(ctx, c.ID)
	if err != nil {
		return nil, errs.Wrap(err, "reading the CRL")
	}
	rl, err := x509.ParseRevocationList(crl.DER)
	if err != nil {
		return nil, errs.Wrap(err, "parsing the CRL")
	}
	if err := rl.CheckSignatureFrom(c.Signer.Certificate()); err != nil {
		fail(CheckRevocation, "the CRL of %s does not verify: %v", c.LogicalName, err)
		return v, nil
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			fail(CheckRevocation, "revoked on %s (%s) according to CRL %d of %s", e.RevocationTime.UTC().Format(time.RFC3339),
				crlReasonName(e.ReasonCode), crl.Number, c.LogicalName)
			return v, nil
		}
	}
	v.Results[CheckRevocation] = fmt.Sprintf("not revoked according to CRL %d of %s, valid until %s", crl.Number, c.LogicalName,
		rl.NextUpdate.UTC().Format(time.RFC3339))
	return v, nil
}

func crlReasonName(code int) string {
	if code == 0 {
		return "unspecified"
	}
	return ReasonName(code)
}
