package httpapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/stores"
)

type agentJobTypeDTO struct {
	Name                   string `json:"Name"`
	CertStoreTypeShortName string `json:"CertStoreTypeShortName"`
	CertStoreJobType       string `json:"CertStoreJobType"`
	JobTypeId              string `json:"JobTypeId"`
}

// agentDTO is Keyfactor's OrchestratorsAgentResponse.
type agentDTO struct {
	AgentId                     string            `json:"AgentId"`
	ClientMachine               string            `json:"ClientMachine"`
	Username                    *string           `json:"Username"`
	AgentPlatform               int               `json:"AgentPlatform"`
	Version                     *string           `json:"Version"`
	Status                      int               `json:"Status"`
	LastSeen                    *string           `json:"LastSeen"`
	Capabilities                []string          `json:"Capabilities"`
	Blueprint                   *string           `json:"Blueprint"`
	Thumbprint                  *string           `json:"Thumbprint"`
	LegacyThumbprint            *string           `json:"LegacyThumbprint"`
	AuthCertificateReenrollment *string           `json:"AuthCertificateReenrollment"`
	LastThumbprintUsed          *string           `json:"LastThumbprintUsed"`
	LastErrorCode               *int64            `json:"LastErrorCode"`
	LastErrorMessage            *string           `json:"LastErrorMessage"`
	JobTypes                    []agentJobTypeDTO `json:"JobTypes"`
}

func toAgentDTO(ag stores.Agent) agentDTO {
	d := agentDTO{AgentId: ag.AgentID, ClientMachine: ag.ClientMachine, Username: strPtr(ag.Username),
		AgentPlatform: ag.Platform, Version: strPtr(ag.Version), Status: ag.Status, LastSeen: tsp(ag.LastSeen),
		Capabilities: ag.Capabilities, Thumbprint: strPtr(ag.Thumbprint), LastThumbprintUsed: strPtr(ag.Thumbprint),
		LastErrorMessage: strPtr(ag.LastErrorMessage), JobTypes: []agentJobTypeDTO{}}
	if d.Capabilities == nil {
		d.Capabilities = []string{}
	}
	if ag.LastErrorCode != 0 {
		d.LastErrorCode = ptr(ag.LastErrorCode)
	}
	// Capabilities "CertStores.<ShortName>.<Inventory|Management>" of the
	// built-in store types name their job types.
	for _, c := range ag.Capabilities {
		parts := strings.Split(c, ".")
		if len(parts) != 3 || !strings.EqualFold(parts[0], "CertStores") {
			continue
		}
		for _, id := range stores.BuiltinIDs() {
			t, _ := stores.Builtin(id)
			if !strings.EqualFold(t.ShortName, parts[1]) {
				continue
			}
			guid := ""
			switch strings.ToLower(parts[2]) {
			case "inventory":
				guid = t.InventoryJobType
			case "management":
				guid = t.ManagementJobType
			}
			if guid != "" {
				d.JobTypes = append(d.JobTypes, agentJobTypeDTO{Name: c, CertStoreTypeShortName: t.ShortName,
					CertStoreJobType: parts[2], JobTypeId: guid})
			}
		}
	}
	return d
}

func (a *API) listAgents(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	as, err := a.o.Stores.Agents(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	out := mapList(as, toAgentDTO)
	return writeJSON(w, out)
}

func (a *API) getAgent(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ag, err := a.o.Stores.Agent(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, toAgentDTO(ag))
}

func (a *API) setAgentStatus(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int) error {
	var ids []string
	if err := decode(r, &ids, false); err != nil {
		return err
	}
	if len(ids) > 1000 {
		return errs.Field("body", "at most 1000 agent ids at once")
	}
	if err := a.o.Stores.SetStatus(r.Context(), p, ids, status); err != nil {
		return err
	}
	return noContent(w)
}

func (a *API) postAgentsApprove(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return a.setAgentStatus(w, r, p, stores.AgentApproved)
}

func (a *API) postAgentsDisapprove(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return a.setAgentStatus(w, r, p, stores.AgentDisapproved)
}

func (a *API) postAgentReset(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.o.Stores.Reset(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

// registrationTokenRequest is the body of POST /Agents/RegistrationTokens
// (a certdock extension, docs/stores.md).
type registrationTokenRequest struct {
	Description  string `json:"Description"`
	ValidMinutes int    `json:"ValidMinutes"`
}

type registrationTokenResponse struct {
	Token       string `json:"Token"`
	ExpiresAt   string `json:"ExpiresAt"`
	Description string `json:"Description"`
}

func (a *API) postRegistrationToken(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req registrationTokenRequest
	if err := decode(r, &req, true); err != nil {
		return err
	}
	if req.ValidMinutes < 0 {
		return errs.Field("ValidMinutes", "must not be negative")
	}
	tok, exp, err := a.o.Stores.CreateRegistrationToken(r.Context(), p, req.Description, time.Duration(req.ValidMinutes)*time.Minute)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, registrationTokenResponse{Token: tok, ExpiresAt: ts(exp), Description: req.Description})
}
