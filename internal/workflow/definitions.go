package workflow

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
)

// KeyResolver checks that a definition's key names an existing pattern or
// template and returns its display name; admin storage implements it.
type KeyResolver func(ctx context.Context, kind string, id int64) (string, error)

// ParseKey reads a definition key: a bare number is an enrollment pattern
// id; "Template:<id>" (or "Pattern:<id>") names the kind explicitly.
func ParseKey(s string) (kind string, id int64, err error) {
	s = strings.TrimSpace(s)
	kind = KeyPattern
	if k, v, ok := strings.Cut(s, ":"); ok {
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "template":
			kind = KeyTemplate
		case "pattern", "enrollmentpattern":
			kind = KeyPattern
		default:
			return "", 0, errs.Field("Key", "%q: the kind must be Template or Pattern", k)
		}
		s = strings.TrimSpace(v)
	}
	id, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil || id <= 0 {
		return "", 0, errs.Field("Key", "must be an enrollment pattern id, or Template:<template id>")
	}
	return kind, id, nil
}

// DefinitionInput is a create or update of a definition's header.
type DefinitionInput struct {
	DisplayName  *string
	Description  *string
	Key          *string
	WorkflowType *string
	Enabled      *bool
}

const maxName = 200

// CreateDefinition makes a definition with an empty draft.
func (s *Service) CreateDefinition(ctx context.Context, p *auth.Principal, in DefinitionInput, resolve KeyResolver) (Definition, error) {
	var d Definition
	if in.DisplayName == nil || strings.TrimSpace(*in.DisplayName) == "" {
		return d, errs.Field("DisplayName", "is required")
	}
	if len(*in.DisplayName) > maxName {
		return d, errs.Field("DisplayName", "must be at most %d characters", maxName)
	}
	if in.Description != nil && len(*in.Description) > 2000 {
		return d, errs.Field("Description", "must be at most 2000 characters")
	}
	typ := TypeEnrollment
	if in.WorkflowType != nil && *in.WorkflowType != "" {
		if !strings.EqualFold(*in.WorkflowType, TypeEnrollment) {
			return d, errs.Field("WorkflowType", "%q is not supported; certdock runs Enrollment workflows", *in.WorkflowType)
		}
	}
	if in.Key == nil {
		return d, errs.Field("Key", "is required: an enrollment pattern id, or Template:<template id>")
	}
	kind, keyID, err := ParseKey(*in.Key)
	if err != nil {
		return d, err
	}
	name, err := resolve(ctx, kind, keyID)
	if err != nil {
		return d, err
	}
	id, err := s.newID()
	if err != nil {
		return d, errs.Wrap(err, "making an id")
	}
	now := s.now()
	d = Definition{ID: id, DisplayName: strings.TrimSpace(*in.DisplayName), WorkflowType: typ, KeyKind: kind, KeyID: keyID,
		KeyDisplayName: name, Enabled: true, DraftVersion: 1, DraftSteps: []Step{}, CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		d.Description = *in.Description
	}
	if in.Enabled != nil {
		d.Enabled = *in.Enabled
	}
	err = s.o.InTx(ctx, func(st Store) error {
		if _, err := st.WorkflowDefinitionByKey(ctx, typ, kind, keyID); err == nil {
			return errs.Conflictf("Key: a %s workflow definition for %s %d already exists", typ, kind, keyID)
		} else if !s.o.IsNotFound(err) {
			return err
		}
		if err := st.InsertWorkflowDefinition(ctx, d); err != nil {
			return err
		}
		return st.Audit(ctx, now, p.AccountName, "workflow.definition.create", "workflow definition "+d.ID,
			fmt.Sprintf("%q for %s %d", d.DisplayName, kind, keyID))
	})
	return d, err
}

// UpdateDefinition changes a definition's name, description or enabled flag.
func (s *Service) UpdateDefinition(ctx context.Context, p *auth.Principal, id string, in DefinitionInput) (Definition, error) {
	var d Definition
	err := s.o.InTx(ctx, func(st Store) error {
		var err error
		if d, err = s.definition(ctx, st, id); err != nil {
			return err
		}
		if in.DisplayName != nil {
			if strings.TrimSpace(*in.DisplayName) == "" || len(*in.DisplayName) > maxName {
				return errs.Field("DisplayName", "must be 1 to %d characters", maxName)
			}
			d.DisplayName = strings.TrimSpace(*in.DisplayName)
		}
		if in.Description != nil {
			if len(*in.Description) > 2000 {
				return errs.Field("Description", "must be at most 2000 characters")
			}
			d.Description = *in.Description
		}
		if in.Enabled != nil {
			d.Enabled = *in.Enabled
		}
		d.UpdatedAt = s.now()
		if err := st.UpdateWorkflowDefinition(ctx, d); err != nil {
			return err
		}
		return st.Audit(ctx, d.UpdatedAt, p.AccountName, "workflow.definition.update", "workflow definition "+d.ID,
			fmt.Sprintf("%q enabled=%t", d.DisplayName, d.Enabled))
	})
	return d, err
}

// DeleteDefinition removes a definition; instances keep their step copy.
func (s *Service) DeleteDefinition(ctx context.Context, p *auth.Principal, id string) error {
	return s.o.InTx(ctx, func(st Store) error {
		if _, err := s.definition(ctx, st, id); err != nil {
			return err
		}
		if err := st.DeleteWorkflowDefinition(ctx, id); err != nil {
			return err
		}
		return st.Audit(ctx, s.now(), p.AccountName, "workflow.definition.delete", "workflow definition "+id, "")
	})
}

// Definition reads one definition.
func (s *Service) Definition(ctx context.Context, id string) (Definition, error) {
	return s.definition(ctx, s.o.Store, id)
}

// Definitions lists definitions.
func (s *Service) Definitions(ctx context.Context) ([]Definition, error) {
	return s.o.Store.WorkflowDefinitions(ctx)
}

func (s *Service) definition(ctx context.Context, st Store, id string) (Definition, error) {
	d, err := st.WorkflowDefinition(ctx, id)
	if s.o.IsNotFound(err) {
		return d, errs.NotFoundf("workflow definition %q does not exist", id)
	}
	return d, err
}

// SetSteps replaces the draft steps; the draft version goes up when the
// published version is the current draft.
func (s *Service) SetSteps(ctx context.Context, p *auth.Principal, id string, steps []Step, roleExists func(ctx context.Context, id int64) (bool, error)) (Definition, error) {
	steps, err := ValidateSteps(steps)
	if err != nil {
		return Definition{}, err
	}
	for i, st := range steps {
		for _, sg := range st.Signals {
			for _, rid := range sg.RoleIDs {
				ok, err := roleExists(ctx, rid)
				if err != nil {
					return Definition{}, err
				}
				if !ok {
					return Definition{}, errs.Field(fmt.Sprintf("Steps[%d].Signals[0].RoleIds", i), "role %d does not exist", rid)
				}
			}
		}
	}
	var d Definition
	err = s.o.InTx(ctx, func(st Store) error {
		var err error
		if d, err = s.definition(ctx, st, id); err != nil {
			return err
		}
		if d.PublishedVersion != nil && *d.PublishedVersion == d.DraftVersion {
			d.DraftVersion++
		}
		for i := range steps {
			if steps[i].ID == "" {
				if steps[i].ID, err = s.newID(); err != nil {
					return err
				}
			}
		}
		d.DraftSteps = steps
		d.UpdatedAt = s.now()
		if err := st.UpdateWorkflowDefinition(ctx, d); err != nil {
			return err
		}
		return st.Audit(ctx, d.UpdatedAt, p.AccountName, "workflow.definition.steps", "workflow definition "+d.ID,
			fmt.Sprintf("draft version %d, %d steps", d.DraftVersion, len(steps)))
	})
	return d, err
}

// Publish makes the draft the published version. Requests already waiting
// keep the steps they started with.
func (s *Service) Publish(ctx context.Context, p *auth.Principal, id string) (Definition, error) {
	var d Definition
	err := s.o.InTx(ctx, func(st Store) error {
		var err error
		if d, err = s.definition(ctx, st, id); err != nil {
			return err
		}
		if len(d.DraftSteps) == 0 {
			return errs.Field("Steps", "the draft has no steps; PUT /Workflow/Definitions/%s/Steps first", id)
		}
		v := d.DraftVersion
		d.PublishedVersion = &v
		d.PublishedSteps = d.DraftSteps
		d.UpdatedAt = s.now()
		if err := st.UpdateWorkflowDefinition(ctx, d); err != nil {
			return err
		}
		return st.Audit(ctx, d.UpdatedAt, p.AccountName, "workflow.definition.publish", "workflow definition "+d.ID,
			fmt.Sprintf("published version %d", v))
	})
	return d, err
}

var uniqueNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// maxSteps caps a definition: a workflow is configuration, not a program.
const maxSteps = 32

// ValidateSteps checks a step list and normalises it (canonical extension
// and signal names, MinimumApprovals as an int, Verb upper-case).
func ValidateSteps(steps []Step) ([]Step, error) {
	if len(steps) > maxSteps {
		return nil, errs.Field("Steps", "at most %d steps", maxSteps)
	}
	seen := map[string]bool{}
	out := make([]Step, 0, len(steps))
	for i, st := range steps {
		f := fmt.Sprintf("Steps[%d]", i)
		switch {
		case strings.EqualFold(st.ExtensionName, StepRequireApproval):
			st.ExtensionName = StepRequireApproval
		case strings.EqualFold(st.ExtensionName, StepRESTRequest):
			st.ExtensionName = StepRESTRequest
		default:
			return nil, errs.Field(f+".ExtensionName", "%q is not a step certdock runs (RequireApproval, RESTRequest)", st.ExtensionName)
		}
		if !uniqueNameRE.MatchString(st.UniqueName) {
			return nil, errs.Field(f+".UniqueName", "must start with a letter and hold 1 to 64 letters, digits, '_' or '-'")
		}
		key := strings.ToLower(st.UniqueName)
		if seen[key] {
			return nil, errs.Field(f+".UniqueName", "%q is used by another step", st.UniqueName)
		}
		seen[key] = true
		if st.DisplayName == "" {
			st.DisplayName = st.UniqueName
		}
		if len(st.DisplayName) > maxName {
			return nil, errs.Field(f+".DisplayName", "must be at most %d characters", maxName)
		}
		if st.ConfigurationParameters == nil {
			st.ConfigurationParameters = map[string]any{}
		}
		if len(st.Conditions) > 0 {
			return nil, errs.Field(f+".Conditions", "conditions are not supported; leave them empty")
		}
		var err error
		if st.ExtensionName == StepRequireApproval {
			st, err = validateApproval(f, st)
		} else {
			st, err = validateREST(f, st)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func param(m map[string]any, name string) (any, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func validateApproval(f string, st Step) (Step, error) {
	n := 1
	if v, ok := param(st.ConfigurationParameters, "MinimumApprovals"); ok {
		var x float64
		switch t := v.(type) {
		case float64:
			x = t
		case int:
			x = float64(t)
		case int64:
			x = float64(t)
		case string:
			p, err := strconv.Atoi(strings.TrimSpace(t))
			if err != nil {
				return st, errs.Field(f+".ConfigurationParameters.MinimumApprovals", "must be a whole number from 1 to 100")
			}
			x = float64(p)
		default:
			return st, errs.Field(f+".ConfigurationParameters.MinimumApprovals", "must be a whole number from 1 to 100")
		}
		if x != math.Trunc(x) || x < 1 || x > 100 {
			return st, errs.Field(f+".ConfigurationParameters.MinimumApprovals", "must be a whole number from 1 to 100")
		}
		n = int(x)
	}
	cp := map[string]any{}
	for k, v := range st.ConfigurationParameters {
		if !strings.EqualFold(k, "MinimumApprovals") {
			cp[k] = v
		}
	}
	cp["MinimumApprovals"] = n
	st.ConfigurationParameters = cp
	if len(st.Signals) != 1 || !strings.EqualFold(st.Signals[0].SignalName, SignalApprovalStatus) {
		return st, errs.Field(f+".Signals", "a RequireApproval step takes one signal, %q, with the approving RoleIds", SignalApprovalStatus)
	}
	st.Signals[0].SignalName = SignalApprovalStatus
	if len(st.Signals[0].RoleIDs) == 0 {
		return st, errs.Field(f+".Signals[0].RoleIds", "name at least one role whose members may approve")
	}
	for _, id := range st.Signals[0].RoleIDs {
		if id <= 0 {
			return st, errs.Field(f+".Signals[0].RoleIds", "role ids are positive")
		}
	}
	return st, nil
}

func validateREST(f string, st Step) (Step, error) {
	v, _ := param(st.ConfigurationParameters, "URL")
	u, _ := v.(string)
	pu, err := url.Parse(u)
	if u == "" || err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return st, errs.Field(f+".ConfigurationParameters.URL", "must be an absolute http or https URL")
	}
	verb := "POST"
	if v, ok := param(st.ConfigurationParameters, "Verb"); ok {
		s, _ := v.(string)
		verb = strings.ToUpper(strings.TrimSpace(s))
		if verb != "POST" && verb != "PUT" {
			return st, errs.Field(f+".ConfigurationParameters.Verb", "must be POST or PUT")
		}
	}
	cp := map[string]any{"URL": u, "Verb": verb}
	if v, ok := param(st.ConfigurationParameters, "Headers"); ok && v != nil {
		h, ok := v.(map[string]any)
		if !ok {
			return st, errs.Field(f+".ConfigurationParameters.Headers", "must be an object of header names to string values")
		}
		for k, x := range h {
			if _, ok := x.(string); !ok || k == "" || strings.ContainsAny(k, " \r\n:") {
				return st, errs.Field(f+".ConfigurationParameters.Headers", "must be an object of header names to string values")
			}
		}
		cp["Headers"] = h
	}
	if v, ok := param(st.ConfigurationParameters, "RequestContent"); ok && v != nil {
		s, ok := v.(string)
		if !ok || len(s) > 64<<10 {
			return st, errs.Field(f+".ConfigurationParameters.RequestContent", "must be a string of at most 64 KiB")
		}
		cp["RequestContent"] = s
	}
	st.ConfigurationParameters = cp
	if len(st.Signals) > 0 {
		return st, errs.Field(f+".Signals", "a RESTRequest step takes no signals")
	}
	return st, nil
}

// minApprovals reads a validated RequireApproval step's count.
func minApprovals(st Step) int {
	v, _ := param(st.ConfigurationParameters, "MinimumApprovals")
	switch t := v.(type) {
	case int:
		return t
	case float64:
		return int(t)
	case int64:
		return int(t)
	}
	return 1
}

// ParamDef describes a step's configuration parameter for
// /Workflow/Definitions/Steps.
type ParamDef struct {
	DisplayName  string
	Type         int // KeyfactorWorkflowsDataType
	Required     bool
	DefaultValue string
	Tooltip      string
}

// StepType describes a built-in step.
type StepType struct {
	DisplayName   string
	ExtensionName string
	Parameters    map[string]ParamDef
	Signals       map[string]map[string]ParamDef
}

// StepTypes lists the steps certdock runs.
func StepTypes() []StepType {
	return []StepType{
		{DisplayName: "Require Approval", ExtensionName: StepRequireApproval,
			Parameters: map[string]ParamDef{
				"MinimumApprovals": {DisplayName: "Minimum approvals", Type: 1, Required: true, DefaultValue: "1",
					Tooltip: "Distinct approvers (never the requester) needed to pass the step."},
			},
			Signals: map[string]map[string]ParamDef{SignalApprovalStatus: {
				"ApprovalStatus": {DisplayName: "Approval status", Type: 0, Required: true, Tooltip: "APPROVE or DENY"},
				"Comment":        {DisplayName: "Comment", Type: 0},
			}}},
		{DisplayName: "REST Request", ExtensionName: StepRESTRequest,
			Parameters: map[string]ParamDef{
				"URL":            {DisplayName: "URL", Type: 0, Required: true},
				"Verb":           {DisplayName: "Verb", Type: 0, DefaultValue: "POST"},
				"Headers":        {DisplayName: "Headers", Type: 5},
				"RequestContent": {DisplayName: "Request content", Type: 0, Tooltip: "Body; default: the workflow event as JSON."},
			},
			Signals: map[string]map[string]ParamDef{}},
	}
}

// Apply creates or updates the definition for a key and publishes the
// given steps (the declarative setup file). Applying the same steps again
// changes nothing: no new version is published.
func (s *Service) Apply(ctx context.Context, actor string, typ string, kind string, keyID int64, name, description string, enabled bool, steps []Step) (Definition, error) {
	if typ == "" {
		typ = TypeEnrollment
	}
	if !strings.EqualFold(typ, TypeEnrollment) {
		return Definition{}, errs.Field("WorkflowType", "%q is not supported; certdock runs Enrollment workflows", typ)
	}
	if strings.TrimSpace(name) == "" || len(name) > maxName {
		return Definition{}, errs.Field("DisplayName", "must be 1 to %d characters", maxName)
	}
	steps, err := ValidateSteps(steps)
	if err != nil {
		return Definition{}, err
	}
	var d Definition
	err = s.o.InTx(ctx, func(st Store) error {
		now := s.now()
		old, err := st.WorkflowDefinitionByKey(ctx, TypeEnrollment, kind, keyID)
		switch {
		case s.o.IsNotFound(err):
			id, err := s.newID()
			if err != nil {
				return err
			}
			d = Definition{ID: id, WorkflowType: TypeEnrollment, KeyKind: kind, KeyID: keyID, DraftVersion: 1, CreatedAt: now}
		case err != nil:
			return err
		default:
			d = old
		}
		for i := range steps {
			steps[i].ID = ""
			for _, o := range d.PublishedSteps {
				if strings.EqualFold(o.UniqueName, steps[i].UniqueName) {
					steps[i].ID = o.ID
				}
			}
			if steps[i].ID == "" {
				if steps[i].ID, err = s.newID(); err != nil {
					return err
				}
			}
		}
		same := d.PublishedVersion != nil && mustJSON(d.PublishedSteps) == mustJSON(steps)
		d.DisplayName, d.Description, d.Enabled, d.UpdatedAt = strings.TrimSpace(name), description, enabled, now
		if !same {
			if d.PublishedVersion != nil && *d.PublishedVersion == d.DraftVersion {
				d.DraftVersion++
			}
			v := d.DraftVersion
			d.DraftSteps, d.PublishedSteps, d.PublishedVersion = steps, steps, &v
		}
		if old.ID == "" {
			err = st.InsertWorkflowDefinition(ctx, d)
		} else {
			err = st.UpdateWorkflowDefinition(ctx, d)
		}
		if err != nil {
			return err
		}
		return st.Audit(ctx, now, actor, "workflow.definition.apply", "workflow definition "+d.ID,
			fmt.Sprintf("%q for %s %d, published version %d", d.DisplayName, kind, keyID, *d.PublishedVersion))
	})
	return d, err
}
