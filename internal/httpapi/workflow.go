package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/workflow"
)

// ---- definitions ----

type wfSignalReq struct {
	SignalName string  `json:"SignalName"`
	RoleIds    []int64 `json:"RoleIds"`
}

type wfStepReq struct {
	ExtensionName           string                    `json:"ExtensionName"`
	UniqueName              string                    `json:"UniqueName"`
	DisplayName             string                    `json:"DisplayName"`
	Enabled                 *bool                     `json:"Enabled"`
	ConfigurationParameters map[string]any            `json:"ConfigurationParameters"`
	Signals                 []wfSignalReq             `json:"Signals"`
	Conditions              []struct{ Value *string } `json:"Conditions"`
	Outputs                 map[string]string         `json:"Outputs"`
}

func (q wfStepReq) step() workflow.Step {
	st := workflow.Step{ExtensionName: q.ExtensionName, UniqueName: q.UniqueName, DisplayName: q.DisplayName, Enabled: true,
		ConfigurationParameters: q.ConfigurationParameters, Outputs: q.Outputs}
	if q.Enabled != nil {
		st.Enabled = *q.Enabled
	}
	for _, s := range q.Signals {
		st.Signals = append(st.Signals, workflow.Signal{SignalName: s.SignalName, RoleIDs: s.RoleIds})
	}
	for _, c := range q.Conditions {
		if c.Value != nil {
			st.Conditions = append(st.Conditions, *c.Value)
		}
	}
	return st
}

type wfSignalDTO struct {
	RoleIds    []int64 `json:"RoleIds"`
	SignalName string  `json:"SignalName"`
}

type wfStepDTO struct {
	Id                      string            `json:"Id"`
	DisplayName             string            `json:"DisplayName"`
	UniqueName              string            `json:"UniqueName"`
	ExtensionName           string            `json:"ExtensionName"`
	Enabled                 bool              `json:"Enabled"`
	ConfigurationParameters map[string]any    `json:"ConfigurationParameters"`
	Signals                 []wfSignalDTO     `json:"Signals"`
	Conditions              []any             `json:"Conditions"`
	Outputs                 map[string]string `json:"Outputs"`
}

func toStepDTOs(steps []workflow.Step) []wfStepDTO {
	out := make([]wfStepDTO, 0, len(steps))
	for _, s := range steps {
		d := wfStepDTO{Id: s.ID, DisplayName: s.DisplayName, UniqueName: s.UniqueName, ExtensionName: s.ExtensionName,
			Enabled: s.Enabled, ConfigurationParameters: s.ConfigurationParameters, Signals: []wfSignalDTO{}, Conditions: []any{},
			Outputs: s.Outputs}
		if d.ConfigurationParameters == nil {
			d.ConfigurationParameters = map[string]any{}
		}
		if d.Outputs == nil {
			d.Outputs = map[string]string{}
		}
		for _, sg := range s.Signals {
			ids := sg.RoleIDs
			if ids == nil {
				ids = []int64{}
			}
			d.Signals = append(d.Signals, wfSignalDTO{RoleIds: ids, SignalName: sg.SignalName})
		}
		out = append(out, d)
	}
	return out
}

type wfDefinitionDTO struct {
	Id               string      `json:"Id"`
	DisplayName      string      `json:"DisplayName"`
	Description      string      `json:"Description"`
	Key              string      `json:"Key"`
	KeyDisplayName   string      `json:"KeyDisplayName"`
	IsPublished      bool        `json:"IsPublished"`
	WorkflowType     string      `json:"WorkflowType"`
	Steps            []wfStepDTO `json:"Steps"`
	DraftVersion     int         `json:"DraftVersion"`
	PublishedVersion *int        `json:"PublishedVersion"`
	Enabled          bool        `json:"Enabled"`
}

func toDefinitionDTO(d workflow.Definition) wfDefinitionDTO {
	return wfDefinitionDTO{Id: d.ID, DisplayName: d.DisplayName, Description: d.Description, Key: d.Key(),
		KeyDisplayName: d.KeyDisplayName, IsPublished: d.PublishedVersion != nil && *d.PublishedVersion == d.DraftVersion,
		WorkflowType: d.WorkflowType, Steps: toStepDTOs(d.DraftSteps), DraftVersion: d.DraftVersion,
		PublishedVersion: d.PublishedVersion, Enabled: d.Enabled}
}

type wfDefinitionQueryDTO struct {
	Id               string `json:"Id"`
	DisplayName      string `json:"DisplayName"`
	Key              string `json:"Key"`
	KeyDisplayName   string `json:"KeyDisplayName"`
	WorkflowType     string `json:"WorkflowType"`
	DraftVersion     int    `json:"DraftVersion"`
	PublishedVersion *int   `json:"PublishedVersion"`
	Enabled          bool   `json:"Enabled"`
}

type wfDefinitionReq struct {
	DisplayName  *string `json:"DisplayName"`
	Description  *string `json:"Description"`
	Key          *string `json:"Key"`
	WorkflowType *string `json:"WorkflowType"`
	Enabled      *bool   `json:"Enabled"`
}

func (q wfDefinitionReq) input() workflow.DefinitionInput {
	return workflow.DefinitionInput{DisplayName: q.DisplayName, Description: q.Description, Key: q.Key,
		WorkflowType: q.WorkflowType, Enabled: q.Enabled}
}

func (a *API) listWorkflowDefinitions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ds, err := a.o.Workflow.Definitions(r.Context())
	if err != nil {
		return err
	}
	out := make([]wfDefinitionQueryDTO, 0, len(ds))
	for _, d := range ds {
		out = append(out, wfDefinitionQueryDTO{Id: d.ID, DisplayName: d.DisplayName, Key: d.Key(), KeyDisplayName: d.KeyDisplayName,
			WorkflowType: d.WorkflowType, DraftVersion: d.DraftVersion, PublishedVersion: d.PublishedVersion, Enabled: d.Enabled})
	}
	return writeList(w, r, out, func(d wfDefinitionQueryDTO) map[string]any {
		return map[string]any{"Id": d.Id, "DisplayName": d.DisplayName, "Key": d.Key, "KeyDisplayName": d.KeyDisplayName,
			"WorkflowType": d.WorkflowType, "Enabled": d.Enabled, "DraftVersion": d.DraftVersion}
	})
}

func (a *API) getWorkflowDefinition(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := a.o.Workflow.Definition(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, toDefinitionDTO(d))
}

// resolveWorkflowKey checks that a definition key names a pattern or template.
func (a *API) resolveWorkflowKey(ctx context.Context, kind string, id int64) (string, error) {
	if kind == workflow.KeyTemplate {
		t, err := a.o.Admin.Template(ctx, id)
		if errs.Is(err, errs.NotFound) {
			return "", errs.Field("Key", "template %d does not exist", id)
		}
		return t.CommonName, err
	}
	pt, err := a.o.Admin.Pattern(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return "", errs.Field("Key", "enrollment pattern %d does not exist (use Template:<id> to key a template)", id)
	}
	return pt.Name, err
}

func (a *API) roleExists(ctx context.Context, id int64) (bool, error) {
	_, err := a.o.Admin.Role(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	}
	return err == nil, err
}

func (a *API) postWorkflowDefinition(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q wfDefinitionReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	d, err := a.o.Workflow.CreateDefinition(r.Context(), p, q.input(), a.resolveWorkflowKey)
	if err != nil {
		return err
	}
	return writeJSON(w, toDefinitionDTO(d))
}

func (a *API) putWorkflowDefinition(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q wfDefinitionReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	d, err := a.o.Workflow.UpdateDefinition(r.Context(), p, r.PathValue("id"), q.input())
	if err != nil {
		return err
	}
	return writeJSON(w, toDefinitionDTO(d))
}

func (a *API) deleteWorkflowDefinition(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.o.Workflow.DeleteDefinition(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) putWorkflowSteps(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q []wfStepReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	steps := make([]workflow.Step, 0, len(q))
	for _, s := range q {
		steps = append(steps, s.step())
	}
	d, err := a.o.Workflow.SetSteps(r.Context(), p, r.PathValue("id"), steps, a.roleExists)
	if err != nil {
		return err
	}
	return writeJSON(w, toDefinitionDTO(d))
}

func (a *API) publishWorkflowDefinition(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	d, err := a.o.Workflow.Publish(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, toDefinitionDTO(d))
}

type wfParamDTO struct {
	DisplayName             string            `json:"DisplayName"`
	ParameterType           int               `json:"ParameterType"`
	Required                bool              `json:"Required"`
	DefaultValue            *string           `json:"DefaultValue"`
	ControlType             int               `json:"ControlType"`
	PotentialValues         map[string]string `json:"PotentialValues"`
	SupportTokenReplacement bool              `json:"SupportTokenReplacement"`
	DependsOn               map[string]string `json:"DependsOn"`
	ToolTipContents         *string           `json:"ToolTipContents"`
}

type wfSignalDefDTO struct {
	InputParameters map[string]wfParamDTO `json:"InputParameters"`
}

type wfAvailableStepDTO struct {
	DisplayName                       string                    `json:"DisplayName"`
	ExtensionName                     string                    `json:"ExtensionName"`
	SupportedWorkflowTypes            []string                  `json:"SupportedWorkflowTypes,omitempty"`
	Outputs                           []string                  `json:"Outputs,omitempty"`
	ConfigurationParametersDefinition map[string]wfParamDTO     `json:"ConfigurationParametersDefinition"`
	SignalsDefinition                 map[string]wfSignalDefDTO `json:"SignalsDefinition"`
}

func params(m map[string]workflow.ParamDef) map[string]wfParamDTO {
	out := map[string]wfParamDTO{}
	for k, v := range m {
		d := wfParamDTO{DisplayName: v.DisplayName, ParameterType: v.Type, Required: v.Required, PotentialValues: map[string]string{},
			DependsOn: map[string]string{}}
		if v.DefaultValue != "" {
			d.DefaultValue = ptr(v.DefaultValue)
		}
		if v.Tooltip != "" {
			d.ToolTipContents = ptr(v.Tooltip)
		}
		out[k] = d
	}
	return out
}

func availableSteps(withTypes bool) []wfAvailableStepDTO {
	var out []wfAvailableStepDTO
	for _, t := range workflow.StepTypes() {
		d := wfAvailableStepDTO{DisplayName: t.DisplayName, ExtensionName: t.ExtensionName,
			ConfigurationParametersDefinition: params(t.Parameters), SignalsDefinition: map[string]wfSignalDefDTO{}}
		for name, in := range t.Signals {
			d.SignalsDefinition[name] = wfSignalDefDTO{InputParameters: params(in)}
		}
		if withTypes {
			d.SupportedWorkflowTypes = []string{workflow.TypeEnrollment}
		} else {
			d.Outputs = []string{}
		}
		out = append(out, d)
	}
	return out
}

func (a *API) listWorkflowStepTypes(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return writeJSON(w, availableSteps(true))
}

func (a *API) listWorkflowTypes(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return writeJSON(w, []map[string]any{{
		"WorkflowType": workflow.TypeEnrollment, "KeyType": "EnrollmentPattern",
		"ContextParameters": []string{"RequestId", "Requester", "Subject", "CommonName", "Template", "CertificateAuthority", "Metadata"},
		"BuiltInSteps":      availableSteps(false),
	}})
}

// ---- instances ----

const zeroGUIDWF = "00000000-0000-0000-0000-000000000000"

type wfInstanceDefDTO struct {
	Id           string `json:"Id"`
	DisplayName  string `json:"DisplayName"`
	Version      int    `json:"Version"`
	WorkflowType string `json:"WorkflowType"`
}

type wfAvailableSignalDTO struct {
	SignalName     string `json:"SignalName"`
	StepSignalId   string `json:"StepSignalId"`
	SignalReceived bool   `json:"SignalReceived"`
}

type wfInstanceDTO struct {
	Id                     string                 `json:"Id"`
	Status                 int                    `json:"Status"`
	CurrentStepId          string                 `json:"CurrentStepId"`
	StatusMessage          string                 `json:"StatusMessage"`
	Signals                []wfAvailableSignalDTO `json:"Signals,omitempty"`
	Definition             wfInstanceDefDTO       `json:"Definition"`
	CurrentStepDisplayName *string                `json:"CurrentStepDisplayName"`
	CurrentStepUniqueName  *string                `json:"CurrentStepUniqueName"`
	Title                  string                 `json:"Title"`
	LastModified           string                 `json:"LastModified"`
	StartDate              string                 `json:"StartDate"`
	InitialData            map[string]any         `json:"InitialData,omitempty"`
	CurrentStateData       map[string]any         `json:"CurrentStateData,omitempty"`
	ReferenceId            int64                  `json:"ReferenceId"`
}

func toInstanceDTO(in workflow.Instance, full bool) wfInstanceDTO {
	d := wfInstanceDTO{Id: in.ID, Status: int(in.Status), CurrentStepId: zeroGUIDWF, StatusMessage: in.StatusMessage,
		Definition: wfInstanceDefDTO{Id: in.DefinitionID, DisplayName: in.DefinitionName, Version: in.DefinitionVersion, WorkflowType: in.WorkflowType},
		Title:      in.Title, LastModified: ts(in.UpdatedAt), StartDate: ts(in.CreatedAt), ReferenceId: in.RequestID}
	if d.Definition.Id == "" {
		d.Definition.Id = zeroGUIDWF
	}
	if in.CurrentStep < len(in.Steps) {
		st := in.Steps[in.CurrentStep]
		d.CurrentStepId, d.CurrentStepDisplayName, d.CurrentStepUniqueName = st.ID, ptr(st.DisplayName), ptr(st.UniqueName)
	}
	if !full {
		return d
	}
	d.Signals = []wfAvailableSignalDTO{}
	if in.Status == workflow.StatusSuspended && in.CurrentStep < len(in.Steps) {
		st := in.Steps[in.CurrentStep]
		for _, sg := range st.Signals {
			d.Signals = append(d.Signals, wfAvailableSignalDTO{SignalName: st.UniqueName + "." + sg.SignalName, StepSignalId: st.ID})
		}
	}
	s := in.Summary
	d.InitialData = map[string]any{"RequestId": in.RequestID, "Requester": in.RequesterName, "Subject": s.Subject,
		"CommonName": s.CommonName, "Template": s.Template, "CertificateAuthority": s.CertificateAuthority,
		"Metadata": s.Metadata, "SANs": s.SANs, "KeyType": s.KeyType, "KeyLength": s.KeyLength, "Curve": s.Curve,
		"APIVersion": s.APIVersion, "Format": s.Format, "Stores": s.Stores, "JobTime": tsp(s.JobTime)}
	var sigs []map[string]any
	for _, sg := range in.Signals {
		name := ""
		if sg.StepIndex < len(in.Steps) {
			name = in.Steps[sg.StepIndex].UniqueName
		}
		sigs = append(sigs, map[string]any{"Step": name, "Identity": sg.AccountName, "ApprovalStatus": sg.Decision,
			"Comment": sg.Comment, "At": ts(sg.At)})
	}
	d.CurrentStateData = map[string]any{"Status": in.Status.String(), "Signals": sigs, "CertificateId": in.CertificateID,
		"DecidedBy": in.DecidedBy, "DecisionComment": in.DecisionComment, "ExpiresAt": ts(in.ExpiresAt)}
	return d
}

func (a *API) writeInstances(w http.ResponseWriter, r *http.Request, ins []workflow.Instance) error {
	out := mapList(ins, func(in workflow.Instance) wfInstanceDTO { return toInstanceDTO(in, false) })
	return writeList(w, r, out, func(d wfInstanceDTO) map[string]any {
		return map[string]any{"Id": d.Id, "Status": int64(d.Status), "Title": d.Title, "ReferenceId": d.ReferenceId,
			"StartDate": d.StartDate, "LastModified": d.LastModified, "DefinitionId": d.Definition.Id,
			"StatusMessage": d.StatusMessage}
	})
}

func (a *API) listWorkflowInstances(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ins, err := a.o.Workflow.Instances(r.Context(), workflow.InstanceFilter{})
	if err != nil {
		return err
	}
	return a.writeInstances(w, r, ins)
}

func (a *API) listMyWorkflowInstances(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := p.IdentityID
	ins, err := a.o.Workflow.Instances(r.Context(), workflow.InstanceFilter{RequesterID: &id})
	if err != nil {
		return err
	}
	return a.writeInstances(w, r, ins)
}

func (a *API) listAssignedWorkflowInstances(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ins, err := a.o.Workflow.AssignedTo(r.Context(), p)
	if err != nil {
		return err
	}
	return a.writeInstances(w, r, ins)
}

func (a *API) getWorkflowInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	in, err := a.o.Workflow.Instance(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, toInstanceDTO(in, true))
}

type wfSignalPost struct {
	SignalKey *string        `json:"SignalKey"`
	Data      map[string]any `json:"Data"`
}

func (a *API) postWorkflowSignal(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q wfSignalPost
	if err := decode(r, &q, false); err != nil {
		return err
	}
	if q.SignalKey == nil {
		return errs.Field("SignalKey", "is required: <step UniqueName>.%s", workflow.SignalApprovalStatus)
	}
	step, err := workflow.ParseSignalKey(*q.SignalKey)
	if err != nil {
		return err
	}
	d := workflow.Decision{Step: step}
	for k, v := range q.Data {
		s, isStr := v.(string)
		switch {
		case strings.EqualFold(k, "ApprovalStatus"):
			if !isStr {
				return errs.Field("Data.ApprovalStatus", "must be the string APPROVE or DENY")
			}
			d.Decision = s
		case strings.EqualFold(k, "Comment"):
			if !isStr && v != nil {
				return errs.Field("Data.Comment", "must be a string")
			}
			d.Comment = s
		}
	}
	if d.Decision == "" {
		return errs.Field("Data.ApprovalStatus", "is required: APPROVE or DENY")
	}
	if _, err := a.o.Workflow.Signal(r.Context(), p, r.PathValue("id"), d); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) stopWorkflowInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.o.Workflow.Stop(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

// restartWorkflowInstance re-runs an instance whose issuance failed
// (query `version`, optional: the definition version). 204 when the
// restart committed; the instance shows whether the new issuance worked.
func (a *API) restartWorkflowInstance(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var version *int
	if _, ok := queryValue(r.URL.Query(), "version"); ok {
		n, err := queryInt(r.URL.Query(), "version")
		if err != nil {
			return err
		}
		if n < 1 || n > 1<<31-1 {
			return errs.Field("version", "must be a positive integer")
		}
		v := int(n)
		version = &v
	}
	if _, err := a.o.Workflow.Restart(r.Context(), p, r.PathValue("id"), version); err != nil {
		return err
	}
	return noContent(w)
}

// ---- certificate requests (the older endpoints) ----

type wfRequestDTO struct {
	Id                   int64             `json:"Id"`
	CARequestId          string            `json:"CARequestId"`
	CommonName           string            `json:"CommonName"`
	DistinguishedName    string            `json:"DistinguishedName"`
	SubmissionDate       string            `json:"SubmissionDate"`
	CertificateAuthority string            `json:"CertificateAuthority"`
	Template             string            `json:"Template"`
	Requester            string            `json:"Requester"`
	State                int               `json:"State"`
	StateString          string            `json:"StateString"`
	Metadata             map[string]string `json:"Metadata"`
}

type wfStoreDTO struct {
	EntryName     *string `json:"EntryName"`
	ClientMachine *string `json:"ClientMachine"`
	StorePath     *string `json:"StorePath"`
}

type wfRequestDetailDTO struct {
	wfRequestDTO
	DenialComment   *string      `json:"DenialComment"`
	KeyLength       *string      `json:"KeyLength"`
	SANs            []string     `json:"SANs"`
	CertStores      []wfStoreDTO `json:"CertStores"`
	Curve           *string      `json:"Curve"`
	SubjectAltNames []any        `json:"SubjectAltNames"`
}

// requestState maps an instance to the request's CertState.
func requestState(in workflow.Instance) certificate.State {
	switch in.Status {
	case workflow.StatusSuspended, workflow.StatusRunning:
		return certificate.StatePending
	case workflow.StatusRejected:
		return certificate.StateDenied
	case workflow.StatusComplete:
		return certificate.StateActive
	}
	return certificate.StateFailed
}

func toRequestDTO(in workflow.Instance) wfRequestDTO {
	st := requestState(in)
	m := in.Summary.Metadata
	if m == nil {
		m = map[string]string{}
	}
	return wfRequestDTO{Id: in.RequestID, CARequestId: fmt.Sprint(in.RequestID), CommonName: in.Summary.CommonName,
		DistinguishedName: in.Summary.Subject, SubmissionDate: ts(in.CreatedAt), CertificateAuthority: in.Summary.CertificateAuthority,
		Template: in.Summary.Template, Requester: in.RequesterName, State: int(st), StateString: st.String(), Metadata: m}
}

func (a *API) listRequestsByStatus(w http.ResponseWriter, r *http.Request, statuses ...workflow.Status) error {
	ins, err := a.o.Workflow.Instances(r.Context(), workflow.InstanceFilter{Statuses: statuses})
	if err != nil {
		return err
	}
	out := mapList(ins, toRequestDTO)
	return writeList(w, r, out, func(d wfRequestDTO) map[string]any {
		return map[string]any{"Id": d.Id, "CommonName": d.CommonName, "DistinguishedName": d.DistinguishedName,
			"Requester": d.Requester, "Template": d.Template, "CertificateAuthority": d.CertificateAuthority,
			"SubmissionDate": d.SubmissionDate, "State": int64(d.State)}
	})
}

func (a *API) listPendingRequests(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return a.listRequestsByStatus(w, r, workflow.StatusSuspended)
}

func (a *API) listDeniedRequests(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return a.listRequestsByStatus(w, r, workflow.StatusRejected)
}

func (a *API) listExternalValidationRequests(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return writeJSON(w, []wfRequestDTO{}) // certdock has no external validation
}

func (a *API) getWorkflowRequest(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	in, err := a.o.Workflow.InstanceByRequest(r.Context(), id)
	if err != nil {
		return err
	}
	d := wfRequestDetailDTO{wfRequestDTO: toRequestDTO(in), SANs: in.Summary.SANs, CertStores: []wfStoreDTO{}, SubjectAltNames: []any{}}
	if d.SANs == nil {
		d.SANs = []string{}
	}
	if in.DecisionComment != "" || in.Status == workflow.StatusRejected {
		d.DenialComment = ptr(in.DecisionComment)
	}
	if in.Summary.KeyLength != 0 {
		d.KeyLength = ptr(fmt.Sprint(in.Summary.KeyLength))
	}
	if in.Summary.Curve != "" {
		d.Curve = ptr(in.Summary.Curve)
	}
	for _, s := range in.Summary.Stores {
		sd := wfStoreDTO{EntryName: ptr(s.Alias)}
		if s.ClientMachine != "" {
			sd.ClientMachine, sd.StorePath = ptr(s.ClientMachine), ptr(s.StorePath)
		}
		d.CertStores = append(d.CertStores, sd)
	}
	return writeJSON(w, d)
}

type wfProcessedDTO struct {
	CARowId            *int64  `json:"CARowId"`
	CARequestId        string  `json:"CARequestId"`
	CAHost             *string `json:"CAHost"`
	CALogicalName      *string `json:"CALogicalName"`
	KeyfactorRequestId int64   `json:"KeyfactorRequestId"`
	Comment            string  `json:"Comment"`
}

type wfBulkDTO struct {
	Failures  []wfProcessedDTO `json:"Failures"`
	Denials   []wfProcessedDTO `json:"Denials"`
	Successes []wfProcessedDTO `json:"Successes"`
}

func toProcessed(os []workflow.Outcome) []wfProcessedDTO {
	out := make([]wfProcessedDTO, 0, len(os))
	for _, o := range os {
		d := wfProcessedDTO{CARequestId: fmt.Sprint(o.RequestID), KeyfactorRequestId: o.RequestID, Comment: o.Comment}
		if host, logical, ok := strings.Cut(o.CAName, `\`); ok {
			d.CAHost, d.CALogicalName = ptr(host), ptr(logical)
		} else if o.CAName != "" {
			d.CALogicalName = ptr(o.CAName)
		}
		out = append(out, d)
	}
	return out
}

func writeBulk(w http.ResponseWriter, res workflow.BulkResult) error {
	return writeJSON(w, wfBulkDTO{Failures: toProcessed(res.Failures), Denials: toProcessed(res.Denials), Successes: toProcessed(res.Successes)})
}

// maxBulk caps one approve or deny call.
const maxBulk = 1000

func checkRequestIDs(field string, ids []int64) error {
	if len(ids) == 0 {
		return errs.Field(field, "name at least one certificate request id")
	}
	if len(ids) > maxBulk {
		return errs.Field(field, "at most %d ids per call", maxBulk)
	}
	for _, id := range ids {
		if id <= 0 {
			return errs.Field(field, "%d is not a positive request id", id)
		}
	}
	return nil
}

func (a *API) approveRequests(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var ids []int64
	if err := decode(r, &ids, false); err != nil {
		return err
	}
	if err := checkRequestIDs("body", ids); err != nil {
		return err
	}
	return writeBulk(w, a.o.Workflow.ApproveRequests(r.Context(), p, ids))
}

type wfDenyReq struct {
	Comment               *string `json:"Comment"`
	CertificateRequestIds []int64 `json:"CertificateRequestIds"`
}

func (a *API) denyRequests(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q wfDenyReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	if q.Comment == nil || strings.TrimSpace(*q.Comment) == "" {
		return errs.Field("Comment", "is required: say why the request is denied")
	}
	if len(*q.Comment) > 2000 {
		return errs.Field("Comment", "must be at most 2000 characters")
	}
	if err := checkRequestIDs("CertificateRequestIds", q.CertificateRequestIds); err != nil {
		return err
	}
	return writeBulk(w, a.o.Workflow.DenyRequests(r.Context(), p, q.CertificateRequestIds, *q.Comment))
}
