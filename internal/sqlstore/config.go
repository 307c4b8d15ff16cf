package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/policy"
)

// ---- settings ----

// Setting reads a named JSON document into v; ok is false when absent.
func (q Q) Setting(ctx context.Context, name string, v any) (bool, error) {
	var doc string
	err := q.row(ctx, `SELECT doc FROM settings WHERE name = ?`, name).Scan(&doc)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal([]byte(doc), v)
}

// PutSetting stores a named JSON document.
func (q Q) PutSetting(ctx context.Context, name string, v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO settings (name, doc) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET doc = excluded.doc`, name, string(doc))
	return err
}

// Settings returns the system-wide settings (defaults when never saved).
func (q Q) Settings(ctx context.Context) (policy.Settings, error) {
	s := policy.DefaultSettings()
	_, err := q.Setting(ctx, "enrollment", &s)
	return s, err
}

// PutSettings saves the system-wide settings.
func (q Q) PutSettings(ctx context.Context, s policy.Settings) error {
	return q.PutSetting(ctx, "enrollment", s)
}

// ---- certificate authorities ----

// CARow is a stored CA with its key material.
type CARow struct {
	policy.CA
	CertDER   []byte
	ChainDER  []byte // concatenated DER of the chain above the CA cert
	KeySealed []byte
}

type caDoc struct {
	Standalone             bool
	AllowedEnrollmentTypes int
	KeyRetention           policy.KeyRetention
	KeyRetentionDays       int
	StandaloneValidityDays int
	StandaloneEKUs         []string
}

// InsertCA stores a CA.
func (q Q) InsertCA(ctx context.Context, r CARow) (int64, error) {
	doc, _ := json.Marshal(caDoc{r.Standalone, r.AllowedEnrollmentTypes, r.KeyRetention, r.KeyRetentionDays, r.StandaloneValidityDays, r.StandaloneEKUs})
	id, err := q.insert(ctx, `INSERT INTO certificate_authorities
		(logical_name, host_name, kind, role, cert_der, chain_der, key_sealed, doc, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.LogicalName, r.HostName, r.Kind, r.Role, r.CertDER, r.ChainDER, r.KeySealed, string(doc), q.db.T(r.CreatedAt))
	return id, dup(err)
}

// UpdateCAConfig updates a CA's editable settings.
func (q Q) UpdateCAConfig(ctx context.Context, c policy.CA) error {
	doc, _ := json.Marshal(caDoc{c.Standalone, c.AllowedEnrollmentTypes, c.KeyRetention, c.KeyRetentionDays, c.StandaloneValidityDays, c.StandaloneEKUs})
	res, err := q.exec(ctx, `UPDATE certificate_authorities SET host_name = ?, doc = ? WHERE id = ?`, c.HostName, string(doc), c.ID)
	return affected(res, err)
}

// SetCAHost changes the host part of every CA's name (the server's hostname).
func (q Q) SetCAHost(ctx context.Context, host string) error {
	_, err := q.exec(ctx, `UPDATE certificate_authorities SET host_name = ?`, host)
	return err
}

const caCols = `id, logical_name, host_name, kind, role, cert_der, chain_der, key_sealed, doc, created_at`

func scanCA(sc interface{ Scan(...any) error }) (CARow, error) {
	var r CARow
	var doc string
	var created nullTime
	if err := sc.Scan(&r.ID, &r.LogicalName, &r.HostName, &r.Kind, &r.Role, &r.CertDER, &r.ChainDER, &r.KeySealed, &doc, &created); err != nil {
		return r, err
	}
	var d caDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return r, err
	}
	r.Standalone, r.AllowedEnrollmentTypes, r.KeyRetention, r.KeyRetentionDays = d.Standalone, d.AllowedEnrollmentTypes, d.KeyRetention, d.KeyRetentionDays
	r.StandaloneValidityDays, r.StandaloneEKUs = d.StandaloneValidityDays, d.StandaloneEKUs
	r.CreatedAt = created.Time
	return r, nil
}

// CAs lists CAs of the given role ("" for all) by id.
func (q Q) CAs(ctx context.Context, role string) ([]CARow, error) {
	rows, err := q.query(ctx, `SELECT `+caCols+` FROM certificate_authorities WHERE (? = '' OR role = ?) ORDER BY id`, role, role)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanCA)
}

// CA returns one CA by id.
func (q Q) CA(ctx context.Context, id int64) (CARow, error) {
	r, err := scanCA(q.row(ctx, `SELECT `+caCols+` FROM certificate_authorities WHERE id = ?`, id))
	return r, notFound(err)
}

// CAByLogicalName returns one CA by logical name (case-insensitive).
func (q Q) CAByLogicalName(ctx context.Context, name string) (CARow, error) {
	r, err := scanCA(q.row(ctx, `SELECT `+caCols+` FROM certificate_authorities WHERE lower(logical_name) = lower(?)`, name))
	return r, notFound(err)
}

// ---- templates ----

// InsertTemplate stores a template.
func (q Q) InsertTemplate(ctx context.Context, t policy.Template) (int64, error) {
	t.ID = 0
	doc, _ := json.Marshal(t)
	id, err := q.insert(ctx, `INSERT INTO templates (common_name, doc) VALUES (?, ?)`, t.CommonName, string(doc))
	return id, dup(err)
}

// UpdateTemplate replaces a template.
func (q Q) UpdateTemplate(ctx context.Context, t policy.Template) error {
	id := t.ID
	t.ID = 0
	doc, _ := json.Marshal(t)
	res, err := q.exec(ctx, `UPDATE templates SET common_name = ?, doc = ? WHERE id = ?`, t.CommonName, string(doc), id)
	return affected(res, dup(err))
}

func scanTemplate(sc interface{ Scan(...any) error }) (policy.Template, error) {
	var id int64
	var name, doc string
	if err := sc.Scan(&id, &name, &doc); err != nil {
		return policy.Template{}, err
	}
	var t policy.Template
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return t, fmt.Errorf("template %d: %w", id, err)
	}
	t.ID, t.CommonName = id, name
	return t, nil
}

// Templates lists templates by id.
func (q Q) Templates(ctx context.Context) ([]policy.Template, error) {
	rows, err := q.query(ctx, `SELECT id, common_name, doc FROM templates ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanTemplate)
}

// Template returns a template by id.
func (q Q) Template(ctx context.Context, id int64) (policy.Template, error) {
	t, err := scanTemplate(q.row(ctx, `SELECT id, common_name, doc FROM templates WHERE id = ?`, id))
	return t, notFound(err)
}

// TemplateByName returns a template by its short name (case-insensitive).
func (q Q) TemplateByName(ctx context.Context, name string) (policy.Template, error) {
	t, err := scanTemplate(q.row(ctx, `SELECT id, common_name, doc FROM templates WHERE lower(common_name) = lower(?)`, name))
	return t, notFound(err)
}

// ---- enrollment patterns ----

// InsertPattern stores a pattern. Names are unique ignoring case (name_key
// is the lower-cased name under a unique index): a clash is ErrDuplicate. When it is the template default, any other
// default of the same template is cleared in the same transaction.
func (q Q) InsertPattern(ctx context.Context, p policy.Pattern) (int64, error) {
	p.ID = 0
	doc, _ := json.Marshal(p)
	if p.TemplateDefault {
		if _, err := q.exec(ctx, `UPDATE enrollment_patterns SET template_default = ? WHERE template_id = ?`, false, p.TemplateID); err != nil {
			return 0, err
		}
	}
	id, err := q.insert(ctx, `INSERT INTO enrollment_patterns (name, name_key, template_id, template_default, doc) VALUES (?, ?, ?, ?, ?)`,
		p.Name, strings.ToLower(p.Name), p.TemplateID, p.TemplateDefault, string(doc))
	return id, dup(err)
}

// UpdatePattern replaces a pattern.
func (q Q) UpdatePattern(ctx context.Context, p policy.Pattern) error {
	id := p.ID
	p.ID = 0
	doc, _ := json.Marshal(p)
	if p.TemplateDefault {
		if _, err := q.exec(ctx, `UPDATE enrollment_patterns SET template_default = ? WHERE template_id = ? AND id <> ?`, false, p.TemplateID, id); err != nil {
			return err
		}
	}
	res, err := q.exec(ctx, `UPDATE enrollment_patterns SET name = ?, name_key = ?, template_id = ?, template_default = ?, doc = ? WHERE id = ?`,
		p.Name, strings.ToLower(p.Name), p.TemplateID, p.TemplateDefault, string(doc), id)
	return affected(res, dup(err))
}

// DeletePattern deletes a pattern.
func (q Q) DeletePattern(ctx context.Context, id int64) error {
	res, err := q.exec(ctx, `DELETE FROM enrollment_patterns WHERE id = ?`, id)
	return affected(res, err)
}

func scanPattern(sc interface{ Scan(...any) error }) (policy.Pattern, error) {
	var id, tid int64
	var name, doc string
	var def bool
	if err := sc.Scan(&id, &name, &tid, &def, &doc); err != nil {
		return policy.Pattern{}, err
	}
	var p policy.Pattern
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return p, fmt.Errorf("pattern %d: %w", id, err)
	}
	p.ID, p.Name, p.TemplateID, p.TemplateDefault = id, name, tid, def
	return p, nil
}

// Patterns lists patterns by id.
func (q Q) Patterns(ctx context.Context) ([]policy.Pattern, error) {
	rows, err := q.query(ctx, `SELECT id, name, template_id, template_default, doc FROM enrollment_patterns ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanPattern)
}

// Pattern returns a pattern by id.
func (q Q) Pattern(ctx context.Context, id int64) (policy.Pattern, error) {
	p, err := scanPattern(q.row(ctx, `SELECT id, name, template_id, template_default, doc FROM enrollment_patterns WHERE id = ?`, id))
	return p, notFound(err)
}

// PatternByName returns a pattern by name (case-insensitive).
func (q Q) PatternByName(ctx context.Context, name string) (policy.Pattern, error) {
	p, err := scanPattern(q.row(ctx, `SELECT id, name, template_id, template_default, doc FROM enrollment_patterns WHERE name_key = ?`, strings.ToLower(name)))
	return p, notFound(err)
}

// DefaultPattern returns the template's default pattern.
func (q Q) DefaultPattern(ctx context.Context, templateID int64) (policy.Pattern, error) {
	p, err := scanPattern(q.row(ctx, `SELECT id, name, template_id, template_default, doc FROM enrollment_patterns
		WHERE template_id = ? AND template_default = ? ORDER BY id LIMIT 1`, templateID, true))
	return p, notFound(err)
}

// ---- metadata fields ----

// InsertMetadataField stores a metadata field.
func (q Q) InsertMetadataField(ctx context.Context, f policy.MetadataField) (int64, error) {
	f.ID = 0
	doc, _ := json.Marshal(f)
	id, err := q.insert(ctx, `INSERT INTO metadata_fields (name, doc) VALUES (?, ?)`, f.Name, string(doc))
	return id, dup(err)
}

// UpdateMetadataField replaces a metadata field.
func (q Q) UpdateMetadataField(ctx context.Context, f policy.MetadataField) error {
	id := f.ID
	f.ID = 0
	doc, _ := json.Marshal(f)
	res, err := q.exec(ctx, `UPDATE metadata_fields SET name = ?, doc = ? WHERE id = ?`, f.Name, string(doc), id)
	return affected(res, dup(err))
}

// DeleteMetadataField deletes a metadata field.
func (q Q) DeleteMetadataField(ctx context.Context, id int64) error {
	res, err := q.exec(ctx, `DELETE FROM metadata_fields WHERE id = ?`, id)
	return affected(res, err)
}

func scanField(sc interface{ Scan(...any) error }) (policy.MetadataField, error) {
	var id int64
	var name, doc string
	if err := sc.Scan(&id, &name, &doc); err != nil {
		return policy.MetadataField{}, err
	}
	var f policy.MetadataField
	if err := json.Unmarshal([]byte(doc), &f); err != nil {
		return f, err
	}
	f.ID, f.Name = id, name
	return f, nil
}

// MetadataFields lists metadata fields by id (DisplayOrder, kept in each
// field's doc, does not order the list).
func (q Q) MetadataFields(ctx context.Context) ([]policy.MetadataField, error) {
	rows, err := q.query(ctx, `SELECT id, name, doc FROM metadata_fields ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanField)
}

// MetadataField returns a metadata field by id.
func (q Q) MetadataField(ctx context.Context, id int64) (policy.MetadataField, error) {
	f, err := scanField(q.row(ctx, `SELECT id, name, doc FROM metadata_fields WHERE id = ?`, id))
	return f, notFound(err)
}

// MetadataFieldByName returns a metadata field by name (case-insensitive).
func (q Q) MetadataFieldByName(ctx context.Context, name string) (policy.MetadataField, error) {
	f, err := scanField(q.row(ctx, `SELECT id, name, doc FROM metadata_fields WHERE lower(name) = lower(?)`, name))
	return f, notFound(err)
}

// MetadataFieldInUse reports whether any certificate has a value for the field.
func (q Q) MetadataFieldInUse(ctx context.Context, name string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT count(*) FROM certificate_metadata WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

// ---- audit ----

// Audit appends to the audit trail.
func (q Q) Audit(ctx context.Context, at time.Time, actor, action, target, details string) error {
	_, err := q.exec(ctx, `INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)`,
		q.db.T(at), actor, action, target, details)
	return err
}

func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// CAIDs returns every CA by id.
func (q Q) CAIDs(ctx context.Context) (map[int64]policy.CA, error) {
	rows, err := q.CAs(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make(map[int64]policy.CA, len(rows))
	for _, r := range rows {
		out[r.ID] = r.CA
	}
	return out, nil
}
