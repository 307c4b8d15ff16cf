package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/certdock/certdock/internal/admin"
	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
)

type roleRefDTO struct {
	Id          int64  `json:"Id"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
}

type identityDTO struct {
	Id           int64        `json:"Id"`
	AccountName  string       `json:"AccountName"`
	IdentityType string       `json:"IdentityType"`
	Roles        []roleRefDTO `json:"Roles"`
	Valid        bool         `json:"Valid"`
	SID          *string      `json:"SID"`
}

func toIdentityDTO(i auth.Identity) identityDTO {
	d := identityDTO{Id: i.ID, AccountName: i.AccountName, IdentityType: i.IdentityType, Valid: i.Valid, Roles: []roleRefDTO{}}
	for _, r := range i.Roles {
		d.Roles = append(d.Roles, roleRefDTO{Id: r.ID, Name: r.Name})
	}
	return d
}

func (a *API) listIdentities(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ids, err := a.o.Admin.Identities(r.Context())
	if err != nil {
		return err
	}
	out := mapList(ids, toIdentityDTO)
	return writeList(w, r, out, func(d identityDTO) map[string]any {
		return map[string]any{"Id": d.Id, "AccountName": d.AccountName, "IdentityType": d.IdentityType, "Valid": d.Valid}
	})
}

func (a *API) getIdentity(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	i, err := a.o.Admin.Identity(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, toIdentityDTO(i))
}

func (a *API) postIdentity(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req struct {
		AccountName  string
		IdentityType string
		Password     string
	}
	if err := decode(r, &req, false); err != nil {
		return err
	}
	i, err := a.o.Admin.CreateIdentity(r.Context(), p, admin.IdentityRequest{AccountName: req.AccountName, IdentityType: req.IdentityType, Password: req.Password})
	if err != nil {
		return err
	}
	return writeJSON(w, toIdentityDTO(i))
}

func (a *API) deleteIdentity(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.o.Admin.DeleteIdentity(r.Context(), p, id); err != nil {
		return err
	}
	return noContent(w)
}

type roleIdentityDTO struct {
	Id           int64   `json:"Id"`
	AccountName  string  `json:"AccountName"`
	IdentityType string  `json:"IdentityType"`
	SID          *string `json:"SID"`
}

type roleDTO struct {
	Id           int64             `json:"Id"`
	Name         string            `json:"Name"`
	Description  string            `json:"Description"`
	EmailAddress *string           `json:"EmailAddress"`
	Enabled      bool              `json:"Enabled"`
	Immutable    bool              `json:"Immutable"`
	Valid        bool              `json:"Valid"`
	Private      bool              `json:"Private"`
	Identities   []roleIdentityDTO `json:"Identities"`
	Permissions  []string          `json:"Permissions"`
}

func toRoleDTO(r auth.Role) roleDTO {
	d := roleDTO{Id: r.ID, Name: r.Name, Description: r.Description, Enabled: r.Enabled, Immutable: r.Immutable,
		Valid: true, Private: r.Private, Identities: []roleIdentityDTO{}, Permissions: r.Permissions}
	if d.Permissions == nil {
		d.Permissions = []string{}
	}
	for _, i := range r.Identities {
		d.Identities = append(d.Identities, roleIdentityDTO{Id: i.ID, AccountName: i.AccountName, IdentityType: "User"})
	}
	return d
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	rs, err := a.o.Admin.Roles(r.Context())
	if err != nil {
		return err
	}
	out := mapList(rs, toRoleDTO)
	return writeList(w, r, out, func(d roleDTO) map[string]any {
		return map[string]any{"Id": d.Id, "Name": d.Name, "Description": d.Description, "Enabled": d.Enabled, "Private": d.Private}
	})
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	x, err := a.o.Admin.Role(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, toRoleDTO(x))
}

// roleReq is POST/PUT /Security/Roles. Identities may be objects with
// AccountName (or Id) or plain account strings.
type roleReq struct {
	Id          int64
	Name        string
	Description string
	Enabled     *bool
	Private     bool
	Permissions []string
	Identities  *[]roleMember
}

type roleMember struct {
	AccountName string
	Id          int64
}

func (m *roleMember) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		m.AccountName = s
		return nil
	}
	var o struct {
		AccountName string
		Id          int64
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return errs.Field("Identities", "each identity must be an account name or an object with AccountName")
	}
	m.AccountName, m.Id = o.AccountName, o.Id
	return nil
}

func (a *API) saveRole(w http.ResponseWriter, r *http.Request, p *auth.Principal, create bool) error {
	var q roleReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	role := auth.Role{ID: q.Id, Name: strings.TrimSpace(q.Name), Description: q.Description, Enabled: true, Private: q.Private, Permissions: q.Permissions}
	if q.Enabled != nil {
		role.Enabled = *q.Enabled
	}
	if create {
		role.ID = 0
	} else if role.ID <= 0 {
		return errs.Field("Id", "is required")
	}
	var accounts []string
	if q.Identities != nil {
		accounts = []string{}
		for _, m := range *q.Identities {
			name := m.AccountName
			if name == "" && m.Id > 0 {
				i, err := a.o.Admin.Identity(r.Context(), m.Id)
				if err != nil {
					return errs.Field("Identities", "identity %d does not exist", m.Id)
				}
				name = i.AccountName
			}
			accounts = append(accounts, name)
		}
	}
	if !create && q.Permissions == nil {
		old, err := a.o.Admin.Role(r.Context(), role.ID)
		if err != nil {
			return err
		}
		role.Permissions = old.Permissions
	}
	saved, err := a.o.Admin.SaveRole(r.Context(), p, role, accounts)
	if err != nil {
		return err
	}
	saved, err = a.o.Admin.Role(r.Context(), saved.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, toRoleDTO(saved))
}

func (a *API) postRole(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return a.saveRole(w, r, p, true)
}

func (a *API) putRole(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return a.saveRole(w, r, p, false)
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.o.Admin.DeleteRole(r.Context(), p, id); err != nil {
		return err
	}
	return noContent(w)
}

type globalPermissionDTO struct {
	Area       string `json:"Area"`
	Permission string `json:"Permission"`
}

func (a *API) getMy(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out := struct {
		Roles                []string              `json:"Roles"`
		GlobalPermissions    []globalPermissionDTO `json:"GlobalPermissions"`
		ContainerPermissions []struct {
			ContainerId int64  `json:"ContainerId"`
			Permission  string `json:"Permission"`
		} `json:"ContainerPermissions"`
	}{Roles: []string{}, GlobalPermissions: []globalPermissionDTO{}}
	for _, role := range p.Roles {
		out.Roles = append(out.Roles, role.Name)
	}
	for _, g := range p.Grants() {
		parts := strings.Split(strings.Trim(string(g.Permission), "/"), "/")
		area := parts[0]
		perm := strings.Join(parts[1:], "/")
		if g.Container != 0 {
			out.ContainerPermissions = append(out.ContainerPermissions, struct {
				ContainerId int64  `json:"ContainerId"`
				Permission  string `json:"Permission"`
			}{g.Container, string(g.Permission)})
			continue
		}
		out.GlobalPermissions = append(out.GlobalPermissions, globalPermissionDTO{Area: area, Permission: perm})
	}
	return writeJSON(w, out)
}
