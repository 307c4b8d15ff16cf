// Package admin is the configuration service: templates, enrollment
// patterns, metadata fields, system-wide settings, security identities and
// roles, and the read side of certificate authorities. It validates with the
// policy and auth packages, writes through a small Store interface in one
// transaction per change, and records every change in the audit trail.
package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

// Store is the storage admin needs; sqlstore.Q implements it.
type Store interface {
	Settings(ctx context.Context) (policy.Settings, error)
	PutSettings(ctx context.Context, s policy.Settings) error

	Templates(ctx context.Context) ([]policy.Template, error)
	Template(ctx context.Context, id int64) (policy.Template, error)
	TemplateByName(ctx context.Context, name string) (policy.Template, error)
	InsertTemplate(ctx context.Context, t policy.Template) (int64, error)
	UpdateTemplate(ctx context.Context, t policy.Template) error

	Patterns(ctx context.Context) ([]policy.Pattern, error)
	Pattern(ctx context.Context, id int64) (policy.Pattern, error)
	PatternByName(ctx context.Context, name string) (policy.Pattern, error)
	InsertPattern(ctx context.Context, p policy.Pattern) (int64, error)
	UpdatePattern(ctx context.Context, p policy.Pattern) error
	DeletePattern(ctx context.Context, id int64) error

	MetadataFields(ctx context.Context) ([]policy.MetadataField, error)
	MetadataField(ctx context.Context, id int64) (policy.MetadataField, error)
	MetadataFieldByName(ctx context.Context, name string) (policy.MetadataField, error)
	InsertMetadataField(ctx context.Context, f policy.MetadataField) (int64, error)
	UpdateMetadataField(ctx context.Context, f policy.MetadataField) error
	DeleteMetadataField(ctx context.Context, id int64) error
	MetadataFieldInUse(ctx context.Context, name string) (bool, error)

	Identities(ctx context.Context) ([]auth.Identity, error)
	Identity(ctx context.Context, id int64) (auth.Identity, error)
	IdentityByAccount(ctx context.Context, account string) (auth.Identity, error)
	InsertIdentity(ctx context.Context, i auth.Identity) (int64, error)
	SetIdentityPassword(ctx context.Context, id int64, hash string) error
	DeleteIdentity(ctx context.Context, id int64) error

	Roles(ctx context.Context) ([]auth.Role, error)
	Role(ctx context.Context, id int64) (auth.Role, error)
	RoleByName(ctx context.Context, name string) (auth.Role, error)
	InsertRole(ctx context.Context, r auth.Role) (int64, error)
	UpdateRole(ctx context.Context, r auth.Role) error
	DeleteRole(ctx context.Context, id int64) error

	CAIDs(ctx context.Context) (map[int64]policy.CA, error)

	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}

// Options wires the service.
type Options struct {
	Store        Store
	InTx         func(ctx context.Context, fn func(Store) error) error
	Now          func() time.Time
	HashPassword func(string) (string, error)
	// Changed is called after identities or roles change (to flush auth caches).
	Changed func()
	// IsNotFound and IsDuplicate classify storage errors.
	IsNotFound  func(error) bool
	IsDuplicate func(error) bool
}

// Service is the configuration service.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service {
	if o.Changed == nil {
		o.Changed = func() {}
	}
	return &Service{o: o}
}

func (s *Service) classify(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case s.o.IsNotFound(err):
		return errs.NotFoundf("%s was not found", what)
	case s.o.IsDuplicate(err):
		return errs.Conflictf("%s: the name is already in use", what)
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Wrap(err, "storage error")
}

func (s *Service) audit(ctx context.Context, st Store, actor *auth.Principal, action, target string) error {
	name := ""
	if actor != nil {
		name = actor.AccountName
	}
	return st.Audit(ctx, s.o.Now(), name, action, target, "")
}

// ---- settings ----

// Settings returns the system-wide settings.
func (s *Service) Settings(ctx context.Context) (policy.Settings, error) {
	st, err := s.o.Store.Settings(ctx)
	return st, s.classify(err, "settings")
}

// UpdateSettings validates and saves the system-wide settings.
func (s *Service) UpdateSettings(ctx context.Context, p *auth.Principal, set policy.Settings) error {
	if err := policy.ValidateSettings(set); err != nil {
		return err
	}
	return s.o.InTx(ctx, func(st Store) error {
		if err := st.PutSettings(ctx, set); err != nil {
			return err
		}
		return s.audit(ctx, st, p, "settings.update", "enrollment")
	})
}

// ---- templates ----

// Templates lists templates.
func (s *Service) Templates(ctx context.Context) ([]policy.Template, error) {
	t, err := s.o.Store.Templates(ctx)
	return t, s.classify(err, "templates")
}

// Template returns one template.
func (s *Service) Template(ctx context.Context, id int64) (policy.Template, error) {
	t, err := s.o.Store.Template(ctx, id)
	return t, s.classify(err, fmt.Sprintf("template %d", id))
}

// SaveTemplate creates (ID 0) or replaces a template.
func (s *Service) SaveTemplate(ctx context.Context, p *auth.Principal, t policy.Template) (policy.Template, error) {
	if err := policy.ValidateTemplate(t); err != nil {
		return t, err
	}
	err := s.o.InTx(ctx, func(st Store) error {
		cas, err := st.CAIDs(ctx)
		if err != nil {
			return err
		}
		for _, id := range t.CAIDs {
			if _, ok := cas[id]; !ok {
				return errs.Field("CertificateAuthorities", "CA %d does not exist", id)
			}
		}
		if t.ID == 0 {
			t.ID, err = st.InsertTemplate(ctx, t)
		} else {
			err = st.UpdateTemplate(ctx, t)
		}
		if err != nil {
			return s.classify(err, fmt.Sprintf("template %q", t.CommonName))
		}
		return s.audit(ctx, st, p, "template.save", t.CommonName)
	})
	return t, err
}

// ---- patterns ----

// Patterns lists enrollment patterns.
func (s *Service) Patterns(ctx context.Context) ([]policy.Pattern, error) {
	ps, err := s.o.Store.Patterns(ctx)
	return ps, s.classify(err, "enrollment patterns")
}

// Pattern returns one pattern.
func (s *Service) Pattern(ctx context.Context, id int64) (policy.Pattern, error) {
	p, err := s.o.Store.Pattern(ctx, id)
	return p, s.classify(err, fmt.Sprintf("enrollment pattern %d", id))
}

// SavePattern creates (ID 0) or replaces a pattern, checking its references.
func (s *Service) SavePattern(ctx context.Context, pr *auth.Principal, p policy.Pattern) (policy.Pattern, error) {
	if err := policy.ValidatePattern(p); err != nil {
		return p, err
	}
	err := s.o.InTx(ctx, func(st Store) error {
		t, err := st.Template(ctx, p.TemplateID)
		if s.o.IsNotFound(err) {
			return errs.Field("Template", "template %d does not exist", p.TemplateID)
		} else if err != nil {
			return err
		}
		for _, id := range p.CAIDs {
			if !contains(t.CAIDs, id) {
				return errs.Field("CertificateAuthorities", "CA %d does not offer template %q", id, t.CommonName)
			}
		}
		if p.DefaultOwnerRoleID != nil {
			if _, err := st.Role(ctx, *p.DefaultOwnerRoleID); err != nil {
				return errs.Field("Policies.DefaultCertificateOwnerRoleId", "role %d does not exist", *p.DefaultOwnerRoleID)
			}
		}
		for i, m := range p.MetadataRules {
			if _, err := st.MetadataField(ctx, m.MetadataID); err != nil {
				return errs.Field(fmt.Sprintf("MetadataFields[%d].MetadataId", i), "metadata field %d does not exist", m.MetadataID)
			}
		}
		if p.ID == 0 {
			p.ID, err = st.InsertPattern(ctx, p)
		} else {
			err = st.UpdatePattern(ctx, p)
		}
		if err != nil && s.o.IsDuplicate(err) {
			return &errs.Error{Kind: errs.Conflict, Code: errs.CodeConflict, Field: "Name", Err: err,
				Message: fmt.Sprintf("Name: an enrollment pattern named %q already exists (names are unique ignoring case)", p.Name)}
		}
		if err != nil {
			return s.classify(err, fmt.Sprintf("enrollment pattern %q", p.Name))
		}
		return s.audit(ctx, st, pr, "pattern.save", p.Name)
	})
	return p, err
}

// DeletePattern deletes a pattern.
func (s *Service) DeletePattern(ctx context.Context, pr *auth.Principal, id int64) error {
	return s.o.InTx(ctx, func(st Store) error {
		if err := st.DeletePattern(ctx, id); err != nil {
			return s.classify(err, fmt.Sprintf("enrollment pattern %d", id))
		}
		return s.audit(ctx, st, pr, "pattern.delete", fmt.Sprint(id))
	})
}

// ---- metadata fields ----

// MetadataFields lists metadata fields.
func (s *Service) MetadataFields(ctx context.Context) ([]policy.MetadataField, error) {
	f, err := s.o.Store.MetadataFields(ctx)
	return f, s.classify(err, "metadata fields")
}

// MetadataField returns one field by id.
func (s *Service) MetadataField(ctx context.Context, id int64) (policy.MetadataField, error) {
	f, err := s.o.Store.MetadataField(ctx, id)
	return f, s.classify(err, fmt.Sprintf("metadata field %d", id))
}

// MetadataFieldByName returns one field by name.
func (s *Service) MetadataFieldByName(ctx context.Context, name string) (policy.MetadataField, error) {
	f, err := s.o.Store.MetadataFieldByName(ctx, name)
	return f, s.classify(err, fmt.Sprintf("metadata field %q", name))
}

// MetadataFieldInUse reports whether a field holds values.
func (s *Service) MetadataFieldInUse(ctx context.Context, id int64) (bool, error) {
	f, err := s.MetadataField(ctx, id)
	if err != nil {
		return false, err
	}
	in, err := s.o.Store.MetadataFieldInUse(ctx, f.Name)
	return in, s.classify(err, "metadata field")
}

// SaveMetadataField creates (ID 0) or replaces a field.
func (s *Service) SaveMetadataField(ctx context.Context, p *auth.Principal, f policy.MetadataField) (policy.MetadataField, error) {
	if err := policy.ValidateMetadataField(f); err != nil {
		return f, err
	}
	err := s.o.InTx(ctx, func(st Store) error {
		var err error
		if f.ID == 0 {
			f.ID, err = st.InsertMetadataField(ctx, f)
		} else {
			old, gerr := st.MetadataField(ctx, f.ID)
			if gerr != nil {
				return s.classify(gerr, fmt.Sprintf("metadata field %d", f.ID))
			}
			if !strings.EqualFold(old.Name, f.Name) {
				if in, _ := st.MetadataFieldInUse(ctx, old.Name); in {
					return errs.Field("Name", "field %q holds values on certificates and cannot be renamed", old.Name)
				}
			}
			err = st.UpdateMetadataField(ctx, f)
		}
		if err != nil {
			return s.classify(err, fmt.Sprintf("metadata field %q", f.Name))
		}
		return s.audit(ctx, st, p, "metadata_field.save", f.Name)
	})
	return f, err
}

// DeleteMetadataField deletes a field; a field in use needs force.
func (s *Service) DeleteMetadataField(ctx context.Context, p *auth.Principal, id int64, force bool) error {
	return s.o.InTx(ctx, func(st Store) error {
		f, err := st.MetadataField(ctx, id)
		if err != nil {
			return s.classify(err, fmt.Sprintf("metadata field %d", id))
		}
		if in, err := st.MetadataFieldInUse(ctx, f.Name); err != nil {
			return err
		} else if in && !force {
			return errs.Conflictf("metadata field %q holds values on certificates; pass force=true to delete it", f.Name)
		}
		if err := st.DeleteMetadataField(ctx, id); err != nil {
			return s.classify(err, "metadata field")
		}
		return s.audit(ctx, st, p, "metadata_field.delete", f.Name)
	})
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// CAs lists the certificate authorities that issue (the root is not listed).
func (s *Service) CAs(ctx context.Context) ([]policy.CA, error) {
	m, err := s.o.Store.CAIDs(ctx)
	if err != nil {
		return nil, s.classify(err, "certificate authorities")
	}
	out := make([]policy.CA, 0, len(m))
	for _, c := range m {
		if c.Role == "issuing" {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CA returns one certificate authority.
func (s *Service) CA(ctx context.Context, id int64) (policy.CA, error) {
	m, err := s.o.Store.CAIDs(ctx)
	if err != nil {
		return policy.CA{}, s.classify(err, "certificate authorities")
	}
	c, ok := m[id]
	if !ok || c.Role != "issuing" {
		return c, errs.NotFoundf("certificate authority %d was not found", id)
	}
	return c, nil
}
