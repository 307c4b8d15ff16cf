package server

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/workflow"
)

// wfState is the approval workflow engine and its background loop.
type wfState struct {
	once sync.Once
	svc  *workflow.Service
	stop context.CancelFunc
	done chan struct{}
}

// workflow builds the workflow service once and starts its background loop
// (webhooks, expiry, resuming approved requests); Close stops it.
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
		ctx, cancel := context.WithCancel(context.Background())
		s.wf.stop, s.wf.done = cancel, make(chan struct{})
		go func() { defer close(s.wf.done); s.wf.svc.Run(ctx) }()
	})
	return s.wf.svc
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
