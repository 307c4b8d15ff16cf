package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/workflow"
)

// wfState is the approval workflow engine and its background loop.
type wfState struct {
	once sync.Once // builds svc
	loop sync.Once // starts the background loop
	svc  *workflow.Service
	stop context.CancelFunc
	done chan struct{}
}

// workflow builds the workflow service once; startWorkflow runs its
// background loop.
func (s *Server) workflow() *workflow.Service {
	s.wf.once.Do(func() {
		isNotFound := func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
		s.wf.svc = workflow.New(workflow.Options{
			Store: s.db.Q(),
			InTx: func(ctx context.Context, fn func(workflow.Store) error) error {
				return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
			},
			Seal:            s.keyring.Seal,
			Open:            s.keyring.Open,
			Now:             s.now,
			Logger:          s.log,
			IsNotFound:      isNotFound,
			ApprovalTimeout: s.cfg.ApprovalTimeout,
			NotifyURL:       s.cfg.WorkflowWebhookURL,
			WebhookBackoff:  s.cfg.WorkflowWebhookBackoff,
			Tick:            s.cfg.WorkflowTick,
		})
	})
	return s.wf.svc
}

// startWorkflow starts the background loop (webhooks, expiry, resuming
// approved requests) once, when the handler is built and the issuer set:
// a CLI command that opens the server, and so applies the setup file's
// workflows, runs none of it. Close stops it.
func (s *Server) startWorkflow() {
	s.wf.loop.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.wf.stop, s.wf.done = cancel, make(chan struct{})
		go func() { defer close(s.wf.done); s.workflow().Run(ctx) }()
	})
}

// stopWorkflow ends the background loop before the database closes.
func (s *Server) stopWorkflow() {
	if s.wf.stop != nil {
		s.wf.stop()
		<-s.wf.done
	}
}

// approvalsHook adapts the workflow service to enroll.Approvals.
type approvalsHook struct{ wf *workflow.Service }

func (h approvalsHook) Hold(ctx context.Context, p *auth.Principal, e enroll.Held) (enroll.HoldResult, error) {
	sum := workflow.Summary{APIVersion: e.APIVersion, Format: string(e.Format), Subject: e.Subject, CommonName: e.CommonName,
		CertificateAuthority: e.CAName, CAID: e.CAID, Template: e.TemplateName, TemplateID: e.TemplateID, PatternID: e.PatternID,
		Metadata: e.Metadata, SANs: e.SANs, KeyType: e.KeyType, KeyLength: e.KeyLength, Curve: e.Curve, JobTime: e.JobTime}
	for _, t := range e.Stores {
		sum.Stores = append(sum.Stores, workflow.StoreRef{StoreID: t.StoreID, Alias: t.Alias})
	}
	r, err := h.wf.Hold(ctx, workflow.HoldRequest{Requester: p, RequiresApproval: e.RequiresApproval, Summary: sum, Snapshot: e.Snapshot})
	return enroll.HoldResult{Held: r.Held, RequestID: r.RequestID, InstanceID: r.InstanceID, Message: r.Message}, err
}

func (h approvalsHook) Needs(ctx context.Context, patternID, templateID *int64, flag bool) (bool, error) {
	return h.wf.Needs(ctx, patternID, templateID, flag)
}

// issuerHook adapts the enrollment service to workflow.Issuer.
type issuerHook struct{ en *enroll.Service }

func (h issuerHook) IssueHeld(ctx context.Context, snap []byte, is workflow.Issuance) (int64, error) {
	return h.en.IssueHeld(ctx, snap, enroll.HeldIssuance{RequestID: is.RequestID, Approvers: is.Approvers,
		Within: func(ctx context.Context, tx enroll.Store, certID int64) error {
			wtx, ok := tx.(workflow.Store)
			if !ok {
				return errs.Wrap(fmt.Errorf("%T does not implement workflow.Store", tx), "workflow wiring")
			}
			return is.Within(ctx, wtx, certID)
		}})
}

// applyWorkflows creates or updates the setup file's workflow definitions,
// resolving pattern, template and role names, and publishes them.
func (s *Server) applyWorkflows(ctx context.Context, defs []config.SetupWorkflow) error {
	for _, d := range defs {
		fail := func(format string, args ...any) error {
			return fmt.Errorf("WorkflowDefinitions %q: %s", d.DisplayName, fmt.Sprintf(format, args...))
		}
		var kind string
		var keyID int64
		switch {
		case d.EnrollmentPattern != "" && d.Template != "":
			return fail("name EnrollmentPattern or Template, not both")
		case d.EnrollmentPattern != "":
			p, err := s.db.Q().PatternByName(ctx, d.EnrollmentPattern)
			if err != nil {
				return fail("enrollment pattern %q does not exist", d.EnrollmentPattern)
			}
			kind, keyID = workflow.KeyPattern, p.ID
		case d.Template != "":
			t, err := s.db.Q().TemplateByName(ctx, d.Template)
			if err != nil {
				return fail("template %q does not exist", d.Template)
			}
			kind, keyID = workflow.KeyTemplate, t.ID
		default:
			return fail("EnrollmentPattern or Template is required")
		}
		var steps []workflow.Step
		for i, st := range d.Steps {
			step := workflow.Step{ExtensionName: st.ExtensionName, UniqueName: st.UniqueName, DisplayName: st.DisplayName,
				Enabled: st.Enabled == nil || *st.Enabled, ConfigurationParameters: st.ConfigurationParameters}
			if len(st.ApproverRoles) > 0 {
				sg := workflow.Signal{SignalName: workflow.SignalApprovalStatus}
				for _, name := range st.ApproverRoles {
					r, err := s.db.Q().RoleByName(ctx, name)
					if err != nil {
						return fail("Steps[%d].ApproverRoles: role %q does not exist", i, name)
					}
					sg.RoleIDs = append(sg.RoleIDs, r.ID)
				}
				step.Signals = []workflow.Signal{sg}
			}
			steps = append(steps, step)
		}
		if _, err := s.workflow().Apply(ctx, "setup file", workflow.TypeEnrollment, kind, keyID, d.DisplayName, d.Description,
			d.Enabled == nil || *d.Enabled, steps); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}
