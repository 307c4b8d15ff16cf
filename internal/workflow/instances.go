package workflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
)

// HoldRequest is an enrollment that may have to wait for approval.
type HoldRequest struct {
	Requester *auth.Principal
	// RequiresApproval is the pattern's or template's own flag; it holds the
	// request even without a published definition (docs/workflow.md).
	RequiresApproval bool
	Summary          Summary
	// Snapshot is the enrollment as resolved at request time (opaque to this
	// package, produced and consumed by the Issuer). It may hold a password
	// and key material: it is sealed before it is stored.
	Snapshot []byte
}

// HoldResult says whether the enrollment waits.
type HoldResult struct {
	Held       bool
	RequestID  int64
	InstanceID string
	Message    string
}

// implicitSteps is what a RequiresApproval flag means without a
// published definition: one approval by any identity holding
// /workflows/instances/manage/.
func implicitSteps() []Step {
	return []Step{{ID: "00000000-0000-4000-8000-000000000001", ExtensionName: StepRequireApproval, UniqueName: "RequireApproval",
		DisplayName: "Require Approval", Enabled: true, ConfigurationParameters: map[string]any{"MinimumApprovals": 1},
		Signals: []Signal{{SignalName: SignalApprovalStatus}}}}
}

func hasApproval(steps []Step) bool {
	for _, st := range steps {
		if st.Enabled && st.ExtensionName == StepRequireApproval {
			return true
		}
	}
	return false
}

// Applicable finds the published, enabled definition for a pattern (first)
// or a template. ok is false when none applies.
func (s *Service) Applicable(ctx context.Context, st Store, patternID, templateID *int64) (Definition, bool, error) {
	try := func(kind string, id *int64) (Definition, bool, error) {
		if id == nil {
			return Definition{}, false, nil
		}
		d, err := st.WorkflowDefinitionByKey(ctx, TypeEnrollment, kind, *id)
		if s.o.IsNotFound(err) {
			return d, false, nil
		}
		if err != nil {
			return d, false, err
		}
		return d, d.Enabled && d.PublishedVersion != nil, nil
	}
	if d, ok, err := try(KeyPattern, patternID); err != nil || ok {
		return d, ok, err
	}
	return try(KeyTemplate, templateID)
}

// Needs reports whether an enrollment for the pattern or template would be
// held: a published definition with an approval step, or the flag.
func (s *Service) Needs(ctx context.Context, patternID, templateID *int64, flag bool) (bool, error) {
	if flag {
		return true, nil
	}
	d, ok, err := s.Applicable(ctx, s.o.Store, patternID, templateID)
	if err != nil {
		return false, errs.Wrap(err, "reading workflow definitions")
	}
	return ok && hasApproval(d.PublishedSteps), nil
}

// Hold records an enrollment that needs approval: a pending request row,
// the sealed snapshot and a workflow instance, all in one transaction. It
// answers Held false, storing nothing, when no approval is needed.
func (s *Service) Hold(ctx context.Context, h HoldRequest) (HoldResult, error) {
	var res HoldResult
	d, ok, err := s.Applicable(ctx, s.o.Store, h.Summary.PatternID, h.Summary.TemplateID)
	if err != nil {
		return res, errs.Wrap(err, "reading workflow definitions")
	}
	var steps []Step
	in := Instance{WorkflowType: TypeEnrollment}
	switch {
	case ok && hasApproval(d.PublishedSteps):
		steps = d.PublishedSteps
		in.DefinitionID, in.DefinitionVersion, in.DefinitionName = d.ID, *d.PublishedVersion, d.DisplayName
	case h.RequiresApproval:
		steps = implicitSteps()
		in.DefinitionName = "Requires Approval (template or pattern setting)"
	default:
		return res, nil
	}
	p := h.Requester
	now := s.now()
	if in.ID, err = s.newID(); err != nil {
		return res, errs.Wrap(err, "making an id")
	}
	in.RequesterID, in.RequesterName = p.IdentityID, p.AccountName
	in.Steps, in.Summary = steps, h.Summary
	in.CreatedAt, in.UpdatedAt, in.ExpiresAt = now, now, now.Add(s.o.ApprovalTimeout)
	var events []event
	err = s.o.InTx(ctx, func(st Store) error {
		reqID, err := st.InsertRequest(ctx, certificate.Request{
			CreatedAt: now, RequesterID: &p.IdentityID, RequesterName: p.AccountName, Kind: "pfx",
			State: certificate.StatePending, TemplateID: h.Summary.TemplateID, PatternID: h.Summary.PatternID,
			CAID: &h.Summary.CAID, Doc: []byte(`{"Held":true}`), // subject and parameters stay sealed
		})
		if err != nil {
			return err
		}
		in.RequestID = reqID
		in.Title = fmt.Sprintf("Enrollment request %d", reqID)
		if in.Sealed, err = s.o.Seal(h.Snapshot, RequestAAD(reqID)); err != nil {
			return err
		}
		if in.SummarySealed, err = s.o.Seal([]byte(mustJSON(h.Summary)), SummaryAAD(reqID)); err != nil {
			return err
		}
		in.Status = StatusSuspended
		events = append(events, s.eventOf(in, "Pending", p.AccountName, ""))
		ev, _ := s.advance(&in, p.AccountName)
		events = append(events, ev...)
		if err := st.InsertWorkflowInstance(ctx, in); err != nil {
			return err
		}
		if err := st.Audit(ctx, now, p.AccountName, "workflow.request.pending", "certificate request "+fmt.Sprint(reqID),
			fmt.Sprintf("instance %s (%s) waits for approval", in.ID, in.DefinitionName)); err != nil {
			return err
		}
		return s.enqueue(ctx, st, in, events)
	})
	if err != nil {
		return res, errs.Wrap(err, "recording the pending request")
	}
	s.Kick()
	return HoldResult{Held: true, RequestID: in.RequestID, InstanceID: in.ID,
		Message: fmt.Sprintf("The request is waiting for approval (%s).", in.DefinitionName)}, nil
}

// advance runs steps from CurrentStep until one waits (a RequireApproval
// step) or none is left (status Running: ready to issue). REST request steps
// queue their webhook.
func (s *Service) advance(in *Instance, actor string) ([]event, bool) {
	var evs []event
	for ; in.CurrentStep < len(in.Steps); in.CurrentStep++ {
		st := in.Steps[in.CurrentStep]
		if !st.Enabled {
			continue
		}
		switch st.ExtensionName {
		case StepRESTRequest:
			evs = append(evs, s.stepEvent(*in, st, actor))
		case StepRequireApproval:
			in.Status = StatusSuspended
			in.StatusMessage = fmt.Sprintf("waiting for %d approval(s) at step %s", minApprovals(st), st.UniqueName)
			return evs, false
		}
	}
	in.Status = StatusRunning
	in.StatusMessage = "approved; issuing"
	return evs, true
}

// Decision is a signal from an approver.
type Decision struct {
	// Step is the step's UniqueName; "" means the current step.
	Step     string
	Decision string // DecisionApprove or DecisionDeny
	Comment  string
}

// ParseSignalKey reads "<UniqueName>.ApprovalStatus" (or just
// "ApprovalStatus", meaning the current step).
func ParseSignalKey(key string) (step string, err error) {
	key = strings.TrimSpace(key)
	step, name, found := strings.Cut(key, ".")
	if !found {
		step, name = "", key
	}
	if !strings.EqualFold(name, SignalApprovalStatus) {
		return "", errs.Field("SignalKey", "must be <step UniqueName>.%s", SignalApprovalStatus)
	}
	return step, nil
}

// Signal applies an approval or denial to an instance. A final approval
// issues the certificate before Signal returns.
func (s *Service) Signal(ctx context.Context, p *auth.Principal, id string, d Decision) (Instance, error) {
	switch strings.ToUpper(strings.TrimSpace(d.Decision)) {
	case DecisionApprove, "APPROVED":
		d.Decision = DecisionApprove
	case DecisionDeny, "DENIED":
		d.Decision = DecisionDeny
	default:
		return Instance{}, errs.Field("Data.ApprovalStatus", "must be APPROVE or DENY")
	}
	if len(d.Comment) > 2000 {
		return Instance{}, errs.Field("Comment", "must be at most 2000 characters")
	}
	var in Instance
	var ready bool
	err := s.o.InTx(ctx, func(st Store) error {
		var err error
		if in, err = s.lockInstance(ctx, st, id); err != nil {
			return err
		}
		switch in.Status {
		case StatusSuspended:
		case StatusRejected:
			return errs.Conflictf("certificate request %d was denied by %s; a denied request cannot be approved or denied again", in.RequestID, in.DecidedBy)
		default:
			return errs.Conflictf("certificate request %d is not waiting for approval (status %s: %s)", in.RequestID, in.Status, in.StatusMessage)
		}
		step := in.Steps[in.CurrentStep]
		if d.Step != "" && !strings.EqualFold(d.Step, step.UniqueName) {
			return errs.Field("SignalKey", "step %q is not the current step; the instance waits at %q", d.Step, step.UniqueName)
		}
		if p.IdentityID == in.RequesterID {
			return errs.Forbiddenf("%s requested certificate request %d and cannot approve or deny it", p.AccountName, in.RequestID)
		}
		if !mayApprove(p, step) {
			return errs.Forbiddenf("%s holds none of the roles that may approve step %s of certificate request %d", p.AccountName, step.UniqueName, in.RequestID)
		}
		now := s.now()
		inserted, err := st.InsertWorkflowSignal(ctx, SignalRecord{InstanceID: in.ID, StepIndex: in.CurrentStep, IdentityID: p.IdentityID,
			AccountName: p.AccountName, Decision: d.Decision, Comment: d.Comment, At: now})
		if err != nil {
			return err
		}
		if !inserted {
			return errs.Conflictf("%s has already signalled step %s of certificate request %d; one identity counts once", p.AccountName, step.UniqueName, in.RequestID)
		}
		in.UpdatedAt = now
		var evs []event
		target := "certificate request " + fmt.Sprint(in.RequestID)
		if d.Decision == DecisionDeny {
			in.Status, in.DecidedBy, in.DecisionComment, in.Sealed = StatusRejected, p.AccountName, d.Comment, nil
			in.StatusMessage = "denied by " + p.AccountName
			if err := st.CompleteRequest(ctx, in.RequestID, int(certificate.StateDenied), nil); err != nil {
				return err
			}
			if err := st.Audit(ctx, now, p.AccountName, "workflow.request.denied", target, fmt.Sprintf("instance %s: %s", in.ID, d.Comment)); err != nil {
				return err
			}
			evs = append(evs, s.eventOf(in, "Denied", p.AccountName, d.Comment))
		} else {
			approvals := 1
			for _, sg := range in.Signals {
				if sg.StepIndex == in.CurrentStep && sg.Decision == DecisionApprove {
					approvals++
				}
			}
			need := minApprovals(step)
			if err := st.Audit(ctx, now, p.AccountName, "workflow.request.approval", target,
				fmt.Sprintf("instance %s step %s: approval %d of %d", in.ID, step.UniqueName, approvals, need)); err != nil {
				return err
			}
			evs = append(evs, s.eventOf(in, "Approval", p.AccountName, d.Comment))
			if approvals >= need {
				in.CurrentStep++
				more, done := s.advance(&in, p.AccountName)
				evs = append(evs, more...)
				ready = done
				if done {
					evs = append(evs, s.eventOf(in, "Approved", p.AccountName, d.Comment))
				}
			} else {
				in.StatusMessage = fmt.Sprintf("%d of %d approval(s) at step %s", approvals, need, step.UniqueName)
			}
		}
		if err := st.UpdateWorkflowInstance(ctx, in); err != nil {
			return err
		}
		return s.enqueue(ctx, st, in, evs)
	})
	if err != nil {
		return in, err
	}
	s.Kick()
	if ready {
		// The decision is committed: a client that hangs up must not turn the
		// issuance into a failure, so it runs without the request's cancel.
		if err := s.issue(context.WithoutCancel(ctx), in.ID); err != nil {
			s.o.Logger.Error("workflow issuance failed", "instance", in.ID, "err", err)
		}
	}
	return s.Instance(ctx, id)
}

// mayApprove: a member of one of the signal's roles, or for the implicit
// definition, a holder of /workflows/instances/manage/.
func mayApprove(p *auth.Principal, st Step) bool {
	var roles []int64
	for _, sg := range st.Signals {
		if sg.SignalName == SignalApprovalStatus {
			roles = append(roles, sg.RoleIDs...)
		}
	}
	if len(roles) == 0 {
		return p.Has(auth.WorkflowsManage)
	}
	for _, r := range p.Roles {
		for _, id := range roles {
			if r.ID == id {
				return true
			}
		}
	}
	return false
}

// claim guards against issuing one instance twice in this process (the
// synchronous path after the final approval and the background resume). A
// caller that finds the instance being issued gets the channel that closes
// when that issuance ends.
func (s *Service) claim(id string) (bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == nil {
		s.inflight = map[string]chan struct{}{}
	}
	if ch, busy := s.inflight[id]; busy {
		return false, ch
	}
	s.inflight[id] = make(chan struct{})
	return true, nil
}

func (s *Service) release(id string) {
	s.mu.Lock()
	close(s.inflight[id])
	delete(s.inflight, id)
	s.mu.Unlock()
}

var errNotRunning = errors.New("workflow instance is no longer running")

// issue hands an approved instance to the Issuer; the certificate and the
// instance's completion commit together.
func (s *Service) issue(ctx context.Context, id string) error {
	ok, busy := s.claim(id)
	if !ok {
		select { // another goroutine is issuing it: wait, so the caller sees the outcome
		case <-busy:
		case <-ctx.Done():
		}
		return nil
	}
	defer s.release(id)
	in, err := s.Instance(ctx, id)
	if err != nil {
		return err
	}
	if in.Status != StatusRunning {
		return nil
	}
	iss := s.issuer()
	if iss == nil {
		return errors.New("no issuer wired")
	}
	snap, err := s.o.Open(in.Sealed, RequestAAD(in.RequestID))
	if err != nil {
		return s.fail(ctx, in, "the held request cannot be opened with this master key")
	}
	var approvers []string
	for _, sg := range in.Signals {
		if sg.Decision == DecisionApprove {
			approvers = append(approvers, sg.AccountName)
		}
	}
	_, err = iss.IssueHeld(ctx, snap, Issuance{RequestID: in.RequestID, RequesterID: in.RequesterID, RequesterName: in.RequesterName,
		Approvers: approvers, Within: func(ctx context.Context, st Store, certID int64) error {
			cur, err := st.LockWorkflowInstance(ctx, id)
			if err != nil {
				return err
			}
			if cur.Status != StatusRunning {
				return errNotRunning
			}
			now := s.now()
			cur.Status, cur.CertificateID, cur.Sealed, cur.UpdatedAt = StatusComplete, &certID, nil, now
			cur.StatusMessage = fmt.Sprintf("issued certificate %d", certID)
			if err := st.UpdateWorkflowInstance(ctx, cur); err != nil {
				return err
			}
			if err := st.CompleteRequest(ctx, cur.RequestID, int(certificate.StateActive), &certID); err != nil {
				return err
			}
			who := strings.Join(approvers, ", ")
			if who == "" {
				who = "(no approval step)"
			}
			if err := st.AddHistory(ctx, certificate.HistoryEntry{CertID: certID, At: now, Operation: "WorkflowApproved", Actor: in.RequesterName,
				Message: fmt.Sprintf("certificate request %d approved by %s (workflow %s, instance %s)", cur.RequestID, who, cur.DefinitionName, cur.ID)}); err != nil {
				return err
			}
			if err := st.Audit(ctx, now, "workflow", "workflow.request.issued", fmt.Sprintf("certificate %d", certID),
				fmt.Sprintf("certificate request %d, instance %s, approved by %s", cur.RequestID, cur.ID, who)); err != nil {
				return err
			}
			return s.enqueue(ctx, st, cur, []event{s.eventOf(cur, "Issued", "workflow", "")})
		}})
	if errors.Is(err, errNotRunning) {
		return nil
	}
	if err != nil {
		msg := err.Error()
		if e := errs.As(err); e.Kind != errs.Internal {
			msg = e.Message
		}
		return errors.Join(err, s.fail(ctx, in, "issuance failed: "+msg))
	}
	s.Kick()
	return nil
}

func (s *Service) fail(ctx context.Context, in Instance, msg string) error {
	return s.o.InTx(ctx, func(st Store) error {
		cur, err := st.LockWorkflowInstance(ctx, in.ID)
		if err != nil {
			return err
		}
		if cur.Status != StatusRunning {
			return nil
		}
		now := s.now()
		cur.Status, cur.StatusMessage, cur.UpdatedAt = StatusFailed, msg, now
		if err := st.UpdateWorkflowInstance(ctx, cur); err != nil {
			return err
		}
		if err := st.CompleteRequest(ctx, cur.RequestID, int(certificate.StateFailed), nil); err != nil {
			return err
		}
		if err := st.Audit(ctx, now, "workflow", "workflow.request.failed", "certificate request "+fmt.Sprint(cur.RequestID), msg); err != nil {
			return err
		}
		return s.enqueue(ctx, st, cur, []event{s.eventOf(cur, "Failed", "workflow", msg)})
	})
}

// Stop ends a waiting instance without issuing (an administrator's action).
func (s *Service) Stop(ctx context.Context, p *auth.Principal, id string) error {
	return s.end(ctx, id, StatusStopped, p.AccountName, "stopped by "+p.AccountName, "workflow.request.stopped", "Stopped")
}

// lockInstance reads instance id for update; an unknown id is NotFound.
func (s *Service) lockInstance(ctx context.Context, st Store, id string) (Instance, error) {
	in, err := st.LockWorkflowInstance(ctx, id)
	if s.o.IsNotFound(err) {
		return Instance{}, errs.NotFoundf("workflow instance %q does not exist", id)
	}
	return in, err
}

func (s *Service) end(ctx context.Context, id string, status Status, actor, msg, action, ev string) error {
	err := s.o.InTx(ctx, func(st Store) error {
		in, err := s.lockInstance(ctx, st, id)
		if err != nil {
			return err
		}
		if in.Status != StatusSuspended {
			return errs.Conflictf("workflow instance %s is %s, not waiting", id, in.Status)
		}
		now := s.now()
		in.Status, in.StatusMessage, in.UpdatedAt, in.Sealed, in.DecidedBy = status, msg, now, nil, actor
		if err := st.UpdateWorkflowInstance(ctx, in); err != nil {
			return err
		}
		if err := st.CompleteRequest(ctx, in.RequestID, int(certificate.StateFailed), nil); err != nil {
			return err
		}
		if err := st.Audit(ctx, now, actor, action, "certificate request "+fmt.Sprint(in.RequestID), fmt.Sprintf("instance %s: %s", id, msg)); err != nil {
			return err
		}
		return s.enqueue(ctx, st, in, []event{s.eventOf(in, ev, actor, msg)})
	})
	if err == nil {
		s.Kick()
	}
	return err
}

// Expire ends every request that waited past ApprovalTimeout; it returns
// how many it expired.
func (s *Service) Expire(ctx context.Context) (int, error) {
	ids, err := s.o.Store.ExpiredWorkflowInstances(ctx, s.now())
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.end(ctx, id, StatusFailed, "workflow", fmt.Sprintf("expired: not decided within %s", s.o.ApprovalTimeout), "workflow.request.expired", "Expired")
		if errs.Is(err, errs.Conflict) {
			continue // decided meanwhile
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Resume issues instances that were approved but not yet issued (a restart
// between the approval's commit and the issuance).
func (s *Service) Resume(ctx context.Context) error {
	if s.issuer() == nil {
		return nil // not wired yet (the server is still starting)
	}
	ins, err := s.o.Store.WorkflowInstances(ctx, InstanceFilter{Statuses: []Status{StatusRunning}})
	if err != nil {
		return err
	}
	var all error
	for _, in := range ins {
		all = errors.Join(all, s.issue(ctx, in.ID))
	}
	return all
}

// Instance reads one instance with its signals.
func (s *Service) Instance(ctx context.Context, id string) (Instance, error) {
	in, err := s.o.Store.WorkflowInstance(ctx, id)
	if s.o.IsNotFound(err) {
		return in, errs.NotFoundf("workflow instance %q does not exist", id)
	}
	if err == nil {
		err = s.reveal(&in)
	}
	return in, err
}

// InstanceByRequest reads the instance of a certificate request.
func (s *Service) InstanceByRequest(ctx context.Context, requestID int64) (Instance, error) {
	in, err := s.o.Store.WorkflowInstanceByRequest(ctx, requestID)
	if s.o.IsNotFound(err) {
		return in, errs.NotFoundf("certificate request %d has no workflow (it does not exist or did not need approval)", requestID)
	}
	if err == nil {
		err = s.reveal(&in)
	}
	return in, err
}

// Instances lists instances.
func (s *Service) Instances(ctx context.Context, f InstanceFilter) ([]Instance, error) {
	ins, err := s.o.Store.WorkflowInstances(ctx, f)
	if err != nil {
		return nil, err
	}
	return s.revealAll(ins)
}

// AssignedTo lists the waiting instances p may decide now: not p's own
// request, p holds an approving role of the current step, and p has not
// signalled it yet.
func (s *Service) AssignedTo(ctx context.Context, p *auth.Principal) ([]Instance, error) {
	ins, err := s.o.Store.WorkflowInstances(ctx, InstanceFilter{Statuses: []Status{StatusSuspended}})
	if err != nil {
		return nil, err
	}
	var out []Instance
	for _, in := range ins {
		if in.RequesterID == p.IdentityID || in.CurrentStep >= len(in.Steps) || !mayApprove(p, in.Steps[in.CurrentStep]) {
			continue
		}
		done := false
		for _, sg := range in.Signals {
			done = done || (sg.StepIndex == in.CurrentStep && sg.IdentityID == p.IdentityID)
		}
		if !done {
			out = append(out, in)
		}
	}
	return s.revealAll(out)
}

// Outcome is one request's result in a bulk approve or deny.
type Outcome struct {
	RequestID int64
	CAName    string
	Comment   string
}

// BulkResult is the /Workflow/Certificates/Approve and /Deny answer.
type BulkResult struct {
	Successes, Failures, Denials []Outcome
}

// ApproveRequests approves certificate requests by id (the older endpoint):
// each counts as an approval signal on the request's current step.
func (s *Service) ApproveRequests(ctx context.Context, p *auth.Principal, ids []int64) BulkResult {
	return s.bulk(ctx, p, ids, Decision{Decision: DecisionApprove})
}

// DenyRequests denies certificate requests by id with a comment.
func (s *Service) DenyRequests(ctx context.Context, p *auth.Principal, ids []int64, comment string) BulkResult {
	return s.bulk(ctx, p, ids, Decision{Decision: DecisionDeny, Comment: comment})
}

func (s *Service) bulk(ctx context.Context, p *auth.Principal, ids []int64, d Decision) BulkResult {
	res := BulkResult{Successes: []Outcome{}, Failures: []Outcome{}, Denials: []Outcome{}}
	seen := map[int64]bool{}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		o := Outcome{RequestID: id}
		in, err := s.InstanceByRequest(ctx, id)
		if err == nil {
			o.CAName = in.Summary.CertificateAuthority
			in, err = s.Signal(ctx, p, in.ID, d)
		}
		switch {
		case err != nil:
			o.Comment = errs.As(err).Message
			res.Failures = append(res.Failures, o)
		case d.Decision == DecisionDeny:
			o.Comment = d.Comment
			res.Denials = append(res.Denials, o)
		default:
			o.Comment = in.StatusMessage
			if in.Status == StatusFailed {
				res.Failures = append(res.Failures, o)
			} else {
				res.Successes = append(res.Successes, o)
			}
		}
	}
	return res
}
