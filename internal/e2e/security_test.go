package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/certdock/certdock/internal/agent"
	"github.com/certdock/certdock/internal/orchestrator"
)

// TestAgent_RegistrarReenrollNeedsApproval: an identity that may only
// register agents (/agents/register/) can re-enroll an existing agent by its
// AgentId and ClientMachine (both visible to store readers) with HTTP Basic
// and so obtain a client certificate for it. It must not obtain an approved
// agent that way (the jobs of an approved agent carry store passwords and
// private keys): the agent is New again until an approver approves it. An
// approver's re-enrollment keeps the status.
func TestAgent_RegistrarReenrollNeedsApproval(t *testing.T) {
	as := startAgentServer(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	cfg := as.agentConfig(dir, "victim-host")
	cfg.Username, cfg.Password = "admin", adminPassword
	if err := agent.Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	id := agentID(t, dir)
	as.api(t, "POST", "/Agents/Approve", []string{id}, nil, nil)

	const pw = "registrar-pass-123"
	as.api(t, "POST", "/Security/Identities", map[string]string{"AccountName": "registrar", "Password": pw}, nil, nil)
	as.api(t, "POST", "/Security/Roles", map[string]any{"Name": "registrars", "Description": "bootstrap only",
		"Permissions": []string{"/agents/register/"}, "Identities": []string{"registrar"}}, nil, nil)

	status := func() int {
		t.Helper()
		var a struct{ Status int }
		as.api(t, "GET", "/Agents/"+id, nil, nil, &a)
		return a.Status
	}
	reenroll := func(user, pass string) orchestrator.RegisterResponse {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"ClientMachine": "victim-host", "AgentId": id, "CSR": testCSR(t)})
		req, _ := http.NewRequest("POST", as.url+"/KeyfactorAgents/Session/Register", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, pass)
		resp, err := as.httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rr orchestrator.RegisterResponse
		if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || rr.Result.Status != orchestrator.StatusSuccess || rr.Session.Certificate == "" {
			t.Fatalf("re-enrollment as %s: HTTP %d %+v", user, resp.StatusCode, rr.Result)
		}
		return rr
	}
	if s := status(); s != 2 {
		t.Fatalf("agent status %d after approval, want 2", s)
	}
	reenroll("registrar", pw)
	if s := status(); s != 1 {
		t.Fatalf("agent status %d after a registrar's re-enrollment, want 1 (New, waiting for approval)", s)
	}
	as.api(t, "POST", "/Agents/Approve", []string{id}, nil, nil)
	reenroll("admin", adminPassword)
	if s := status(); s != 2 {
		t.Fatalf("agent status %d after an approver's re-enrollment, want 2 (kept)", s)
	}
}
