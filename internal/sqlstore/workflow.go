package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/workflow"
)

// ---- workflow definitions ----

func stepsJSON(steps []workflow.Step) string {
	if steps == nil {
		steps = []workflow.Step{}
	}
	b, _ := json.Marshal(steps)
	return string(b)
}

// publishedArgs are the published_version and published_steps arguments
// of d: NULL while nothing is published.
func publishedArgs(d workflow.Definition) (version, steps any) {
	if d.PublishedVersion != nil {
		version = *d.PublishedVersion
	}
	if d.PublishedSteps != nil {
		steps = stepsJSON(d.PublishedSteps)
	}
	return version, steps
}

// InsertWorkflowDefinition stores a new definition.
func (q Q) InsertWorkflowDefinition(ctx context.Context, d workflow.Definition) error {
	pub, pubSteps := publishedArgs(d)
	_, err := q.exec(ctx, `INSERT INTO workflow_definitions (id, display_name, description, workflow_type, key_kind, key_id, enabled,
		draft_version, published_version, draft_steps, published_steps, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.DisplayName, d.Description, d.WorkflowType, d.KeyKind, d.KeyID, d.Enabled, d.DraftVersion, pub,
		stepsJSON(d.DraftSteps), pubSteps, q.db.T(d.CreatedAt), q.db.T(d.UpdatedAt))
	return dup(err)
}

// UpdateWorkflowDefinition rewrites a definition's mutable columns.
func (q Q) UpdateWorkflowDefinition(ctx context.Context, d workflow.Definition) error {
	pub, pubSteps := publishedArgs(d)
	return affected(q.exec(ctx, `UPDATE workflow_definitions SET display_name = ?, description = ?, enabled = ?, draft_version = ?,
		published_version = ?, draft_steps = ?, published_steps = ?, updated_at = ? WHERE id = ?`,
		d.DisplayName, d.Description, d.Enabled, d.DraftVersion, pub, stepsJSON(d.DraftSteps), pubSteps, q.db.T(d.UpdatedAt), d.ID))
}

// DeleteWorkflowDefinition removes a definition.
func (q Q) DeleteWorkflowDefinition(ctx context.Context, id string) error {
	return affected(q.exec(ctx, `DELETE FROM workflow_definitions WHERE id = ?`, id))
}

const defSelect = `SELECT d.id, d.display_name, d.description, d.workflow_type, d.key_kind, d.key_id, d.enabled, d.draft_version,
	d.published_version, d.draft_steps, d.published_steps, d.created_at, d.updated_at,
	coalesce(CASE WHEN d.key_kind = 'template' THEN t.common_name ELSE p.name END, '')
	FROM workflow_definitions d
	LEFT JOIN templates t ON d.key_kind = 'template' AND t.id = d.key_id
	LEFT JOIN enrollment_patterns p ON d.key_kind = 'pattern' AND p.id = d.key_id`

func scanDefinition(sc interface{ Scan(...any) error }) (workflow.Definition, error) {
	var d workflow.Definition
	var pub sql.NullInt64
	var draft string
	var pubSteps sql.NullString
	var created, updated nullTime
	if err := sc.Scan(&d.ID, &d.DisplayName, &d.Description, &d.WorkflowType, &d.KeyKind, &d.KeyID, &d.Enabled, &d.DraftVersion,
		&pub, &draft, &pubSteps, &created, &updated, &d.KeyDisplayName); err != nil {
		return d, err
	}
	if pub.Valid {
		v := int(pub.Int64)
		d.PublishedVersion = &v
	}
	if err := json.Unmarshal([]byte(draft), &d.DraftSteps); err != nil {
		return d, err
	}
	if pubSteps.Valid {
		if err := json.Unmarshal([]byte(pubSteps.String), &d.PublishedSteps); err != nil {
			return d, err
		}
	}
	d.CreatedAt, d.UpdatedAt = created.Time, updated.Time
	return d, nil
}

// WorkflowDefinition reads one definition.
func (q Q) WorkflowDefinition(ctx context.Context, id string) (workflow.Definition, error) {
	d, err := scanDefinition(q.row(ctx, defSelect+` WHERE d.id = ?`, id))
	return d, notFound(err)
}

// WorkflowDefinitionByKey reads the definition of a type and key.
func (q Q) WorkflowDefinitionByKey(ctx context.Context, typ, kind string, keyID int64) (workflow.Definition, error) {
	d, err := scanDefinition(q.row(ctx, defSelect+` WHERE d.workflow_type = ? AND d.key_kind = ? AND d.key_id = ?`, typ, kind, keyID))
	return d, notFound(err)
}

// WorkflowDefinitions lists definitions by name.
func (q Q) WorkflowDefinitions(ctx context.Context) ([]workflow.Definition, error) {
	rows, err := q.query(ctx, defSelect+` ORDER BY d.display_name, d.id`)
	if err != nil {
		return nil, err
	}
	return collectList(rows, scanDefinition)
}

// ---- workflow instances ----

// InsertWorkflowInstance stores a new instance.
func (q Q) InsertWorkflowInstance(ctx context.Context, in workflow.Instance) error {
	var def any
	if in.DefinitionID != "" {
		def = in.DefinitionID
	}
	_, err := q.exec(ctx, `INSERT INTO workflow_instances (id, definition_id, definition_version, definition_name, workflow_type, title,
		request_id, requester_id, requester_name, status, current_step, status_message, steps, summary, payload_sealed, certificate_id,
		created_at, updated_at, expires_at, decided_by, decision_comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, def, in.DefinitionVersion, in.DefinitionName, in.WorkflowType, in.Title, in.RequestID, in.RequesterID, in.RequesterName,
		int(in.Status), in.CurrentStep, in.StatusMessage, stepsJSON(in.Steps), base64.StdEncoding.EncodeToString(in.SummarySealed), in.Sealed, nullInt(in.CertificateID),
		q.db.T(in.CreatedAt), q.db.T(in.UpdatedAt), q.db.T(in.ExpiresAt), in.DecidedBy, in.DecisionComment)
	return err
}

// UpdateWorkflowInstance writes an instance's state.
func (q Q) UpdateWorkflowInstance(ctx context.Context, in workflow.Instance) error {
	return affected(q.exec(ctx, `UPDATE workflow_instances SET status = ?, current_step = ?, status_message = ?, payload_sealed = ?,
		certificate_id = ?, updated_at = ?, decided_by = ?, decision_comment = ? WHERE id = ?`,
		int(in.Status), in.CurrentStep, in.StatusMessage, in.Sealed, nullInt(in.CertificateID), q.db.T(in.UpdatedAt),
		in.DecidedBy, in.DecisionComment, in.ID))
}

const instSelect = `SELECT id, coalesce(definition_id, ''), definition_version, definition_name, workflow_type, title, request_id,
	requester_id, requester_name, status, current_step, status_message, steps, summary, payload_sealed, certificate_id, created_at,
	updated_at, expires_at, decided_by, decision_comment FROM workflow_instances`

func scanInstance(sc interface{ Scan(...any) error }) (workflow.Instance, error) {
	var in workflow.Instance
	var status int
	var steps, summary string
	var cert sql.NullInt64
	var created, updated, expires nullTime
	if err := sc.Scan(&in.ID, &in.DefinitionID, &in.DefinitionVersion, &in.DefinitionName, &in.WorkflowType, &in.Title, &in.RequestID,
		&in.RequesterID, &in.RequesterName, &status, &in.CurrentStep, &in.StatusMessage, &steps, &summary, &in.Sealed, &cert,
		&created, &updated, &expires, &in.DecidedBy, &in.DecisionComment); err != nil {
		return in, err
	}
	in.Status = workflow.Status(status)
	in.CertificateID = intPtr(cert)
	in.CreatedAt, in.UpdatedAt, in.ExpiresAt = created.Time, updated.Time, expires.Time
	if err := json.Unmarshal([]byte(steps), &in.Steps); err != nil {
		return in, err
	}
	// summary holds the sealed summary, base64: it names the requested
	// subject and stores, which stay encrypted at rest.
	var err error
	if in.SummarySealed, err = base64.StdEncoding.DecodeString(summary); err != nil {
		return in, err
	}
	return in, nil
}

func (q Q) instanceWith(ctx context.Context, where string, lock bool, args ...any) (workflow.Instance, error) {
	query := instSelect + ` WHERE ` + where
	if lock && q.db.dialect == Postgres {
		query += ` FOR UPDATE`
	}
	in, err := scanInstance(q.row(ctx, query, args...))
	if err != nil {
		return in, notFound(err)
	}
	sigs, err := q.signals(ctx, []string{in.ID})
	in.Signals = sigs[in.ID]
	return in, err
}

// LockWorkflowInstance reads an instance for update. SQLite transactions
// here take the write lock up front (_txlock=immediate), which serialises
// them; PostgreSQL locks the row.
func (q Q) LockWorkflowInstance(ctx context.Context, id string) (workflow.Instance, error) {
	return q.instanceWith(ctx, `id = ?`, true, id)
}

// WorkflowInstance reads one instance with its signals.
func (q Q) WorkflowInstance(ctx context.Context, id string) (workflow.Instance, error) {
	return q.instanceWith(ctx, `id = ?`, false, id)
}

// WorkflowInstanceByRequest reads the instance of a certificate request.
func (q Q) WorkflowInstanceByRequest(ctx context.Context, requestID int64) (workflow.Instance, error) {
	return q.instanceWith(ctx, `request_id = ?`, false, requestID)
}

// WorkflowInstances lists instances, newest first.
func (q Q) WorkflowInstances(ctx context.Context, f workflow.InstanceFilter) ([]workflow.Instance, error) {
	var where []string
	var args []any
	if f.RequesterID != nil {
		where = append(where, `requester_id = ?`)
		args = append(args, *f.RequesterID)
	}
	if len(f.Statuses) > 0 {
		ph := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			ph[i] = "?"
			args = append(args, int(s))
		}
		where = append(where, `status IN (`+strings.Join(ph, ", ")+`)`)
	}
	query := instSelect
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := q.query(ctx, query+` ORDER BY created_at DESC, request_id DESC`, args...)
	if err != nil {
		return nil, err
	}
	out, err := collectList(rows, scanInstance)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, in := range out {
		ids = append(ids, in.ID)
	}
	sigs, err := q.signals(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Signals = sigs[out[i].ID]
	}
	return out, nil
}

// ExpiredWorkflowInstances lists waiting instances whose time is up.
func (q Q) ExpiredWorkflowInstances(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := q.query(ctx, `SELECT id FROM workflow_instances WHERE status = ? AND expires_at <= ? ORDER BY expires_at`,
		int(workflow.StatusSuspended), q.db.T(now))
	if err != nil {
		return nil, err
	}
	return collect(rows, scanValue[string])
}

func (q Q) signals(ctx context.Context, ids []string) (map[string][]workflow.SignalRecord, error) {
	out := map[string][]workflow.SignalRecord{}
	for start := 0; start < len(ids); start += 500 {
		end := min(start+500, len(ids))
		args := make([]any, 0, end-start)
		for _, id := range ids[start:end] {
			args = append(args, id)
		}
		rows, err := q.queryBuilt(ctx, `SELECT instance_id, step_index, identity_id, account_name, decision, comment, at FROM workflow_signals
			WHERE instance_id IN (`+marks(len(args))+`) ORDER BY id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s workflow.SignalRecord
			var at nullTime
			if err := rows.Scan(&s.InstanceID, &s.StepIndex, &s.IdentityID, &s.AccountName, &s.Decision, &s.Comment, &at); err != nil {
				rows.Close()
				return nil, err
			}
			s.At = at.Time
			out[s.InstanceID] = append(out[s.InstanceID], s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InsertWorkflowSignal records a signal; false when the identity already
// signalled this step (the unique key makes one identity count once even
// under concurrent requests).
func (q Q) InsertWorkflowSignal(ctx context.Context, s workflow.SignalRecord) (bool, error) {
	res, err := q.exec(ctx, `INSERT INTO workflow_signals (instance_id, step_index, identity_id, account_name, decision, comment, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (instance_id, step_index, identity_id) DO NOTHING`,
		s.InstanceID, s.StepIndex, s.IdentityID, s.AccountName, s.Decision, s.Comment, q.db.T(s.At))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ---- webhook outbox ----

// EnqueueWebhook queues a webhook.
func (q Q) EnqueueWebhook(ctx context.Context, w workflow.Webhook) error {
	h := w.Headers
	if h == nil {
		h = map[string]string{}
	}
	hb, _ := json.Marshal(h)
	_, err := q.exec(ctx, `INSERT INTO workflow_webhooks (instance_id, url, method, headers, body, attempts, next_at, state, last_error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.InstanceID, w.URL, w.Method, string(hb), w.Body, w.Attempts, q.db.T(w.NextAt),
		w.State, w.LastError, q.db.T(w.CreatedAt))
	return err
}

const webhookSelect = `SELECT id, instance_id, url, method, headers, body, attempts, next_at, state, last_error, created_at
		FROM workflow_webhooks`

// webhookScanner reads a webhookSelect row. strict makes headers that do
// not decode an error; otherwise (diagnostics) that error is ignored.
func webhookScanner(strict bool) func(rowScanner) (workflow.Webhook, error) {
	return func(sc rowScanner) (workflow.Webhook, error) {
		var w workflow.Webhook
		var hb string
		var next, created nullTime
		if err := sc.Scan(&w.ID, &w.InstanceID, &w.URL, &w.Method, &hb, &w.Body, &w.Attempts, &next, &w.State, &w.LastError, &created); err != nil {
			return w, err
		}
		if err := json.Unmarshal([]byte(hb), &w.Headers); err != nil && strict {
			return w, err
		}
		w.NextAt, w.CreatedAt = next.Time, created.Time
		return w, nil
	}
}

// DueWebhooks lists pending webhooks due at now, oldest first.
func (q Q) DueWebhooks(ctx context.Context, now time.Time, limit int) ([]workflow.Webhook, error) {
	rows, err := q.query(ctx, webhookSelect+` WHERE state = ? AND next_at <= ? ORDER BY next_at, id LIMIT ?`, workflow.WebhookPending, q.db.T(now), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, webhookScanner(true))
}

// UpdateWebhook records a delivery attempt.
func (q Q) UpdateWebhook(ctx context.Context, w workflow.Webhook) error {
	return affected(q.exec(ctx, `UPDATE workflow_webhooks SET attempts = ?, next_at = ?, state = ?, last_error = ? WHERE id = ?`,
		w.Attempts, q.db.T(w.NextAt), w.State, w.LastError, w.ID))
}

// Webhooks lists an instance's webhooks (tests and diagnostics).
func (q Q) Webhooks(ctx context.Context, instanceID string) ([]workflow.Webhook, error) {
	rows, err := q.query(ctx, webhookSelect+` WHERE instance_id = ? ORDER BY id`, instanceID)
	if err != nil {
		return nil, err
	}
	return collect(rows, webhookScanner(false))
}

var _ workflow.Store = Q{}
