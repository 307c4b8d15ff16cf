package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/agent"
	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/stores"
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

// TestSecurity_KeyDeliveryNeedsKeyRecovery: over HTTPS, an identity that may
// schedule into a container (and enroll) cannot pull another identity's
// retained private key into a store of that container, neither with
// Certificates/Add IncludePrivateKey nor with Enrollment/PFX/Replace (which
// takes no enrollment password); it still may deliver the certificate alone,
// and replace with a certificate it requested itself.
func TestSecurity_KeyDeliveryNeedsKeyRecovery(t *testing.T) {
	in := start(t, "")
	ctx := context.Background()
	var cont struct{ Id int64 }
	sxOK(t, in, "POST", "/CertificateStoreContainers", map[string]any{"Name": "team-m", "CertStoreType": 101}, &cont)
	agentID := registerAgentFixture(t, in, "", "sec-host")
	var store struct{ Id string }
	sxOK(t, in, "POST", "/CertificateStores", map[string]any{"ClientMachine": "sec-host", "StorePath": "/srv/m/web.p12",
		"CertStoreType": 101, "AgentId": agentID, "ContainerId": cont.Id, "Properties": "{}",
		"Password": map[string]string{"SecretValue": "p12-store-pass"}}, &store)
	storeID := strings.ToLower(store.Id)

	const mpw = "Mallory-pass-12345"
	sxOK(t, in, "POST", "/Security/Identities", map[string]any{"AccountName": "mallory", "Password": mpw}, nil)
	sxOK(t, in, "POST", "/Security/Roles", map[string]any{"Name": "TeamM", "Description": "team M operators",
		"Permissions": []string{"/portal/read/", "/certificates/enrollment/pfx/", "/certificates/collections/read/",
			"/certificate_stores/schedule/#" + strconv.FormatInt(cont.Id, 10)},
		"Identities": []map[string]any{{"AccountName": "mallory"}}}, nil)

	enrollStore := func(user, pass, cn string) int64 {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"Template": "WebServer", "Subject": "CN=" + cn, "Password": "Enroll-pass-12345",
			"Timestamp": time.Now().UTC().Format(time.RFC3339)})
		code, b := in.callAs(t, user, pass, "POST", "/Enrollment/PFX", string(body), map[string]string{"x-certificateformat": "STORE"})
		var out struct{ CertificateInformation struct{ KeyfactorId int64 } }
		if code != 200 || json.Unmarshal(b, &out) != nil || out.CertificateInformation.KeyfactorId == 0 {
			t.Fatalf("STORE enrollment of %s as %s: %d %s", cn, user, code, b)
		}
		return out.CertificateInformation.KeyfactorId
	}
	victim := enrollStore("admin", adminPassword, "payroll.example.com")
	old := enrollStore("admin", adminPassword, "old.example.com")
	own := enrollStore("mallory", mpw, "mallory.example.com")

	// The old certificate is in the store (as the agent would report it).
	var dl struct{ Content string }
	code, b := in.callAs(t, "admin", adminPassword, "POST", "/Certificates/Download", fmt.Sprintf(`{"CertID":%d}`, old),
		map[string]string{"x-certificateformat": "DER"})
	if code != 200 || json.Unmarshal(b, &dl) != nil {
		t.Fatalf("download: %d %s", code, b)
	}
	der, err := base64.StdEncoding.DecodeString(dl.Content)
	if err != nil {
		t.Fatal(err)
	}
	if err := catalogue(t, in, "").ReplaceInventory(ctx, storeID, []stores.InventoryItem{{Alias: "web", PrivateKeyEntry: true,
		Certificates: [][]byte{der}}}, time.Now()); err != nil {
		t.Fatal(err)
	}

	jobCount := func() int {
		t.Helper()
		var js []struct{ Id string }
		sxOK(t, in, "GET", "/OrchestratorJobs/ScheduledJobs?pq.returnLimit=500", nil, &js)
		return len(js)
	}
	before := jobCount()
	add := func(includeKey bool) (int, []byte) {
		return sxCall(t, in, "mallory", mpw, "POST", "/CertificateStores/Certificates/Add", map[string]any{"CertificateId": victim,
			"CertificateStores": []map[string]any{{"CertificateStoreId": storeID, "Alias": "loot", "IncludePrivateKey": includeKey}},
			"Schedule":          map[string]any{"Immediate": true}})
	}
	code, b = add(true)
	sxErrField(t, code, b, 403, "CertificateStores[0].IncludePrivateKey")
	code, b = sxCall(t, in, "mallory", mpw, "POST", "/Enrollment/PFX/Replace", map[string]any{"ExistingCertificateId": old, "CertificateId": victim})
	sxErrField(t, code, b, 403, "CertificateId")
	if n := jobCount(); n != before {
		t.Fatalf("refused requests created %d jobs", n-before)
	}

	// What the permissions do allow.
	if code, b := add(false); code != 200 {
		t.Fatalf("Add without the key: %d %s", code, b)
	}
	code, b = sxCall(t, in, "mallory", mpw, "POST", "/Enrollment/PFX/Replace", map[string]any{"ExistingCertificateId": old, "CertificateId": own})
	var rout struct{ SuccessfulStores, FailedStores []string }
	if code != 200 || json.Unmarshal(b, &rout) != nil || len(rout.SuccessfulStores) != 1 || !strings.EqualFold(rout.SuccessfulStores[0], storeID) {
		t.Fatalf("Replace with her own certificate: %d %s", code, b)
	}
	// An administrator (holding key recovery) may deliver anyone's key.
	code, b = sxCall(t, in, "", "", "POST", "/CertificateStores/Certificates/Add", map[string]any{"CertificateId": victim,
		"CertificateStores": []map[string]any{{"CertificateStoreId": storeID, "Alias": "payroll", "IncludePrivateKey": true}},
		"Schedule":          map[string]any{"Immediate": true}})
	if code != 200 {
		t.Fatalf("administrator Add with the key: %d %s", code, b)
	}
	if n := jobCount(); n != before+3 {
		t.Fatalf("%d jobs scheduled, want 3", n-before)
	}
}

// TestAgentProtocol_BodyLimits: the agent protocol reads bodies before it
// knows the caller. A caller without an agent's client certificate gets 413
// for a body over 1 MiB on every path (it used to be decoded up to 32 MiB);
// an agent's inventory report over 1 MiB is still read (the answer is about
// its session, not the size).
func TestAgentProtocol_BodyLimits(t *testing.T) {
	as := startAgentServer(t, "")
	dir := t.TempDir()
	cfg := as.agentConfig(dir, "big-host")
	cfg.Username, cfg.Password = "admin", adminPassword
	if err := agent.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	big := func() []byte {
		caps := make([]string, 0, 3000)
		for range 3000 {
			caps = append(caps, strings.Repeat("c", 1000))
		}
		b, _ := json.Marshal(map[string]any{"ClientMachine": "x", "SessionToken": "not-a-session",
			"JobId": "0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11", "Capabilities": caps})
		return b
	}()
	if len(big) < 2<<20 {
		t.Fatalf("test body is only %d bytes", len(big))
	}
	anon := as.httpClient()
	for _, path := range []string{orchestrator.PathRegister, orchestrator.PathHeartbeat, orchestrator.PathInventoryEndpoint, orchestrator.PathManagementDone} {
		resp, err := anon.Post(as.url+"/KeyfactorAgents"+path, "application/json", bytes.NewReader(big))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s without a client certificate, %d bytes: HTTP %d, want 413", path, len(big), resp.StatusCode)
		}
	}
	raw := as.rawAgent(t, dir)
	resp, err := raw.c.Post(raw.base+strings.TrimPrefix(orchestrator.PathInventoryEndpoint, "/"), "application/json", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rr orchestrator.ResultResponse
	if err := json.NewDecoder(resp.Body).Decode(&rr); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || rr.Result.Error == nil || rr.Result.Error.CodeString != orchestrator.CodeSession {
		t.Fatalf("agent's large inventory report: HTTP %d %+v, want 200 with %s (no session)", resp.StatusCode, rr.Result, orchestrator.CodeSession)
	}
}
