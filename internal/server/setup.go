package server

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/certdock/certdock/internal/admin"
	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/sqlstore"
)

// applySetup creates or updates, by name, everything the setup file lists.
// It runs through the admin service, so the same validation applies as on
// the API.
func (s *Server) applySetup(ctx context.Context, st *config.Setup) error {
	if st.Settings != nil {
		if err := s.Admin.UpdateSettings(ctx, nil, *st.Settings); err != nil {
			return fmt.Errorf("Settings: %w", err)
		}
	}
	for _, f := range st.MetadataFields {
		if old, err := s.db.Q().MetadataFieldByName(ctx, f.Name); err == nil {
			f.ID = old.ID
		}
		if _, err := s.Admin.SaveMetadataField(ctx, nil, f); err != nil {
			return fmt.Errorf("MetadataFields %q: %w", f.Name, err)
		}
	}
	for _, c := range st.CAs {
		if _, err := s.db.Q().CAByLogicalName(ctx, c.LogicalName); err == nil {
			continue
		}
		err := s.db.WithTx(ctx, func(q sqlstore.Q) error {
			return s.addIssuingCA(ctx, q, policy.CA{LogicalName: c.LogicalName, Standalone: c.Standalone,
				StandaloneValidityDays: c.StandaloneValidityDays, StandaloneEKUs: c.StandaloneEKUs,
				KeyRetention: c.KeyRetention, KeyRetentionDays: c.KeyRetentionDays})
		})
		if err != nil {
			return fmt.Errorf("CertificateAuthorities %q: %w", c.LogicalName, err)
		}
	}
	caID := func(name string) (int64, error) {
		c, err := s.db.Q().CAByLogicalName(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("certificate authority %q does not exist", name)
		}
		return c.ID, nil
	}
	for _, t := range st.Templates {
		tt := t.Template
		tt.CAIDs = nil
		for _, n := range t.CertificateAuthorities {
			id, err := caID(n)
			if err != nil {
				return fmt.Errorf("Templates %q: %w", tt.CommonName, err)
			}
			tt.CAIDs = append(tt.CAIDs, id)
		}
		if old, err := s.db.Q().TemplateByName(ctx, tt.CommonName); err == nil {
			tt.ID = old.ID
		}
		if _, err := s.Admin.SaveTemplate(ctx, nil, tt); err != nil {
			return fmt.Errorf("Templates %q: %w", tt.CommonName, err)
		}
	}
	for _, i := range st.Identities {
		if _, err := s.db.Q().IdentityByAccount(ctx, i.AccountName); errors.Is(err, sqlstore.ErrNotFound) {
			pw := ""
			if i.PasswordEnv != "" {
				pw = os.Getenv(i.PasswordEnv)
				if pw == "" {
					return fmt.Errorf("Identities %q: environment variable %s is empty", i.AccountName, i.PasswordEnv)
				}
			}
			if _, err := s.Admin.CreateIdentity(ctx, nil, adminIdentity(i.AccountName, pw)); err != nil {
				return fmt.Errorf("Identities %q: %w", i.AccountName, err)
			}
		}
	}
	for _, r := range st.Roles {
		role := auth.Role{Name: r.Name, Description: r.Description, Enabled: true, Permissions: r.Permissions}
		if old, err := s.db.Q().RoleByName(ctx, r.Name); err == nil {
			role.ID = old.ID
		}
		accounts := r.Identities
		if accounts == nil {
			accounts = []string{}
		}
		if _, err := s.Admin.SaveRole(ctx, nil, role, accounts); err != nil {
			return fmt.Errorf("Roles %q: %w", r.Name, err)
		}
	}
	for _, p := range st.Patterns {
		pp := p.Pattern
		t, err := s.db.Q().TemplateByName(ctx, p.Template)
		if err != nil {
			return fmt.Errorf("EnrollmentPatterns %q: template %q does not exist", pp.Name, p.Template)
		}
		pp.TemplateID = t.ID
		pp.CAIDs = nil
		for _, n := range p.CertificateAuthorities {
			id, err := caID(n)
			if err != nil {
				return fmt.Errorf("EnrollmentPatterns %q: %w", pp.Name, err)
			}
			pp.CAIDs = append(pp.CAIDs, id)
		}
		if p.DefaultOwnerRole != "" {
			r, err := s.db.Q().RoleByName(ctx, p.DefaultOwnerRole)
			if err != nil {
				return fmt.Errorf("EnrollmentPatterns %q: role %q does not exist", pp.Name, p.DefaultOwnerRole)
			}
			pp.DefaultOwnerRoleID = &r.ID
		}
		if old, err := s.db.Q().PatternByName(ctx, pp.Name); err == nil {
			pp.ID = old.ID
		}
		if _, err := s.Admin.SavePattern(ctx, nil, pp); err != nil {
			return fmt.Errorf("EnrollmentPatterns %q: %w", pp.Name, err)
		}
	}
	if err := s.applyWorkflows(ctx, st.Workflows); err != nil { // workflow.go
		return err
	}
	if st.Directory != nil {
		d, err := newDirectory(*st.Directory, s.log)
		if err != nil {
			return fmt.Errorf("Directory: %w", err)
		}
		s.dir = d
	}
	return nil
}

func (s *Server) directory() enroll.Directory { return s.dir }

func adminIdentity(account, password string) admin.IdentityRequest {
	return admin.IdentityRequest{AccountName: account, IdentityType: "User", Password: password}
}
