package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
)

// Identities lists identities.
func (s *Service) Identities(ctx context.Context) ([]auth.Identity, error) {
	ids, err := s.o.Store.Identities(ctx)
	return ids, s.classify(err, "identities")
}

// IdentityRequest creates an identity. Password is certdock's extension: a
// local identity that can log in with HTTP Basic.
type IdentityRequest struct {
	AccountName  string
	IdentityType string
	Password     string
}

// MinPasswordLength is the shortest password accepted for a local identity.
const MinPasswordLength = 12

// CreateIdentity creates an identity.
func (s *Service) CreateIdentity(ctx context.Context, p *auth.Principal, r IdentityRequest) (auth.Identity, error) {
	name := auth.NormalizeAccount(r.AccountName)
	if name == "" {
		return auth.Identity{}, errs.Field("AccountName", "is required")
	}
	if len(name) > 256 || strings.ContainsAny(name, ":\r\n\t") {
		return auth.Identity{}, errs.Field("AccountName", "must be at most 256 characters without ':' or control characters")
	}
	typ := r.IdentityType
	if typ == "" {
		typ = "User"
	}
	if typ != "User" && typ != "Group" {
		return auth.Identity{}, errs.Field("IdentityType", "must be User or Group")
	}
	id := auth.Identity{AccountName: name, IdentityType: typ, Valid: true, CreatedAt: s.o.Now()}
	if r.Password != "" {
		if len(r.Password) < MinPasswordLength {
			return id, errs.Field("Password", "must be at least %d characters", MinPasswordLength)
		}
		if len(r.Password) > 512 {
			return id, errs.Field("Password", "must be at most 512 characters")
		}
		h, err := s.o.HashPassword(r.Password)
		if err != nil {
			return id, errs.Wrap(err, "hashing password")
		}
		id.PasswordHash = h
	}
	err := s.o.InTx(ctx, func(st Store) error {
		var err error
		id.ID, err = st.InsertIdentity(ctx, id)
		if err != nil {
			return s.classify(err, fmt.Sprintf("identity %q", name))
		}
		return s.audit(ctx, st, p, "identity.create", name)
	})
	id.PasswordHash = ""
	return id, err
}

// SetIdentityPassword sets a local identity's password (CLI and setup file).
func (s *Service) SetIdentityPassword(ctx context.Context, p *auth.Principal, account, password string) error {
	if len(password) < MinPasswordLength {
		return errs.Field("Password", "must be at least %d characters", MinPasswordLength)
	}
	h, err := s.o.HashPassword(password)
	if err != nil {
		return err
	}
	defer s.o.Changed()
	return s.o.InTx(ctx, func(st Store) error {
		id, err := st.IdentityByAccount(ctx, account)
		if err != nil {
			return s.classify(err, fmt.Sprintf("identity %q", account))
		}
		if err := st.SetIdentityPassword(ctx, id.ID, h); err != nil {
			return err
		}
		return s.audit(ctx, st, p, "identity.password", account)
	})
}

// DeleteIdentity deletes an identity; callers cannot delete themselves.
func (s *Service) DeleteIdentity(ctx context.Context, p *auth.Principal, id int64) error {
	if p != nil && p.IdentityID == id {
		return errs.Conflictf("an identity cannot delete itself")
	}
	defer s.o.Changed()
	return s.o.InTx(ctx, func(st Store) error {
		i, err := st.Identity(ctx, id)
		if err != nil {
			return s.classify(err, fmt.Sprintf("identity %d", id))
		}
		if err := st.DeleteIdentity(ctx, id); err != nil {
			return s.classify(err, "identity")
		}
		return s.audit(ctx, st, p, "identity.delete", i.AccountName)
	})
}

// Identity returns one identity.
func (s *Service) Identity(ctx context.Context, id int64) (auth.Identity, error) {
	i, err := s.o.Store.Identity(ctx, id)
	return i, s.classify(err, fmt.Sprintf("identity %d", id))
}

// Roles lists roles.
func (s *Service) Roles(ctx context.Context) ([]auth.Role, error) {
	r, err := s.o.Store.Roles(ctx)
	return r, s.classify(err, "roles")
}

// Role returns one role.
func (s *Service) Role(ctx context.Context, id int64) (auth.Role, error) {
	r, err := s.o.Store.Role(ctx, id)
	return r, s.classify(err, fmt.Sprintf("role %d", id))
}

// RoleByName returns one role by name.
func (s *Service) RoleByName(ctx context.Context, name string) (auth.Role, error) {
	r, err := s.o.Store.RoleByName(ctx, name)
	return r, s.classify(err, fmt.Sprintf("role %q", name))
}

// SaveRole creates (ID 0) or replaces a role. Identities are named by
// account; each must exist. Permissions must be in the catalogue.
func (s *Service) SaveRole(ctx context.Context, p *auth.Principal, r auth.Role, accounts []string) (auth.Role, error) {
	if strings.TrimSpace(r.Name) == "" {
		return r, errs.Field("Name", "is required")
	}
	if len(r.Name) > 200 {
		return r, errs.Field("Name", "must be at most 200 characters")
	}
	perms := make([]string, 0, len(r.Permissions))
	seen := map[string]bool{}
	for _, ps := range r.Permissions {
		perm, container, ok := auth.ParsePermission(ps)
		if !ok {
			return r, errs.Field("Permissions", "%q is not a certdock permission (see docs/permissions.md)", ps)
		}
		g := auth.Grant{Permission: perm, Container: container}.String()
		if !seen[g] {
			seen[g] = true
			perms = append(perms, g)
		}
	}
	r.Permissions = perms
	defer s.o.Changed()
	err := s.o.InTx(ctx, func(st Store) error {
		if r.ID != 0 {
			old, err := st.Role(ctx, r.ID)
			if err != nil {
				return s.classify(err, fmt.Sprintf("role %d", r.ID))
			}
			if old.Immutable {
				return errs.Conflictf("role %q is built in and cannot be changed", old.Name)
			}
			if accounts == nil {
				r.Identities = old.Identities
			}
		}
		if accounts != nil {
			r.Identities = nil
			for _, a := range accounts {
				i, err := st.IdentityByAccount(ctx, a)
				if err != nil {
					if s.o.IsNotFound(err) {
						return errs.Field("Identities", "identity %q does not exist", a)
					}
					return err
				}
				r.Identities = append(r.Identities, auth.IdentityRef{ID: i.ID, AccountName: i.AccountName})
			}
		}
		var err error
		if r.ID == 0 {
			r.ID, err = st.InsertRole(ctx, r)
		} else {
			err = st.UpdateRole(ctx, r)
		}
		if err != nil {
			return s.classify(err, fmt.Sprintf("role %q", r.Name))
		}
		return s.audit(ctx, st, p, "role.save", r.Name)
	})
	return r, err
}

// DeleteRole deletes a role.
func (s *Service) DeleteRole(ctx context.Context, p *auth.Principal, id int64) error {
	defer s.o.Changed()
	return s.o.InTx(ctx, func(st Store) error {
		r, err := st.Role(ctx, id)
		if err != nil {
			return s.classify(err, fmt.Sprintf("role %d", id))
		}
		if r.Immutable {
			return errs.Conflictf("role %q is built in and cannot be deleted", r.Name)
		}
		if err := st.DeleteRole(ctx, id); err != nil {
			return s.classify(err, "role")
		}
		return s.audit(ctx, st, p, "role.delete", r.Name)
	})
}
