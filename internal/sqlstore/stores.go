package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/stores"
)

// ---- store types ----

func scanStoreType(sc interface{ Scan(...any) error }) (stores.StoreType, error) {
	var (
		id               int
		short, name, doc string
		builtin          bool
	)
	if err := sc.Scan(&id, &short, &name, &builtin, &doc); err != nil {
		return stores.StoreType{}, err
	}
	if t, ok := stores.Builtin(id); ok && builtin {
		return t, nil
	}
	var t stores.StoreType
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return t, fmt.Errorf("store type %d: %w", id, err)
	}
	t.ID, t.ShortName, t.Name, t.Builtin = id, short, name, builtin
	return t, nil
}

const storeTypeCols = `id, short_name, name, builtin, doc`

// StoreTypes lists store types by id.
func (q Q) StoreTypes(ctx context.Context) ([]stores.StoreType, error) {
	rows, err := q.query(ctx, `SELECT `+storeTypeCols+` FROM store_types ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collectList(rows, scanStoreType)
}

// StoreTypeByID reads one store type.
func (q Q) StoreTypeByID(ctx context.Context, id int) (stores.StoreType, error) {
	t, err := scanStoreType(q.row(ctx, `SELECT `+storeTypeCols+` FROM store_types WHERE id = ?`, id))
	return t, notFound(err)
}

// StoreTypeByShortName reads one store type by short name, case-insensitively.
func (q Q) StoreTypeByShortName(ctx context.Context, name string) (stores.StoreType, error) {
	t, err := scanStoreType(q.row(ctx, `SELECT `+storeTypeCols+` FROM store_types WHERE short_name_key = ?`, strings.ToLower(name)))
	return t, notFound(err)
}

// InsertStoreType records a user-defined store type.
func (q Q) InsertStoreType(ctx context.Context, t stores.StoreType) (int, error) {
	id, err := q.insert(ctx, `INSERT INTO store_types (short_name, short_name_key, name, builtin, doc) VALUES (?, ?, ?, ?, ?)`,
		t.ShortName, strings.ToLower(t.ShortName), t.Name, false, t.Doc())
	return int(id), dup(err)
}

// UpdateStoreType changes a user-defined store type.
func (q Q) UpdateStoreType(ctx context.Context, t stores.StoreType) error {
	res, err := q.exec(ctx, `UPDATE store_types SET short_name = ?, short_name_key = ?, name = ?, doc = ? WHERE id = ? AND NOT builtin`,
		t.ShortName, strings.ToLower(t.ShortName), t.Name, t.Doc(), t.ID)
	return affected(res, dup(err))
}

// DeleteStoreType deletes a user-defined store type.
func (q Q) DeleteStoreType(ctx context.Context, id int) error {
	return affected(q.exec(ctx, `DELETE FROM store_types WHERE id = ? AND NOT builtin`, id))
}

// StoreTypeInUse reports whether a store or container uses the type.
func (q Q) StoreTypeInUse(ctx context.Context, id int) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT (SELECT COUNT(*) FROM stores WHERE store_type = ?) + (SELECT COUNT(*) FROM store_containers WHERE store_type = ?)`, id, id).Scan(&n)
	return n > 0, err
}

// ---- containers ----

const containerSelect = `SELECT c.id, c.name, c.overwrite_schedules, c.schedule, c.store_type,
	(SELECT COUNT(*) FROM stores s WHERE s.container_id = c.id) FROM store_containers c`

func scanContainer(sc interface{ Scan(...any) error }) (stores.Container, error) {
	var c stores.Container
	err := sc.Scan(&c.ID, &c.Name, &c.OverwriteSchedules, &c.Schedule, &c.StoreType, &c.StoreCount)
	return c, err
}

// Containers lists containers.
func (q Q) Containers(ctx context.Context, l stores.ListQuery) ([]stores.Container, error) {
	text := containerSelect
	if l.Where != "" {
		text += " WHERE " + l.Where
	}
	text += " " + orDefault(l.OrderBy, "ORDER BY c.id") + fmt.Sprintf(" LIMIT %d OFFSET %d", l.Limit, l.Offset)
	rows, err := q.q.QueryContext(ctx, text, l.Args...)
	if err != nil {
		return nil, err
	}
	return collectList(rows, scanContainer)
}

// Container reads one container.
func (q Q) Container(ctx context.Context, id int64) (stores.Container, error) {
	c, err := scanContainer(q.row(ctx, containerSelect+` WHERE c.id = ?`, id))
	return c, notFound(err)
}

// InsertContainer records a container.
func (q Q) InsertContainer(ctx context.Context, c stores.Container) (int64, error) {
	id, err := q.insert(ctx, `INSERT INTO store_containers (name, name_key, overwrite_schedules, schedule, store_type) VALUES (?, ?, ?, ?, ?)`,
		c.Name, strings.ToLower(c.Name), c.OverwriteSchedules, c.Schedule, c.StoreType)
	return id, dup(err)
}

// UpdateContainer changes a container.
func (q Q) UpdateContainer(ctx context.Context, c stores.Container) error {
	res, err := q.exec(ctx, `UPDATE store_containers SET name = ?, name_key = ?, overwrite_schedules = ?, schedule = ?, store_type = ? WHERE id = ?`,
		c.Name, strings.ToLower(c.Name), c.OverwriteSchedules, c.Schedule, c.StoreType, c.ID)
	return affected(res, dup(err))
}

// DeleteContainer deletes a container; its stores lose their container.
func (q Q) DeleteContainer(ctx context.Context, id int64) error {
	if _, err := q.exec(ctx, `UPDATE stores SET container_id = NULL WHERE container_id = ?`, id); err != nil {
		return err
	}
	return affected(q.exec(ctx, `DELETE FROM store_containers WHERE id = ?`, id))
}

// SetContainerSchedule gives every store of a container the schedule.
func (q Q) SetContainerSchedule(ctx context.Context, id int64, schedule string, next *time.Time) error {
	_, err := q.exec(ctx, `UPDATE stores SET inventory_schedule = ?, next_inventory_at = ? WHERE container_id = ?`,
		schedule, q.db.TP(next), id)
	return err
}

// ---- stores ----

const storeSelect = `SELECT s.id, s.container_id, COALESCE(c.name, ''), s.display_name, s.client_machine, s.store_path,
	s.store_type, s.approved, s.create_if_missing, s.properties, s.agent_id, s.inventory_schedule, s.password_sealed,
	s.set_new_password_allowed, s.created_at, s.next_inventory_at
	FROM stores s LEFT JOIN store_containers c ON c.id = s.container_id`

func scanStore(sc interface{ Scan(...any) error }) (stores.StoreRow, error) {
	var (
		r         stores.StoreRow
		container sql.NullInt64
		created   nullTime
		next      nullTime
	)
	err := sc.Scan(&r.ID, &container, &r.ContainerName, &r.DisplayName, &r.ClientMachine, &r.StorePath, &r.StoreType,
		&r.Approved, &r.CreateIfMissing, &r.Properties, &r.AgentID, &r.InventorySchedule, &r.PasswordSealed,
		&r.SetNewPasswordAllowed, &created, &next)
	if err != nil {
		return r, err
	}
	r.ContainerID = intPtr(container)
	r.CreatedAt = created.Time
	r.NextInventoryAt = next.ptr()
	r.HasPassword = len(r.PasswordSealed) > 0
	return r, nil
}

// scanStoreOnly is scanStore without the sealed password: what lists show.
func scanStoreOnly(sc rowScanner) (stores.Store, error) {
	r, err := scanStore(sc)
	return r.Store, err
}

// Stores lists stores.
func (q Q) Stores(ctx context.Context, l stores.ListQuery) ([]stores.Store, error) {
	text := storeSelect
	var conds []string
	args := append([]any{}, l.Args...)
	if l.Where != "" {
		conds = append(conds, "("+l.Where+")")
	}
	if l.Containers != nil {
		if len(l.Containers) == 0 {
			conds = append(conds, "1 = 0")
		} else {
			ph := make([]string, len(l.Containers))
			for i, c := range l.Containers {
				args = append(args, c)
				ph[i] = q.placeholder(len(args))
			}
			conds = append(conds, "s.container_id IN ("+strings.Join(ph, ", ")+")")
		}
	}
	if len(conds) > 0 {
		text += " WHERE " + strings.Join(conds, " AND ")
	}
	text += " " + orDefault(l.OrderBy, "ORDER BY s.id") + fmt.Sprintf(" LIMIT %d OFFSET %d", l.Limit, l.Offset)
	rows, err := q.q.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return collectList(rows, scanStoreOnly)
}

// StoreRow reads one store with its sealed password.
func (q Q) StoreRow(ctx context.Context, id string) (stores.StoreRow, error) {
	r, err := scanStore(q.row(ctx, storeSelect+` WHERE s.id = ?`, strings.ToLower(id)))
	return r, notFound(err)
}

// InsertStore records a store.
func (q Q) InsertStore(ctx context.Context, r stores.StoreRow) error {
	_, err := q.exec(ctx, `INSERT INTO stores (id, container_id, display_name, client_machine, client_machine_key, store_path,
		store_type, approved, create_if_missing, properties, agent_id, inventory_schedule, password_sealed,
		set_new_password_allowed, created_at, next_inventory_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, nullInt(r.ContainerID), r.DisplayName, r.ClientMachine, strings.ToLower(r.ClientMachine), r.StorePath,
		r.StoreType, r.Approved, r.CreateIfMissing, r.Properties, r.AgentID, r.InventorySchedule, nullBytes(r.PasswordSealed),
		r.SetNewPasswordAllowed, q.db.T(r.CreatedAt), q.db.TP(r.NextInventoryAt))
	return dup(err)
}

// UpdateStore changes a store.
func (q Q) UpdateStore(ctx context.Context, r stores.StoreRow) error {
	res, err := q.exec(ctx, `UPDATE stores SET container_id = ?, display_name = ?, client_machine = ?, client_machine_key = ?,
		store_path = ?, store_type = ?, approved = ?, create_if_missing = ?, properties = ?, agent_id = ?, inventory_schedule = ?,
		password_sealed = ?, set_new_password_allowed = ?, next_inventory_at = ? WHERE id = ?`,
		nullInt(r.ContainerID), r.DisplayName, r.ClientMachine, strings.ToLower(r.ClientMachine), r.StorePath, r.StoreType,
		r.Approved, r.CreateIfMissing, r.Properties, r.AgentID, r.InventorySchedule, nullBytes(r.PasswordSealed),
		r.SetNewPasswordAllowed, q.db.TP(r.NextInventoryAt), r.ID)
	return affected(res, dup(err))
}

// DeleteStore deletes a store with its jobs and inventory.
func (q Q) DeleteStore(ctx context.Context, id string) error {
	return affected(q.exec(ctx, `DELETE FROM stores WHERE id = ?`, strings.ToLower(id)))
}

// ---- agents ----

const agentSelect = `SELECT a.agent_id, a.client_machine, a.username, a.platform, a.status, a.version, a.last_seen,
	a.capabilities, a.thumbprint, a.last_error_code, a.last_error_message, a.created_at FROM agents a`

func scanAgent(sc interface{ Scan(...any) error }) (stores.Agent, error) {
	var (
		a          stores.Agent
		seen, made nullTime
		caps       string
	)
	if err := sc.Scan(&a.AgentID, &a.ClientMachine, &a.Username, &a.Platform, &a.Status, &a.Version, &seen, &caps,
		&a.Thumbprint, &a.LastErrorCode, &a.LastErrorMessage, &made); err != nil {
		return a, err
	}
	a.LastSeen = seen.ptr()
	a.CreatedAt = made.Time
	a.Capabilities = []string{}
	_ = json.Unmarshal([]byte(caps), &a.Capabilities)
	return a, nil
}

// Agents lists agents.
func (q Q) Agents(ctx context.Context, l stores.ListQuery) ([]stores.Agent, error) {
	text := agentSelect
	if l.Where != "" {
		text += " WHERE " + l.Where
	}
	text += " " + orDefault(l.OrderBy, "ORDER BY a.agent_id") + fmt.Sprintf(" LIMIT %d OFFSET %d", l.Limit, l.Offset)
	rows, err := q.q.QueryContext(ctx, text, l.Args...)
	if err != nil {
		return nil, err
	}
	return collectList(rows, scanAgent)
}

// Agent reads one agent.
func (q Q) Agent(ctx context.Context, id string) (stores.Agent, error) {
	a, err := scanAgent(q.row(ctx, agentSelect+` WHERE a.agent_id = ?`, strings.ToLower(id)))
	return a, notFound(err)
}

// AgentByThumbprint reads the agent holding a client certificate.
func (q Q) AgentByThumbprint(ctx context.Context, tp string) (stores.Agent, error) {
	if tp == "" {
		return stores.Agent{}, ErrNotFound
	}
	a, err := scanAgent(q.row(ctx, agentSelect+` WHERE a.thumbprint = ?`, strings.ToUpper(tp)))
	return a, notFound(err)
}

func capsJSON(c []string) string {
	if c == nil {
		c = []string{}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// InsertAgent records an agent.
func (q Q) InsertAgent(ctx context.Context, a stores.Agent) error {
	_, err := q.exec(ctx, `INSERT INTO agents (agent_id, client_machine, client_machine_key, username, platform, status, version,
		last_seen, capabilities, thumbprint, last_error_code, last_error_message, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.AgentID, a.ClientMachine, strings.ToLower(a.ClientMachine), a.Username, a.Platform, a.Status, a.Version,
		q.db.TP(a.LastSeen), capsJSON(a.Capabilities), a.Thumbprint, a.LastErrorCode, a.LastErrorMessage, q.db.T(a.CreatedAt))
	return dup(err)
}

// UpdateAgent writes an agent's fields except its status and creation time.
func (q Q) UpdateAgent(ctx context.Context, a stores.Agent) error {
	return affected(q.exec(ctx, `UPDATE agents SET client_machine = ?, client_machine_key = ?, username = ?, platform = ?,
		version = ?, last_seen = ?, capabilities = ?, thumbprint = ?, last_error_code = ?, last_error_message = ? WHERE agent_id = ?`,
		a.ClientMachine, strings.ToLower(a.ClientMachine), a.Username, a.Platform, a.Version, q.db.TP(a.LastSeen),
		capsJSON(a.Capabilities), a.Thumbprint, a.LastErrorCode, a.LastErrorMessage, strings.ToLower(a.AgentID)))
}

// SetAgentStatus sets an agent's status.
func (q Q) SetAgentStatus(ctx context.Context, id string, status int) error {
	return affected(q.exec(ctx, `UPDATE agents SET status = ? WHERE agent_id = ?`, status, strings.ToLower(id)))
}

// InsertRegistrationToken records a bootstrap token's hash.
func (q Q) InsertRegistrationToken(ctx context.Context, t stores.RegistrationToken) (int64, error) {
	return q.insert(ctx, `INSERT INTO agent_registration_tokens (token_hash, description, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, t.TokenHash, t.Description, t.CreatedBy, q.db.T(t.CreatedAt), q.db.T(t.ExpiresAt))
}

// UseRegistrationToken marks an unused, unexpired token used; false when
// there is no such token. One UPDATE, so two registrations racing on one
// token cannot both win.
func (q Q) UseRegistrationToken(ctx context.Context, hash, usedBy string, now time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE agent_registration_tokens SET used_at = ?, used_by = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, q.db.T(now), usedBy, hash, q.db.T(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ---- inventory ----

// ReplaceInventory replaces a store's inventory. thumbprints[i][j] is the
// thumbprint of items[i].Certificates[j].
func (q Q) ReplaceInventory(ctx context.Context, storeID string, items []stores.InventoryItem, thumbprints [][]string, now time.Time) error {
	storeID = strings.ToLower(storeID)
	if _, err := q.exec(ctx, `DELETE FROM store_inventory_certificates WHERE item_id IN (SELECT id FROM store_inventory WHERE store_id = ?)`, storeID); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `DELETE FROM store_inventory WHERE store_id = ?`, storeID); err != nil {
		return err
	}
	for i, it := range items {
		id, err := q.insert(ctx, `INSERT INTO store_inventory (store_id, alias, private_key_entry, reported_at) VALUES (?, ?, ?, ?)`,
			storeID, it.Alias, it.PrivateKeyEntry, q.db.T(now))
		if err != nil {
			return err
		}
		for j, der := range it.Certificates {
			tp := thumbprints[i][j]
			var certID sql.NullInt64
			err := q.row(ctx, `SELECT id FROM certificates WHERE thumbprint = ?`, tp).Scan(&certID)
			if err != nil && err != sql.ErrNoRows {
				return err
			}
			if _, err := q.exec(ctx, `INSERT INTO store_inventory_certificates (item_id, chain_level, thumbprint, certificate_id, der)
				VALUES (?, ?, ?, ?, ?)`, id, j, tp, nullInt(intPtr(certID)), der); err != nil {
				return err
			}
		}
	}
	return nil
}

// Inventory returns a page of a store's inventory entries with their certificates.
func (q Q) Inventory(ctx context.Context, storeID string, limit, offset int) ([]stores.InventoryEntry, error) {
	rows, err := q.queryBuilt(ctx, fmt.Sprintf(`SELECT id, store_id, alias, private_key_entry, reported_at FROM store_inventory
		WHERE store_id = ? ORDER BY alias, id LIMIT %d OFFSET %d`, limit, offset), strings.ToLower(storeID))
	if err != nil {
		return nil, err
	}
	out, err := collectList(rows, func(sc rowScanner) (stores.InventoryEntry, error) {
		e := stores.InventoryEntry{Certificates: []stores.InventoryCert{}}
		var at nullTime
		err := sc.Scan(&e.ID, &e.StoreID, &e.Alias, &e.PrivateKeyEntry, &at)
		e.ReportedAt = at.Time
		return e, err
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	idx := make(map[int64]int, len(out))
	ids := make([]any, len(out))
	for k, e := range out {
		idx[e.ID], ids[k] = k, e.ID
	}
	crows, err := q.queryBuilt(ctx, `SELECT item_id, chain_level, thumbprint, certificate_id, der FROM store_inventory_certificates
		WHERE item_id IN (`+marks(len(ids))+`) ORDER BY item_id, chain_level`, ids...)
	if err != nil {
		return nil, err
	}
	defer crows.Close()
	for crows.Next() {
		var (
			item int64
			c    stores.InventoryCert
			cid  sql.NullInt64
		)
		if err := crows.Scan(&item, &c.ChainLevel, &c.Thumbprint, &cid, &c.DER); err != nil {
			return nil, err
		}
		c.CertificateID = intPtr(cid)
		k := idx[item]
		out[k].Certificates = append(out[k].Certificates, c)
	}
	return out, crows.Err()
}

// LocationsOf lists where a certificate was inventoried.
func (q Q) LocationsOf(ctx context.Context, certID int64) ([]stores.Location, error) {
	rows, err := q.query(ctx, `SELECT ic.certificate_id, s.id, s.client_machine, s.store_path, s.store_type, i.alias, ic.chain_level
		FROM store_inventory_certificates ic
		JOIN store_inventory i ON i.id = ic.item_id
		JOIN stores s ON s.id = i.store_id
		WHERE ic.certificate_id = ? ORDER BY s.client_machine, s.store_path, i.alias`, certID)
	if err != nil {
		return nil, err
	}
	return collectList(rows, func(sc rowScanner) (stores.Location, error) {
		var l stores.Location
		err := sc.Scan(&l.CertificateID, &l.StoreID, &l.StoreMachine, &l.StorePath, &l.StoreType, &l.Alias, &l.ChainLevel)
		return l, err
	})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
