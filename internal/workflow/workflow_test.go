package workflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/workflow"
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// issuer records a certificate for a held snapshot through the real store,
// inside the transaction the workflow hands it, the way internal/enroll does.
type issuer struct {
	db    *sqlstore.DB
	mu    sync.Mutex
	snaps []string
	fail  error
}

func (is *issuer) IssueHeld(ctx context.Context, snap []byte, h workflow.Issuance) (int64, error) {
	is.mu.Lock()
	is.snaps = append(is.snaps, string(snap))
	fail := is.fail
	is.mu.Unlock()
	if fail != nil {
		return 0, fail
	}
	der := selfSigned()
	c, _ := x509.ParseCertificate(der)
	rec := certificate.FromX509(c)
	rec.State, rec.RequesterName, rec.CertRequestID = certificate.StateActive, h.RequesterName, &h.RequestID
	var id int64
	err := is.db.WithTx(ctx, func(q sqlstore.Q) error {
		var err error
		if id, err = q.InsertCertificate(ctx, &rec); err != nil {
			return err
		}
		return h.Within(ctx, q, id)
	})
	return id, err
}

func (is *issuer) count() int { is.mu.Lock(); defer is.mu.Unlock(); return len(is.snaps) }

func selfSigned() []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "wf.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tpl, tpl, k.Public(), k)
	return der
}

type env struct {
	db     *sqlstore.DB
	reopen func() *sqlstore.DB
	clk    *clock
	kr     *secret.Keyring
	// sqliteDir is the SQLite database directory ("" on PostgreSQL).
	sqliteDir string
	iss       *issuer
	svc       *workflow.Service
	opts      workflow.Options
}

func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		open := func() *sqlstore.DB {
			db, err := sqlstore.Open(context.Background(), "", dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		e := newEnv(t, open)
		e.sqliteDir = dir
		fn(t, e)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("CERTDOCK_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("CERTDOCK_TEST_POSTGRES_DSN not set")
		}
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		var rb [6]byte
		rand.Read(rb[:])
		schema := "wf_" + hex.EncodeToString(rb[:])
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			t.Fatalf("postgres unreachable (CERTDOCK_TEST_POSTGRES_DSN is set): %v", err)
		}
		t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		full := dsn + sep + "search_path=" + schema
		open := func() *sqlstore.DB {
			db, err := sqlstore.Open(context.Background(), full, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		fn(t, newEnv(t, open))
	})
}

func newEnv(t *testing.T, open func() *sqlstore.DB) *env {
	kr, _, err := secret.LoadOrCreate(t.TempDir()+"/master.key", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{reopen: open, clk: &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}, kr: kr}
	e.start(open())
	return e
}

// start builds a service on db (again after a "restart").
func (e *env) start(db *sqlstore.DB) {
	e.db = db
	e.iss = &issuer{db: db}
	e.opts = workflow.Options{
		Store: db.Q(),
		InTx: func(ctx context.Context, fn func(workflow.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal: e.kr.Seal, Open: e.kr.Open, Issuer: e.iss, Now: e.clk.Now,
		IsNotFound:      func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		ApprovalTimeout: 7 * 24 * time.Hour, WebhookBackoff: 10 * time.Second, WebhookAttempts: 3,
	}
	e.svc = workflow.New(e.opts)
}

// A template and a pattern to key definitions to.
func (e *env) seedPattern(t *testing.T) (templateID, patternID int64) {
	ctx := context.Background()
	q := e.db.Q()
	tid, err := q.InsertTemplate(ctx, policyTemplate("WFTemplate"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := q.InsertPattern(ctx, policyPattern("WFPattern", tid))
	if err != nil {
		t.Fatal(err)
	}
	return tid, pid
}

var (
	requester = auth.NewPrincipal(10, "alice", []auth.RoleRef{{ID: 1, Name: "Requesters"}}, nil)
	approverA = auth.NewPrincipal(11, "bob", []auth.RoleRef{{ID: 2, Name: "Approvers"}}, nil)
	approverB = auth.NewPrincipal(12, "carol", []auth.RoleRef{{ID: 2, Name: "Approvers"}, {ID: 1, Name: "Requesters"}}, nil)
	outsider  = auth.NewPrincipal(13, "dave", []auth.RoleRef{{ID: 3, Name: "Others"}}, nil)
	manager   = auth.NewPrincipal(14, "erin", nil, []auth.Grant{{Permission: auth.WorkflowsManage}})
	// approverRequester holds the approving role but requests itself.
	approverRequester = auth.NewPrincipal(15, "frank", []auth.RoleRef{{ID: 2, Name: "Approvers"}}, nil)
)

func resolver(ctx context.Context, kind string, id int64) (string, error) { return kind + "-name", nil }
func rolesExist(ctx context.Context, id int64) (bool, error)              { return id < 100, nil }

// publish creates and publishes a definition for the pattern with steps.
func (e *env) publish(t *testing.T, patternID int64, steps []workflow.Step) workflow.Definition {
	t.Helper()
	ctx := context.Background()
	name, key := "Two approvals", "Pattern:"+itoa(patternID)
	d, err := e.svc.CreateDefinition(ctx, manager, workflow.DefinitionInput{DisplayName: &name, Key: &key}, resolver)
	if err != nil {
		t.Fatalf("CreateDefinition: %v", err)
	}
	if _, err := e.svc.SetSteps(ctx, manager, d.ID, steps, rolesExist); err != nil {
		t.Fatalf("SetSteps: %v", err)
	}
	d, err = e.svc.Publish(ctx, manager, d.ID)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return d
}

func approvalStep(n int, roles ...int64) workflow.Step {
	return workflow.Step{ExtensionName: "RequireApproval", UniqueName: "Approve", Enabled: true,
		ConfigurationParameters: map[string]any{"MinimumApprovals": float64(n)},
		Signals:                 []workflow.Signal{{SignalName: "ApprovalStatus", RoleIDs: roles}}}
}

func (e *env) hold(t *testing.T, p *auth.Principal, patternID int64, flag bool) workflow.HoldResult {
	t.Helper()
	r, err := e.svc.Hold(context.Background(), workflow.HoldRequest{Requester: p, RequiresApproval: flag,
		Summary:  workflow.Summary{Subject: "CN=wf.example.com", CommonName: "wf.example.com", PatternID: &patternID, CAID: 1},
		Snapshot: []byte(`{"secret":"the password"}`)})
	if err != nil {
		t.Fatalf("Hold: %v", err)
	}
	return r
}

// heldForApproval seeds a pattern whose published definition asks for n
// approvals by role 2 (Approvers) and holds one request of p for it.
func (e *env) heldForApproval(t *testing.T, p *auth.Principal, n int) (patternID int64, d workflow.Definition, r workflow.HoldResult) {
	t.Helper()
	_, patternID = e.seedPattern(t)
	d = e.publish(t, patternID, []workflow.Step{approvalStep(n, 2)})
	return patternID, d, e.hold(t, p, patternID, false)
}

func kindOf(err error) errs.Kind {
	if err == nil {
		return -1
	}
	return errs.As(err).Kind
}

func TestApproval_TwoApproversSelfAndTwice(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, r := e.heldForApproval(t, approverRequester, 2)
		if !r.Held || r.RequestID == 0 || r.InstanceID == "" {
			t.Fatalf("Hold = %+v, want held", r)
		}
		// The snapshot is sealed at rest: the stored bytes do not contain it.
		in, err := e.svc.Instance(ctx, r.InstanceID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(in.Sealed), "the password") || len(in.Sealed) == 0 {
			t.Fatalf("snapshot stored in the clear or missing")
		}
		if strings.Contains(string(in.SummarySealed), "wf.example.com") || in.Summary.CommonName != "wf.example.com" {
			t.Fatalf("summary stored in the clear, or not opened: %q", in.Summary.CommonName)
		}
		if e.sqliteDir != "" { // nothing in the database files names the subject or holds the password
			files, _ := filepath.Glob(filepath.Join(e.sqliteDir, "certdock.db*"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				if bytes.Contains(b, []byte("wf.example.com")) || bytes.Contains(b, []byte("the password")) {
					t.Fatalf("%s holds the held request in the clear", f)
				}
			}
			if len(files) == 0 {
				t.Fatal("no database files")
			}
		}
		if in.Status != workflow.StatusSuspended {
			t.Fatalf("status %v", in.Status)
		}
		steps := []struct {
			who  *auth.Principal
			want errs.Kind
		}{
			{approverRequester, errs.Forbidden}, // the requester holds the role but cannot approve
			{outsider, errs.Forbidden},          // not in the approving role
			{approverA, -1},                     // 1 of 2
			{approverA, errs.Conflict},          // one identity counts once
		}
		for i, s := range steps {
			_, err := e.svc.Signal(ctx, s.who, r.InstanceID, workflow.Decision{Decision: "APPROVE"})
			if kindOf(err) != s.want {
				t.Fatalf("step %d (%s): err %v, want kind %v", i, s.who.AccountName, err, s.want)
			}
		}
		if e.iss.count() != 0 {
			t.Fatal("issued before the second approval")
		}
		in, _ = e.svc.Instance(ctx, r.InstanceID)
		if in.Status != workflow.StatusSuspended || len(in.Signals) != 1 {
			t.Fatalf("after one approval: status %v signals %d", in.Status, len(in.Signals))
		}
		in, err = e.svc.Signal(ctx, approverB, r.InstanceID, workflow.Decision{Step: "Approve", Decision: "approve", Comment: "ok"})
		if err != nil {
			t.Fatalf("second approval: %v", err)
		}
		if in.Status != workflow.StatusComplete || in.CertificateID == nil || in.Sealed != nil {
			t.Fatalf("after two approvals: %+v", in)
		}
		if e.iss.count() != 1 || e.iss.snaps[0] != `{"secret":"the password"}` {
			t.Fatalf("issuer got %v", e.iss.snaps)
		}
		h, err := e.db.Q().History(ctx, *in.CertificateID)
		if err != nil || len(h) != 1 || !strings.Contains(h[0].Message, "bob, carol") {
			t.Fatalf("history %+v %v", h, err)
		}
		// Decided: no more signals.
		if _, err := e.svc.Signal(ctx, manager, r.InstanceID, workflow.Decision{Decision: "DENY"}); kindOf(err) != errs.Conflict {
			t.Fatalf("signal after completion: %v", err)
		}
	})
}

func TestApproval_DenyThenApproveRefused(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, r := e.heldForApproval(t, requester, 1)
		res := e.svc.DenyRequests(ctx, approverA, []int64{r.RequestID}, "not this one")
		if len(res.Denials) != 1 || len(res.Failures) != 0 {
			t.Fatalf("deny: %+v", res)
		}
		res = e.svc.ApproveRequests(ctx, approverB, []int64{r.RequestID})
		if len(res.Successes) != 0 || len(res.Failures) != 1 || !strings.Contains(res.Failures[0].Comment, "denied by bob") {
			t.Fatalf("approve after deny: %+v", res)
		}
		in, _ := e.svc.InstanceByRequest(ctx, r.RequestID)
		if in.Status != workflow.StatusRejected || in.DecidedBy != "bob" || in.DecisionComment != "not this one" || in.Sealed != nil {
			t.Fatalf("denied instance: %+v", in)
		}
		if e.iss.count() != 0 {
			t.Fatal("a denied request was issued")
		}
	})
}

func TestApproval_ExpiryWithFakeClock(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, pid := e.seedPattern(t)
		r := e.hold(t, requester, pid, true) // the pattern flag alone holds it
		if !r.Held {
			t.Fatal("RequiresApproval flag did not hold the request")
		}
		e.clk.Add(7*24*time.Hour - time.Second)
		if n, err := e.svc.Expire(ctx); err != nil || n != 0 {
			t.Fatalf("early Expire = %d, %v", n, err)
		}
		e.clk.Add(time.Second)
		if n, err := e.svc.Expire(ctx); err != nil || n != 1 {
			t.Fatalf("Expire = %d, %v", n, err)
		}
		in, _ := e.svc.Instance(ctx, r.InstanceID)
		if in.Status != workflow.StatusFailed || !strings.Contains(in.StatusMessage, "expired") {
			t.Fatalf("expired instance: %v %q", in.Status, in.StatusMessage)
		}
		if _, err := e.svc.Signal(ctx, manager, r.InstanceID, workflow.Decision{Decision: "APPROVE"}); kindOf(err) != errs.Conflict {
			t.Fatalf("approve after expiry: %v", err)
		}
	})
}

func TestApproval_ImplicitNeedsManagePermission(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, pid := e.seedPattern(t)
		if r := e.hold(t, requester, pid, false); r.Held {
			t.Fatal("held without a definition or flag")
		}
		r := e.hold(t, requester, pid, true)
		if _, err := e.svc.Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"}); kindOf(err) != errs.Forbidden {
			t.Fatalf("role member without manage permission: %v", err)
		}
		in, err := e.svc.Signal(ctx, manager, r.InstanceID, workflow.Decision{Decision: "APPROVE"})
		if err != nil || in.Status != workflow.StatusComplete {
			t.Fatalf("manager approval: %v %v", in.Status, err)
		}
	})
}

func TestApproval_RestartBetweenRequestAndApproval(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, r := e.heldForApproval(t, requester, 2)
		if _, err := e.svc.Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"}); err != nil {
			t.Fatal(err)
		}
		e.db.Close()
		e.start(e.reopen())
		if _, err := e.svc.Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"}); kindOf(err) != errs.Conflict {
			t.Fatalf("after restart the first approval was forgotten: %v", err)
		}
		in, err := e.svc.Signal(ctx, approverB, r.InstanceID, workflow.Decision{Decision: "APPROVE"})
		if err != nil || in.Status != workflow.StatusComplete || e.iss.snaps[0] != `{"secret":"the password"}` {
			t.Fatalf("after restart: %v %v %v", in.Status, err, e.iss.snaps)
		}
	})
}

func TestApproval_IssuanceFailureAndResume(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, r := e.heldForApproval(t, requester, 1)
		e.iss.fail = errs.E(errs.Unavailable, errs.CodeUnavailable, "CA offline")
		in, err := e.svc.Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"})
		if err != nil || in.Status != workflow.StatusFailed || !strings.Contains(in.StatusMessage, "CA offline") {
			t.Fatalf("failed issuance: %v %q %v", in.Status, in.StatusMessage, err)
		}
	})
}

func TestWebhooks_RetryAfter500(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var mu sync.Mutex
		var got []workflow.Event
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				w.WriteHeader(500)
				return
			}
			b, _ := io.ReadAll(r.Body)
			var ev workflow.Event
			if err := json.Unmarshal(b, &ev); err != nil || r.Header.Get("X-Step") != "yes" && ev.Event == "Step" {
				w.WriteHeader(400)
				return
			}
			got = append(got, ev)
		}))
		defer srv.Close()
		e.opts.NotifyURL = srv.URL + "/notify"
		e.svc = workflow.New(e.opts)
		_, pid := e.seedPattern(t)
		rest := workflow.Step{ExtensionName: "RESTRequest", UniqueName: "Tell", Enabled: true,
			ConfigurationParameters: map[string]any{"URL": srv.URL + "/step", "Headers": map[string]any{"X-Step": "yes"}}}
		e.publish(t, pid, []workflow.Step{rest, approvalStep(1, 2)})
		r := e.hold(t, requester, pid, false)
		// Pending notification + the REST step: first POST answers 500.
		if n, err := e.svc.SendDue(ctx); err != nil || n != 1 {
			t.Fatalf("first SendDue = %d, %v", n, err)
		}
		if n, _ := e.svc.SendDue(ctx); n != 0 {
			t.Fatalf("retried before the backoff: %d", n)
		}
		e.clk.Add(10 * time.Second)
		if n, err := e.svc.SendDue(ctx); err != nil || n != 1 {
			t.Fatalf("retry SendDue = %d, %v", n, err)
		}
		if _, err := e.svc.Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.SendDue(ctx); err != nil || n != 3 {
			t.Fatalf("after approval SendDue = %d, %v (want Approval, Approved, Issued)", n, err)
		}
		mu.Lock()
		defer mu.Unlock()
		var names []string
		for _, ev := range got {
			names = append(names, ev.Event)
			if ev.KeyfactorRequestId != r.RequestID || ev.InstanceId != r.InstanceID {
				t.Errorf("event %+v names another request", ev)
			}
		}
		if strings.Join(names, ",") != "Step,Pending,Approval,Approved,Issued" {
			t.Fatalf("events %v (calls %d)", names, calls)
		}
	})
}

func TestValidateSteps(t *testing.T) {
	cases := []struct {
		name  string
		step  workflow.Step
		field string
	}{
		{"unknown extension", workflow.Step{ExtensionName: "Email", UniqueName: "a"}, "Steps[0].ExtensionName"},
		{"bad unique name", workflow.Step{ExtensionName: "RequireApproval", UniqueName: "1a"}, "Steps[0].UniqueName"},
		{"zero approvals", approvalWith(map[string]any{"MinimumApprovals": float64(0)}, 2), "Steps[0].ConfigurationParameters.MinimumApprovals"},
		{"fractional approvals", approvalWith(map[string]any{"MinimumApprovals": 1.5}, 2), "Steps[0].ConfigurationParameters.MinimumApprovals"},
		{"no roles", approvalWith(nil), "Steps[0].Signals[0].RoleIds"},
		{"rest without url", workflow.Step{ExtensionName: "RESTRequest", UniqueName: "r"}, "Steps[0].ConfigurationParameters.URL"},
		{"rest bad verb", workflow.Step{ExtensionName: "RESTRequest", UniqueName: "r",
			ConfigurationParameters: map[string]any{"URL": "https://x.example/h", "Verb": "DELETE"}}, "Steps[0].ConfigurationParameters.Verb"},
		{"rest ftp", workflow.Step{ExtensionName: "RESTRequest", UniqueName: "r",
			ConfigurationParameters: map[string]any{"URL": "ftp://x.example/h"}}, "Steps[0].ConfigurationParameters.URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := workflow.ValidateSteps([]workflow.Step{c.step})
			if err == nil || !strings.HasPrefix(errs.As(err).Error(), c.field+":") && errs.As(err).Field != c.field {
				t.Fatalf("err %v, want field %s", err, c.field)
			}
		})
	}
	got, err := workflow.ValidateSteps([]workflow.Step{approvalWith(map[string]any{"minimumapprovals": "3"}, 2)})
	if err != nil || got[0].ConfigurationParameters["MinimumApprovals"] != 3 {
		t.Fatalf("normalised %v %v", got, err)
	}
	if _, err := workflow.ValidateSteps([]workflow.Step{approvalStep(1, 2), approvalStep(1, 2)}); err == nil {
		t.Fatal("duplicate UniqueName accepted")
	}
}

func approvalWith(cp map[string]any, roles ...int64) workflow.Step {
	return workflow.Step{ExtensionName: "requireapproval", UniqueName: "A", Enabled: true, ConfigurationParameters: cp,
		Signals: []workflow.Signal{{SignalName: "approvalstatus", RoleIDs: roles}}}
}

func FuzzParseSignalKey(f *testing.F) {
	for _, s := range []string{"Approve.ApprovalStatus", "ApprovalStatus", "a.b.c", "", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		step, err := workflow.ParseSignalKey(s)
		if err == nil && strings.Contains(step, ".") {
			t.Fatalf("step %q with a dot from %q", step, s)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"5", "Template:3", "pattern:9", "x", "Template:-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, id, err := workflow.ParseKey(s)
		if err == nil && (id <= 0 || (kind != workflow.KeyPattern && kind != workflow.KeyTemplate)) {
			t.Fatalf("ParseKey(%q) = %q %d", s, kind, id)
		}
	})
}

// A crash between the approval's commit and the issuance leaves the
// instance Running; the background loop's Resume issues it after restart.
func TestApproval_ResumeAfterRestart(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, _, r := e.heldForApproval(t, requester, 1)
		noIssuer := e.opts
		noIssuer.Issuer = nil // the process "dies" before issuing
		in, err := workflow.New(noIssuer).Signal(ctx, approverA, r.InstanceID, workflow.Decision{Decision: "APPROVE"})
		if err != nil || in.Status != workflow.StatusRunning {
			t.Fatalf("approved: %v %v", in.Status, err)
		}
		e.db.Close()
		e.start(e.reopen())
		e.svc.RunOnce(ctx)
		in, _ = e.svc.Instance(ctx, r.InstanceID)
		if in.Status != workflow.StatusComplete || e.iss.count() != 1 {
			t.Fatalf("after resume: %v, %d issuances", in.Status, e.iss.count())
		}
		e.svc.RunOnce(ctx)
		if e.iss.count() != 1 {
			t.Fatal("issued twice")
		}
	})
}

func TestDefinitions_VersionsStopAssigned(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, pid := e.seedPattern(t)
		d := e.publish(t, pid, []workflow.Step{approvalStep(1, 2)})
		if d.DraftVersion != 1 || *d.PublishedVersion != 1 {
			t.Fatalf("first publish: draft %d published %v", d.DraftVersion, *d.PublishedVersion)
		}
		r := e.hold(t, requester, pid, false)
		// A new draft does not change the waiting request's steps.
		d, err := e.svc.SetSteps(ctx, manager, d.ID, []workflow.Step{approvalStep(3, 2)}, rolesExist)
		if err != nil || d.DraftVersion != 2 || *d.PublishedVersion != 1 {
			t.Fatalf("new draft: %+v %v", d, err)
		}
		if _, err := e.svc.SetSteps(ctx, manager, d.ID, []workflow.Step{approvalStep(1, 100)}, rolesExist); err == nil || !strings.Contains(err.Error(), "role 100 does not exist") {
			t.Fatalf("unknown role: %v", err)
		}
		name, key := "dup", "Pattern:"+itoa(pid)
		if _, err := e.svc.CreateDefinition(ctx, manager, workflow.DefinitionInput{DisplayName: &name, Key: &key}, resolver); kindOf(err) != errs.Conflict {
			t.Fatalf("second definition for the key: %v", err)
		}
		mine, _ := e.svc.AssignedTo(ctx, approverA)
		if len(mine) != 1 || mine[0].ID != r.InstanceID {
			t.Fatalf("AssignedTo(bob) = %v", mine)
		}
		if own, _ := e.svc.AssignedTo(ctx, approverRequester); len(own) != 1 {
			t.Fatalf("frank should see alice's request: %v", own)
		}
		if none, _ := e.svc.AssignedTo(ctx, outsider); len(none) != 0 {
			t.Fatalf("AssignedTo(outsider) = %v", none)
		}
		if err := e.svc.Stop(ctx, manager, r.InstanceID); err != nil {
			t.Fatal(err)
		}
		in, _ := e.svc.Instance(ctx, r.InstanceID)
		if in.Status != workflow.StatusStopped || in.Sealed != nil || in.DecidedBy != "erin" {
			t.Fatalf("stopped: %+v", in)
		}
		if err := e.svc.Stop(ctx, manager, r.InstanceID); kindOf(err) != errs.Conflict {
			t.Fatalf("second stop: %v", err)
		}
		// Apply (setup file) is idempotent.
		a1, err := e.svc.Apply(ctx, "setup", "", workflow.KeyTemplate, 5, "From setup", "", true, []workflow.Step{approvalStep(2, 2)})
		if err != nil || *a1.PublishedVersion != 1 {
			t.Fatalf("Apply: %+v %v", a1, err)
		}
		a2, err := e.svc.Apply(ctx, "setup", "", workflow.KeyTemplate, 5, "From setup", "", true, []workflow.Step{approvalStep(2, 2)})
		if err != nil || a2.ID != a1.ID || *a2.PublishedVersion != 1 {
			t.Fatalf("Apply again: %+v %v", a2, err)
		}
		a3, err := e.svc.Apply(ctx, "setup", "", workflow.KeyTemplate, 5, "From setup", "", true, []workflow.Step{approvalStep(1, 2)})
		if err != nil || *a3.PublishedVersion != 2 || a3.PublishedSteps[0].ID != a1.PublishedSteps[0].ID {
			t.Fatalf("Apply changed: %+v %v", a3, err)
		}
	})
}
