// Package agent is the certdock agent (`certdock agent`): it registers
// with a certdock server over the agent protocol (docs/agent-protocol.md),
// keeps its identity (key, client certificate, agent id) in a data
// directory, heartbeats, pulls the jobs due for its stores, carries them out
// on this machine's PEM, PKCS#12 and Java keystore files with package
// storefile, and reports inventory and completion.
//
// Run runs the agent until its context ends (or, with Config.Once, for a
// single pass), so tests can run it as a goroutine as well as a process.
package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/orchestrator"
)

// Version is reported as AgentVersion (major<<48 | minor<<32 | micro<<16 | build).
const Version uint64 = 1<<48 | 0<<32 | 0<<16 | 0

// Capabilities are the job kinds this agent runs.
var Capabilities = []string{
	"CertStores.PEM.Inventory", "CertStores.PEM.Management",
	"CertStores.PKCS12.Inventory", "CertStores.PKCS12.Management",
	"CertStores.JKS.Inventory", "CertStores.JKS.Management",
}

// Config is the agent's configuration.
type Config struct {
	// Server is the server's base URL, https://HOST:PORT.
	Server string
	// DataDir keeps the agent's key, certificate and id.
	DataDir string
	// CACert is a PEM file of the roots that verify the server.
	CACert string
	// ClientMachine is the agent's name; stores are matched by it.
	ClientMachine string
	// Bootstrap credentials for the first registration: HTTP Basic or a
	// one-time registration token.
	Username, Password, Token string
	// Once makes Run do one pass (register, run the due jobs, report) and return.
	Once bool
	// PollInterval, when set and shorter than the server's heartbeat
	// interval, is the time between heartbeats.
	PollInterval time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

func (c *Config) check() error {
	u, err := url.Parse(c.Server)
	switch {
	case c.Server == "" || err != nil || u.Host == "":
		return fmt.Errorf("--server: %q is not a URL like https://HOST:PORT", c.Server)
	case u.Scheme != "https":
		return fmt.Errorf("--server: the agent talks HTTPS only, not %q", u.Scheme)
	case c.DataDir == "":
		return errors.New("--data-dir: is required")
	case c.CACert == "":
		return errors.New("--ca-cert: is required (the root that signed the server's certificate)")
	case strings.TrimSpace(c.ClientMachine) == "":
		return errors.New("--client-machine: is required")
	case c.Token != "" && c.Username != "":
		return errors.New("give either --token or --username/--password, not both")
	case c.Username != "" && c.Password == "":
		return errors.New("--password: is required with --username")
	}
	return nil
}

type agentRun struct {
	cfg    Config
	log    *slog.Logger
	base   string // https://host:port/KeyfactorAgents/
	roots  *x509.CertPool
	id     *identity
	client *http.Client
	token  string // session token
	hb     time.Duration
	ran    map[string]bool // jobs run in this batch
}

// Run runs the agent until ctx ends (nil then), or for one pass with
// cfg.Once. Failures to reach the server are retried with backoff.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	a := &agentRun{cfg: cfg, log: cfg.Logger}
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a.base = strings.TrimSuffix(cfg.Server, "/") + orchestrator.Prefix + "/"
	pemRoots, err := os.ReadFile(cfg.CACert)
	if err != nil {
		return fmt.Errorf("--ca-cert: %w", err)
	}
	a.roots = x509.NewCertPool()
	if !a.roots.AppendCertsFromPEM(pemRoots) {
		return fmt.Errorf("--ca-cert: %s holds no PEM certificate", cfg.CACert)
	}
	if a.id, err = loadIdentity(cfg.DataDir); err != nil {
		return err
	}
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("--data-dir %s: %w", cfg.DataDir, err)
	}
	defer unlock()
	a.client = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: a.roots, MinVersion: tls.VersionTLS12,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if c := a.id.tlsCert(); c != nil {
					return c, nil
				}
				return &tls.Certificate{}, nil
			}},
		// CAgent speaks HTTP/1.1; so does this agent.
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConnsPerHost: 2,
	}}
	defer a.client.CloseIdleConnections()
	if cfg.Once {
		return a.once(ctx)
	}
	return a.loop(ctx)
}

// onceAttempts bounds the tries of a single pass when the server cannot be
// reached (1s, 2s, 4s apart).
const onceAttempts = 4

// once is one pass, retried while the server is unreachable or answers
// with a transport error; a protocol refusal is final.
func (a *agentRun) once(ctx context.Context) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		err := a.pass(ctx)
		var pe *protocolError
		if err == nil || errors.As(err, &pe) || attempt == onceAttempts || ctx.Err() != nil {
			return err
		}
		a.log.Warn("agent pass failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

// pass registers (bootstrapping when needed) and runs the session's jobs.
func (a *agentRun) pass(ctx context.Context) error {
	jobs, err := a.session(ctx)
	if err != nil {
		return err
	}
	return a.runJobs(ctx, jobs)
}

// loop keeps a session, heartbeats and runs jobs until ctx ends.
func (a *agentRun) loop(ctx context.Context) error {
	backoff := time.Second
	for ctx.Err() == nil {
		var jobs []orchestrator.SessionJob
		var err error
		if a.token == "" {
			jobs, err = a.session(ctx)
		} else {
			jobs, err = a.heartbeat(ctx)
		}
		if err == nil {
			err = a.runJobs(ctx, jobs)
		}
		wait := a.interval()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.log.Warn("agent pass failed; retrying", "err", err, "in", backoff)
			wait = backoff
			backoff = min(backoff*2, time.Minute)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	a.log.Info("agent stopped")
	return nil
}

func (a *agentRun) interval() time.Duration {
	d := a.hb
	if d <= 0 {
		d = 5 * time.Minute
	}
	if p := a.cfg.PollInterval; p > 0 && p < d {
		d = p
	}
	return d
}

// protocolError is a Result.Status 3 answer.
type protocolError struct {
	path string
	res  orchestrator.Result
}

func (e *protocolError) Error() string {
	if e.res.Error != nil {
		return fmt.Sprintf("%s: %s (%s)", e.path, e.res.Error.Message, e.res.Error.CodeString)
	}
	return e.path + ": refused"
}

func (e *protocolError) code() string {
	if e.res.Error == nil {
		return ""
	}
	return e.res.Error.CodeString
}

// post sends one protocol call. rel is relative to /KeyfactorAgents/ and
// may carry the "KeyfactorAgents/" prefix endpoints are handed out with.
// A non-2xx answer or an undecodable body is an error; out's Result is the
// caller's to check.
func (a *agentRun) post(ctx context.Context, rel string, header http.Header, in, out any) error {
	rel = strings.TrimPrefix(rel, "/")
	if len(rel) >= len("KeyfactorAgents/") && strings.EqualFold(rel[:len("KeyfactorAgents/")], "KeyfactorAgents/") {
		rel = rel[len("KeyfactorAgents/"):]
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+rel, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var rr orchestrator.ResultResponse
		if json.Unmarshal(b, &rr) == nil && rr.Result.Error != nil {
			return fmt.Errorf("%s: HTTP %d: %w", rel, resp.StatusCode, &protocolError{path: rel, res: rr.Result})
		}
		return fmt.Errorf("%s: HTTP %d", rel, resp.StatusCode)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: undecodable answer: %w", rel, err)
	}
	return nil
}

// session registers with mTLS (bootstrapping or re-enrolling first when
// needed) and returns the jobs handed out.
func (a *agentRun) session(ctx context.Context) ([]orchestrator.SessionJob, error) {
	if !a.id.registered() {
		if err := a.bootstrap(ctx); err != nil {
			return nil, err
		}
	}
	resp, err := a.register(ctx)
	var pe *protocolError
	if errors.As(err, &pe) && (pe.code() == orchestrator.CodeCertExpired || pe.code() == orchestrator.CodeCertInvalid) && a.haveBootstrap() {
		a.log.Warn("client certificate refused; enrolling a new one", "reason", pe.Error())
		if err := a.bootstrap(ctx); err != nil {
			return nil, err
		}
		resp, err = a.register(ctx)
	}
	if err != nil {
		return nil, err
	}
	a.token = resp.Session.Token
	if err := a.id.saveSession(a.token); err != nil {
		// Not fatal: a restart then waits for the job lease instead.
		a.log.Warn("saving the session token", "err", err)
	}
	if resp.Session.HeartbeatInterval > 0 {
		a.hb = time.Duration(resp.Session.HeartbeatInterval) * time.Minute
	}
	if resp.Result.Status == orchestrator.StatusWarning && resp.Result.Error != nil {
		a.log.Warn("registered with a warning", "message", resp.Result.Error.Message)
	}
	a.log.Info("session started", "agent", a.id.state.AgentId, "jobs", len(resp.Session.Jobs))
	return resp.Session.Jobs, nil
}

func (a *agentRun) haveBootstrap() bool { return a.cfg.Token != "" || a.cfg.Username != "" }

func (a *agentRun) registerRequest() orchestrator.RegisterRequest {
	prev := a.token
	if prev == "" {
		prev = a.id.lastSession()
	}
	return orchestrator.RegisterRequest{AgentPlatform: 5, AgentVersion: Version, ClientMachine: a.cfg.ClientMachine,
		AgentId: a.id.state.AgentId, Capabilities: Capabilities, ClientParameters: map[string]string{},
		PreviousSessionToken: prev}
}

// register is the mTLS registration.
func (a *agentRun) register(ctx context.Context) (orchestrator.RegisterResponse, error) {
	var resp orchestrator.RegisterResponse
	if err := a.post(ctx, orchestrator.PathRegister, nil, a.registerRequest(), &resp); err != nil {
		return resp, err
	}
	if resp.Result.Status == orchestrator.StatusError {
		return resp, &protocolError{path: orchestrator.PathRegister, res: resp.Result}
	}
	if resp.Session.Token == "" {
		return resp, errors.New("registration gave no session")
	}
	return resp, nil
}

// bootstrap registers with the bootstrap credentials and a CSR, and saves
// the agent id and certificate.
func (a *agentRun) bootstrap(ctx context.Context) error {
	if !a.haveBootstrap() {
		return errors.New("the agent is not registered yet: give --username/--password or --token for its first registration")
	}
	csr, err := a.id.csr(a.cfg.ClientMachine)
	if err != nil {
		return err
	}
	req := a.registerRequest()
	req.CSR = &csr
	h := http.Header{}
	if a.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+a.cfg.Token)
	} else {
		r, _ := http.NewRequest(http.MethodPost, a.base, nil)
		r.SetBasicAuth(a.cfg.Username, a.cfg.Password)
		h.Set("Authorization", r.Header.Get("Authorization"))
	}
	// The bootstrap call must not present a stale client certificate.
	saved := a.id.cert
	a.id.cert = nil
	a.client.CloseIdleConnections()
	var resp orchestrator.RegisterResponse
	err = a.post(ctx, orchestrator.PathRegister, h, req, &resp)
	a.id.cert = saved
	a.client.CloseIdleConnections() // the next connection presents the new certificate
	if err != nil {
		return err
	}
	if resp.Result.Status == orchestrator.StatusError {
		return &protocolError{path: orchestrator.PathRegister, res: resp.Result}
	}
	if resp.Session.AgentId == "" || resp.Session.Certificate == "" {
		return errors.New("registration answered no agent id or certificate")
	}
	if err := a.id.save(resp.Session.AgentId, a.cfg.ClientMachine, resp.Session.Certificate); err != nil {
		return err
	}
	a.client.CloseIdleConnections()
	a.log.Info("registered", "agent", resp.Session.AgentId)
	return nil
}

func (a *agentRun) heartbeat(ctx context.Context) ([]orchestrator.SessionJob, error) {
	var resp orchestrator.HeartbeatResponse
	err := a.post(ctx, orchestrator.PathHeartbeat, nil, orchestrator.HeartbeatRequest{SessionToken: a.token,
		ClientMachine: a.cfg.ClientMachine, AgentPlatform: 5}, &resp)
	if err != nil {
		var pe *protocolError
		if errors.As(err, &pe) {
			a.token = ""
		}
		return nil, err
	}
	if resp.Result.Status == orchestrator.StatusError {
		a.token = ""
		return nil, &protocolError{path: orchestrator.PathHeartbeat, res: resp.Result}
	}
	if resp.HeartbeatInterval > 0 {
		a.hb = time.Duration(resp.HeartbeatInterval) * time.Minute
	}
	if !resp.SessionValid {
		a.token = ""
		return a.session(ctx)
	}
	return resp.Jobs, nil
}

// runJobs runs the jobs in CAgent's order: priority-3 management jobs (adds)
// first, then other management jobs, then inventory.
func (a *agentRun) runJobs(ctx context.Context, jobs []orchestrator.SessionJob) error {
	a.ran = map[string]bool{}
	rank := func(j orchestrator.SessionJob) int {
		k, ok := orchestrator.JobTypeOf(j.JobTypeId)
		switch {
		case !ok:
			return 3
		case k.Management && j.Priority == 3:
			return 0
		case k.Management:
			return 1
		}
		return 2
	}
	sort.SliceStable(jobs, func(i, k int) bool { return rank(jobs[i]) < rank(jobs[k]) })
	var firstErr error
	for _, j := range jobs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if a.ran[strings.ToLower(j.JobId)] {
			continue // an inventory job already run after a management job
		}
		err := a.runJob(ctx, j)
		var pe *protocolError
		if errors.As(err, &pe) && pe.code() == orchestrator.CodeJob {
			// Finished or taken meanwhile: nothing to do.
			a.log.Info("job no longer available", "job", j.JobId, "reason", pe.Error())
			continue
		}
		if err != nil {
			a.log.Warn("job failed", "job", j.JobId, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}
