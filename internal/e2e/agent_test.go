package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/agent"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/server"
	"github.com/certdock/certdock/internal/storefile"
)

// agentLease is the job lease the protocol tests run with, so a crashed
// session's job is free again quickly.
const agentLease = 2 * time.Second

// agentServer is a running server plus what the agent tests need of it.
type agentServer struct{ *running }

// serveOn serves the same server on another listener until the test ends.
func (as *agentServer) serveOn(t *testing.T, ln net.Listener) {
	hs := &http.Server{Handler: as.handler, TLSConfig: as.tlsCfg.Clone(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
		<-done
	})
}

// startAgentServer starts a server like start does with the agent job
// lease agentLease, keeping the *server.Server so tests can schedule jobs
// directly.
func startAgentServer(t *testing.T, dsn string) *agentServer {
	t.Helper()
	return &agentServer{startWith(t, startOptions{DSN: dsn, Env: map[string]string{server.EnvAgentJobLease: agentLease.String()}})}
}

func (as *agentServer) agentConfig(dir, machine string) agent.Config {
	return agent.Config{Server: as.url, DataDir: dir, CACert: as.caFile, ClientMachine: machine, Once: true}
}

// api calls the REST API as the administrator and decodes a 2xx answer.
func (as *agentServer) api(t *testing.T, method, path string, body any, headers map[string]string, out any) {
	t.Helper()
	var b string
	if body != nil {
		j, _ := json.Marshal(body)
		b = string(j)
	}
	code, resp := as.callHeaders(t, method, path, b, headers)
	if code/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, code, resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, resp)
		}
	}
}

// schedule queues a job directly, as Deploy or Certificates/Add would.
func (as *agentServer) schedule(t *testing.T, r jobs.Request) string {
	t.Helper()
	noSeal := func([]byte, []byte) ([]byte, error) { return nil, errors.New("no entry password in these tests") }
	id, err := jobs.Schedule(context.Background(), as.srv.DB().Q(), noSeal, r, time.Now())
	if err != nil {
		t.Fatalf("schedule: %v", err)
	}
	return id
}

// history returns the finished attempts of a job.
func (as *agentServer) history(t *testing.T, jobID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	as.api(t, "GET", "/OrchestratorJobs/JobHistory?pq.queryString="+strings.ReplaceAll(`JobId -eq "`+jobID+`"`, " ", "%20"), nil, nil, &out)
	return out
}

// enrollStore enrolls a certificate whose key certdock keeps for delivery.
func (as *agentServer) enrollStore(t *testing.T, cn string) (int64, string) {
	t.Helper()
	var resp struct {
		CertificateInformation struct {
			KeyfactorId int64
			Thumbprint  string
		}
	}
	as.api(t, "POST", "/Enrollment/PFX", map[string]any{"Template": "WebServer", "Subject": "CN=" + cn,
		"Password": "enroll-pass-123", "Timestamp": time.Now().UTC().Format(time.RFC3339)},
		map[string]string{"x-certificateformat": "STORE"}, &resp)
	if resp.CertificateInformation.KeyfactorId == 0 {
		t.Fatal("enrollment gave no certificate id")
	}
	return resp.CertificateInformation.KeyfactorId, resp.CertificateInformation.Thumbprint
}

// rawAgent speaks the protocol directly with an agent's key and certificate.
type rawAgent struct {
	c    *http.Client
	base string
}

// takeAddJob enrolls alias.example for the store storeID, schedules its
// add job under alias, and lets a raw session of the agent in dataDir take
// the job; it returns the agent, its session and the job id.
func (as *agentServer) takeAddJob(t *testing.T, storeID, dataDir, alias string) (*rawAgent, orchestrator.RegisterResponse, string) {
	t.Helper()
	id, _ := as.enrollStore(t, alias+".example")
	job := as.schedule(t, jobs.Request{StoreID: storeID, Operation: jobs.Add, CertificateID: id, Alias: alias, PrivateKey: true})
	raw := as.rawAgent(t, dataDir)
	s1 := raw.register(t)
	var cfg orchestrator.ManagementConfig
	raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: s1.Session.Token, JobId: job}, &cfg)
	if cfg.JobCancelled || cfg.Result.Status != orchestrator.StatusSuccess {
		t.Fatalf("first session did not get the job: %+v", cfg.Result)
	}
	return raw, s1, job
}

func (as *agentServer) rawAgent(t *testing.T, dataDir string) *rawAgent {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dataDir, "agent.crt"), filepath.Join(dataDir, "agent.key"))
	if err != nil {
		t.Fatal(err)
	}
	return &rawAgent{base: as.url + "/KeyfactorAgents/", c: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: as.roots, Certificates: []tls.Certificate{cert}}}}}
}

func (r *rawAgent) post(t *testing.T, rel string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	rel = strings.TrimPrefix(rel, "KeyfactorAgents/")
	resp, err := r.c.Post(r.base+strings.TrimPrefix(rel, "/"), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", rel, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("POST %s: %d %v: %s", rel, resp.StatusCode, err, body)
	}
	return resp.StatusCode
}

func (r *rawAgent) register(t *testing.T) orchestrator.RegisterResponse {
	t.Helper()
	var resp orchestrator.RegisterResponse
	r.post(t, orchestrator.PathRegister, orchestrator.RegisterRequest{ClientMachine: "raw", AgentPlatform: 5, Capabilities: agent.Capabilities}, &resp)
	return resp
}

func jobIDs(js []orchestrator.SessionJob) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.JobId)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func agentID(t *testing.T, dataDir string) string {
	t.Helper()
	var st struct{ AgentId string }
	b, err := os.ReadFile(filepath.Join(dataDir, "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &st)
	return st.AgentId
}

func certThumbprint(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "agent.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	return pki.ThumbprintDER(blk.Bytes)
}

func TestAgentProtocol_Backends(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runAgentProtocol(t, "") })
	t.Run("postgres", func(t *testing.T) { runAgentProtocol(t, postgresDSN(t)) })
}

func runAgentProtocol(t *testing.T, dsn string) {
	as := startAgentServer(t, dsn)
	ctx := context.Background()

	dirA := t.TempDir()
	storeA := filepath.Join(dirA, "stores", "web.p12")
	os.MkdirAll(filepath.Dir(storeA), 0o755)
	var idA, storeID string
	var certID int64
	var certTP string

	t.Run("register with Basic", func(t *testing.T) {
		cfg := as.agentConfig(dirA, "host-a")
		cfg.Username, cfg.Password = "admin", adminPassword
		if err := agent.Run(ctx, cfg); err != nil {
			t.Fatalf("agent: %v", err)
		}
		if fi, err := os.Stat(filepath.Join(dirA, "agent.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("agent key: %v %v", fi, err)
		}
		idA = agentID(t, dirA)
		var a struct {
			AgentId    string
			Status     int
			Thumbprint string
		}
		as.api(t, "GET", "/Agents/"+idA, nil, nil, &a)
		if a.Status != 1 || !strings.EqualFold(a.Thumbprint, certThumbprint(t, dirA)) {
			t.Fatalf("agent after registration: %+v", a)
		}
		// The client certificate is in the certificate inventory.
		var certs []map[string]any
		as.api(t, "GET", "/Certificates?pq.queryString="+strings.ReplaceAll(`Thumbprint -eq "`+certThumbprint(t, dirA)+`"`, " ", "%20"), nil, nil, &certs)
		if len(certs) != 1 {
			t.Fatalf("agent certificate recorded %d times", len(certs))
		}
		// A second start uses mTLS and needs no credentials.
		if err := agent.Run(ctx, as.agentConfig(dirA, "host-a")); err != nil {
			t.Fatalf("second start without credentials: %v", err)
		}
	})

	t.Run("unapproved agent gets no jobs", func(t *testing.T) {
		var st struct{ Id string }
		as.api(t, "POST", "/CertificateStores", map[string]any{"ClientMachine": "host-a", "StorePath": storeA, "CertStoreType": 101,
			"AgentId": idA, "CreateIfMissing": true, "Properties": "{}", "Password": map[string]string{"SecretValue": "store-pass-1"}}, nil, &st)
		storeID = st.Id
		certID, certTP = as.enrollStore(t, "web-a.example")
		job := as.schedule(t, jobs.Request{StoreID: storeID, Operation: jobs.Add, CertificateID: certID, Alias: "web", PrivateKey: true})
		if err := agent.Run(ctx, as.agentConfig(dirA, "host-a")); err != nil {
			t.Fatalf("agent: %v", err)
		}
		if _, err := os.Stat(storeA); err == nil {
			t.Fatal("an unapproved agent wrote the store")
		}
		raw := as.rawAgent(t, dirA)
		resp := raw.register(t)
		if resp.Session.Token == "" || len(resp.Session.Jobs) != 0 || resp.Result.Status != orchestrator.StatusWarning ||
			resp.Result.Error == nil || resp.Result.Error.CodeString != orchestrator.CodeDisapproved ||
			!strings.Contains(resp.Result.Error.Message, "waits for approval") {
			t.Fatalf("unapproved session: %+v", resp)
		}
		// Asking for the job by its id does not get it either.
		var cfg orchestrator.ManagementConfig
		raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: resp.Session.Token, JobId: job}, &cfg)
		if cfg.Result.Status != orchestrator.StatusError || cfg.Result.Error == nil || cfg.Result.Error.CodeString != orchestrator.CodeDisapproved ||
			!strings.Contains(cfg.Result.Error.Message, "not approved") || cfg.Job.EntryContents != "" {
			t.Fatalf("unapproved agent asking for its job: %+v", cfg)
		}
	})

	t.Run("approve then jobs run", func(t *testing.T) {
		as.api(t, "POST", "/Agents/Approve", []string{idA}, nil, nil)
		if err := agent.Run(ctx, as.agentConfig(dirA, "host-a")); err != nil {
			t.Fatalf("agent: %v", err)
		}
		out := run(t, "openssl", "pkcs12", "-info", "-in", storeA, "-passin", "pass:store-pass-1", "-nodes")
		if !strings.Contains(out, "friendlyName: web") || !strings.Contains(out, "CN = web-a.example") || !strings.Contains(out, "BEGIN PRIVATE KEY") {
			t.Fatalf("store content:\n%s", out)
		}
		// The inventory after the add made the store a location of the certificate.
		code, body := as.callHeaders(t, "GET", fmt.Sprintf("/Certificates/Locations/%d", certID), "", nil)
		if code != 200 || !strings.Contains(string(body), storeA) {
			t.Fatalf("locations: %d %s", code, body)
		}
		_ = certTP
	})

	t.Run("Basic bootstrap needs /agents/register/", func(t *testing.T) {
		const pw = "bootstrap-pass-123"
		for _, acct := range []string{"norole", "registrar"} {
			as.api(t, "POST", "/Security/Identities", map[string]string{"AccountName": acct, "Password": pw}, nil, nil)
		}
		as.api(t, "POST", "/Security/Roles", map[string]any{"Name": "agent registrars", "Description": "bootstrap",
			"Permissions": []string{"/agents/register/"}, "Identities": []string{"registrar"}}, nil, nil)
		cfg := as.agentConfig(t.TempDir(), "host-r")
		cfg.Username, cfg.Password = "norole", pw
		err := agent.Run(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), "/agents/register/") || !strings.Contains(err.Error(), "HTTP 403") {
			t.Fatalf("identity without the permission: %v", err)
		}
		cfg.Username = "registrar"
		if err := agent.Run(ctx, cfg); err != nil {
			t.Fatalf("identity with /agents/register/: %v", err)
		}
		var a struct{ Username string }
		as.api(t, "GET", "/Agents/"+agentID(t, cfg.DataDir), nil, nil, &a)
		if !strings.EqualFold(a.Username, "registrar") {
			t.Fatalf("agent Username %q", a.Username)
		}
	})

	t.Run("register with a one-time token", func(t *testing.T) {
		var tok struct{ Token string }
		as.api(t, "POST", "/Agents/RegistrationTokens", map[string]any{"Description": "host-b", "ValidMinutes": 10}, nil, &tok)
		// Refused requests do not use the token up.
		csrJSON, _ := json.Marshal(testCSR(t))
		for field, body := range map[string]string{
			"CSR:":     `{"ClientMachine":"host-b","CSR":"not a CSR"}`,
			"AgentId:": `{"ClientMachine":"host-b","AgentId":"` + idA + `","CSR":` + string(csrJSON) + `}`,
		} {
			req, _ := http.NewRequest("POST", as.url+"/KeyfactorAgents/Session/Register", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			resp, err := as.httpClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var rr orchestrator.ResultResponse
			json.NewDecoder(resp.Body).Decode(&rr)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || rr.Result.Error == nil || !strings.HasPrefix(rr.Result.Error.Message, field) {
				t.Fatalf("%s: HTTP %d %+v, want 400 about %s", body, resp.StatusCode, rr.Result.Error, field)
			}
		}
		dirB := t.TempDir()
		cfg := as.agentConfig(dirB, "host-b")
		cfg.Token = tok.Token
		if err := agent.Run(ctx, cfg); err != nil {
			t.Fatalf("token registration: %v", err)
		}
		if agentID(t, dirB) == "" {
			t.Fatal("no agent id saved")
		}
		cfg = as.agentConfig(t.TempDir(), "host-c")
		cfg.Token = tok.Token
		if err := agent.Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "token") {
			t.Fatalf("reused token: %v", err)
		}
		cfg.Token = ""
		cfg.Username, cfg.Password = "admin", "wrong-password"
		if err := agent.Run(ctx, cfg); err == nil {
			t.Fatal("wrong bootstrap password accepted")
		}
		// Disapproved: no session.
		as.api(t, "POST", "/Agents/Disapprove", []string{agentID(t, dirB)}, nil, nil)
		resp := as.rawAgent(t, dirB).register(t)
		if resp.Result.Status != orchestrator.StatusError || resp.Result.Error.CodeString != orchestrator.CodeDisapproved || resp.Session.Token != "" {
			t.Fatalf("disapproved agent: %+v", resp)
		}
	})

	t.Run("two sessions polling one job run it once", func(t *testing.T) {
		id2, _ := as.enrollStore(t, "two.example")
		job := as.schedule(t, jobs.Request{StoreID: storeID, Operation: jobs.Add, CertificateID: id2, Alias: "two", PrivateKey: true})
		raw := as.rawAgent(t, dirA)
		s1, s2 := raw.register(t), raw.register(t)
		for _, s := range []orchestrator.RegisterResponse{s1, s2} {
			if !contains(jobIDs(s.Session.Jobs), job) {
				t.Fatalf("job %s not offered: %v", job, jobIDs(s.Session.Jobs))
			}
		}
		// Another approved agent cannot take a job of a store that is not its own.
		dirD := t.TempDir()
		cfgD := as.agentConfig(dirD, "host-d")
		cfgD.Username, cfgD.Password = "admin", adminPassword
		if err := agent.Run(ctx, cfgD); err != nil {
			t.Fatal(err)
		}
		as.api(t, "POST", "/Agents/Approve", []string{agentID(t, dirD)}, nil, nil)
		rawD := as.rawAgent(t, dirD)
		sD := rawD.register(t)
		var other orchestrator.ManagementConfig
		rawD.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: sD.Session.Token, JobId: job}, &other)
		if contains(jobIDs(sD.Session.Jobs), job) || other.Result.Status != orchestrator.StatusError || other.Job.EntryContents != "" {
			t.Fatalf("another agent got the job: %+v", other)
		}
		var wg sync.WaitGroup
		cfgs := make([]orchestrator.ManagementConfig, 2)
		for i, s := range []orchestrator.RegisterResponse{s1, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: s.Session.Token, JobId: job}, &cfgs[i])
			}()
		}
		wg.Wait()
		winner := -1
		for i, c := range cfgs {
			if !c.JobCancelled && c.Result.Status == orchestrator.StatusSuccess {
				if winner >= 0 {
					t.Fatal("both sessions got the job")
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("no session got the job: %+v", cfgs)
		}
		if cfgs[winner].Job.EntryContents == "" || cfgs[winner].Job.PfxPassword == "" || !cfgs[winner].Job.PrivateKeyEntry {
			t.Fatalf("management job without PKCS#12: %+v", cfgs[winner].Job)
		}
		tokens := []string{s1.Session.Token, s2.Session.Token}
		var lose orchestrator.CompleteResponse
		raw.post(t, orchestrator.PathManagementDone, orchestrator.CompleteRequest{SessionToken: tokens[1-winner], JobId: job, Status: 2}, &lose)
		if lose.Result.Status != orchestrator.StatusError {
			t.Fatalf("the losing session completed the job: %+v", lose)
		}
		var win orchestrator.CompleteResponse
		raw.post(t, orchestrator.PathManagementDone, orchestrator.CompleteRequest{SessionToken: tokens[winner], JobId: job, Status: 2, Message: "done"}, &win)
		if win.Result.Status != orchestrator.StatusSuccess || win.InventoryJob == "" {
			t.Fatalf("completion: %+v", win)
		}
		if h := as.history(t, job); len(h) != 1 {
			t.Fatalf("job history has %d attempts, want 1: %v", len(h), h)
		}
		// Let the inventory job queued after it run, so later subtests see a quiet queue.
		if err := agent.Run(ctx, as.agentConfig(dirA, "host-a")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("crashed session: another session runs the job after the lease", func(t *testing.T) {
		id3, _ := as.enrollStore(t, "three.example")
		job := as.schedule(t, jobs.Request{StoreID: storeID, Operation: jobs.Add, CertificateID: id3, Alias: "three", PrivateKey: true})
		raw := as.rawAgent(t, dirA)
		s1, s2 := raw.register(t), raw.register(t) // two live sessions of one agent
		var cfg orchestrator.ManagementConfig
		raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: s1.Session.Token, JobId: job}, &cfg)
		if cfg.JobCancelled || cfg.Result.Status != orchestrator.StatusSuccess {
			t.Fatalf("first session did not get the job: %+v", cfg.Result)
		}
		crashed := time.Now()
		// s1 "crashes" holding the job: s2 is not offered it and cannot take it.
		var hb orchestrator.HeartbeatResponse
		raw.post(t, orchestrator.PathHeartbeat, orchestrator.HeartbeatRequest{SessionToken: s2.Session.Token}, &hb)
		if !hb.SessionValid || contains(jobIDs(hb.Jobs), job) {
			t.Fatalf("held job offered to another session: %+v", hb)
		}
		var early orchestrator.ManagementConfig
		raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: s2.Session.Token, JobId: job}, &early)
		if !early.JobCancelled {
			t.Fatalf("another session took a held job: %+v", early.Result)
		}
		time.Sleep(time.Until(crashed.Add(agentLease + 1200*time.Millisecond)))
		raw.post(t, orchestrator.PathHeartbeat, orchestrator.HeartbeatRequest{SessionToken: s2.Session.Token}, &hb)
		if !contains(jobIDs(hb.Jobs), job) {
			t.Fatalf("job not offered after the lease: %v", jobIDs(hb.Jobs))
		}
		var late orchestrator.ManagementConfig
		raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: s2.Session.Token, JobId: job}, &late)
		if late.JobCancelled || late.Result.Status != orchestrator.StatusSuccess {
			t.Fatalf("job not available after the lease: %+v", late.Result)
		}
		var done orchestrator.CompleteResponse
		raw.post(t, orchestrator.PathManagementDone, orchestrator.CompleteRequest{SessionToken: s2.Session.Token, JobId: job, Status: 2}, &done)
		if done.Result.Status != orchestrator.StatusSuccess {
			t.Fatalf("completion: %+v", done.Result)
		}
		// The crashed session's late report changes nothing.
		var stale orchestrator.CompleteResponse
		raw.post(t, orchestrator.PathManagementDone, orchestrator.CompleteRequest{SessionToken: s1.Session.Token, JobId: job, Status: 4}, &stale)
		if h := as.history(t, job); len(h) != 1 {
			t.Fatalf("job history has %d attempts, want 1: %v", len(h), h)
		}
	})

	t.Run("second live process: a registration does not take a job another session runs", func(t *testing.T) {
		raw, s1, job := as.takeAddJob(t, storeID, dirA, "five")
		// Another process of the same agent (it does not know s1's token)
		// registers while s1 runs the job: the job is not offered to it and
		// it cannot take it.
		s2 := raw.register(t)
		if s2.Result.Status != orchestrator.StatusSuccess || contains(jobIDs(s2.Session.Jobs), job) {
			t.Fatalf("registration offered the running job: %+v", s2)
		}
		var steal orchestrator.ManagementConfig
		raw.post(t, orchestrator.PathManagementConfig, orchestrator.JobRequest{SessionToken: s2.Session.Token, JobId: job}, &steal)
		if !steal.JobCancelled || steal.Job.EntryContents != "" {
			t.Fatalf("a second live process took the running job: %+v", steal.Result)
		}
		var done orchestrator.CompleteResponse
		raw.post(t, orchestrator.PathManagementDone, orchestrator.CompleteRequest{SessionToken: s1.Session.Token, JobId: job, Status: 2}, &done)
		if done.Result.Status != orchestrator.StatusSuccess {
			t.Fatalf("the running session's completion: %+v", done.Result)
		}
		if h := as.history(t, job); len(h) != 1 {
			t.Fatalf("job history has %d attempts, want 1: %v", len(h), h)
		}
		if err := agent.Run(ctx, as.agentConfig(dirA, "host-a")); err != nil { // the queued inventory
			t.Fatal(err)
		}
	})

	t.Run("killed agent: the restarted agent runs the job once", func(t *testing.T) {
		raw, s1, job := as.takeAddJob(t, storeID, dirA, "four")
		// The process dies (having saved its session in the data directory,
		// as the agent does); the agent restarts and registers again naming
		// that session: it takes its job back at once.
		if err := os.WriteFile(filepath.Join(dirA, "agent.session"), []byte(s1.Session.Token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := agent.Run(ctx, as.agentConfig(dirA, "host-a")); err != nil {
			t.Fatal(err)
		}
		items, err := storefile.Store{Kind: storefile.PKCS12, Path: storeA, Password: "store-pass-1"}.Inventory()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, it.Alias)
		}
		if !contains(got, "four") || !contains(got, "web") {
			t.Fatalf("store after the restart: %v", got)
		}
		var stale orchestrator.CompleteResponse
		raw.post(t, orchestrator.PathManagementDone, orchestrator.CompleteRequest{SessionToken: s1.Session.Token, JobId: job, Status: 4}, &stale)
		if stale.Result.Status != orchestrator.StatusError || stale.Result.Error == nil || stale.Result.Error.CodeString != orchestrator.CodeSession {
			t.Errorf("the superseded session's completion: %+v, want refused with %s", stale.Result, orchestrator.CodeSession)
		}
		if h := as.history(t, job); len(h) != 1 || h[0]["Result"] == float64(4) {
			t.Fatalf("job history: %v", h)
		}
	})

	t.Run("revoked client certificate is refused", func(t *testing.T) {
		raw := as.rawAgent(t, dirA)
		live := raw.register(t)
		var certs []struct{ Id int64 }
		as.api(t, "GET", "/Certificates?pq.queryString="+strings.ReplaceAll(`Thumbprint -eq "`+certThumbprint(t, dirA)+`"`, " ", "%20"), nil, nil, &certs)
		if len(certs) != 1 {
			t.Fatalf("agent certificate: %v", certs)
		}
		as.api(t, "POST", "/Certificates/Revoke", map[string]any{"CertificateIds": []int64{certs[0].Id}, "Reason": 1, "Comment": "agent retired"}, nil, nil)
		as.schedule(t, jobs.Request{StoreID: storeID, Operation: jobs.Inventory})
		err := agent.Run(ctx, as.agentConfig(dirA, "host-a"))
		if err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("agent with a revoked certificate: %v", err)
		}
		resp := raw.register(t)
		if resp.Result.Status != orchestrator.StatusError || resp.Result.Error.CodeString != orchestrator.CodeCertRevoked || len(resp.Session.Jobs) != 0 ||
			!strings.Contains(resp.Result.Error.Message, "revoked") || resp.Session.Token != "" {
			t.Fatalf("register with a revoked certificate: %+v", resp)
		}
		var hb orchestrator.HeartbeatResponse
		raw.post(t, orchestrator.PathHeartbeat, orchestrator.HeartbeatRequest{SessionToken: live.Session.Token}, &hb)
		if hb.Result.Status != orchestrator.StatusError || hb.SessionValid || len(hb.Jobs) != 0 {
			t.Fatalf("heartbeat with a revoked certificate: %+v", hb)
		}
	})
}

// testCSR is a PEM CSR for a fresh key.
func testCSR(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
