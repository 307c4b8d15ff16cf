package workflow

import (
	"context"
	"fmt"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
)

// Restart re-runs an instance whose issuance failed (POST
// /Workflow/Instances/{id}/Restart; Keyfactor: "restarts a failed
// instance"). certdock never retries a failed issuance by itself: the
// failure (CA unavailable, for example) is recorded, notified, and an
// administrator restarts the instance once the cause is fixed. The
// approvals already given stand (they approved this request, and the
// steps are the instance's copy), so the instance goes straight back to
// issuing under the policy captured at request time.
//
// Only a Failed instance that still holds its sealed request can be
// restarted: expired, stopped and denied requests dropped it and end for
// good (409). version, when given, must be the definition version the
// instance runs (certdock does not move an instance to other steps).
func (s *Service) Restart(ctx context.Context, p *auth.Principal, id string, version *int) (Instance, error) {
	if version != nil && *version < 1 {
		return Instance{}, errs.Field("version", "must be a positive integer")
	}
	err := s.o.InTx(ctx, func(st Store) error {
		in, err := s.lockInstance(ctx, st, id)
		if err != nil {
			return err
		}
		if in.Status != StatusFailed || in.Sealed == nil {
			return errs.Conflictf("workflow instance %s is %s (%s); only an instance whose issuance failed can be restarted", id, in.Status, in.StatusMessage)
		}
		if version != nil && *version != in.DefinitionVersion {
			return errs.Field("version", "workflow instance %s runs version %d of its definition; certdock restarts an instance with the steps it started with", id, in.DefinitionVersion)
		}
		now := s.now()
		prev := in.StatusMessage
		in.Status, in.UpdatedAt = StatusRunning, now
		in.StatusMessage = "restarted by " + p.AccountName + "; issuing"
		if err := st.UpdateWorkflowInstance(ctx, in); err != nil {
			return err
		}
		if err := st.CompleteRequest(ctx, in.RequestID, int(certificate.StatePending), nil); err != nil {
			return err
		}
		if err := st.Audit(ctx, now, p.AccountName, "workflow.request.restarted", "certificate request "+fmt.Sprint(in.RequestID),
			fmt.Sprintf("instance %s restarted after: %s", in.ID, prev)); err != nil {
			return err
		}
		return s.enqueue(ctx, st, in, []event{s.eventOf(in, "Restarted", p.AccountName, prev)})
	})
	if err != nil {
		return Instance{}, err
	}
	s.Kick()
	// As after a final approval: the restart is committed, so the issuance
	// runs without the request's cancel. A new failure is recorded on the
	// instance (Failed again), which the answer shows.
	if err := s.issue(context.WithoutCancel(ctx), id); err != nil {
		s.o.Logger.Error("workflow issuance failed", "instance", id, "err", err)
	}
	return s.Instance(ctx, id)
}
