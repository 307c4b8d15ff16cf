package e2e

import (
	"context"
	"crypto"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Keyfactor/keyfactor-auth-client-go/auth_providers"
	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	kfv2 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v2"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/agent"
	"github.com/certdock/certdock/internal/config"
)

// wfServer is a server that can be stopped (stop) and started again on
// the same data directory and database (restart tests).
type wfServer struct{ *running }

// startWF runs a server on dir and dsn with quick workflow ticks and
// webhook back-off; tune changes the configuration further.
func startWF(t *testing.T, dir, dsn string, tune func(*config.Serve)) *wfServer {
	t.Helper()
	return &wfServer{startWith(t, startOptions{DSN: dsn, DataDir: dir, Tune: func(c *config.Serve) {
		c.WorkflowTick, c.WorkflowWebhookBackoff = 100*time.Millisecond, 200*time.Millisecond
		if tune != nil {
			tune(c)
		}
	}})}
}

// sdkAs is the SDK configuration for a local identity.
func (in *instance) sdkAs(t *testing.T, user, pass string) *kfv1.APIClient {
	t.Helper()
	c, err := kfv1.NewAPIClient(&auth_providers.Server{Host: "localhost:" + strconv.Itoa(in.port), Username: user, Password: pass,
		CACertPath: filepath.Join(in.dataDir, "root-ca.pem"), APIPath: "KeyfactorAPI", AuthType: "basic"})
	if err != nil {
		t.Fatalf("NewAPIClient(%s): %v", user, err)
	}
	return c
}

// The cast: alice requests (and holds the approving role too, to prove
// she still cannot approve her own request); bob and carol approve; dave
// only reads workflows.
const wfPass = "wf-password-12345"

type wfCast struct {
	approversRole int64
	patternID     int32
	definitionID  string
}

func (in *instance) mustCall(t *testing.T, user, method, path, body string, want int) []byte {
	t.Helper()
	pass := wfPass
	if user == "admin" {
		pass = adminPassword
	}
	code, b := in.callAs(t, user, pass, method, path, body, nil)
	if code != want {
		t.Fatalf("%s %s as %s = %d, want %d: %s", method, path, user, code, want, b)
	}
	return b
}

// setupCast creates identities, roles, a pattern and a published workflow
// definition (REST request step, then two approvals from Approvers) through
// the API and the SDK.
func setupCast(t *testing.T, in *instance, hookURL string) wfCast {
	t.Helper()
	ctx := context.Background()
	var cast wfCast
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		in.mustCall(t, "admin", "POST", "/Security/Identities", fmt.Sprintf(`{"AccountName":%q,"Password":%q}`, u, wfPass), 200)
	}
	role := func(name string, perms []string, members ...string) int64 {
		var ids []map[string]string
		for _, m := range members {
			ids = append(ids, map[string]string{"AccountName": m})
		}
		body, _ := json.Marshal(map[string]any{"Name": name, "Description": name, "Enabled": true, "Permissions": perms, "Identities": ids})
		var r struct{ Id int64 }
		json.Unmarshal(in.mustCall(t, "admin", "POST", "/Security/Roles", string(body), 200), &r)
		return r.Id
	}
	role("Requesters", []string{"/portal/read/", "/certificates/enrollment/pfx/", "/certificates/collections/read/",
		"/certificates/collections/private_key/read/", "/certificate_stores/schedule/", "/certificate_stores/read/", "/workflows/instances/read/"}, "alice")
	cast.approversRole = role("Approvers", []string{"/portal/read/", "/workflows/instances/read/", "/certificates/collections/read/"}, "alice", "bob", "carol")
	role("Readers", []string{"/portal/read/", "/workflows/instances/read/"}, "dave")

	admin := in.sdkAs(t, "admin", adminPassword)
	tpls, _, err := admin.TemplateApi.NewGetTemplatesRequest(ctx).Execute()
	if err != nil {
		t.Fatal(sdkErr(err))
	}
	var tid int32
	for _, tp := range tpls {
		if tp.GetCommonName() == "WebServer" {
			tid = tp.GetId()
		}
	}
	pat, _, err := admin.EnrollmentPatternApi.NewCreateEnrollmentPatternsRequest(ctx).
		EnrollmentPatternsEnrollmentPatternCreateRequest(*kfv1.NewEnrollmentPatternsEnrollmentPatternCreateRequest(tid, "Approved web servers")).Execute()
	if err != nil {
		t.Fatalf("POST EnrollmentPatterns: %s", sdkErr(err))
	}
	cast.patternID = pat.GetId()

	cr := kfv1.WorkflowsDefinitionCreateRequest{}
	cr.SetDisplayName("Two approvers")
	cr.SetDescription("two members of Approvers")
	cr.SetKey(strconv.Itoa(int(cast.patternID)))
	cr.SetWorkflowType("Enrollment")
	def, _, err := admin.WorkflowDefinitionApi.NewCreateWorkflowDefinitionsRequest(ctx).WorkflowsDefinitionCreateRequest(cr).Execute()
	if err != nil {
		t.Fatalf("POST Workflow/Definitions: %s", sdkErr(err))
	}
	cast.definitionID = def.GetId()
	if def.GetKeyDisplayName() != "Approved web servers" || def.GetWorkflowType() != "Enrollment" {
		t.Errorf("definition key %q type %q", def.GetKeyDisplayName(), def.GetWorkflowType())
	}
	rest := kfv1.WorkflowsDefinitionStepRequest{}
	rest.SetExtensionName("RESTRequest")
	rest.SetUniqueName("Notify")
	rest.SetDisplayName("Tell the ticket system")
	rest.SetEnabled(true)
	rest.SetConfigurationParameters(map[string]any{"URL": hookURL + "/step", "Verb": "POST"})
	appr := kfv1.WorkflowsDefinitionStepRequest{}
	appr.SetExtensionName("RequireApproval")
	appr.SetUniqueName("Approve")
	appr.SetDisplayName("Two approvals")
	appr.SetEnabled(true)
	appr.SetConfigurationParameters(map[string]any{"MinimumApprovals": 2})
	sig := kfv1.WorkflowsSignalConfigurationRequest{}
	sig.SetSignalName("ApprovalStatus")
	sig.SetRoleIds([]int32{int32(cast.approversRole)})
	appr.SetSignals([]kfv1.WorkflowsSignalConfigurationRequest{sig})
	if _, _, err := admin.WorkflowDefinitionApi.NewUpdateWorkflowDefinitionsDefinitionIdStepsRequest(ctx, cast.definitionID).
		WorkflowsDefinitionStepRequest([]kfv1.WorkflowsDefinitionStepRequest{rest, appr}).Execute(); err != nil {
		t.Fatalf("PUT Steps: %s", sdkErr(err))
	}
	pub, _, err := admin.WorkflowDefinitionApi.NewCreateWorkflowDefinitionsDefinitionIdPublishRequest(ctx, cast.definitionID).Execute()
	if err != nil {
		t.Fatalf("Publish: %s", sdkErr(err))
	}
	if !pub.GetIsPublished() || pub.GetPublishedVersion() != 1 || len(pub.Steps) != 2 {
		t.Fatalf("published definition: %+v", pub)
	}
	return cast
}

// hookReceiver is a webhook receiver on loopback that answers 500 to the
// first POST and 200 afterwards.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	calls  int
	events []map[string]any
	paths  []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls++
		if h.calls == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var ev map[string]any
		if r.Method != http.MethodPost || json.Unmarshal(b, &ev) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h.events = append(h.events, ev)
		h.paths = append(h.paths, r.URL.Path)
	}))
	t.Cleanup(h.Close)
	return h
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *hookReceiver) seen(requestID int32) (names []string, got500 bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, ev := range h.events {
		if id, _ := ev["KeyfactorRequestId"].(float64); int32(id) == requestID {
			name, _ := ev["Event"].(string)
			if h.paths[i] == "/step" {
				name = "step:" + name
			}
			names = append(names, name)
		}
	}
	return names, h.calls > len(h.events)
}

func enrollPending(t *testing.T, c *kfv1.APIClient, patternID int32, cn, pw string) kfv1.CSSCMSDataModelModelsPkcs12CertificateResponse {
	t.Helper()
	req := kfv1.NewEnrollmentPFXEnrollmentRequest()
	req.SetEnrollmentPatternId(patternID)
	req.SetSubject("CN=" + cn)
	req.SetSANs(map[string][]string{"dns": {cn}})
	req.SetPassword(pw)
	req.SetTimestamp(time.Now().UTC())
	resp, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXRequest(context.Background()).XCertificateformat("PFX").EnrollmentPFXEnrollmentRequest(*req).Execute()
	if err != nil {
		t.Fatalf("POST Enrollment/PFX: %s", sdkErr(err))
	}
	info := resp.GetCertificateInformation()
	if info.GetRequestDisposition() != "PENDING" || info.GetKeyfactorRequestId() <= 0 || info.GetKeyfactorId() != 0 ||
		info.GetPkcs12Blob() != "" || info.GetWorkflowInstanceId() == "" || info.GetWorkflowInstanceId() == "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("enrollment answer is not a clean PENDING: disposition %q request %d cert %d blob %d chars instance %q",
			info.GetRequestDisposition(), info.GetKeyfactorRequestId(), info.GetKeyfactorId(), len(info.GetPkcs12Blob()), info.GetWorkflowInstanceId())
	}
	return info
}

func signal(t *testing.T, c *kfv1.APIClient, instanceID, decision, comment string) error {
	t.Helper()
	sr := kfv1.WorkflowsSignalRequest{}
	sr.SetSignalKey("Approve.ApprovalStatus")
	sr.SetData(map[string]any{"ApprovalStatus": decision, "Comment": comment})
	_, err := c.WorkflowInstanceApi.NewCreateWorkflowInstancesInstanceIdSignalsRequest(context.Background(), instanceID).WorkflowsSignalRequest(sr).Execute()
	return err
}

func statusOf(t *testing.T, c *kfv1.APIClient, instanceID string) (int32, string) {
	t.Helper()
	in, _, err := c.WorkflowInstanceApi.NewGetWorkflowInstancesInstanceIdRequest(context.Background(), instanceID).Execute()
	if err != nil {
		t.Fatalf("GET Workflow/Instances/%s: %s", instanceID, sdkErr(err))
	}
	return int32(in.GetStatus()), in.GetStatusMessage()
}

func certsOfRequest(t *testing.T, c *kfv1.APIClient, requestID int32) []kfv1.CertificatesCertificateRetrievalResponse {
	t.Helper()
	list, _, err := c.CertificateApi.NewGetCertificatesRequest(context.Background()).QueryString(fmt.Sprintf("CertRequestId -eq %d", requestID)).Execute()
	if err != nil {
		t.Fatalf("GET Certificates: %s", sdkErr(err))
	}
	return list
}

func TestWorkflow_V1ApprovalRecoveryWebhooksRestart(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runWorkflowV1(t, "") })
	t.Run("postgres", func(t *testing.T) { runWorkflowV1(t, postgresDSN(t)) })
}

func runWorkflowV1(t *testing.T, dsn string) {
	ctx := context.Background()
	hook := newHookReceiver(t)
	dir := t.TempDir()
	tune := func(c *config.Serve) { c.WorkflowWebhookURL = hook.URL + "/events" }
	srv := startWF(t, dir, dsn, tune)
	cast := setupCast(t, srv.instance, hook.URL)
	alice, bob, carol := srv.sdkAs(t, "alice", wfPass), srv.sdkAs(t, "bob", wfPass), srv.sdkAs(t, "carol", wfPass)

	const pw = "alice-pfx-password-1"
	info := enrollPending(t, alice, cast.patternID, "approved.example.com", pw)
	reqID, instID := info.GetKeyfactorRequestId(), info.GetWorkflowInstanceId()
	if n := len(certsOfRequest(t, srv.sdkAs(t, "admin", adminPassword), reqID)); n != 0 {
		t.Fatalf("%d certificates issued for a pending request", n)
	}

	// The pending list, the request and the approver's queue.
	pending, _, err := bob.WorkflowApi.NewGetWorkflowCertificatesPendingRequest(ctx).Execute()
	if err != nil {
		t.Fatal(sdkErr(err))
	}
	found := false
	for _, p := range pending {
		found = found || (p.GetId() == reqID && p.GetRequester() == "alice" && p.GetCommonName() == "approved.example.com")
	}
	if !found {
		t.Fatalf("request %d not pending for alice: %+v", reqID, pending)
	}
	mine, _, err := bob.WorkflowInstanceApi.NewGetWorkflowInstancesAssignedToMeRequest(ctx).Execute()
	if err != nil || len(mine) != 1 || mine[0].GetId() != instID {
		t.Fatalf("bob's AssignedToMe = %v %v", mine, err)
	}
	if self, _, _ := alice.WorkflowInstanceApi.NewGetWorkflowInstancesAssignedToMeRequest(ctx).Execute(); len(self) != 0 {
		t.Fatalf("alice's own request is assigned to her: %v", self)
	}

	// Self-approval is refused on both endpoints.
	if err := signal(t, alice, instID, "APPROVE", "mine"); err == nil || !strings.Contains(sdkErr(err), "403") {
		t.Fatalf("self-approval by signal: %v", err)
	}
	res, _, err := alice.WorkflowApi.NewCreateWorkflowCertificatesApproveRequest(ctx).RequestBody([]int32{reqID}).Execute()
	if err != nil || len(res.Failures) != 1 || len(res.Successes) != 0 || !strings.Contains(res.Failures[0].GetComment(), "cannot approve") {
		t.Fatalf("self-approval by Approve: %+v %v", res, err)
	}
	// dave is not an approver.
	if err := signal(t, srv.sdkAs(t, "dave", wfPass), instID, "APPROVE", ""); err == nil || !strings.Contains(sdkErr(err), "403") {
		t.Fatalf("approval by a non-approver: %v", err)
	}

	// bob approves; bob again counts once.
	if err := signal(t, bob, instID, "APPROVE", "looks right"); err != nil {
		t.Fatalf("bob: %s", sdkErr(err))
	}
	res, _, err = bob.WorkflowApi.NewCreateWorkflowCertificatesApproveRequest(ctx).RequestBody([]int32{reqID}).Execute()
	if err != nil || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].GetComment(), "counts once") {
		t.Fatalf("bob's second approval: %+v %v", res, err)
	}
	if st, msg := statusOf(t, bob, instID); st != 3 || !strings.Contains(msg, "1 of 2") {
		t.Fatalf("after one approval: status %d %q", st, msg)
	}

	// Restart between the first and the second approval.
	srv.stop()
	srv = startWF(t, dir, dsn, tune)
	alice, carol = srv.sdkAs(t, "alice", wfPass), srv.sdkAs(t, "carol", wfPass)
	admin := srv.sdkAs(t, "admin", adminPassword)

	// GET /Workflow/Instances lists it.
	all, _, err := admin.WorkflowInstanceApi.NewGetWorkflowInstancesRequest(ctx).Execute()
	listed := false
	for _, w := range all {
		listed = listed || w.GetId() == instID
	}
	if err != nil || !listed {
		t.Fatalf("GET /Workflow/Instances lacks %s: %v", instID, err)
	}

	// Nothing was lost: the request with its parameters, and bob's approval.
	if st, msg := statusOf(t, carol, instID); st != 3 || !strings.Contains(msg, "1 of 2") {
		t.Fatalf("after the restart: status %d %q", st, msg)
	}
	one, _, err := carol.WorkflowApi.NewGetWorkflowCertificatesByIdRequest(ctx, reqID).Execute()
	if err != nil || one.GetCommonName() != "approved.example.com" || one.GetRequester() != "alice" || one.GetStateString() != "Pending" {
		t.Fatalf("request %d after the restart: %+v %v", reqID, one, err)
	}

	res, _, err = carol.WorkflowApi.NewCreateWorkflowCertificatesApproveRequest(ctx).RequestBody([]int32{reqID}).Execute()
	if err != nil || len(res.Successes) != 1 || res.Successes[0].GetKeyfactorRequestId() != reqID {
		t.Fatalf("carol's approval after restart: %+v %v", res, err)
	}
	if st, msg := statusOf(t, carol, instID); st != 4 {
		t.Fatalf("after two approvals: status %d %q", st, msg)
	}
	certs := certsOfRequest(t, admin, reqID)
	if len(certs) != 1 || certs[0].GetRequesterName() != "alice" || certs[0].GetIssuedCN() != "approved.example.com" {
		t.Fatalf("issued certificates for request %d: %+v", reqID, certs)
	}
	cert := certs[0]

	// v1: the requester recovers the key.
	rr := kfv1.NewCertificatesCertificateRecoveryRequest("recovered-password-9")
	rr.SetCertID(cert.GetId())
	rr.SetIncludeChain(true)
	rec, _, err := alice.CertificateApi.NewCreateCertificatesRecoverRequest(ctx).XCertificateformat("PFX").CertificatesCertificateRecoveryRequest(*rr).Execute()
	if err != nil {
		t.Fatalf("alice recovers: %s", sdkErr(err))
	}
	blob, _ := base64.StdEncoding.DecodeString(rec.GetPFX())
	key, leaf, _, err := pkcs12.DecodeChain(blob, "recovered-password-9")
	if err != nil || !strings.EqualFold(fmt.Sprintf("%X", sha1sum(leaf.Raw)), cert.GetThumbprint()) {
		t.Fatalf("recovered PFX: %v", err)
	}
	if s, ok := key.(crypto.Signer); !ok || !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey) {
		t.Fatal("recovered key does not match the certificate")
	}

	// POST /Workflow/Instances/{id}/Restart re-runs only an instance whose
	// issuance failed (internal/workflow TestApproval_RestartAfterFailedIssuance
	// fails the CA and restarts); here its HTTP contract through the SDK.
	if resp, err := admin.WorkflowInstanceApi.NewCreateWorkflowInstancesInstanceIdRestartRequest(ctx, instID).Execute(); err == nil ||
		resp == nil || resp.StatusCode != 409 || !strings.Contains(sdkErr(err), "only an instance whose issuance failed") {
		t.Errorf("restart of a completed instance: %v %s", resp, sdkErr(err))
	}
	if resp, err := admin.WorkflowInstanceApi.NewCreateWorkflowInstancesInstanceIdRestartRequest(ctx, "00000000-0000-0000-0000-000000000000").Execute(); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Errorf("restart of an unknown instance: %v %v", resp, err)
	}
	if code, b := srv.callAs(t, "admin", adminPassword, "POST", "/Workflow/Instances/"+instID+"/Restart?version=zero", "", nil); code != 400 || !strings.Contains(string(b), "version: ") {
		t.Errorf("restart with version=zero: %d %s", code, b)
	}
	if resp, err := carol.WorkflowInstanceApi.NewCreateWorkflowInstancesInstanceIdRestartRequest(ctx, instID).Execute(); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("restart without /workflows/instances/manage/: %v %v", resp, err)
	}

	// History names the approvers.
	code, hb := srv.callAs(t, "admin", adminPassword, "GET", fmt.Sprintf("/Certificates/%d/History", cert.GetId()), "", nil)
	if code != 200 || !strings.Contains(string(hb), "bob, carol") {
		t.Errorf("history (%d): %s", code, hb)
	}

	// Webhooks: the notification URL and the REST step got their POSTs,
	// the first after a retry.
	want := []string{"Pending", "step:Step", "Approval", "Approved", "Issued"}
	waitFor(t, "webhooks", func() bool { names, _ := hook.seen(reqID); return len(names) >= len(want) })
	names, got500 := hook.seen(reqID)
	for _, w := range want {
		if !strings.Contains(","+strings.Join(names, ",")+",", ","+w+",") {
			t.Errorf("webhook events %v lack %s", names, w)
		}
	}
	if !got500 {
		t.Error("the receiver's first 500 was never retried past")
	}

	// The audit trail has every state change of the request, with who.
	got := auditOf(t, dsn, dir, fmt.Sprintf("certificate request %d", reqID), fmt.Sprintf("certificate %d", cert.GetId()))
	for _, w := range []string{"alice workflow.request.pending", "bob workflow.request.approval", "carol workflow.request.approval", "workflow workflow.request.issued"} {
		if !slices.Contains(got, w) {
			t.Errorf("audit_log lacks %q: %v", w, got)
		}
	}
}

// auditOf reads "actor action" of the audit_log entries about targets,
// oldest first, from the server's database (dsn "" is the SQLite file
// in dir).
func auditOf(t *testing.T, dsn, dir string, targets ...string) []string {
	t.Helper()
	driver, src := "pgx", dsn
	if dsn == "" {
		driver, src = "sqlite", filepath.Join(dir, "certdock.db")
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, target FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var actor, action, target string
		if err := rows.Scan(&actor, &action, &target); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(targets, target) {
			out = append(out, actor+" "+action)
		}
	}
	return out
}

func TestWorkflow_DenyAndExpiry(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runWorkflowDeny(t, "") })
	t.Run("postgres", func(t *testing.T) { runWorkflowDeny(t, postgresDSN(t)) })
}

func runWorkflowDeny(t *testing.T, dsn string) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := startWF(t, dir, dsn, nil)
	cast := setupCast(t, srv.instance, "http://127.0.0.1:1") // step webhook to a closed port: retried, never blocks
	alice, bob, carol := srv.sdkAs(t, "alice", wfPass), srv.sdkAs(t, "bob", wfPass), srv.sdkAs(t, "carol", wfPass)

	info := enrollPending(t, alice, cast.patternID, "denied.example.com", "alice-pfx-password-2")
	reqID := info.GetKeyfactorRequestId()
	dr := kfv1.CSSCMSDataModelModelsWorkflowDenialRequest{}
	dr.SetComment("no such service")
	dr.SetCertificateRequestIds([]int32{reqID})
	res, _, err := bob.WorkflowApi.NewCreateWorkflowCertificatesDenyRequest(ctx).CSSCMSDataModelModelsWorkflowDenialRequest(dr).Execute()
	if err != nil || len(res.Denials) != 1 || res.Denials[0].GetKeyfactorRequestId() != reqID {
		t.Fatalf("deny: %+v %v", res, err)
	}
	res, _, err = carol.WorkflowApi.NewCreateWorkflowCertificatesApproveRequest(ctx).RequestBody([]int32{reqID}).Execute()
	if err != nil || len(res.Successes) != 0 || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].GetComment(), "denied by bob") {
		t.Fatalf("approve after deny: %+v %v", res, err)
	}
	denied, _, err := carol.WorkflowApi.NewGetWorkflowCertificatesDeniedRequest(ctx).Execute()
	if err != nil || len(denied) != 1 || denied[0].GetId() != reqID {
		t.Fatalf("Denied list: %+v %v", denied, err)
	}
	one, _, err := carol.WorkflowApi.NewGetWorkflowCertificatesByIdRequest(ctx, reqID).Execute()
	if err != nil || one.GetDenialComment() != "no such service" || one.GetStateString() != "Denied" {
		t.Fatalf("GET Workflow/Certificates/%d: %+v %v", reqID, one, err)
	}
	if n := len(certsOfRequest(t, srv.sdkAs(t, "admin", adminPassword), reqID)); n != 0 {
		t.Fatalf("a denied request was issued (%d certificates)", n)
	}
	// Deny needs a comment.
	code, b := srv.callAs(t, "bob", wfPass, "POST", "/Workflow/Certificates/Deny", fmt.Sprintf(`{"CertificateRequestIds":[%d]}`, reqID), nil)
	if code != 400 || !strings.Contains(string(b), "Comment") {
		t.Errorf("deny without comment: %d %s", code, b)
	}

	// A CSR enrollment cannot wait, so a gated pattern refuses it: the
	// definition cannot be bypassed with a CSR.
	csr, _ := opensslCSR(t, t.TempDir(), "gated", "ec", "/CN=csr.gated.example.com", "-pkeyopt", "ec_paramgen_curve:P-256")
	body, _ := json.Marshal(map[string]any{"CSR": csr, "EnrollmentPatternId": cast.patternID, "Timestamp": time.Now().UTC().Format(time.RFC3339)})
	if code, b := srv.callAs(t, "admin", adminPassword, "POST", "/Enrollment/CSR", string(body), map[string]string{"x-certificateformat": "PEM"}); code != 400 || !strings.Contains(string(b), "requires approval") {
		t.Fatalf("CSR enrollment on a gated pattern: %d %s", code, b)
	}

	// alice sees her requests; an administrator stops a waiting one.
	stopMe := enrollPending(t, alice, cast.patternID, "stopped.example.com", "alice-pfx-password-5")
	mine, _, err := alice.WorkflowInstanceApi.NewGetWorkflowInstancesMyRequest(ctx).Execute()
	if err != nil || len(mine) != 2 {
		t.Fatalf("alice's instances: %d %v", len(mine), err)
	}
	if _, err := bob.WorkflowInstanceApi.NewCreateWorkflowInstancesInstanceIdStopRequest(ctx, stopMe.GetWorkflowInstanceId()).Execute(); err == nil || !strings.Contains(sdkErr(err), "403") {
		t.Fatalf("stop without the manage permission: %v", err)
	}
	if _, err := srv.sdkAs(t, "admin", adminPassword).WorkflowInstanceApi.NewCreateWorkflowInstancesInstanceIdStopRequest(ctx, stopMe.GetWorkflowInstanceId()).Execute(); err != nil {
		t.Fatalf("stop: %s", sdkErr(err))
	}
	if st, _ := statusOf(t, bob, stopMe.GetWorkflowInstanceId()); st != 6 {
		t.Fatalf("stopped instance status %d", st)
	}

	// Expiry: restart with a short approval timeout; the background loop
	// expires the waiting request and it can no longer be approved.
	srv.stop()
	srv = startWF(t, dir, dsn, func(c *config.Serve) { c.ApprovalTimeout = 2 * time.Second })
	alice, bob = srv.sdkAs(t, "alice", wfPass), srv.sdkAs(t, "bob", wfPass)
	stale := enrollPending(t, alice, cast.patternID, "stale.example.com", "alice-pfx-password-3")
	waitFor(t, "expiry", func() bool { st, _ := statusOf(t, bob, stale.GetWorkflowInstanceId()); return st == 1 })
	if _, msg := statusOf(t, bob, stale.GetWorkflowInstanceId()); !strings.Contains(msg, "expired") {
		t.Errorf("expired instance message %q", msg)
	}
	if err := signal(t, bob, stale.GetWorkflowInstanceId(), "APPROVE", ""); err == nil || !strings.Contains(sdkErr(err), "409") {
		t.Fatalf("approval of an expired request: %v", err)
	}
}

// v2: an enrollment into a certificate store waits for two approvals, then
// is issued and delivered at JobTime by a real agent (internal/agent) that
// writes the PKCS#12 store file on this machine.
func TestWorkflow_V2StoresDeliveredByAgent(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runWorkflowV2(t, "") })
	t.Run("postgres", func(t *testing.T) { runWorkflowV2(t, postgresDSN(t)) })
}

func runWorkflowV2(t *testing.T, dsn string) {
	ctx := context.Background()
	srv := startWF(t, t.TempDir(), dsn, nil)
	cast := setupCast(t, srv.instance, "http://127.0.0.1:1")
	url := "https://localhost:" + strconv.Itoa(srv.port)
	api := func(method, path string, body any, out any) {
		t.Helper()
		b, _ := json.Marshal(body)
		if body == nil {
			b = nil
		}
		code, resp := srv.callAs(t, "admin", adminPassword, method, path, string(b), nil)
		if code/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, code, resp)
		}
		if out != nil {
			if err := json.Unmarshal(resp, out); err != nil {
				t.Fatalf("%s %s: %v %s", method, path, err, resp)
			}
		}
	}

	// A registered, approved agent and a PKCS#12 store on "this machine".
	agentDir := t.TempDir()
	storePath := filepath.Join(agentDir, "stores", "approved.p12")
	os.MkdirAll(filepath.Dir(storePath), 0o755)
	acfg := agent.Config{Server: url, DataDir: agentDir, CACert: filepath.Join(srv.dataDir, "root-ca.pem"), ClientMachine: "wf-host",
		Once: true, Username: "admin", Password: adminPassword}
	if err := agent.Run(ctx, acfg); err != nil {
		t.Fatalf("agent registration: %v", err)
	}
	acfg.Username, acfg.Password = "", ""
	agentID := agentID(t, agentDir)
	api("POST", "/Agents/Approve", []string{agentID}, nil)
	var st struct{ Id string }
	api("POST", "/CertificateStores", map[string]any{"ClientMachine": "wf-host", "StorePath": storePath, "CertStoreType": 101,
		"AgentId": agentID, "CreateIfMissing": true, "Properties": "{}", "Password": map[string]string{"SecretValue": "store-pass-1"}}, &st)

	// alice asks for delivery into the store at JobTime.
	c2, err := kfv2.NewAPIClient(&auth_providers.Server{Host: "localhost:" + strconv.Itoa(srv.port), Username: "alice", Password: wfPass,
		CACertPath: filepath.Join(srv.dataDir, "root-ca.pem"), APIPath: "KeyfactorAPI", AuthType: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	jobTime := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second)
	req := kfv2.NewEnrollmentPFXEnrollmentWithStoresRequest()
	req.SetEnrollmentPatternId(cast.patternID)
	req.SetSubject("CN=store.approved.example.com")
	req.SetSANs(map[string][]string{"dns": {"store.approved.example.com"}})
	req.SetPassword("entry-password-1")
	req.SetTimestamp(time.Now().UTC())
	req.SetJobTime(jobTime)
	target := kfv2.NewEnrollmentManagementStoreRequest()
	target.SetStoreId(st.Id)
	target.SetAlias("approved")
	target.SetOverwrite(true)
	req.SetStores([]kfv2.EnrollmentManagementStoreRequest{*target})
	resp, _, err := c2.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("PFX").EnrollmentPFXEnrollmentWithStoresRequest(*req).Execute()
	if err != nil {
		t.Fatalf("v2 POST Enrollment/PFX: %s", sdkErr(err))
	}
	info := resp.GetCertificateInformation()
	if info.GetRequestDisposition() != "PENDING" || info.GetPkcs12Blob() != "" || len(resp.GetSuccessfulStores()) != 0 || info.GetWorkflowInstanceId() == "" {
		t.Fatalf("v2 answer: disposition %q blob %d stores %v instance %q", info.GetRequestDisposition(), len(info.GetPkcs12Blob()),
			resp.GetSuccessfulStores(), info.GetWorkflowInstanceId())
	}
	reqID, instID := info.GetKeyfactorRequestId(), info.GetWorkflowInstanceId()
	bob, carol := srv.sdkAs(t, "bob", wfPass), srv.sdkAs(t, "carol", wfPass)
	one, _, err := bob.WorkflowApi.NewGetWorkflowCertificatesByIdRequest(ctx, reqID).Execute()
	if err != nil || len(one.CertStores) != 1 || one.CertStores[0].GetEntryName() != "approved" {
		t.Fatalf("request %d stores: %+v %v", reqID, one, err)
	}
	// Nothing is scheduled while the request waits.
	var jobsBefore []map[string]any
	api("GET", "/OrchestratorJobs/ScheduledJobs", nil, &jobsBefore)
	for _, j := range jobsBefore {
		if strings.Contains(fmt.Sprint(j), storePath) && strings.Contains(fmt.Sprint(j["JobType"]), "2") {
			t.Fatalf("a management job exists before approval: %v", j)
		}
	}

	if err := signal(t, bob, instID, "APPROVE", ""); err != nil {
		t.Fatalf("bob: %s", sdkErr(err))
	}
	if err := signal(t, carol, instID, "APPROVE", ""); err != nil {
		t.Fatalf("carol: %s", sdkErr(err))
	}
	if s, msg := statusOf(t, bob, instID); s != 4 {
		t.Fatalf("after approvals: %d %q", s, msg)
	}
	certs := certsOfRequest(t, srv.sdkAs(t, "admin", adminPassword), reqID)
	if len(certs) != 1 || certs[0].GetRequesterName() != "alice" {
		t.Fatalf("issued: %+v", certs)
	}
	certID := certs[0].GetId()
	var scheduled []map[string]any
	api("GET", "/OrchestratorJobs/ScheduledJobs", nil, &scheduled)
	if !strings.Contains(fmt.Sprint(scheduled), "wf-host") {
		t.Fatalf("no management job for the store after approval: %v", scheduled)
	}

	// Before JobTime the agent gets nothing; after it, the store holds the
	// certificate and its key.
	if time.Until(jobTime) > 700*time.Millisecond {
		if err := agent.Run(ctx, acfg); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(storePath); err == nil && time.Now().Before(jobTime) {
			t.Fatal("the store was written before JobTime")
		}
	}
	time.Sleep(time.Until(jobTime.Add(1100 * time.Millisecond)))
	for i := 0; i < 2; i++ { // the add, then the inventory queued after it
		if err := agent.Run(ctx, acfg); err != nil {
			t.Fatal(err)
		}
	}
	out := run(t, "openssl", "pkcs12", "-info", "-in", storePath, "-passin", "pass:store-pass-1", "-nodes")
	if !strings.Contains(out, "friendlyName: approved") || !strings.Contains(out, "CN = store.approved.example.com") || !strings.Contains(out, "BEGIN PRIVATE KEY") {
		t.Fatalf("store content:\n%s", out)
	}
	code, body := srv.callAs(t, "admin", adminPassword, "GET", fmt.Sprintf("/Certificates/Locations/%d", certID), "", nil)
	if code != 200 || !strings.Contains(string(body), storePath) {
		t.Fatalf("locations of certificate %d: %d %s", certID, code, body)
	}

	// A v2 renewal of that certificate, without Stores: InstallIntoExistingCertificateStores
	// (absent = true) sends the approved renewal into the store holding the old one.
	rreq := kfv2.NewEnrollmentPFXEnrollmentWithStoresRequest()
	rreq.SetEnrollmentPatternId(cast.patternID)
	rreq.SetSubject("CN=store.approved.example.com")
	rreq.SetSANs(map[string][]string{"dns": {"store.approved.example.com"}})
	rreq.SetPassword("entry-password-1")
	rreq.SetTimestamp(time.Now().UTC())
	rreq.SetRenewalCertificateId(certID)
	rresp, _, err := c2.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("PFX").EnrollmentPFXEnrollmentWithStoresRequest(*rreq).Execute()
	if err != nil {
		t.Fatalf("v2 renewal: %s", sdkErr(err))
	}
	rinfo := rresp.GetCertificateInformation()
	if rinfo.GetRequestDisposition() != "PENDING" || rinfo.GetPkcs12Blob() != "" {
		t.Fatalf("v2 renewal answer: disposition %q", rinfo.GetRequestDisposition())
	}
	// Both approvals through the older endpoint this time.
	for _, who := range []*kfv1.APIClient{bob, carol} {
		res, _, err := who.WorkflowApi.NewCreateWorkflowCertificatesApproveRequest(ctx).RequestBody([]int32{rinfo.GetKeyfactorRequestId()}).Execute()
		if err != nil || len(res.Successes) != 1 {
			t.Fatalf("approve renewal: %+v %v", res, err)
		}
	}
	renewed := certsOfRequest(t, srv.sdkAs(t, "admin", adminPassword), rinfo.GetKeyfactorRequestId())
	if len(renewed) != 1 {
		t.Fatalf("renewal issued %d certificates", len(renewed))
	}
	for i := 0; i < 2; i++ { // the job, then the inventory
		if err := agent.Run(ctx, acfg); err != nil {
			t.Fatal(err)
		}
	}
	out = run(t, "openssl", "pkcs12", "-info", "-in", storePath, "-passin", "pass:store-pass-1", "-nokeys", "-clcerts")
	if n := strings.Count(out, "BEGIN CERTIFICATE"); n != 1 {
		t.Fatalf("the store holds %d leaf certificates after the renewal, want the renewal alone:\n%s", n, out)
	}
	f := filepath.Join(t.TempDir(), "leaf.pem")
	os.WriteFile(f, []byte(out), 0o600)
	fp := run(t, "openssl", "x509", "-in", f, "-noout", "-fingerprint", "-sha1")
	if tp := strings.ReplaceAll(strings.TrimSpace(fp[strings.Index(fp, "=")+1:]), ":", ""); !strings.EqualFold(tp, renewed[0].GetThumbprint()) {
		t.Fatalf("the store holds %s, want the approved renewal %s", tp, renewed[0].GetThumbprint())
	}
}

// The setup file declares a workflow (pattern and approver role by name);
// it is published at start, unchanged by a second start, and holds
// enrollments for the pattern.
func TestWorkflow_SetupFile(t *testing.T) {
	t.Setenv("WF_ALICE_PASSWORD", wfPass)
	t.Setenv("WF_BOB_PASSWORD", wfPass)
	setup := `{
  "Identities": [{"AccountName": "alice", "PasswordEnv": "WF_ALICE_PASSWORD"}, {"AccountName": "bob", "PasswordEnv": "WF_BOB_PASSWORD"}],
  "Roles": [{"Name": "Requesters", "Permissions": ["/portal/read/", "/certificates/enrollment/pfx/", "/workflows/instances/read/"], "Identities": ["alice"]},
            {"Name": "Approvers", "Permissions": ["/portal/read/", "/workflows/instances/read/"], "Identities": ["bob"]}],
  "EnrollmentPatterns": [{"Name": "Gated", "Template": "WebServer"}],
  "WorkflowDefinitions": [{"DisplayName": "Gated approval", "EnrollmentPattern": "Gated",
     "Steps": [{"ExtensionName": "RequireApproval", "UniqueName": "Approve", "ConfigurationParameters": {"MinimumApprovals": 1},
                "ApproverRoles": ["Approvers"]}]}]
}`
	file := filepath.Join(t.TempDir(), "setup.json")
	os.WriteFile(file, []byte(setup), 0o600)
	dir := t.TempDir()
	tune := func(c *config.Serve) { c.Config = file }
	srv := startWF(t, dir, "", tune)
	srv.stop()
	srv = startWF(t, dir, "", tune) // applied twice: still version 1
	ctx := context.Background()
	admin := srv.sdkAs(t, "admin", adminPassword)
	defs, _, err := admin.WorkflowDefinitionApi.NewGetWorkflowDefinitionsRequest(ctx).Execute()
	if err != nil || len(defs) != 1 || defs[0].GetDisplayName() != "Gated approval" || defs[0].GetPublishedVersion() != 1 || defs[0].GetKeyDisplayName() != "Gated" {
		t.Fatalf("definitions from the setup file: %+v %v", defs, err)
	}
	def, _, err := admin.WorkflowDefinitionApi.NewGetWorkflowDefinitionsDefinitionIdRequest(ctx, defs[0].GetId()).Execute()
	if err != nil || len(def.Steps) != 1 || len(def.Steps[0].Signals) != 1 || len(def.Steps[0].Signals[0].RoleIds) != 1 {
		t.Fatalf("definition: %+v %v", def, err)
	}
	var pid int32
	pats, _, _ := admin.EnrollmentPatternApi.NewGetEnrollmentPatternsRequest(ctx).Execute()
	for _, p := range pats {
		if p.GetName() == "Gated" {
			pid = p.GetId()
		}
	}
	info := enrollPending(t, srv.sdkAs(t, "alice", wfPass), pid, "gated.example.com", "alice-pfx-password-4")
	if err := signal(t, srv.sdkAs(t, "bob", wfPass), info.GetWorkflowInstanceId(), "APPROVE", ""); err != nil {
		t.Fatal(sdkErr(err))
	}
	if st, msg := statusOf(t, admin, info.GetWorkflowInstanceId()); st != 4 {
		t.Fatalf("after bob's approval: %d %q", st, msg)
	}
	// The catalogue endpoints answer through the SDK.
	types, _, err := admin.WorkflowDefinitionApi.NewGetWorkflowDefinitionsTypesRequest(ctx).Execute()
	if err != nil || len(types) != 1 || types[0].GetWorkflowType() != "Enrollment" || len(types[0].BuiltInSteps) != 2 {
		t.Fatalf("Types: %+v %v", types, err)
	}
	steps, _, err := admin.WorkflowDefinitionApi.NewGetWorkflowDefinitionsStepsRequest(ctx).Execute()
	if err != nil || len(steps) != 2 || steps[0].GetExtensionName() != "RequireApproval" {
		t.Fatalf("Steps: %+v %v", steps, err)
	}
}
