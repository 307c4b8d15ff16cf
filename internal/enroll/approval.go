package enroll

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keygen"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/policy"
)

// Approvals is the approval hook of the enrollment flow; internal/workflow
// implements it (wired in internal/server). Without it, an enrollment whose
// pattern or template requires approval is refused with a 400.
type Approvals interface {
	// Hold decides whether the checked enrollment waits for approval and,
	// when it does, records it (request row, sealed Snapshot, workflow
	// instance) before answering Held.
	Hold(ctx context.Context, p *auth.Principal, h Held) (HoldResult, error)
	// Needs reports whether an enrollment for the pattern or template would
	// wait (CSR enrollments, which cannot wait, are refused when it does).
	Needs(ctx context.Context, patternID, templateID *int64, flag bool) (bool, error)
}

// Held describes a checked PFX enrollment to the approval hook.
type Held struct {
	RequiresApproval bool // the pattern's or template's own flag
	PatternID        *int64
	TemplateID       *int64
	TemplateName     string
	CAID             int64
	CAName           string
	APIVersion       int
	Format           Format
	Subject          string
	CommonName       string
	SANs             []string
	Metadata         map[string]string
	KeyType          string
	KeyLength        int
	Curve            string
	Stores           []StoreTarget
	JobTime          *time.Time
	// Snapshot is the enrollment as resolved now (policy objects, request,
	// password, the requester's grants); IssueHeld issues from it. It holds
	// secrets: the hook seals it before storing it.
	Snapshot []byte
}

// HoldResult is the hook's answer.
type HoldResult struct {
	Held       bool
	RequestID  int64
	InstanceID string
	Message    string
}

// snapshot is the resolved plan of a held enrollment, frozen at request
// time so that issuance after approval follows the policy then in force.
type snapshot struct {
	Version    int
	Request    PFXRequest
	Template   *policy.Template
	Pattern    *policy.Pattern
	CAID       int64
	CA         policy.CA
	KeyType    string
	KeyLength  int
	Curve      string
	SubjectDER []byte
	SANs       snapSANs
	Password   string
	Metadata   map[string]string
	Fields     map[string]string
	OwnerRole  *auth.Role
	RenewalID  int64
	Deliver    bool
	Targets    []StoreTarget
	// The requester as authorised at request time: delivery re-checks the
	// schedule permission with these grants.
	RequesterID   int64
	RequesterName string
	Roles         []auth.RoleRef
	Grants        []auth.Grant
}

type snapSANs struct {
	DNS, IPs, URIs, Emails, UPNs []string
}

func toSnapSANs(s pki.SANs) snapSANs {
	out := snapSANs{DNS: s.DNS, Emails: s.Emails, UPNs: s.UPNs}
	for _, ip := range s.IPs {
		out.IPs = append(out.IPs, ip.String())
	}
	for _, u := range s.URIs {
		out.URIs = append(out.URIs, u.String())
	}
	return out
}

func (s snapSANs) sans() (pki.SANs, error) {
	out := pki.SANs{DNS: s.DNS, Emails: s.Emails, UPNs: s.UPNs}
	for _, v := range s.IPs {
		ip := net.ParseIP(v)
		if ip == nil {
			return out, fmt.Errorf("held SAN IP %q", v)
		}
		out.IPs = append(out.IPs, ip)
	}
	for _, v := range s.URIs {
		u, err := url.Parse(v)
		if err != nil {
			return out, err
		}
		out.URIs = append(out.URIs, u)
	}
	return out, nil
}

// hold hands a checked PFX enrollment to the approval hook. held is true
// when the enrollment waits (out carries the pending answer).
func (s *Service) hold(ctx context.Context, p *auth.Principal, req *request, pl *plan) (*outcome, bool, error) {
	flag := (pl.pattern != nil && pl.pattern.RequiresApproval) || (pl.template != nil && pl.template.RequiresApproval)
	if s.o.Approvals != nil && req.pfx == nil {
		var pid, tid *int64
		if pl.pattern != nil {
			pid = &pl.pattern.ID
		}
		if pl.template != nil {
			tid = &pl.template.ID
		}
		needs, err := s.o.Approvals.Needs(ctx, pid, tid, flag)
		if err != nil {
			return nil, false, err
		}
		flag = needs
	}
	if s.o.Approvals == nil || req.pfx == nil || req.held != nil {
		if flag && req.held == nil {
			what := "approval workflows are not enabled on this server"
			if req.pfx == nil {
				what = "CSR enrollments cannot wait for approval on this server; use PFX enrollment"
			}
			return nil, false, errs.E(errs.Invalid, errs.CodeEnrollmentPolicy,
				"EnrollmentPatternId: the enrollment pattern requires approval, and %s", what)
		}
		return nil, false, nil
	}
	snap := snapshot{Version: 1, Request: *req.pfx, Template: pl.template, Pattern: pl.pattern, CAID: pl.caID, CA: pl.ca,
		KeyType: pl.key.KeyTypeName(), KeyLength: pl.key.Bits, Curve: pl.key.CurveOID(), SANs: toSnapSANs(pl.sans),
		Password: pl.password, Metadata: pl.metadata, Fields: pl.fields, OwnerRole: pl.ownerRole,
		Deliver: pl.deliver, Targets: pl.targets, RequesterID: p.IdentityID, RequesterName: p.AccountName,
		Roles: p.Roles, Grants: p.Grants()}
	if pl.renewal != nil {
		snap.RenewalID = pl.renewal.ID
	}
	var err error
	if snap.SubjectDER, err = pl.subject.Marshal(); err != nil {
		return nil, false, errs.Wrap(err, "encoding the subject")
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, false, errs.Wrap(err, "encoding the held enrollment")
	}
	h := Held{RequiresApproval: flag, CAID: pl.caID, CAName: pl.ca.Name(), APIVersion: req.apiVersion, Format: req.pfx.Format,
		Subject: pl.subject.String(), CommonName: pl.subject.CommonName(), Metadata: pl.metadata,
		KeyType: pl.key.KeyTypeName(), KeyLength: pl.key.Bits, Curve: pl.key.CurveOID(), Stores: pl.targets,
		JobTime: req.pfx.JobTime, Snapshot: b}
	if pl.pattern != nil {
		h.PatternID = &pl.pattern.ID
	}
	if pl.template != nil {
		h.TemplateID, h.TemplateName = &pl.template.ID, pl.template.CommonName
	}
	h.SANs = append(h.SANs, pl.sans.DNS...)
	for _, ip := range pl.sans.IPs {
		h.SANs = append(h.SANs, ip.String())
	}
	for _, u := range pl.sans.URIs {
		h.SANs = append(h.SANs, u.String())
	}
	h.SANs = append(append(h.SANs, pl.sans.Emails...), pl.sans.UPNs...)
	r, err := s.o.Approvals.Hold(ctx, p, h)
	if err != nil || !r.Held {
		return nil, false, err
	}
	return &outcome{pending: &r, password: "", metadata: pl.metadata}, true, nil
}

// HeldIssuance is what IssueHeld needs besides the snapshot.
type HeldIssuance struct {
	RequestID int64 // the pending request row the hook created
	Approvers []string
	// Within runs inside the recording transaction, after the certificate,
	// key, delivery jobs, history and audit entry are written.
	Within func(ctx context.Context, tx Store, certID int64) error
}

// IssueHeld issues an approved enrollment from its snapshot: the key is
// generated now, the certificate issued under the snapshot's template,
// pattern and CA, and recorded with the requester as requester on the
// pending request row. The key is always retained (sealed): nobody received
// a PFX, so a v1 requester recovers it with POST /Certificates/Recover, and
// v2 Stores get it through their management jobs.
func (s *Service) IssueHeld(ctx context.Context, snap []byte, hi HeldIssuance) (int64, error) {
	var sn snapshot
	if err := json.Unmarshal(snap, &sn); err != nil {
		return 0, errs.Wrap(err, "decoding the held enrollment")
	}
	if sn.Version != 1 {
		return 0, errs.Wrap(fmt.Errorf("snapshot version %d", sn.Version), "decoding the held enrollment")
	}
	spec, err := keygen.ParseSpec(sn.KeyType, sn.KeyLength, sn.Curve)
	if err != nil {
		return 0, errs.Wrap(err, "held key specification")
	}
	subject, err := pki.ParseRawDN(sn.SubjectDER)
	if err != nil {
		return 0, errs.Wrap(err, "held subject")
	}
	sans, err := sn.SANs.sans()
	if err != nil {
		return 0, errs.Wrap(err, "held SANs")
	}
	pl := &plan{kind: KindPFX, template: sn.Template, pattern: sn.Pattern, caID: sn.CAID, ca: sn.CA, key: spec,
		subject: subject, sans: sans, password: sn.Password, metadata: sn.Metadata, fields: sn.Fields,
		ownerRole: sn.OwnerRole, deliver: sn.Deliver, targets: sn.Targets}
	if sn.RenewalID != 0 {
		pl.renewal = &certificate.Record{ID: sn.RenewalID}
	}
	pfx := sn.Request
	req := fromPFX(&pfx)
	req.held = &hi
	p := auth.NewPrincipal(sn.RequesterID, sn.RequesterName, sn.Roles, sn.Grants)

	key, err := keygen.Generate(s.o.Rand, pl.key)
	if err != nil {
		return 0, errs.Wrap(err, "generating key")
	}
	issued, err := s.issue(ctx, pl, key.Public())
	if err != nil {
		return 0, err
	}
	out := &outcome{issued: issued, password: pl.password, metadata: pl.metadata}
	if err := s.record(ctx, p, req, pl, key, out); err != nil {
		return 0, err
	}
	return out.certID, nil
}

// heldRetention: a held enrollment's key is kept at least until the
// certificate expires, longer when the template says so.
func heldRetention(pl *plan, c *x509.Certificate, now time.Time) (bool, *time.Time) {
	if ok, until := retention(pl, c, now); ok {
		return ok, until
	}
	t := c.NotAfter
	return true, &t
}
