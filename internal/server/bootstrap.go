package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certdock/certdock/internal/atomicfile"
	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// Names of what a first start creates.
const (
	RootLogicalName    = "RootCA"
	IssuingLogicalName = "IssuingCA1"
	AdminAccount       = "admin"
	AdminRole          = "Administrator"
)

// caKeyAAD binds a sealed CA key to its CA row.
func caKeyAAD(logical string) []byte { return []byte("ca-key:" + logical) }

// bootstrapCA creates the root and issuing CA on first start.
func (s *Server) bootstrapCA(ctx context.Context) error {
	cas, err := s.db.Q().CAs(ctx, "")
	if err != nil {
		return err
	}
	if len(cas) > 0 {
		return s.db.Q().SetCAHost(ctx, s.cfg.Hostname)
	}
	ro := s.rootOptions(embedded.Options{})
	m, err := embedded.Bootstrap(nil, s.now(), embedded.BootstrapOptions{RootCRLURLs: ro.CRLURLs, RootIssuerURLs: ro.IssuerURLs})
	if err != nil {
		return fmt.Errorf("bootstrapping the CA: %w", err)
	}
	rootDER, issDER, err := m.MarshalKeys()
	if err != nil {
		return err
	}
	rootSealed, err := s.keyring.Seal(rootDER, caKeyAAD(RootLogicalName))
	if err != nil {
		return err
	}
	issSealed, err := s.keyring.Seal(issDER, caKeyAAD(IssuingLogicalName))
	if err != nil {
		return err
	}
	return s.db.WithTx(ctx, func(q sqlstore.Q) error {
		if _, err := q.InsertCA(ctx, sqlstore.CARow{
			CA:      policy.CA{LogicalName: RootLogicalName, HostName: s.cfg.Hostname, Kind: "embedded", Role: "root", CreatedAt: s.now()},
			CertDER: m.RootCert.Raw, ChainDER: []byte{}, KeySealed: rootSealed,
		}); err != nil {
			return err
		}
		_, err := q.InsertCA(ctx, sqlstore.CARow{
			CA: policy.CA{LogicalName: IssuingLogicalName, HostName: s.cfg.Hostname, Kind: "embedded", Role: "issuing",
				AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR, CreatedAt: s.now()},
			CertDER: m.IssuingCert.Raw, ChainDER: m.RootCert.Raw, KeySealed: issSealed,
		})
		return err
	})
}

// addIssuingCA creates another issuing CA signed by the root (setup file).
func (s *Server) addIssuingCA(ctx context.Context, q sqlstore.Q, c policy.CA) error {
	root, err := q.CAByLogicalName(ctx, RootLogicalName)
	if err != nil {
		return fmt.Errorf("reading the root CA: %w", err)
	}
	rootCert, err := x509.ParseCertificate(root.CertDER)
	if err != nil {
		return err
	}
	der, err := s.keyring.Open(root.KeySealed, caKeyAAD(RootLogicalName))
	if err != nil {
		return fmt.Errorf("opening the root CA key (is this the right master key?): %w", err)
	}
	rootKey, err := embedded.ParsePrivateKey(der)
	if err != nil {
		return err
	}
	signer, err := embedded.New(s.rootOptions(embedded.Options{Cert: rootCert, Signer: rootKey, Clock: s.now}))
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	resp, err := signer.Issue(ctx, &ca.IssueRequest{
		PublicKey: key.Public(),
		Subject:   pkix.Name{CommonName: "certdock " + c.LogicalName, Organization: []string{"certdock"}}.ToRDNSequence(),
		Profile: ca.Profile{Validity: 5 * 365 * 24 * time.Hour, IsCA: true, MaxPathLen: 0,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature},
	})
	if err != nil {
		return fmt.Errorf("issuing CA %s: %w", c.LogicalName, err)
	}
	cert := resp.Certificate
	keyDER, err := embedded.MarshalPrivateKey(key)
	if err != nil {
		return err
	}
	sealed, err := s.keyring.Seal(keyDER, caKeyAAD(c.LogicalName))
	if err != nil {
		return err
	}
	c.HostName, c.Kind, c.Role, c.CreatedAt = s.cfg.Hostname, "embedded", "issuing", s.now()
	if c.AllowedEnrollmentTypes == 0 {
		c.AllowedEnrollmentTypes = policy.EnrollPFX | policy.EnrollCSR
	}
	_, err = q.InsertCA(ctx, sqlstore.CARow{CA: c, CertDER: cert.Raw, ChainDER: root.CertDER, KeySealed: sealed})
	return err
}

// seed creates the starter templates, patterns, administrator role and
// administrator identity when they do not exist.
func (s *Server) seed(ctx context.Context) error {
	return s.db.WithTx(ctx, func(q sqlstore.Q) error {
		iss, err := q.CAByLogicalName(ctx, IssuingLogicalName)
		if err != nil {
			return err
		}
		for _, t := range starterTemplates(iss.ID) {
			if _, err := q.TemplateByName(ctx, t.CommonName); err == nil {
				continue
			} else if !errors.Is(err, sqlstore.ErrNotFound) {
				return err
			}
			id, err := q.InsertTemplate(ctx, t)
			if err != nil {
				return err
			}
			if _, err := q.InsertPattern(ctx, policy.Pattern{
				Name: t.CommonName + " default", Description: "Default enrollment pattern for template " + t.CommonName,
				TemplateID: id, TemplateDefault: true, AllowWildcards: true,
				AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR,
			}); err != nil {
				return err
			}
		}
		role, err := q.RoleByName(ctx, AdminRole)
		if errors.Is(err, sqlstore.ErrNotFound) {
			var perms []string
			for _, p := range auth.All() {
				perms = append(perms, string(p))
			}
			role = auth.Role{Name: AdminRole, Description: "Full control of certdock", Enabled: true, Immutable: true, Permissions: perms}
			if role.ID, err = q.InsertRole(ctx, role); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if _, err := q.IdentityByAccount(ctx, AdminAccount); err == nil {
			return nil
		} else if !errors.Is(err, sqlstore.ErrNotFound) {
			return err
		}
		pw, fromEnv := os.Getenv("CERTDOCK_ADMIN_PASSWORD"), true
		if pw == "" {
			fromEnv = false
			if pw, err = secret.RandomPassword(nil, 24); err != nil {
				return err
			}
		}
		hash, err := secret.HashPassword(pw, nil)
		if err != nil {
			return err
		}
		id, err := q.InsertIdentity(ctx, auth.Identity{AccountName: AdminAccount, IdentityType: "User", Valid: true, PasswordHash: hash, CreatedAt: s.now()})
		if err != nil {
			return err
		}
		if err := q.AddRoleMember(ctx, role.ID, id); err != nil {
			return err
		}
		if !fromEnv {
			path := filepath.Join(s.cfg.DataDir, "admin-password.txt")
			if err := atomicfile.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
				return err
			}
			s.firstPassword = pw
			s.firstPasswordFile = path
		}
		return nil
	})
}

func starterTemplates(caID int64) []policy.Template {
	all := policy.DefaultKeyInfo()
	return []policy.Template{
		{CommonName: "WebServer", TemplateName: "WebServer", DisplayName: "Web Server", FriendlyName: "Web Server",
			OID: "1.3.6.1.4.1.311.21.8.1.1", ValidityDays: 365, ExtendedKeyUsage: []string{"1.3.6.1.5.5.7.3.1"},
			KeyInfo: all, DefaultKeyType: "RSA", DefaultKeySize: 2048, KeyRetention: policy.RetentionIndefinite,
			CAIDs: []int64{caID}, AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR, RFCEnforcement: true, AllowOneClickRenewals: true},
		{CommonName: "ClientAuth", TemplateName: "ClientAuth", DisplayName: "Client Authentication", FriendlyName: "Client Authentication",
			OID: "1.3.6.1.4.1.311.21.8.1.2", ValidityDays: 365, ExtendedKeyUsage: []string{"1.3.6.1.5.5.7.3.2"},
			KeyInfo: all, DefaultKeyType: "RSA", DefaultKeySize: 2048, KeyRetention: policy.RetentionNone,
			CAIDs: []int64{caID}, AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR, RFCEnforcement: true, AllowOneClickRenewals: true},
	}
}

// writeCAFiles writes root-ca.pem and issuing-ca.pem to the data directory.
func (s *Server) writeCAFiles(root, issuing *x509.Certificate) error {
	for name, c := range map[string]*x509.Certificate{"root-ca.pem": root, "issuing-ca.pem": issuing} {
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		if err := atomicfile.WriteFile(filepath.Join(s.cfg.DataDir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
