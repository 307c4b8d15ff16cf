package workflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/workflow"
)

// A failed issuance is not retried by itself; Restart re-runs it with the
// approvals already given and the snapshot taken at request time.
func TestApproval_RestartAfterFailedIssuance(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		pid, d, r := e.heldForApproval(t, requester, 1)
		e.iss.fail = errs.E(errs.Unavailable, errs.CodeUnavailable, "CA offline")
		in, err := e.svc.Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"})
		if err != nil || in.Status != workflow.StatusFailed {
			t.Fatalf("failed issuance: %v %v", in.Status, err)
		}
		// Nothing retries it in the background.
		if err := e.svc.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.iss.count(); n != 1 {
			t.Fatalf("issuer called %d times before a restart", n)
		}

		// Refusals: unknown id, a version the instance does not run.
		if _, err := e.svc.Restart(ctx, manager, "no-such-instance", nil); kindOf(err) != errs.NotFound {
			t.Errorf("restart unknown: %v", err)
		}
		wrong := *d.PublishedVersion + 1
		if _, err := e.svc.Restart(ctx, manager, r.InstanceID, &wrong); kindOf(err) != errs.Invalid || !strings.HasPrefix(errs.As(err).Message, "version") {
			t.Errorf("restart with version %d: %v", wrong, err)
		}

		// Still offline: Failed again, with the new reason.
		in, err = e.svc.Restart(ctx, manager, r.InstanceID, nil)
		if err != nil || in.Status != workflow.StatusFailed || !strings.Contains(in.StatusMessage, "CA offline") {
			t.Fatalf("restart while the CA is down: %v %q %v", in.Status, in.StatusMessage, err)
		}
		// Back online: the restart issues, from the snapshot taken at request time.
		e.iss.mu.Lock()
		e.iss.fail = nil
		e.iss.mu.Unlock()
		v := *d.PublishedVersion
		in, err = e.svc.Restart(ctx, manager, r.InstanceID, &v)
		if err != nil || in.Status != workflow.StatusComplete || in.CertificateID == nil {
			t.Fatalf("restart after the CA is back: %v %q %v", in.Status, in.StatusMessage, err)
		}
		if n := e.iss.count(); n != 3 || e.iss.snaps[2] != `{"secret":"the password"}` {
			t.Fatalf("issuer calls %d, last snapshot %q", n, e.iss.snaps[n-1])
		}
		hs, err := e.db.Q().History(ctx, *in.CertificateID)
		if err != nil || len(hs) == 0 || hs[len(hs)-1].Operation != "WorkflowApproved" || !strings.Contains(hs[len(hs)-1].Message, "bob") {
			t.Fatalf("history after restart: %+v %v", hs, err)
		}
		// A completed instance cannot be restarted.
		if _, err := e.svc.Restart(ctx, manager, r.InstanceID, nil); kindOf(err) != errs.Conflict {
			t.Errorf("restart of a completed instance: %v", err)
		}
		// Neither can a denied one (it dropped its request).
		r2 := e.hold(t, requester, pid, false)
		if _, err := e.svc.Signal(ctx, approverA, r2.InstanceID, workflow.Decision{Decision: "DENY", Comment: "no"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Restart(ctx, manager, r2.InstanceID, nil); kindOf(err) != errs.Conflict {
			t.Errorf("restart of a denied instance: %v", err)
		}
	})
}
