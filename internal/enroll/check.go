package enroll

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keygen"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/policy"
)

// check validates a request of any kind against every rule and resolves what
// it names, in one order for all kinds: format, pattern and template (and
// whether the caller and the kind may use them), CA, key, subject and SANs,
// password and packaging (key-generating kinds), metadata, custom fields,
// owner role, renewal, delivery. The first rule broken is the error; it names
// the field.
func (s *Service) check(ctx context.Context, p *auth.Principal, req *request) (*plan, error) {
	st := s.o.Store
	pl := &plan{kind: req.kind}
	var err error
	if req.timestamp.IsZero() {
		return nil, errs.Field("Timestamp", "is required (ISO 8601 UTC, e.g. 2023-11-19T16:23:01Z)")
	}
	if err := s.checkFormat(req); err != nil {
		return nil, err
	}
	if pl.settings, err = st.Settings(ctx); err != nil {
		return nil, errs.Wrap(err, "reading settings")
	}
	if err := s.resolvePattern(ctx, p, req, pl); err != nil {
		return nil, err
	}
	if err := s.resolveCA(ctx, req, pl); err != nil {
		return nil, err
	}
	if err := s.resolveKey(req, pl); err != nil {
		return nil, err
	}
	if err := s.resolveSubject(ctx, req, pl); err != nil {
		return nil, err
	}
	if req.pfx != nil {
		if err := s.resolvePassword(req.pfx, pl); err != nil {
			return nil, err
		}
		if err := s.checkPackaging(req.pfx, pl); err != nil {
			return nil, err
		}
	}
	if err := s.resolveMetadata(ctx, req, pl); err != nil {
		return nil, err
	}
	if err := s.resolveOwner(ctx, req, pl); err != nil {
		return nil, err
	}
	if req.renewalID < 0 {
		return nil, errs.Field("RenewalCertificateId", "must be a positive certificate id")
	} else if req.renewalID > 0 {
		r, err := st.Certificate(ctx, req.renewalID)
		if s.o.IsNotFound(err) {
			return nil, errs.Field("RenewalCertificateId", "certificate %d does not exist", req.renewalID)
		} else if err != nil {
			return nil, errs.Wrap(err, "reading renewal certificate")
		}
		pl.renewal = &r
	}
	if req.pfx != nil {
		if err := s.checkDelivery(ctx, p, req.pfx, pl); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// checkFormat checks x-certificateformat for the request's kind.
func (s *Service) checkFormat(req *request) error {
	if req.kind == KindCSR {
		switch req.csrReq.Format {
		case FormatPEM, FormatDER:
			return nil
		}
		return errs.Field("x-certificateformat", "%q is not one of PEM, DER", req.csrReq.Format)
	}
	switch req.pfx.Format {
	case FormatPFX, FormatPEM, FormatZIP, FormatJKS:
	case FormatSTORE, FormatREPLACE:
		if s.o.Stores == nil && s.o.Delivery == nil {
			return errs.Field("x-certificateformat", "%s needs certificate store delivery, which is not enabled on this server", req.pfx.Format)
		}
	default:
		return errs.Field("x-certificateformat", "%q is not one of PFX, PEM, ZIP, JKS, STORE, REPLACE", req.pfx.Format)
	}
	return nil
}

func (s *Service) resolvePattern(ctx context.Context, p *auth.Principal, req *request, pl *plan) error {
	st := s.o.Store
	switch {
	case req.patternID < 0:
		return errs.Field("EnrollmentPatternId", "must be a positive pattern id")
	case req.patternID > 0:
		pat, err := st.Pattern(ctx, req.patternID)
		if s.o.IsNotFound(err) {
			return errs.Field("EnrollmentPatternId", "enrollment pattern %d does not exist", req.patternID)
		} else if err != nil {
			return errs.Wrap(err, "reading pattern")
		}
		t, err := st.Template(ctx, pat.TemplateID)
		if err != nil {
			return errs.Wrap(err, "reading the pattern's template")
		}
		if req.template != "" && !strings.EqualFold(req.template, t.CommonName) {
			return errs.Field("Template", "%q does not match template %q of enrollment pattern %d", req.template, t.CommonName, pat.ID)
		}
		pl.pattern, pl.template = &pat, &t
	case req.template != "":
		t, err := st.TemplateByName(ctx, req.template)
		if s.o.IsNotFound(err) {
			return errs.Field("Template", "template %q does not exist", req.template)
		} else if err != nil {
			return errs.Wrap(err, "reading template")
		}
		pat, err := st.DefaultPattern(ctx, t.ID)
		if s.o.IsNotFound(err) {
			return errs.Field("Template", "template %q has no enrollment pattern; a template must have one to be used for enrollment", t.CommonName)
		} else if err != nil {
			return errs.Wrap(err, "reading default pattern")
		}
		pl.pattern, pl.template = &pat, &t
	}
	if pl.pattern != nil && !PatternAllows(pl.pattern, p) {
		return errs.Field("EnrollmentPatternId", "enrollment pattern %q is limited to its associated roles, and you hold none of them", pl.pattern.Name)
	}
	if !KindAllowed(pl.template, pl.pattern, req.kind) {
		return errs.Field("EnrollmentPatternId", "%s enrollment is not allowed by this enrollment pattern", strings.ToUpper(req.kind))
	}
	return nil
}

func (s *Service) resolveCA(ctx context.Context, req *request, pl *plan) error {
	cas, err := s.o.Store.CAIDs(ctx)
	if err != nil {
		return errs.Wrap(err, "reading CAs")
	}
	if req.caName != "" {
		host, logical, hasHost := strings.Cut(req.caName, `\`)
		if !hasHost {
			logical, host = host, ""
		}
		logical = strings.TrimLeft(logical, `\`)
		var found *policy.CA
		for _, c := range cas {
			if c.Role == "issuing" && strings.EqualFold(c.LogicalName, logical) {
				c := c
				found = &c
			}
		}
		if found == nil || (hasHost && !strings.EqualFold(host, found.HostName)) {
			return errs.Field("CertificateAuthority", "certificate authority %q does not exist (use HOST\\LogicalName or LogicalName)", req.caName)
		}
		if pl.template == nil {
			if !found.Standalone {
				return errs.Field("Template", "one of Template or EnrollmentPatternId is required unless the CA is standalone; %s is not standalone", found.Name())
			}
		} else {
			if !slices.Contains(pl.template.CAIDs, found.ID) {
				return errs.Field("CertificateAuthority", "%s does not offer template %q", found.Name(), pl.template.CommonName)
			}
			if pl.pattern != nil && pl.pattern.RestrictCAs && !slices.Contains(pl.pattern.CAIDs, found.ID) {
				return errs.Field("CertificateAuthority", "%s is not allowed by enrollment pattern %q (Restrict CAs)", found.Name(), pl.pattern.Name)
			}
		}
		pl.caID, pl.ca = found.ID, *found
		return nil
	}
	if pl.template == nil {
		return errs.Field("Template", "one of Template or EnrollmentPatternId is required (CertificateAuthority is required too when enrolling against a standalone CA)")
	}
	var candidates []int64
	for _, id := range pl.template.CAIDs {
		c, ok := cas[id]
		if !ok || c.Role != "issuing" {
			continue
		}
		if pl.pattern != nil && pl.pattern.RestrictCAs && !slices.Contains(pl.pattern.CAIDs, id) {
			continue
		}
		if _, ok := s.o.Connectors(id); !ok {
			continue
		}
		candidates = append(candidates, id)
	}
	if len(candidates) == 0 {
		return errs.Field("CertificateAuthority", "no certificate authority offers template %q within the enrollment pattern's CA restrictions", pl.template.CommonName)
	}
	sort.Slice(candidates, func(i, j int) bool { return candidates[i] < candidates[j] })
	n, err := randInt(s.o.Rand, len(candidates))
	if err != nil {
		return errs.Wrap(err, "choosing a CA")
	}
	pl.caID = candidates[n]
	pl.ca = cas[pl.caID]
	return nil
}

func randInt(r io.Reader, n int) (int, error) {
	if n == 1 {
		return 0, nil
	}
	v, err := rand.Int(r, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}

func (s *Service) resolveKey(req *request, pl *plan) error {
	if req.csr != nil {
		return s.resolveCSRKey(req, pl)
	}
	keyType, length := req.keyType, req.keyLength
	if keyType == "" && req.curve == "" {
		if pl.template != nil && pl.template.DefaultKeyType != "" {
			keyType = pl.template.DefaultKeyType
			if length == 0 {
				length = pl.template.DefaultKeySize
			}
		} else {
			keyType = "RSA"
		}
	}
	spec, err := keygen.ParseSpec(keyType, length, req.curve)
	var fe *keygen.FieldError
	if errors.As(err, &fe) {
		return errs.Field(fe.Field, "%s", fe.Message)
	}
	if err != nil {
		return errs.Field("KeyType", "%v", err)
	}
	return pl.setKey(spec)
}

// setKey checks spec (generated, or a CSR's key) against the key policy
// of the settings, pattern and template, and makes it the plan's key.
func (pl *plan) setKey(spec keygen.Spec) error {
	kr := policy.KeyRequest{Algorithm: spec.KeyTypeName(), Bits: spec.Bits, Curve: spec.CurveOID()}
	if kr.Algorithm != "RSA" {
		kr.Bits = 0
	}
	if err := policy.CheckKey(pl.settings, pl.pattern, pl.template, kr); err != nil {
		return err
	}
	pl.key = spec
	return nil
}

// subjectAttr maps the subject parts regexes and defaults name to DN
// attribute names.
func subjectAttr(part string) string {
	switch strings.ToUpper(part) {
	case "E", "EMAIL":
		return "E"
	case "S":
		return "ST"
	}
	return strings.ToUpper(part)
}

func (s *Service) resolveSubject(ctx context.Context, req *request, pl *plan) error {
	dn, sanMap, err := s.requestedNames(req)
	if err != nil {
		return err
	}
	var defaults []policy.SubjectDefault
	if pl.pattern != nil {
		defaults = append(defaults, pl.pattern.Defaults...)
	}
	defaults = append(defaults, pl.settings.Defaults...)
	if req.populateAD {
		if req.apiVersion >= 2 {
			return errs.Field("PopulateMissingValuesFromAD", "is a version 1 parameter; version 2 requests cannot use it")
		}
		if s.o.Directory == nil {
			return errs.Field("PopulateMissingValuesFromAD", "no directory (LDAP) is configured on this server")
		}
		cn := dn.CommonName()
		if cn == "" {
			return errs.Field("PopulateMissingValuesFromAD", "needs a CN in Subject to find the account or host in the directory")
		}
		vals, err := s.o.Directory.Lookup(ctx, cn)
		if err != nil {
			var e *errs.Error
			if errors.As(err, &e) {
				return err
			}
			return errs.E(errs.Unavailable, errs.CodeUnavailable, "PopulateMissingValuesFromAD: directory lookup failed: %v", err)
		}
		for _, part := range []string{"O", "OU", "L", "ST", "C", "E"} {
			if v := vals[part]; v != "" {
				if dn, err = dn.With(part, v); err != nil {
					return inputErr(err, "Subject")
				}
			}
		}
	}
	for _, d := range defaults {
		if dn, err = dn.With(subjectAttr(d.SubjectPart), d.Value); err != nil {
			return inputErr(err, "Subject")
		}
	}
	sans, err := pki.ParseSANs(sanMap)
	if err != nil {
		return inputErr(err, "SANs")
	}
	if dn.Empty() && sans.Empty() {
		return errs.Field("Subject", "is required: a certificate needs a subject or at least one SAN")
	}
	// Common Name Regular Expression (application setting).
	cnRe, err := policy.CompileRegex("CommonNameRegularExpression", pl.settings.CommonNameRegex, true)
	if err != nil {
		return errs.Wrap(err, "the configured Common Name Regular Expression is invalid")
	}
	if cn := dn.CommonName(); !cnRe.MatchString(cn) {
		if cn == "" {
			return errs.Field("Subject", "a CN is required: the Common Name Regular Expression setting is %q", pl.settings.CommonNameRegex)
		}
		return errs.Field("Subject", "CN %q does not match the Common Name Regular Expression %q", cn, pl.settings.CommonNameRegex)
	}
	allowWild := pl.settings.AllowWildcards
	if pl.pattern != nil && pl.pattern.AllowWildcards {
		allowWild = true
	}
	if !allowWild {
		for _, d := range sans.DNS {
			if strings.HasPrefix(d, "*.") {
				return errs.Field("SANs.dns", "wildcard %q is not allowed by policy", d)
			}
		}
		if strings.HasPrefix(dn.CommonName(), "*.") {
			return errs.Field("Subject", "wildcard CN %q is not allowed by policy", dn.CommonName())
		}
	}
	var regexes []policy.SubjectRegex
	regexes = append(regexes, pl.settings.Regexes...)
	if pl.pattern != nil {
		regexes = append(regexes, pl.pattern.Regexes...)
	}
	for _, r := range regexes {
		re, err := policy.CompileRegex("Regex", r.Regex, r.CaseSensitive)
		if err != nil {
			return errs.Wrap(err, "a configured subject regex is invalid")
		}
		vals, field := valuesFor(dn, sans, r.SubjectPart)
		for _, v := range vals {
			if !re.MatchString(v) {
				msg := r.Error
				if msg == "" {
					msg = "does not match the enrollment pattern's regular expression " + r.Regex
				}
				return errs.Field(field, "%q: %s", v, msg)
			}
		}
	}
	pl.subject, pl.sans = dn, sans
	return nil
}

func valuesFor(dn pki.DN, sans pki.SANs, part string) ([]string, string) {
	switch strings.ToUpper(part) {
	case "DNS":
		return sans.DNS, "SANs.dns"
	case "IP", "IP4", "IP6":
		var out []string
		for _, ip := range sans.IPs {
			out = append(out, ip.String())
		}
		return out, "SANs.ip"
	case "URI":
		var out []string
		for _, u := range sans.URIs {
			out = append(out, u.String())
		}
		return out, "SANs.uri"
	case "MAIL", "RFC822":
		return sans.Emails, "SANs.rfc822"
	case "UPN":
		return sans.UPNs, "SANs.upn"
	}
	attr := subjectAttr(part)
	return dn.Get(attr), "Subject." + attr
}

func inputErr(err error, field string) error {
	var ie *pki.InputError
	if errors.As(err, &ie) {
		return errs.Field(ie.Field, "%s", ie.Message)
	}
	return errs.Field(field, "%v", err)
}

func (s *Service) resolvePassword(req *PFXRequest, pl *plan) error {
	n := pl.settings.PasswordLength
	if req.Password != "" {
		if utf8.RuneCountInString(req.Password) < n {
			return errs.Field("Password", "must be at least %d characters (the Password Length setting)", n)
		}
		if len(req.Password) > 256 {
			return errs.Field("Password", "must be at most 256 characters")
		}
		pl.password = req.Password
		return nil
	}
	pw, err := s.o.RandomPassword(max(n, 16))
	if err != nil {
		return errs.Wrap(err, "generating password")
	}
	pl.password = pw
	return nil
}

func (s *Service) checkPackaging(req *PFXRequest, pl *plan) error {
	if req.CustomFriendlyName == "" && pl.settings.RequireCustomFriendlyName {
		return errs.Field("CustomFriendlyName", "is required (the Require Custom Friendly Name setting is on)")
	}
	if len(req.CustomFriendlyName) > 256 || strings.ContainsAny(req.CustomFriendlyName, "\x00\r\n") {
		return errs.Field("CustomFriendlyName", "must be at most 256 characters without control characters")
	}
	if req.MicrosoftTargetCSP != "" {
		if !pl.settings.AllowCSPs {
			return errs.Field("MicrosoftTargetCSP", "is not allowed: the Allow Cryptographic Service Providers setting is off")
		}
		ok := false
		for _, c := range pl.settings.CSPs {
			if c == req.MicrosoftTargetCSP {
				ok = true
			}
		}
		if !ok {
			return errs.Field("MicrosoftTargetCSP", "%q is not in the Cryptographic Service Providers list", req.MicrosoftTargetCSP)
		}
	}
	return nil
}

func (s *Service) resolveMetadata(ctx context.Context, req *request, pl *plan) error {
	fields, err := s.o.Store.MetadataFields(ctx)
	if err != nil {
		return errs.Wrap(err, "reading metadata fields")
	}
	var rules []policy.MetadataRule
	var defs []policy.EnrollmentField
	if pl.pattern != nil {
		rules, defs = pl.pattern.MetadataRules, pl.pattern.EnrollmentFields
	}
	if pl.metadata, err = policy.ResolveMetadata(fields, rules, req.metadata); err != nil {
		return err
	}
	pl.fields, err = policy.CheckEnrollmentFields(defs, req.fields)
	return err
}

func (s *Service) resolveOwner(ctx context.Context, req *request, pl *plan) error {
	st := s.o.Store
	if req.ownerRoleID != 0 && req.ownerRoleName != "" {
		return errs.Field("OwnerRoleId", "give one of OwnerRoleId and OwnerRoleName, not both")
	}
	pol, def := pl.settings.OwnerRolePolicy, pl.settings.DefaultOwnerRoleID
	if pl.pattern != nil && (pl.pattern.OwnerRolePolicy != policy.OwnerOptional || pl.pattern.DefaultOwnerRoleID != nil) {
		pol, def = pl.pattern.OwnerRolePolicy, pl.pattern.DefaultOwnerRoleID
	}
	var role *auth.Role
	switch {
	case req.ownerRoleID < 0:
		return errs.Field("OwnerRoleId", "must be a positive role id")
	case req.ownerRoleID > 0:
		r, err := st.Role(ctx, req.ownerRoleID)
		if s.o.IsNotFound(err) {
			return errs.Field("OwnerRoleId", "role %d does not exist", req.ownerRoleID)
		} else if err != nil {
			return errs.Wrap(err, "reading role")
		}
		role = &r
	case req.ownerRoleName != "":
		r, err := st.RoleByName(ctx, req.ownerRoleName)
		if s.o.IsNotFound(err) {
			return errs.Field("OwnerRoleName", "role %q does not exist", req.ownerRoleName)
		} else if err != nil {
			return errs.Wrap(err, "reading role")
		}
		role = &r
	}
	if role != nil && pol == policy.OwnerProhibited {
		return errs.Field("OwnerRoleId", "a certificate owner is not allowed by the Certificate Owner Role policy")
	}
	if role == nil && def != nil {
		r, err := st.Role(ctx, *def)
		if err == nil {
			role = &r
		}
	}
	if role == nil && pol == policy.OwnerRequired {
		return errs.Field("OwnerRoleId", "a certificate owner is required by the Certificate Owner Role policy: give OwnerRoleId or OwnerRoleName")
	}
	pl.ownerRole = role
	return nil
}

func (s *Service) checkDelivery(ctx context.Context, p *auth.Principal, req *PFXRequest, pl *plan) error {
	if s.o.Delivery != nil {
		return s.planDelivery(ctx, p, req, pl)
	}
	if req.APIVersion < 2 {
		return nil
	}
	if req.JobTime != nil && req.JobTime.Before(s.o.Now()) {
		return errs.Field("JobTime", "%s is in the past; omit JobTime for an immediate job", req.JobTime.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if len(req.Stores) == 0 {
		return nil
	}
	for i, t := range req.Stores {
		if t.StoreID == "" {
			return errs.Field(storeField(i), "is required")
		}
	}
	if s.o.Stores == nil {
		return errs.Field(storeField(0), "certificate store %q does not exist", req.Stores[0].StoreID)
	}
	return s.o.Stores.CheckStores(ctx, p, req.Stores)
}

func storeField(i int) string { return "Stores[" + strconv.Itoa(i) + "].StoreId" }

// planDelivery checks v2 delivery through the Delivery hook: JobTime not in
// the past, Stores valid and schedulable, and the stores of a renewed
// certificate added when InstallIntoExistingCertificateStores is set.
func (s *Service) planDelivery(ctx context.Context, p *auth.Principal, req *PFXRequest, pl *plan) error {
	pl.deliver = deliveryFormat(req.Format)
	if req.APIVersion < 2 {
		return nil
	}
	if req.JobTime != nil && req.JobTime.Before(s.o.Now()) {
		return errs.Field("JobTime", "%s is in the past; omit JobTime for an immediate job", req.JobTime.UTC().Format("2006-01-02T15:04:05Z"))
	}
	var renewalID int64
	if pl.renewal != nil {
		renewalID = pl.renewal.ID
	}
	install := req.InstallIntoExistingCertificateStores && renewalID != 0
	if len(req.Stores) == 0 && !install {
		return nil
	}
	targets, err := s.o.Delivery.PlanDelivery(ctx, p, req.Stores, renewalID, install)
	if err != nil {
		return err
	}
	pl.targets = targets
	if len(targets) > 0 {
		pl.deliver = true
	}
	return nil
}
