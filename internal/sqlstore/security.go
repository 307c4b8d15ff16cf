package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
)

// InsertIdentity stores an identity.
func (q Q) InsertIdentity(ctx context.Context, id auth.Identity) (int64, error) {
	if id.CreatedAt.IsZero() {
		id.CreatedAt = time.Now()
	}
	n, err := q.insert(ctx, `INSERT INTO identities (account_name, account_key, identity_type, password_hash, valid, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, id.AccountName, auth.AccountKey(id.AccountName), id.IdentityType, id.PasswordHash, true, q.db.T(id.CreatedAt))
	return n, dup(err)
}

// SetIdentityPassword replaces an identity's password hash.
func (q Q) SetIdentityPassword(ctx context.Context, id int64, hash string) error {
	res, err := q.exec(ctx, `UPDATE identities SET password_hash = ? WHERE id = ?`, hash, id)
	return affected(res, err)
}

// DeleteIdentity deletes an identity.
func (q Q) DeleteIdentity(ctx context.Context, id int64) error {
	res, err := q.exec(ctx, `DELETE FROM identities WHERE id = ?`, id)
	return affected(res, err)
}

const identityCols = `id, account_name, identity_type, coalesce(password_hash, ''), valid, created_at`

func scanIdentity(sc interface{ Scan(...any) error }) (auth.Identity, error) {
	var i auth.Identity
	var created nullTime
	err := sc.Scan(&i.ID, &i.AccountName, &i.IdentityType, &i.PasswordHash, &i.Valid, &created)
	i.CreatedAt = created.Time
	return i, err
}

// Identities lists identities with their roles.
func (q Q) Identities(ctx context.Context) ([]auth.Identity, error) {
	rows, err := q.query(ctx, `SELECT `+identityCols+` FROM identities ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, scanIdentity)
	if err != nil {
		return nil, err
	}
	links, err := q.roleLinks(ctx)
	if err != nil {
		return nil, err
	}
	for k := range out {
		out[k].Roles = links[out[k].ID]
	}
	return out, nil
}

// Identity returns an identity by id with its roles.
func (q Q) Identity(ctx context.Context, id int64) (auth.Identity, error) {
	i, err := scanIdentity(q.row(ctx, `SELECT `+identityCols+` FROM identities WHERE id = ?`, id))
	if err != nil {
		return i, notFound(err)
	}
	i.Roles, err = q.rolesOf(ctx, i.ID)
	return i, err
}

// IdentityByAccount returns an identity by account name (case-insensitive).
func (q Q) IdentityByAccount(ctx context.Context, account string) (auth.Identity, error) {
	i, err := scanIdentity(q.row(ctx, `SELECT `+identityCols+` FROM identities WHERE account_key = ?`, auth.AccountKey(account)))
	if err != nil {
		return i, notFound(err)
	}
	i.Roles, err = q.rolesOf(ctx, i.ID)
	return i, err
}

var _ auth.CredentialStore = Q{}

// IdentityCredentials returns an identity by account name without its roles
// (auth.CredentialStore: enough to check a remembered login).
func (q Q) IdentityCredentials(ctx context.Context, account string) (auth.Identity, error) {
	i, err := scanIdentity(q.row(ctx, `SELECT `+identityCols+` FROM identities WHERE account_key = ?`, auth.AccountKey(account)))
	if err = notFound(err); errors.Is(err, ErrNotFound) {
		return i, auth.ErrNoIdentity
	}
	return i, err
}

func (q Q) roleLinks(ctx context.Context) (map[int64][]auth.RoleRef, error) {
	rows, err := q.query(ctx, `SELECT ri.identity_id, r.id, r.name FROM role_identities ri JOIN roles r ON r.id = ri.role_id ORDER BY r.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]auth.RoleRef{}
	for rows.Next() {
		var iid int64
		var r auth.RoleRef
		if err := rows.Scan(&iid, &r.ID, &r.Name); err != nil {
			return nil, err
		}
		out[iid] = append(out[iid], r)
	}
	return out, rows.Err()
}

func (q Q) rolesOf(ctx context.Context, identityID int64) ([]auth.RoleRef, error) {
	rows, err := q.query(ctx, `SELECT r.id, r.name FROM role_identities ri JOIN roles r ON r.id = ri.role_id WHERE ri.identity_id = ? ORDER BY r.id`, identityID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc rowScanner) (auth.RoleRef, error) {
		var r auth.RoleRef
		err := sc.Scan(&r.ID, &r.Name)
		return r, err
	})
}

// IdentityForLogin implements auth.IdentityStore.
func (q Q) IdentityForLogin(ctx context.Context, account string) (auth.Identity, []string, error) {
	i, err := q.IdentityByAccount(ctx, account)
	if errors.Is(err, ErrNotFound) {
		return i, nil, auth.ErrNoIdentity
	}
	if err != nil {
		return i, nil, err
	}
	// Only enabled roles count: their permissions, and the role list a
	// principal is checked against (workflow approver roles, pattern
	// AssociatedRoles), so disabling a role takes both away.
	rows, err := q.query(ctx, `SELECT r.id, r.name, r.permissions FROM role_identities ri JOIN roles r ON r.id = ri.role_id
		WHERE ri.identity_id = ? AND r.enabled = ? ORDER BY r.id`, i.ID, true)
	if err != nil {
		return i, nil, err
	}
	defer rows.Close()
	var perms []string
	i.Roles = []auth.RoleRef{}
	for rows.Next() {
		var doc string
		var ref auth.RoleRef
		if err := rows.Scan(&ref.ID, &ref.Name, &doc); err != nil {
			return i, nil, err
		}
		i.Roles = append(i.Roles, ref)
		var ps []string
		if err := json.Unmarshal([]byte(doc), &ps); err != nil {
			return i, nil, err
		}
		perms = append(perms, ps...)
	}
	return i, perms, rows.Err()
}

// ---- roles ----

// InsertRole stores a role with its members.
func (q Q) InsertRole(ctx context.Context, r auth.Role) (int64, error) {
	perms, _ := json.Marshal(nonNil(r.Permissions))
	id, err := q.insert(ctx, `INSERT INTO roles (name, name_key, description, enabled, private, immutable, permissions)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Name, strings.ToLower(r.Name), r.Description, r.Enabled, r.Private, r.Immutable, string(perms))
	if err != nil {
		return 0, dup(err)
	}
	return id, q.setRoleMembers(ctx, id, r.Identities)
}

// UpdateRole replaces a role and its members.
func (q Q) UpdateRole(ctx context.Context, r auth.Role) error {
	perms, _ := json.Marshal(nonNil(r.Permissions))
	res, err := q.exec(ctx, `UPDATE roles SET name = ?, name_key = ?, description = ?, enabled = ?, private = ?, permissions = ? WHERE id = ?`,
		r.Name, strings.ToLower(r.Name), r.Description, r.Enabled, r.Private, string(perms), r.ID)
	if err := affected(res, dup(err)); err != nil {
		return err
	}
	return q.setRoleMembers(ctx, r.ID, r.Identities)
}

func (q Q) setRoleMembers(ctx context.Context, roleID int64, ids []auth.IdentityRef) error {
	if _, err := q.exec(ctx, `DELETE FROM role_identities WHERE role_id = ?`, roleID); err != nil {
		return err
	}
	seen := map[int64]bool{}
	for _, i := range ids {
		if seen[i.ID] {
			continue
		}
		seen[i.ID] = true
		if _, err := q.exec(ctx, `INSERT INTO role_identities (role_id, identity_id) VALUES (?, ?)`, roleID, i.ID); err != nil {
			return err
		}
	}
	return nil
}

// AddRoleMember adds one identity to a role (idempotent).
func (q Q) AddRoleMember(ctx context.Context, roleID, identityID int64) error {
	_, err := q.exec(ctx, `INSERT INTO role_identities (role_id, identity_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, roleID, identityID)
	return err
}

// DeleteRole deletes a role.
func (q Q) DeleteRole(ctx context.Context, id int64) error {
	res, err := q.exec(ctx, `DELETE FROM roles WHERE id = ?`, id)
	return affected(res, err)
}

const roleCols = `id, name, description, enabled, private, immutable, permissions`

func scanRole(sc interface{ Scan(...any) error }) (auth.Role, error) {
	var r auth.Role
	var perms string
	if err := sc.Scan(&r.ID, &r.Name, &r.Description, &r.Enabled, &r.Private, &r.Immutable, &perms); err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(perms), &r.Permissions)
}

// Roles lists roles with members.
func (q Q) Roles(ctx context.Context) ([]auth.Role, error) {
	rows, err := q.query(ctx, `SELECT `+roleCols+` FROM roles ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, scanRole)
	if err != nil {
		return nil, err
	}
	for k := range out {
		if out[k].Identities, err = q.membersOf(ctx, out[k].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Role returns a role by id.
func (q Q) Role(ctx context.Context, id int64) (auth.Role, error) {
	r, err := scanRole(q.row(ctx, `SELECT `+roleCols+` FROM roles WHERE id = ?`, id))
	if err != nil {
		return r, notFound(err)
	}
	r.Identities, err = q.membersOf(ctx, r.ID)
	return r, err
}

// RoleByName returns a role by name (case-insensitive).
func (q Q) RoleByName(ctx context.Context, name string) (auth.Role, error) {
	r, err := scanRole(q.row(ctx, `SELECT `+roleCols+` FROM roles WHERE name_key = ?`, strings.ToLower(name)))
	if err != nil {
		return r, notFound(err)
	}
	r.Identities, err = q.membersOf(ctx, r.ID)
	return r, err
}

func (q Q) membersOf(ctx context.Context, roleID int64) ([]auth.IdentityRef, error) {
	rows, err := q.query(ctx, `SELECT i.id, i.account_name FROM role_identities ri JOIN identities i ON i.id = ri.identity_id WHERE ri.role_id = ? ORDER BY i.id`, roleID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(sc rowScanner) (auth.IdentityRef, error) {
		var r auth.IdentityRef
		err := sc.Scan(&r.ID, &r.AccountName)
		return r, err
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
