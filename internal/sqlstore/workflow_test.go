package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/workflow"
)

func TestStore_WorkflowDefinitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, reopen func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		tid, _ := q.InsertTemplate(ctx, policy.Template{CommonName: "WF"})
		pid, err := q.InsertPattern(ctx, policy.Pattern{Name: "WF pattern", TemplateID: tid})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		steps := []workflow.Step{{ID: "s1", ExtensionName: "RequireApproval", UniqueName: "A", Enabled: true,
			ConfigurationParameters: map[string]any{"MinimumApprovals": 2}, Signals: []workflow.Signal{{SignalName: "ApprovalStatus", RoleIDs: []int64{7}}}}}
		d := workflow.Definition{ID: "d1", DisplayName: "Two", WorkflowType: "Enrollment", KeyKind: workflow.KeyPattern, KeyID: pid,
			Enabled: true, DraftVersion: 1, DraftSteps: steps, CreatedAt: now, UpdatedAt: now}
		if err := q.InsertWorkflowDefinition(ctx, d); err != nil {
			t.Fatal(err)
		}
		dup := d
		dup.ID = "d2"
		if err := q.InsertWorkflowDefinition(ctx, dup); !errors.Is(err, sqlstore.ErrDuplicate) {
			t.Fatalf("second definition for the same key: %v", err)
		}
		v := 1
		d.PublishedVersion, d.PublishedSteps = &v, steps
		if err := q.UpdateWorkflowDefinition(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, err := q.WorkflowDefinitionByKey(ctx, "Enrollment", workflow.KeyPattern, pid)
		if err != nil || got.KeyDisplayName != "WF pattern" || got.PublishedVersion == nil || *got.PublishedVersion != 1 ||
			len(got.PublishedSteps) != 1 || got.PublishedSteps[0].Signals[0].RoleIDs[0] != 7 || !got.CreatedAt.Equal(now) {
			t.Fatalf("read back: %+v %v", got, err)
		}
		if _, err := q.WorkflowDefinitionByKey(ctx, "Enrollment", workflow.KeyTemplate, pid); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("template key read as pattern key: %v", err)
		}
		if all, err := q.WorkflowDefinitions(ctx); err != nil || len(all) != 1 {
			t.Fatalf("list: %v %v", all, err)
		}
		if err := q.DeleteWorkflowDefinition(ctx, "d1"); err != nil {
			t.Fatal(err)
		}
		if err := q.DeleteWorkflowDefinition(ctx, "d1"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestStore_WorkflowInstancesSignalsWebhooks(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, reopen func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		reqID, err := q.InsertRequest(ctx, certificate.Request{CreatedAt: now, RequesterName: "alice", Kind: "pfx", State: certificate.StatePending, Subject: "CN=x"})
		if err != nil {
			t.Fatal(err)
		}
		in := workflow.Instance{ID: "i1", DefinitionName: "implicit", WorkflowType: "Enrollment", Title: "t", RequestID: reqID,
			RequesterID: 10, RequesterName: "alice", Status: workflow.StatusSuspended, Steps: []workflow.Step{{UniqueName: "A"}},
			SummarySealed: []byte("sealed summary\x00"), Sealed: []byte{1, 2, 3},
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := q.InsertWorkflowInstance(ctx, in); err != nil {
			t.Fatal(err)
		}
		for i, want := range []bool{true, false} { // one identity counts once
			ok, err := q.InsertWorkflowSignal(ctx, workflow.SignalRecord{InstanceID: "i1", StepIndex: 0, IdentityID: 11, AccountName: "bob", Decision: "APPROVE", At: now})
			if err != nil || ok != want {
				t.Fatalf("signal %d: inserted %v, %v", i, ok, err)
			}
		}
		err = db.WithTx(ctx, func(tx sqlstore.Q) error {
			got, err := tx.LockWorkflowInstance(ctx, "i1")
			if err != nil {
				return err
			}
			if len(got.Signals) != 1 || string(got.Sealed) != "\x01\x02\x03" || string(got.SummarySealed) != "sealed summary\x00" {
				t.Errorf("locked read: %+v", got)
			}
			got.Status, got.Sealed, got.DecidedBy = workflow.StatusRejected, nil, "bob"
			return tx.UpdateWorkflowInstance(ctx, got)
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := q.WorkflowInstanceByRequest(ctx, reqID)
		if err != nil || got.Status != workflow.StatusRejected || got.Sealed != nil || got.DecidedBy != "bob" {
			t.Fatalf("after update: %+v %v", got, err)
		}
		// Expiry looks only at waiting instances.
		if ids, _ := q.ExpiredWorkflowInstances(ctx, now.Add(2*time.Hour)); len(ids) != 0 {
			t.Fatalf("a decided instance listed as expired: %v", ids)
		}
		got.Status = workflow.StatusSuspended
		q.UpdateWorkflowInstance(ctx, got)
		if ids, _ := q.ExpiredWorkflowInstances(ctx, now.Add(time.Hour-time.Second)); len(ids) != 0 {
			t.Fatalf("expired early: %v", ids)
		}
		if ids, _ := q.ExpiredWorkflowInstances(ctx, now.Add(time.Hour)); len(ids) != 1 {
			t.Fatalf("not expired at the deadline: %v", ids)
		}
		mine := int64(10)
		if l, err := q.WorkflowInstances(ctx, workflow.InstanceFilter{RequesterID: &mine, Statuses: []workflow.Status{workflow.StatusSuspended}}); err != nil || len(l) != 1 || len(l[0].Signals) != 1 {
			t.Fatalf("list: %v %v", l, err)
		}
		other := int64(99)
		if l, _ := q.WorkflowInstances(ctx, workflow.InstanceFilter{RequesterID: &other}); len(l) != 0 {
			t.Fatalf("someone else's list: %v", l)
		}

		// The outbox: due order, retry time, sent.
		for i, at := range []time.Time{now.Add(time.Minute), now} {
			if err := q.EnqueueWebhook(ctx, workflow.Webhook{InstanceID: "i1", URL: "http://h/" + string(rune('a'+i)), Method: "POST",
				Headers: map[string]string{"X": "y"}, Body: "{}", NextAt: at, State: workflow.WebhookPending, CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		due, err := q.DueWebhooks(ctx, now, 10)
		if err != nil || len(due) != 1 || due[0].URL != "http://h/b" || due[0].Headers["X"] != "y" {
			t.Fatalf("due now: %+v %v", due, err)
		}
		due[0].State, due[0].Attempts = workflow.WebhookSent, 1
		if err := q.UpdateWebhook(ctx, due[0]); err != nil {
			t.Fatal(err)
		}
		due, _ = q.DueWebhooks(ctx, now.Add(time.Minute), 10)
		if len(due) != 1 || due[0].URL != "http://h/a" {
			t.Fatalf("due later: %+v", due)
		}
	})
}
