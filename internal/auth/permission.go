// Package auth authenticates callers (HTTP Basic with DOMAIN\user or user,
// checked against local identities with slow salted password hashes) and
// checks permissions. Every endpoint names one Permission; a Principal holds
// the union of its enabled roles' permissions, global or scoped to a
// certificate store container.
package auth

import (
	"sort"
	"strconv"
	"strings"
)

// Permission is a Keyfactor-style permission path ("/area/permission/").
type Permission string

// The permission catalogue. docs/permissions.md lists what each one allows.
const (
	PortalRead                Permission = "/portal/read/"
	CertificatesRead          Permission = "/certificates/collections/read/"
	CertificatesMetadata      Permission = "/certificates/collections/metadata/modify/"
	CertificatesRevoke        Permission = "/certificates/collections/revoke/"
	CertificatesRecover       Permission = "/certificates/collections/private_key/read/"
	CertificatesDelete        Permission = "/certificates/collections/delete/"
	CertificatesImport        Permission = "/certificates/import/"
	EnrollPFX                 Permission = "/certificates/enrollment/pfx/"
	EnrollCSR                 Permission = "/certificates/enrollment/csr/"
	CAsRead                   Permission = "/certificate_authorities/read/"
	CAsModify                 Permission = "/certificate_authorities/modify/"
	TemplatesRead             Permission = "/certificate_templates/read/"
	TemplatesModify           Permission = "/certificate_templates/modify/"
	PatternsRead              Permission = "/enrollment_patterns/read/"
	PatternsModify            Permission = "/enrollment_patterns/modify/"
	MetadataRead              Permission = "/metadata/types/read/"
	MetadataModify            Permission = "/metadata/types/modify/"
	SecurityRead              Permission = "/security/read/"
	SecurityModify            Permission = "/security/modify/"
	SettingsRead              Permission = "/application_settings/read/"
	SettingsModify            Permission = "/application_settings/modify/"
	StoresRead                Permission = "/certificate_stores/read/"
	StoresModify              Permission = "/certificate_stores/modify/"
	StoresSchedule            Permission = "/certificate_stores/schedule/"
	AgentsRead                Permission = "/agents/management/read/"
	AgentsModify              Permission = "/agents/management/modify/"
	AgentsRegister            Permission = "/agents/register/" // bootstrap an agent (POST /KeyfactorAgents/Session/Register with Basic)
	WorkflowsRead             Permission = "/workflows/instances/read/"
	WorkflowsManage           Permission = "/workflows/instances/manage/"
	WorkflowDefinitionsRead   Permission = "/workflows/definitions/read/"
	WorkflowDefinitionsModify Permission = "/workflows/definitions/modify/"
	AuditRead                 Permission = "/auditing/read/"
)

// All lists every global permission, for the administrator role and for
// validating role updates.
func All() []Permission {
	return []Permission{
		PortalRead, CertificatesRead, CertificatesMetadata, CertificatesRevoke, CertificatesRecover,
		CertificatesDelete, CertificatesImport, EnrollPFX, EnrollCSR, CAsRead, CAsModify, TemplatesRead,
		TemplatesModify, PatternsRead, PatternsModify, MetadataRead, MetadataModify, SecurityRead,
		SecurityModify, SettingsRead, SettingsModify, StoresRead, StoresModify, StoresSchedule,
		AgentsRead, AgentsModify, AgentsRegister, WorkflowsRead, WorkflowsManage, WorkflowDefinitionsRead,
		WorkflowDefinitionsModify, AuditRead,
	}
}

// containerScoped are the permissions that may be granted on one store
// container ("/certificate_stores/schedule/#12").
var containerScoped = map[Permission]bool{StoresRead: true, StoresModify: true, StoresSchedule: true}

// ParsePermission validates a permission string from a role update. It
// accepts the catalogue's paths (with or without the trailing slash, case
// insensitively) and container-scoped forms "<path>#<containerId>".
func ParsePermission(s string) (Permission, int64, bool) {
	base, container, scoped := strings.Cut(strings.TrimSpace(s), "#")
	base = strings.ToLower(base)
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	if !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	for _, p := range All() {
		if string(p) == base {
			if !scoped {
				return p, 0, true
			}
			id, err := strconv.ParseInt(container, 10, 64)
			if err != nil || id <= 0 || !containerScoped[p] {
				return "", 0, false
			}
			return p, id, true
		}
	}
	return "", 0, false
}

// Grant is one permission held, globally (Container 0) or on one container.
type Grant struct {
	Permission Permission
	Container  int64
}

func (g Grant) String() string {
	if g.Container == 0 {
		return string(g.Permission)
	}
	return string(g.Permission) + "#" + strconv.FormatInt(g.Container, 10)
}

// ParseGrants parses stored permission strings, ignoring unknown ones (a
// permission removed from the catalogue grants nothing).
func ParseGrants(ss []string) []Grant {
	var out []Grant
	for _, s := range ss {
		if p, c, ok := ParsePermission(s); ok {
			out = append(out, Grant{Permission: p, Container: c})
		}
	}
	return out
}

// Principal is an authenticated caller.
type Principal struct {
	IdentityID  int64
	AccountName string
	Roles       []RoleRef
	grants      map[Grant]bool
}

// RoleRef names a role the principal holds.
type RoleRef struct {
	ID   int64
	Name string
}

// NewPrincipal builds a principal from its enabled roles' grants.
func NewPrincipal(id int64, account string, roles []RoleRef, grants []Grant) *Principal {
	p := &Principal{IdentityID: id, AccountName: account, Roles: roles, grants: map[Grant]bool{}}
	for _, g := range grants {
		p.grants[g] = true
	}
	return p
}

// Has reports whether the principal holds perm globally.
func (p *Principal) Has(perm Permission) bool {
	return p != nil && p.grants[Grant{Permission: perm}]
}

// HasOnContainer reports whether the principal holds perm globally or on the
// given store container.
func (p *Principal) HasOnContainer(perm Permission, container int64) bool {
	if p.Has(perm) {
		return true
	}
	return container != 0 && p.grants[Grant{Permission: perm, Container: container}]
}

// HasRole reports whether the principal holds the role.
func (p *Principal) HasRole(id int64) bool {
	for _, r := range p.Roles {
		if r.ID == id {
			return true
		}
	}
	return false
}

// Grants lists the principal's grants in a stable order.
func (p *Principal) Grants() []Grant {
	out := make([]Grant, 0, len(p.grants))
	for g := range p.grants {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
