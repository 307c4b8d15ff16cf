package enroll

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keygen"
	"github.com/certdock/certdock/internal/keystore"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/policy"
)

// Store is what enrollment reads and writes; sqlstore.Q implements it.
type Store interface {
	Settings(ctx context.Context) (policy.Settings, error)
	Template(ctx context.Context, id int64) (policy.Template, error)
	TemplateByName(ctx context.Context, name string) (policy.Template, error)
	Pattern(ctx context.Context, id int64) (policy.Pattern, error)
	DefaultPattern(ctx context.Context, templateID int64) (policy.Pattern, error)
	CAIDs(ctx context.Context) (map[int64]policy.CA, error)
	MetadataFields(ctx context.Context) ([]policy.MetadataField, error)
	Role(ctx context.Context, id int64) (auth.Role, error)
	RoleByName(ctx context.Context, name string) (auth.Role, error)
	Certificate(ctx context.Context, id int64) (certificate.Record, error)
	CertificateByThumbprint(ctx context.Context, tp string) (certificate.Record, error)
	RequestKind(ctx context.Context, requestID int64) (string, error)
	Templates(ctx context.Context) ([]policy.Template, error)
	Patterns(ctx context.Context) ([]policy.Pattern, error)

	InsertRequest(ctx context.Context, r certificate.Request) (int64, error)
	CompleteRequest(ctx context.Context, id int64, state int, certID *int64) error
	InsertCertificate(ctx context.Context, r *certificate.Record) (int64, error)
	InsertRetainedKey(ctx context.Context, certID int64, sealed []byte, retainUntil *time.Time, now time.Time) error
	AddHistory(ctx context.Context, h certificate.HistoryEntry) error
	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}

// Directory fills subject parts from a directory (PopulateMissingValuesFromAD).
type Directory interface {
	// Lookup finds the account or host named cn and returns subject parts
	// by short name (O, OU, L, ST, C, E).
	Lookup(ctx context.Context, cn string) (map[string]string, error)
}

// StoreChecker validates v2 store targets; nil means no store exists.
type StoreChecker interface {
	CheckStores(ctx context.Context, p *auth.Principal, targets []StoreTarget) error
}

// Options wires the service.
type Options struct {
	Store      Store
	InTx       func(ctx context.Context, fn func(Store) error) error
	Connectors func(caID int64) (ca.Connector, bool)
	Seal       func(plaintext, aad []byte) ([]byte, error)
	Directory  Directory // nil: no directory configured
	Stores     StoreChecker
	Delivery   Delivery  // nil: no delivery into certificate stores (see delivery.go)
	Approvals  Approvals // nil: enrollments requiring approval are refused (see approval.go)
	Rand       io.Reader
	Now        func() time.Time
	IsNotFound func(error) bool
	// RandomPassword makes a password of at least n characters.
	RandomPassword func(n int) (string, error)
}

// Service enrolls certificates.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}
}

// plan is a request checked against policy and ready to issue.
type plan struct {
	kind      string
	settings  policy.Settings
	template  *policy.Template // nil for a standalone CA without template
	pattern   *policy.Pattern
	caID      int64
	ca        policy.CA
	key       keygen.Spec // the key to generate, or the CSR's key
	subject   pki.DN
	sans      pki.SANs
	password  string // key-generating kinds
	metadata  map[string]string
	fields    map[string]string
	ownerRole *auth.Role
	renewal   *certificate.Record
	// deliver: the key is kept for delivery (STORE, REPLACE, v2 Stores) and
	// targets get add jobs in the recording transaction.
	deliver bool
	targets []StoreTarget
}

// outcome is what the one enrollment path hands back to EnrollPFX and
// EnrollCSR after the recording transaction committed.
type outcome struct {
	certID    int64
	requestID int64
	rec       certificate.Record
	issued    *ca.IssueResponse
	blob      []byte // key-generating kinds: the package in the asked format
	password  string
	retained  bool
	metadata  map[string]string
	delivery  DeliveryResult
	pending   *HoldResult // the enrollment waits for approval; nothing was issued
}

// EnrollPFX runs a server-side key generation enrollment.
func (s *Service) EnrollPFX(ctx context.Context, p *auth.Principal, req PFXRequest) (*PFXResult, error) {
	out, err := s.enroll(ctx, p, fromPFX(&req))
	if err != nil {
		return nil, err
	}
	if out.pending != nil {
		return &PFXResult{RequestID: out.pending.RequestID, WorkflowInstanceID: out.pending.InstanceID,
			Disposition: DispositionPending, DispositionMessage: out.pending.Message, Metadata: out.metadata,
			SuccessfulStores: []string{}}, nil
	}
	res := PFXResult{CertificateID: out.certID, RequestID: out.requestID}
	res.SerialNumber = out.rec.SerialNumber
	res.IssuerDN = out.rec.IssuerDN
	res.Thumbprint = out.rec.Thumbprint
	res.Blob = out.blob
	res.Password = out.password
	res.Disposition = DispositionIssued
	res.DispositionMessage = "The certificate was issued."
	if out.retained {
		res.DispositionMessage = "The certificate was issued and its private key retained."
	}
	res.Metadata = out.metadata
	res.SuccessfulStores = out.delivery.SuccessfulStores
	if res.SuccessfulStores == nil {
		res.SuccessfulStores = []string{}
	}
	res.StoreIdsInvalidForRenewal = out.delivery.InvalidForRenewal
	return &res, nil
}

// enroll is the one enrollment path for every kind: check (plan), then,
// outside any transaction, the key (generated, or the CSR's), issuance and
// packaging, then record in one transaction.
func (s *Service) enroll(ctx context.Context, p *auth.Principal, req *request) (*outcome, error) {
	pl, err := s.check(ctx, p, req)
	if err != nil {
		return nil, err
	}
	if out, held, err := s.hold(ctx, p, req, pl); err != nil || held {
		return out, err
	}

	// Crypto happens outside any transaction.
	var (
		key crypto.Signer
		pub crypto.PublicKey
	)
	if req.csr != nil {
		pub = req.csr.PublicKey
	} else {
		if key, err = keygen.Generate(s.o.Rand, pl.key); err != nil {
			return nil, errs.Wrap(err, "generating key")
		}
		pub = key.Public()
	}
	issued, err := s.issue(ctx, pl, pub)
	if err != nil {
		return nil, err
	}
	out := &outcome{issued: issued, password: pl.password, metadata: pl.metadata}
	if req.pfx != nil && !deliveryFormat(req.pfx.Format) {
		if out.blob, err = s.pack(*req.pfx, pl, key, issued); err != nil {
			return nil, err
		}
	}
	if err := s.record(ctx, p, req, pl, key, out); err != nil {
		return nil, err
	}
	return out, nil
}

// record writes the request, the certificate, its metadata and owner, the
// retained key (key-generating kinds whose template retains keys), the
// history of the new (and a renewed) certificate and the audit entry in one
// transaction.
func (s *Service) record(ctx context.Context, p *auth.Principal, req *request, pl *plan, key crypto.Signer, out *outcome) error {
	issued := out.issued
	now := s.o.Now().UTC()
	rec := certificate.FromX509(issued.Certificate)
	rec.ImportDate = now
	rec.State = certificate.StateActive
	rec.CAID = &pl.caID
	rec.RequesterID = &p.IdentityID
	rec.RequesterName = p.AccountName
	rec.Metadata = pl.metadata
	if upns, _ := pki.UPNsFromCertificate(issued.Certificate); len(upns) > 0 {
		for _, u := range upns {
			rec.SANs = append(rec.SANs, certificate.SAN{Type: certificate.SANUPN, Value: u})
		}
	}
	if pl.template != nil {
		rec.TemplateID = &pl.template.ID
	}
	if pl.pattern != nil {
		rec.PatternID = &pl.pattern.ID
	}
	if pl.ownerRole != nil {
		rec.OwnerRoleID = &pl.ownerRole.ID
	}
	if pl.renewal != nil {
		rec.RenewedFromID = &pl.renewal.ID
	}
	var (
		pkcs8 []byte
		until *time.Time
		err   error
	)
	if key != nil {
		out.retained, until = retention(pl, issued.Certificate, now)
		if req.held != nil {
			out.retained, until = heldRetention(pl, issued.Certificate, now)
		}
		if pl.deliver && !out.retained {
			// Kept for delivery only, until the certificate expires; the
			// delivery record says so.
			out.retained, until = true, &issued.Certificate.NotAfter
		}
		if out.retained {
			if pkcs8, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
				return errs.Wrap(err, "encoding key")
			}
		}
	}
	// A key the template would not retain, kept only so that v2 Stores jobs
	// can deliver it, is not recoverable. STORE and REPLACE are different:
	// the key never left the server, and Keyfactor's clients (Terraform)
	// fetch it with POST /Certificates/Recover after a STORE enrollment, so
	// it stays recoverable like a retained key.
	keyForDeliveryOnly := false
	if pl.deliver && (req.pfx == nil || (req.pfx.Format != FormatSTORE && req.pfx.Format != FormatREPLACE)) {
		keyForDeliveryOnly, _ = retention(pl, issued.Certificate, now)
		keyForDeliveryOnly = !keyForDeliveryOnly
	}
	d := requestDoc{
		Kind: req.kind, APIVersion: req.apiVersion, Subject: pl.subject.String(), SANs: req.sans,
		KeyType: pl.key.KeyTypeName(), KeyLength: pl.key.Bits, Curve: pl.key.CurveOID(),
		AdditionalEnrollmentFields: pl.fields, RenewalCertificateID: req.renewalID,
	}
	what := "CSR enrollment"
	if req.pfx != nil {
		d.Format, d.CustomFriendlyName, d.MicrosoftTargetCSP = string(req.pfx.Format), req.pfx.CustomFriendlyName, req.pfx.MicrosoftTargetCSP
		what = fmt.Sprintf("PFX enrollment (API v%d, %s)", req.apiVersion, req.pfx.Format)
	} else {
		d.Format = string(req.csrReq.Format)
		d.CSR = req.csr.Raw
	}
	doc, _ := json.Marshal(d)

	// The enrollment password's hash (kept so Deploy can check it) is an
	// argon2id computation: do it before the transaction, never while
	// holding the database's write lock.
	var passwordHash string
	if pl.deliver {
		if passwordHash, err = s.o.Delivery.HashPassword(pl.password); err != nil {
			return errs.Wrap(err, "hashing the enrollment password")
		}
	}

	err = s.o.InTx(ctx, func(st Store) error {
		var reqID int64
		if req.held != nil {
			reqID = req.held.RequestID // the pending request row made when the request arrived
		} else if reqID, err = st.InsertRequest(ctx, certificate.Request{
			CreatedAt: now, RequesterID: &p.IdentityID, RequesterName: p.AccountName, Kind: req.kind,
			State: certificate.StateActive, TemplateID: rec.TemplateID, PatternID: rec.PatternID, CAID: rec.CAID,
			Subject: rec.IssuedDN, Doc: doc,
		}); err != nil {
			return err
		}
		rec.CertRequestID = &reqID
		certID, err := st.InsertCertificate(ctx, &rec)
		if err != nil {
			return err
		}
		if err := st.CompleteRequest(ctx, reqID, int(certificate.StateActive), &certID); err != nil {
			return err
		}
		if pkcs8 != nil {
			sealed, err := s.o.Seal(pkcs8, RetainedKeyAAD(certID))
			if err != nil {
				return err
			}
			if err := st.InsertRetainedKey(ctx, certID, sealed, until, now); err != nil {
				return err
			}
		}
		if pl.deliver {
			if out.delivery, err = s.o.Delivery.RecordDelivery(ctx, st, p, DeliveryRecord{CertificateID: certID, RequestID: reqID,
				Format: req.pfx.Format, Password: pl.password, PasswordHash: passwordHash, KeyForDeliveryOnly: keyForDeliveryOnly,
				Targets: pl.targets, JobTime: req.pfx.JobTime}); err != nil {
				return err
			}
		}
		op, msg := certificate.OpEnrolled, fmt.Sprintf("%s from CA %s", what, pl.ca.Name())
		if req.held != nil {
			msg += fmt.Sprintf(" after approval of request %d by %s", reqID, strings.Join(req.held.Approvers, ", "))
		}
		if pl.renewal != nil {
			op, msg = certificate.OpRenewed, msg+fmt.Sprintf("; renewal of certificate %d", pl.renewal.ID)
			if err := st.AddHistory(ctx, certificate.HistoryEntry{CertID: pl.renewal.ID, At: now, Operation: certificate.OpRenewed,
				Actor: p.AccountName, Message: fmt.Sprintf("renewed by certificate %d", certID)}); err != nil {
				return err
			}
		}
		if err := st.AddHistory(ctx, certificate.HistoryEntry{CertID: certID, At: now, Operation: op, Actor: p.AccountName, Message: msg}); err != nil {
			return err
		}
		if err := st.Audit(ctx, now, p.AccountName, "enroll."+req.kind, fmt.Sprintf("certificate %d", certID),
			fmt.Sprintf("request %d, thumbprint %s, subject %s", reqID, rec.Thumbprint, rec.IssuedDN)); err != nil {
			return err
		}
		out.certID, out.requestID = certID, reqID
		if req.held != nil && req.held.Within != nil {
			return req.held.Within(ctx, st, certID)
		}
		return nil
	})
	if err != nil {
		return errs.Wrap(err, "recording the certificate")
	}
	out.rec = rec
	return nil
}

// RetainedKeyAAD binds a sealed retained key to its certificate row.
func RetainedKeyAAD(certID int64) []byte {
	return []byte(fmt.Sprintf("retained-key:certificate:%d", certID))
}

type requestDoc struct {
	Kind                       string
	APIVersion                 int
	Format                     string
	Subject                    string
	SANs                       map[string][]string `json:",omitempty"`
	KeyType                    string
	KeyLength                  int               `json:",omitempty"`
	Curve                      string            `json:",omitempty"`
	AdditionalEnrollmentFields map[string]string `json:",omitempty"`
	CustomFriendlyName         string            `json:",omitempty"`
	MicrosoftTargetCSP         string            `json:",omitempty"`
	RenewalCertificateID       int64             `json:",omitempty"`
	CSR                        []byte            `json:",omitempty"` // DER of a CSR enrollment's request
}

func retention(pl *plan, c *x509.Certificate, now time.Time) (bool, *time.Time) {
	pol, days := policy.RetentionNone, 0
	if pl.template != nil {
		pol, days = pl.template.KeyRetention, pl.template.KeyRetentionDays
	} else {
		pol, days = pl.ca.KeyRetention, pl.ca.KeyRetentionDays
	}
	switch pol {
	case policy.RetentionIndefinite:
		return true, nil
	case policy.RetentionAfterExpiration:
		t := c.NotAfter.AddDate(0, 0, days)
		return true, &t
	case policy.RetentionFromIssuance:
		t := now.AddDate(0, 0, days)
		return true, &t
	}
	return false, nil
}

// issue builds the CA request and has the connector sign it.
func (s *Service) issue(ctx context.Context, pl *plan, pub crypto.PublicKey) (*ca.IssueResponse, error) {
	conn, ok := s.o.Connectors(pl.caID)
	if !ok {
		return nil, errs.E(errs.Unavailable, errs.CodeUnavailable, "CertificateAuthority: CA %s is not available for issuance", pl.ca.Name())
	}
	ir := &ca.IssueRequest{
		PublicKey:        pub,
		Subject:          pl.subject.RDNSequence(),
		AdditionalFields: pl.fields,
	}
	if !pl.sans.Empty() {
		ext, _, err := pl.sans.Extension(pl.subject.Empty())
		if err != nil {
			return nil, errs.Field("SANs", "%v", err)
		}
		ir.ExtraExtensions = append(ir.ExtraExtensions, ext)
	}
	if pl.template != nil {
		ir.Profile.Validity = time.Duration(pl.template.ValidityDays) * 24 * time.Hour
		ir.Profile.KeyUsage = x509.KeyUsage(pl.template.KeyUsage)
		for _, o := range pl.template.ExtendedKeyUsage {
			addEKU(&ir.Profile, o)
		}
	} else {
		days := pl.ca.StandaloneValidityDays
		if days == 0 {
			days = 365
		}
		ir.Profile.Validity = time.Duration(days) * 24 * time.Hour
		for _, o := range pl.ca.StandaloneEKUs {
			addEKU(&ir.Profile, o)
		}
	}
	resp, err := conn.Issue(ctx, ir)
	if errors.Is(err, ca.ErrRejected) {
		return nil, errs.E(errs.Invalid, errs.CodeCARejected, "CertificateAuthority: %s refused the request: %v", pl.ca.Name(), err)
	}
	if err != nil {
		return nil, errs.Wrap(err, "issuing certificate")
	}
	return resp, nil
}

func addEKU(p *ca.Profile, oid string) {
	if e, ok := certificate.ExtKeyUsageByOID(oid); ok {
		p.ExtKeyUsages = append(p.ExtKeyUsages, e)
		return
	}
	var o asn1.ObjectIdentifier
	for _, part := range strings.Split(oid, ".") {
		n, ok := new(big.Int).SetString(part, 10)
		if !ok {
			return
		}
		o = append(o, int(n.Int64()))
	}
	p.UnknownExtKeyUsages = append(p.UnknownExtKeyUsages, o)
}

// pack encodes the issued certificate and key in the asked format.
func (s *Service) pack(req PFXRequest, pl *plan, key crypto.Signer, issued *ca.IssueResponse) ([]byte, error) {
	b := keystore.Bundle{Key: key, Leaf: issued.Certificate, FriendlyName: req.CustomFriendlyName, CSPName: req.MicrosoftTargetCSP}
	if req.IncludeChain {
		b.Chain = issued.Chain
	}
	o := keystore.Options{Password: pl.password, Order: req.ChainOrder, IncludeSubjectHeader: req.IncludeSubjectHeader, Rand: s.o.Rand, Now: s.o.Now()}
	if req.UseLegacyEncryption {
		o.Profile = keystore.ProfileLegacy
	}
	return Package(req.Format, b, o)
}

// Package encodes b in format (PFX, PEM, ZIP or JKS): the package of an
// enrollment and of a key recovery (internal/retrieve). An input the
// keystore refuses is a validation error.
func Package(format Format, b keystore.Bundle, o keystore.Options) ([]byte, error) {
	var (
		out []byte
		err error
	)
	switch format {
	case FormatPFX:
		out, err = keystore.EncodePKCS12(b, o)
	case FormatPEM:
		out, err = keystore.EncodePEM(b, o)
	case FormatZIP:
		out, err = keystore.EncodeZIP(b, o)
	case FormatJKS:
		out, err = keystore.EncodeJKS(b, o)
	default:
		return nil, errs.Field("x-certificateformat", "%q is not supported", format)
	}
	if errors.Is(err, keystore.ErrInvalid) {
		return nil, errs.E(errs.Invalid, errs.CodeValidation, "%v", err)
	}
	if err != nil {
		return nil, errs.Wrap(err, "encoding the "+string(format))
	}
	return out, nil
}
