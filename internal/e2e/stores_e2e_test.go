package e2e

// The issue-5 end-to-end test: a real server and a real `certdock agent`
// process on loopback deliver certificates into PEM, PKCS#12 and Java
// keystore files in temporary directories, read back with openssl and
// keytool. Helpers here are prefixed sx so they stay apart from the other
// e2e files.

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	kfv2 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v2"
)

var (
	sxBinOnce sync.Once
	sxBinPath string
	sxBinErr  error
)

// sxBinary builds cmd/certdock once per test binary run.
func sxBinary(t *testing.T) string {
	t.Helper()
	sxBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certdock-e2e-bin-")
		if err != nil {
			sxBinErr = err
			return
		}
		sxBinPath = filepath.Join(dir, "certdock")
		out, err := exec.Command("go", "build", "-o", sxBinPath, "github.com/certdock/certdock/cmd/certdock").CombinedOutput()
		if err != nil {
			sxBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if sxBinErr != nil {
		t.Fatal(sxBinErr)
	}
	return sxBinPath
}

// sxAgent is one running `certdock agent` process.
type sxAgent struct {
	cmd  *exec.Cmd
	log  *sxBuffer
	done chan struct{}
}

type sxBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *sxBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *sxBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// sxStartAgent runs the agent with bootstrap credentials; it polls every
// 300ms so the test does not wait for the server's heartbeat interval.
func sxStartAgent(t *testing.T, bin string, in *instance, dataDir, machine string) *sxAgent {
	t.Helper()
	cmd := exec.Command(bin, "agent", "--server", "https://localhost:"+strconv.Itoa(in.port), "--data-dir", dataDir,
		"--ca-cert", filepath.Join(in.dataDir, "root-ca.pem"), "--client-machine", machine, "--poll-interval", "300ms")
	cmd.Env = append(os.Environ(), "CERTDOCK_AGENT_USERNAME=admin", "CERTDOCK_AGENT_PASSWORD="+adminPassword)
	a := &sxAgent{cmd: cmd, log: &sxBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = a.log, a.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent: %v", err)
	}
	go func() { cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("agent output:\n%s", a.log.String())
		}
	})
	return a
}

// kill ends the agent at once (SIGKILL: no chance to finish what it does).
func (a *sxAgent) kill() {
	select {
	case <-a.done:
		return
	default:
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
}

// sxCall sends a JSON request as user (admin when empty).
func sxCall(t *testing.T, in *instance, user, pass, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-keyfactor-requested-with", "APIClient")
	req.Header.Set("Content-Type", "application/json")
	if user == "" {
		user, pass = "admin", adminPassword
	}
	req.SetBasicAuth(user, pass)
	resp, err := in.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b
}

// sxOK sends a request that must answer 200 or 204 and decodes the answer into out.
func sxOK(t *testing.T, in *instance, method, path string, body, out any) {
	t.Helper()
	code, b := sxCall(t, in, "", "", method, path, body)
	if code != 200 && code != 204 {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// sxEventually polls check every 200ms until it holds or within passes.
func sxEventually(t *testing.T, what string, within time.Duration, check func() bool) {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s after %v", what, time.Since(start).Round(10*time.Millisecond))
}

func sxThumb(der []byte) string {
	s := sha1.Sum(der)
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// sxPEMThumbs lists the thumbprints of the CERTIFICATE blocks in text.
func sxPEMThumbs(text []byte) []string {
	var out []string
	for rest := text; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, sxThumb(b.Bytes))
		}
	}
}

// sxLeafThumbs reads the end-entity certificates of a store file with the
// tool a user would use: openssl for PEM and PKCS#12, keytool for JKS. A
// missing or unreadable file is nil.
func sxLeafThumbs(t *testing.T, kind, path, storePass string) []string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	var out []byte
	var err error
	switch kind {
	case "PEM":
		out, err = exec.Command("openssl", "x509", "-in", path).CombinedOutput()
	case "PKCS12":
		out, err = exec.Command("openssl", "pkcs12", "-in", path, "-passin", "pass:"+storePass, "-nokeys", "-clcerts").CombinedOutput()
	case "JKS":
		out, err = exec.Command("keytool", "-list", "-rfc", "-keystore", path, "-storepass", storePass).CombinedOutput()
		if err == nil {
			// keytool -rfc prints each entry's chain; keep the first
			// certificate after every "Alias name:" line.
			var leaves []string
			for _, part := range strings.Split(string(out), "Alias name:")[1:] {
				if tps := sxPEMThumbs([]byte(part)); len(tps) > 0 {
					leaves = append(leaves, tps[0])
				}
			}
			return leaves
		}
	}
	if err != nil {
		return nil
	}
	return sxPEMThumbs(out)
}

func sxHas(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

type sxStore struct {
	ID, Kind, Path, Pass string
}

type sxLocation struct {
	StorePath   string
	Alias       string
	ChainLevel  int
	CertStoreId string
}

// sxLocations is GET /Certificates/{id}?includeLocations=true.
func sxLocations(t *testing.T, in *instance, id int32) []sxLocation {
	t.Helper()
	var c struct{ Locations []sxLocation }
	sxOK(t, in, "GET", fmt.Sprintf("/Certificates/%d?includeLocations=true", id), nil, &c)
	return c.Locations
}

func sxStoreIDs(ls []sxLocation) []string {
	var out []string
	for _, l := range ls {
		if l.ChainLevel == 0 {
			out = append(out, strings.ToLower(l.CertStoreId))
		}
	}
	return out
}

func sxSameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !sxHas(b, x) {
			return false
		}
	}
	return true
}

// sxErrField checks a 400 body names field.
func sxErrField(t *testing.T, code int, body []byte, wantCode int, field string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("status %d, want %d: %s", code, wantCode, body)
	}
	e := decodeError(t, body)
	if !strings.Contains(*e.Message, field) {
		t.Fatalf("message %q does not name %s", *e.Message, field)
	}
}

func sxSDKErr(err error) (int, string) {
	var body []byte
	switch ge := err.(type) {
	case *kfv1.GenericOpenAPIError:
		body = ge.Body()
	case *kfv2.GenericOpenAPIError:
		body = ge.Body()
	default:
		return 0, err.Error()
	}
	var b struct{ ErrorCode, Message string }
	_ = json.Unmarshal(body, &b)
	code := 0
	if i := strings.IndexAny(err.Error(), "0123456789"); i >= 0 && len(err.Error()) >= i+3 {
		code, _ = strconv.Atoi(err.Error()[i : i+3])
	}
	return code, b.Message
}

func TestStoresE2E(t *testing.T) {
	for _, tool := range []string{"openssl", "keytool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to read the stores back: %v", tool, err)
		}
	}
	bin := sxBinary(t)
	t.Run("sqlite", func(t *testing.T) { runStoresE2E(t, bin, "") })
	t.Run("postgres", func(t *testing.T) { runStoresE2E(t, bin, postgresDSN(t)) })
}

func runStoresE2E(t *testing.T, bin, dsn string) {
	in := start(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c1, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := kfv2.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}

	// Containers A and B; an operator who may enroll and schedule into A only.
	var contA, contB struct{ Id int64 }
	sxOK(t, in, "POST", "/CertificateStoreContainers", map[string]any{"Name": "team-a", "CertStoreType": 101}, &contA)
	sxOK(t, in, "POST", "/CertificateStoreContainers", map[string]any{"Name": "team-b", "CertStoreType": 102}, &contB)
	const opPass = "Team-A-operator-pass-1"
	sxOK(t, in, "POST", "/Security/Identities", map[string]any{"AccountName": "team-a-op", "Password": opPass}, nil)
	sxOK(t, in, "POST", "/Security/Roles", map[string]any{"Name": "TeamA", "Description": "team A operators",
		"Permissions": []string{"/portal/read/", "/certificates/enrollment/pfx/", "/certificates/collections/read/",
			fmt.Sprintf("/certificate_stores/schedule/#%d", contA.Id)},
		"Identities": []map[string]any{{"AccountName": "team-a-op"}}}, nil)

	// The agent registers with bootstrap credentials and waits for approval.
	agentDir := t.TempDir()
	agent := sxStartAgent(t, bin, in, agentDir, "e2e-host")
	var agentID string
	sxEventually(t, "agent registered", 30*time.Second, func() bool {
		var as []struct{ AgentId, ClientMachine string }
		sxOK(t, in, "GET", "/Agents", nil, &as)
		for _, a := range as {
			if a.ClientMachine == "e2e-host" {
				agentID = a.AgentId
			}
		}
		return agentID != ""
	})
	sxOK(t, in, "POST", "/Agents/Approve", []string{agentID}, nil)

	dir := t.TempDir()
	mkStore := func(kind string, typ int, name string, container int64, pass string, props map[string]string) sxStore {
		t.Helper()
		s := sxStore{Kind: kind, Path: filepath.Join(dir, name), Pass: pass}
		pj, _ := json.Marshal(props)
		body := map[string]any{"ClientMachine": "e2e-host", "StorePath": s.Path, "CertStoreType": typ, "AgentId": agentID,
			"CreateIfMissing": true, "Properties": string(pj)}
		if container != 0 {
			body["ContainerId"] = container
		}
		if pass != "" {
			body["Password"] = map[string]string{"SecretValue": pass}
		}
		var out struct{ Id string }
		sxOK(t, in, "POST", "/CertificateStores", body, &out)
		s.ID = strings.ToLower(out.Id)
		return s
	}
	pemS := mkStore("PEM", 100, "web.pem", 0, "", map[string]string{"PrivateKeyPath": filepath.Join(dir, "web.key")})
	p12S := mkStore("PKCS12", 101, "web.p12", contA.Id, "p12-store-pass", map[string]string{})
	jksS := mkStore("JKS", 102, "web.jks", contB.Id, "jks-store-pass", map[string]string{"KeystoreType": "JKS"})
	all := []sxStore{pemS, p12S, jksS}

	storeReq := func(s sxStore, alias string) kfv2.EnrollmentManagementStoreRequest {
		r := kfv2.NewEnrollmentManagementStoreRequest()
		r.SetStoreId(s.ID)
		if alias != "" {
			r.SetAlias(alias)
		}
		r.SetOverwrite(true)
		return *r
	}
	enrollV2 := func(cn, format string, stores []kfv2.EnrollmentManagementStoreRequest, jobTime *time.Time) (*kfv2.EnrollmentPFXEnrollmentManagementResponse, error) {
		req := kfv2.NewEnrollmentPFXEnrollmentWithStoresRequest()
		req.SetTemplate("WebServer")
		req.SetSubject("CN=" + cn)
		req.SetSANs(map[string][]string{"dns": {cn}})
		req.SetPassword("Enroll-Pass-123456")
		req.SetTimestamp(time.Now().UTC())
		req.SetStores(stores)
		if jobTime != nil {
			req.SetJobTime(*jobTime)
		}
		resp, _, err := c2.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat(format).EnrollmentPFXEnrollmentWithStoresRequest(*req).Execute()
		return resp, err
	}
	enrollV1 := func(cn, format, pw string) *kfv1.CSSCMSDataModelModelsEnrollmentPFXEnrollmentResponse {
		t.Helper()
		req := kfv1.NewEnrollmentPFXEnrollmentRequest()
		req.SetTemplate("WebServer")
		req.SetSubject("CN=" + cn)
		req.SetPassword(pw)
		req.SetTimestamp(time.Now().UTC())
		resp, _, err := c1.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat(format).EnrollmentPFXEnrollmentRequest(*req).Execute()
		if err != nil {
			code, msg := sxSDKErr(err)
			t.Fatalf("v1 %s enrollment: %d %s", format, code, msg)
		}
		return resp
	}
	landed := func(what string, s sxStore, thumb string) {
		t.Helper()
		sxEventually(t, what+" in "+s.Kind+" store", 60*time.Second, func() bool {
			return sxHas(sxLeafThumbs(t, s.Kind, s.Path, s.Pass), thumb)
		})
	}

	// ---- v2 enrollment with Stores lands in each store ----
	resp, err := enrollV2("web.e2e.example.com", "PFX", []kfv2.EnrollmentManagementStoreRequest{storeReq(pemS, ""), storeReq(p12S, "web"), storeReq(jksS, "web")}, nil)
	if err != nil {
		code, msg := sxSDKErr(err)
		t.Fatalf("v2 enrollment with Stores: %d %s", code, msg)
	}
	if !sxSameSet(resp.SuccessfulStores, []string{pemS.ID, p12S.ID, jksS.ID}) {
		t.Fatalf("SuccessfulStores %v", resp.SuccessfulStores)
	}
	info1 := resp.GetCertificateInformation()
	cert1, tp1 := info1.GetKeyfactorId(), strings.ToUpper(info1.GetThumbprint())
	for _, s := range all {
		landed("v2 certificate", s, tp1)
	}
	// The PEM store's key file holds the certificate's key.
	pubCert, err := exec.Command("openssl", "x509", "-in", pemS.Path, "-noout", "-pubkey").Output()
	if err != nil {
		t.Fatal(err)
	}
	pubKey, err := exec.Command("openssl", "pkey", "-in", filepath.Join(dir, "web.key"), "-pubout").Output()
	if err != nil || !bytes.Equal(pubCert, pubKey) {
		t.Errorf("web.key does not hold the key of web.pem's certificate (%v)", err)
	}
	sxEventually(t, "includeLocations shows the three stores", 60*time.Second, func() bool {
		return sxSameSet(sxStoreIDs(sxLocations(t, in, cert1)), []string{pemS.ID, p12S.ID, jksS.ID})
	})

	// ---- a future JobTime is not run early, and is run after it passes ----
	laterS := mkStore("PEM", 100, "later.pem", 0, "", map[string]string{"PrivateKeyPath": filepath.Join(dir, "later.key")})
	jobTime := time.Now().UTC().Truncate(time.Second).Add(6 * time.Second)
	resp, err = enrollV2("later.e2e.example.com", "PFX", []kfv2.EnrollmentManagementStoreRequest{storeReq(laterS, "")}, &jobTime)
	if err != nil {
		code, msg := sxSDKErr(err)
		t.Fatalf("v2 enrollment with JobTime: %d %s", code, msg)
	}
	laterInfo := resp.GetCertificateInformation()
	tpLater := strings.ToUpper(laterInfo.GetThumbprint())
	var sched []struct{ Id, Target string }
	sxOK(t, in, "GET", "/OrchestratorJobs/ScheduledJobs", nil, &sched)
	found := false
	for _, j := range sched {
		found = found || j.Target == laterS.Path
	}
	if !found {
		t.Errorf("the future job is not among ScheduledJobs: %+v", sched)
	}
	// Locations come from the agent's inventory only: none before the job ran.
	if ls := sxLocations(t, in, laterInfo.GetKeyfactorId()); len(ls) != 0 && time.Now().Before(jobTime) {
		t.Errorf("locations before the agent reported the store: %+v", ls)
	}
	sxEventually(t, "job with a future JobTime ran", 60*time.Second, func() bool {
		ok := sxHas(sxLeafThumbs(t, "PEM", laterS.Path, ""), tpLater)
		if ok && time.Now().Before(jobTime) {
			t.Fatalf("the job ran at %v, before its JobTime %v", time.Now().UTC(), jobTime)
		}
		return ok
	})
	sxEventually(t, "includeLocations shows the later store after the agent's inventory", 60*time.Second, func() bool {
		return sxHas(sxStoreIDs(sxLocations(t, in, laterInfo.GetKeyfactorId())), laterS.ID)
	})

	// ---- STORE format, then Deploy ----
	const storePW = "Store-Format-Pass-1"
	st := enrollV1("deploy.e2e.example.com", "STORE", storePW)
	stInfo := st.GetCertificateInformation()
	if stInfo.GetPkcs12Blob() != "" {
		t.Errorf("STORE enrollment answered a blob")
	}
	cert3, req3, tp3 := stInfo.GetKeyfactorId(), stInfo.GetKeyfactorRequestId(), strings.ToUpper(stInfo.GetThumbprint())
	deployS := mkStore("PKCS12", 101, "deploy.p12", contA.Id, "deploy-store-pass", map[string]string{})
	deployB := mkStore("PKCS12", 101, "deploy-b.p12", contB.Id, "deploy-store-pass", map[string]string{})
	deploy := func(user, pass, pw string, stores ...sxStore) (*kfv1.EnrollmentEnrollmentManagementResponse, error) {
		cfg := in.sdkConfig()
		if user != "" {
			cfg.Username, cfg.Password = user, pass
		}
		c, err := kfv1.NewAPIClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := kfv1.EnrollmentEnrollmentManagementRequest{Password: pw, CertificateId: &cert3, RequestId: &req3}
		for _, s := range stores {
			id := s.ID
			r.Stores = append(r.Stores, kfv1.EnrollmentManagementStoreRequest{StoreId: &id})
		}
		out, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXDeployRequest(ctx).EnrollmentEnrollmentManagementRequest(r).Execute()
		return out, err
	}
	t.Run("Deploy with the wrong password", func(t *testing.T) {
		_, err := deploy("", "", "not-the-password", deployS)
		if code, msg := sxSDKErr(err); code != 400 || !strings.HasPrefix(msg, "Password") {
			t.Fatalf("%d %q, want 400 naming Password", code, msg)
		}
	})
	t.Run("Deploy into another team's container", func(t *testing.T) {
		out, err := deploy("team-a-op", opPass, storePW, deployS, deployB)
		if err != nil {
			code, msg := sxSDKErr(err)
			t.Fatalf("%d %s", code, msg)
		}
		if !sxSameSet(out.SuccessfulStores, []string{deployS.ID}) || !sxSameSet(out.FailedStores, []string{deployB.ID}) {
			t.Fatalf("Successful %v Failed %v", out.SuccessfulStores, out.FailedStores)
		}
		landed("deployed STORE certificate", deployS, tp3)
		if _, err := os.Stat(deployB.Path); err == nil {
			t.Errorf("the forbidden store was written")
		}
	})

	t.Run("Deploy, go-client legacy StoreIds and StoreTypes form", func(t *testing.T) {
		legacyS := mkStore("PKCS12", 101, "legacy.p12", contA.Id, "legacy-store-pass", map[string]string{})
		var out struct{ SuccessfulStores, FailedStores []string }
		sxOK(t, in, "POST", "/Enrollment/PFX/Deploy", map[string]any{"StoreIds": []string{legacyS.ID},
			"StoreTypes":    []map[string]any{{"StoreTypeId": 101, "Alias": "legacy", "Overwrite": true, "Properties": []any{}}},
			"CertificateId": cert3, "RequestId": req3, "Password": storePW}, &out)
		if !sxSameSet(out.SuccessfulStores, []string{legacyS.ID}) || len(out.FailedStores) != 0 {
			t.Fatalf("%+v", out)
		}
		landed("legacy-form deployment", legacyS, tp3)
		info, err := exec.Command("openssl", "pkcs12", "-in", legacyS.Path, "-passin", "pass:legacy-store-pass", "-nokeys", "-clcerts").CombinedOutput()
		if err != nil || !strings.Contains(string(info), "friendlyName: legacy") {
			t.Errorf("the entry is not under the StoreTypes alias %q: %v\n%s", "legacy", err, info)
		}
	})
	t.Run("history shows the deployment scheduled and completed", func(t *testing.T) {
		sxEventually(t, "Deployed entries at scheduling and completion", 30*time.Second, func() bool {
			var h []struct{ Action, Comment, Username string }
			sxOK(t, in, "GET", fmt.Sprintf("/Certificates/%d/History", cert3), nil, &h)
			scheduled, completed := false, false
			for _, e := range h {
				if e.Action == "Deployed" && strings.Contains(e.Comment, "scheduled") && strings.Contains(e.Comment, deployS.ID) {
					scheduled = true
				}
				if e.Action == "Deployed" && strings.Contains(e.Comment, "succeeded") && strings.Contains(e.Comment, deployS.ID) {
					completed = true
				}
			}
			return scheduled && completed
		})
	})

	// ---- CertificateStores/Certificates/Add and /Remove ----
	t.Run("Certificates Add then Remove", func(t *testing.T) {
		// Through the SDK's CertificateStoreApi, as a client would.
		imm := kfv1.NewKeyfactorCommonSchedulingKeyfactorSchedule()
		imm.SetImmediate(true)
		entry := kfv1.NewCSSCMSDataModelModelsCertificateStoreEntry(jksS.ID)
		entry.SetAlias("extra")
		entry.SetIncludePrivateKey(true)
		secret := kfv1.NewCSSCMSDataModelModelsKeyfactorAPISecret()
		secret.SetSecretValue("Extra-Entry-Pass-1")
		entry.SetEntryPassword(*secret)
		ids, _, err := c1.CertificateStoreApi.NewCreateCertificateStoresCertificatesAddRequest(ctx).CertificateStoresAddCertificateRequest(
			*kfv1.NewCertificateStoresAddCertificateRequest(cert3, []kfv1.CSSCMSDataModelModelsCertificateStoreEntry{*entry}, *imm)).Execute()
		if err != nil {
			code, msg := sxSDKErr(err)
			t.Fatalf("Certificates/Add: %d %s", code, msg)
		}
		if len(ids) != 1 {
			t.Fatalf("Add answered %v, want one job id", ids)
		}
		landed("added certificate", jksS, tp3)
		loc := kfv1.NewCSSCMSDataModelModelsCertificateLocationSpecifier()
		loc.SetCertificateStoreId(jksS.ID)
		loc.SetAlias("extra")
		ids, _, err = c1.CertificateStoreApi.NewCreateCertificateStoresCertificatesRemoveRequest(ctx).CertificateStoresRemoveCertificateRequest(
			*kfv1.NewCertificateStoresRemoveCertificateRequest([]kfv1.CSSCMSDataModelModelsCertificateLocationSpecifier{*loc}, *imm)).Execute()
		if err != nil || len(ids) != 1 {
			code, msg := sxSDKErr(err)
			t.Fatalf("Certificates/Remove: %v %d %s", ids, code, msg)
		}
		sxEventually(t, "removed from the JKS store", 60*time.Second, func() bool {
			tps := sxLeafThumbs(t, "JKS", jksS.Path, jksS.Pass)
			return len(tps) > 0 && !sxHas(tps, tp3)
		})
		code, b := sxCall(t, in, "team-a-op", opPass, "POST", "/CertificateStores/Certificates/Add", map[string]any{"CertificateId": cert3,
			"CertificateStores": []map[string]any{{"CertificateStoreId": jksS.ID}}, "Schedule": map[string]any{"Immediate": true}})
		sxErrField(t, code, b, 403, "CertificateStores[0].CertificateStoreId")
		code, b = sxCall(t, in, "", "", "POST", "/CertificateStores/Certificates/Add", map[string]any{"CertificateId": cert3,
			"CertificateStores": []map[string]any{{"CertificateStoreId": jksS.ID}}, "Schedule": map[string]any{"Interval": map[string]any{"Minutes": 5}}})
		sxErrField(t, code, b, 400, "Schedule")
	})

	// ---- Replace swaps old for new everywhere the old one is ----
	rp := enrollV1("web2.e2e.example.com", "REPLACE", "Replace-Pass-12345")
	rpInfo := rp.GetCertificateInformation()
	cert4, tp4 := rpInfo.GetKeyfactorId(), strings.ToUpper(rpInfo.GetThumbprint())
	t.Run("Replace needs exactly one of CertificateId and RequestId", func(t *testing.T) {
		req4 := rpInfo.GetKeyfactorRequestId()
		for _, r := range []kfv1.CSSCMSDataModelModelsEnrollmentExistingEnrollmentManagementRequest{
			{ExistingCertificateId: &cert1, CertificateId: &cert4, RequestId: &req4, Password: *kfv1.NewNullableString(sxPtr("Jks-Entry-Pass-1"))},
			{ExistingCertificateId: &cert1, Password: *kfv1.NewNullableString(sxPtr("Jks-Entry-Pass-1"))},
		} {
			_, _, err := c1.EnrollmentApi.NewCreateEnrollmentPFXReplaceRequest(ctx).CSSCMSDataModelModelsEnrollmentExistingEnrollmentManagementRequest(r).Execute()
			if code, msg := sxSDKErr(err); code != 400 || !strings.HasPrefix(msg, "CertificateId") {
				t.Errorf("%d %q, want 400 naming CertificateId", code, msg)
			}
		}
	})
	rr := kfv1.CSSCMSDataModelModelsEnrollmentExistingEnrollmentManagementRequest{ExistingCertificateId: &cert1, CertificateId: &cert4,
		Password: *kfv1.NewNullableString(sxPtr("Jks-Entry-Pass-1"))}
	rout, _, err := c1.EnrollmentApi.NewCreateEnrollmentPFXReplaceRequest(ctx).CSSCMSDataModelModelsEnrollmentExistingEnrollmentManagementRequest(rr).Execute()
	if err != nil {
		code, msg := sxSDKErr(err)
		t.Fatalf("Replace: %d %s", code, msg)
	}
	if !sxSameSet(rout.SuccessfulStores, []string{pemS.ID, p12S.ID, jksS.ID}) || len(rout.FailedStores) != 0 {
		t.Fatalf("Replace: Successful %v Failed %v", rout.SuccessfulStores, rout.FailedStores)
	}
	for _, s := range all {
		sxEventually(t, "new certificate replaced the old in "+s.Kind, 60*time.Second, func() bool {
			tps := sxLeafThumbs(t, s.Kind, s.Path, s.Pass)
			return sxHas(tps, tp4) && !sxHas(tps, tp1)
		})
	}
	sxEventually(t, "includeLocations: the new certificate in the three stores, the old nowhere", 60*time.Second, func() bool {
		return sxSameSet(sxStoreIDs(sxLocations(t, in, cert4)), []string{pemS.ID, p12S.ID, jksS.ID}) && len(sxLocations(t, in, cert1)) == 0
	})

	// ---- v2 renewal with InstallIntoExistingCertificateStores (absent = true) ----
	renew := func(user, pass string, renewedID int32) (code int, r struct {
		SuccessfulStores       []string
		CertificateInformation struct {
			KeyfactorId               int32
			Thumbprint                string
			StoreIdsInvalidForRenewal []string
		}
	}) {
		t.Helper()
		body := map[string]any{"Template": "WebServer", "Subject": "CN=web2.e2e.example.com", "Password": "Renew-Pass-123456",
			"Timestamp": time.Now().UTC().Format(time.RFC3339), "RenewalCertificateId": renewedID}
		if user == "" {
			user, pass = "admin", adminPassword
		}
		code, b := sxV2(t, in, user, pass, body)
		if code == 200 {
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Logf("renewal: %d %s", code, b)
		}
		return code, r
	}
	code, rn := renew("", "", cert4)
	if code != 200 || !sxSameSet(rn.SuccessfulStores, []string{pemS.ID, p12S.ID, jksS.ID}) {
		t.Fatalf("renewal into existing stores: %d %+v", code, rn)
	}
	cert5, tp5 := rn.CertificateInformation.KeyfactorId, strings.ToUpper(rn.CertificateInformation.Thumbprint)
	for _, s := range all {
		sxEventually(t, "renewed certificate replaced the old in "+s.Kind, 60*time.Second, func() bool {
			tps := sxLeafThumbs(t, s.Kind, s.Path, s.Pass)
			return sxHas(tps, tp5) && !sxHas(tps, tp4)
		})
	}
	sxEventually(t, "includeLocations: the renewed certificate in the three stores", 60*time.Second, func() bool {
		return sxSameSet(sxStoreIDs(sxLocations(t, in, cert5)), []string{pemS.ID, p12S.ID, jksS.ID})
	})
	t.Run("renewal by an operator of one container", func(t *testing.T) {
		code, rn := renew("team-a-op", opPass, cert5)
		if code != 200 || !sxSameSet(rn.SuccessfulStores, []string{p12S.ID}) ||
			!sxSameSet(rn.CertificateInformation.StoreIdsInvalidForRenewal, []string{pemS.ID, jksS.ID}) {
			t.Fatalf("%d %+v, want SuccessfulStores [PKCS12] and StoreIdsInvalidForRenewal [PEM JKS]", code, rn)
		}
		landed("operator's renewal", p12S, strings.ToUpper(rn.CertificateInformation.Thumbprint))
	})

	// ---- the agent is killed during a job; restarted, it completes the job once ----
	crashS := mkStore("PEM", 100, "crash.pem", 0, "", map[string]string{"PrivateKeyPath": filepath.Join(dir, "crash.key")})
	// The store file is a FIFO: the agent blocks opening it, in the middle
	// of the job (after it took the job, before it completed it).
	if err := syscall.Mkfifo(crashS.Path, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := deploy("", "", storePW, crashS)
	if err != nil || len(out.SuccessfulStores) != 1 {
		t.Fatalf("Deploy to the crash store: %v %+v", err, out)
	}
	var crashJob string
	sxOK(t, in, "GET", "/OrchestratorJobs/ScheduledJobs", nil, &sched)
	for _, j := range sched {
		if j.Target == crashS.Path {
			crashJob = j.Id
		}
	}
	if crashJob == "" {
		t.Fatalf("no scheduled job for the crash store: %+v", sched)
	}
	sxEventually(t, "agent blocked inside the job", 30*time.Second, func() bool { return sxBlockedOnFIFO(agent.cmd.Process.Pid) })
	agent.kill()
	if err := os.Remove(crashS.Path); err != nil {
		t.Fatal(err)
	}
	agent = sxStartAgent(t, bin, in, agentDir, "e2e-host")
	landed("certificate of the interrupted job", crashS, tp3)
	var hist []struct {
		JobId  string
		Result int
	}
	sxEventually(t, "the interrupted job completed", 30*time.Second, func() bool {
		q := url.Values{"pq.queryString": {`JobId -eq "` + crashJob + `"`}}
		sxOK(t, in, "GET", "/OrchestratorJobs/JobHistory?"+q.Encode(), nil, &hist)
		return len(hist) > 0
	})
	// A full agent round later (the inventory queued after the job has
	// reported the store), a second run of the job would have shown up.
	sxEventually(t, "inventory after the interrupted job", 60*time.Second, func() bool {
		return sxHas(sxStoreIDs(sxLocations(t, in, cert3)), crashS.ID)
	})
	q := url.Values{"pq.queryString": {`JobId -eq "` + crashJob + `"`}}
	sxOK(t, in, "GET", "/OrchestratorJobs/JobHistory?"+q.Encode(), nil, &hist)
	if len(hist) != 1 {
		t.Errorf("the interrupted job has %d completions, want exactly 1: %+v", len(hist), hist)
	}
	if tps := sxLeafThumbs(t, "PEM", crashS.Path, ""); len(tps) != 1 {
		t.Errorf("crash.pem holds %d certificates, want 1", len(tps))
	}

	// ---- the certificate list's includeLocations (one query per page) matches each certificate's ----
	var page []struct {
		Id             int32
		Locations      []json.RawMessage
		LocationsCount []json.RawMessage
	}
	sxOK(t, in, "GET", "/Certificates?includeLocations=true&pq.returnLimit=1000", nil, &page)
	withLocs := 0
	for _, c := range page {
		var one struct {
			Locations      []json.RawMessage
			LocationsCount []json.RawMessage
		}
		sxOK(t, in, "GET", fmt.Sprintf("/Certificates/%d?includeLocations=true", c.Id), nil, &one)
		if a, b := fmt.Sprintf("%s|%s", c.Locations, c.LocationsCount), fmt.Sprintf("%s|%s", one.Locations, one.LocationsCount); a != b {
			t.Errorf("certificate %d: list Locations %s, single %s", c.Id, a, b)
		}
		if len(c.Locations) > 0 {
			withLocs++
		}
	}
	if withLocs < 3 {
		t.Errorf("only %d of %d listed certificates have locations, want at least 3", withLocs, len(page))
	}

	// ---- refusals ----
	t.Run("v2 with an unknown store", func(t *testing.T) {
		bogus := sxStore{ID: "0b3a8c1e-7d7f-4d8e-9a55-2f1e5c0d9a11"}
		_, err := enrollV2("bogus.e2e.example.com", "PFX", []kfv2.EnrollmentManagementStoreRequest{storeReq(bogus, "")}, nil)
		if code, msg := sxSDKErr(err); code != 400 || !strings.HasPrefix(msg, "Stores[0].StoreId") {
			t.Fatalf("%d %q, want 400 naming Stores[0].StoreId", code, msg)
		}
	})
	t.Run("v2 into another team's container", func(t *testing.T) {
		body := map[string]any{"Template": "WebServer", "Subject": "CN=b.e2e.example.com", "Password": "Enroll-Pass-123456",
			"Timestamp": time.Now().UTC().Format(time.RFC3339),
			"Stores":    []map[string]any{{"CertificateStoreId": p12S.ID, "JobFields": map[string]any{}}, {"CertificateStoreId": jksS.ID}}}
		code, b := sxV2(t, in, "team-a-op", opPass, body)
		sxErrField(t, code, b, 403, "Stores[1].StoreId")
	})
	t.Run("v2 with a past JobTime", func(t *testing.T) {
		past := time.Now().UTC().Add(-time.Hour)
		_, err := enrollV2("past.e2e.example.com", "PFX", []kfv2.EnrollmentManagementStoreRequest{storeReq(pemS, "")}, &past)
		if code, msg := sxSDKErr(err); code != 400 || !strings.HasPrefix(msg, "JobTime") {
			t.Fatalf("%d %q, want 400 naming JobTime", code, msg)
		}
	})

	// ---- GET /Certificates/{id}/History names every kind of operation and who did it ----
	t.Run("history over HTTP: enrolled, deployed, downloaded, recovered, renewed, revoked, by whom", func(t *testing.T) {
		id := strconv.Itoa(int(cert3))
		pem := map[string]string{"x-certificateformat": "PEM"}
		if code, b := in.callAs(t, "team-a-op", opPass, "POST", "/Certificates/Download", `{"CertID":`+id+`}`, pem); code != 200 {
			t.Fatalf("download as team-a-op: %d %s", code, b)
		}
		if code, b := in.callAs(t, "admin", adminPassword, "POST", "/Certificates/Recover",
			`{"CertId":`+id+`,"Password":"Recover-Pass-123456"}`, pem); code != 200 {
			t.Fatalf("recover: %d %s", code, b)
		}
		if code, b := in.callAs(t, "admin", adminPassword, "POST", "/Enrollment/Renew", `{"CertificateId":`+id+`}`, nil); code != 200 {
			t.Fatalf("renew: %d %s", code, b)
		}
		if code, b := in.callAs(t, "admin", adminPassword, "POST", "/Certificates/Revoke",
			`{"CertificateIds":[`+id+`],"Reason":4,"Comment":"superseded by its renewal"}`, nil); code != 200 {
			t.Fatalf("revoke: %d %s", code, b)
		}
		var h []struct{ Action, Comment, Username string }
		sxOK(t, in, "GET", "/Certificates/"+id+"/History", nil, &h)
		for action, who := range map[string]string{"Enrolled": "admin", "Deployed": "", "Downloaded": "team-a-op",
			"Recovered": "admin", "Renewed": "admin", "Revoked": "admin"} {
			found := false
			for _, e := range h {
				found = found || (e.Action == action && e.Username != "" && (who == "" || e.Username == who))
			}
			if !found {
				t.Errorf("no %s entry by %q in the history: %+v", action, who, h)
			}
		}
	})
}

// sxV2 posts a v2 PFX enrollment as user.
func sxV2(t *testing.T, in *instance, user, pass string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", in.base+"/Enrollment/PFX", bytes.NewReader(b))
	req.Header.Set("x-keyfactor-requested-with", "APIClient")
	req.Header.Set("x-keyfactor-api-version", "2")
	req.Header.Set("x-certificateformat", "PFX")
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, pass)
	resp, err := in.httpClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// sxBlockedOnFIFO reports whether a thread of pid waits in the kernel to
// open a FIFO (wchan fifo_open / wait_for_partner).
func sxBlockedOnFIFO(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err == nil && (strings.Contains(string(b), "fifo") || strings.Contains(string(b), "wait_for_partner")) {
			return true
		}
	}
	return false
}

func sxPtr[T any](v T) *T { return &v }
