// Package orchestrator is the server side of the agent (orchestrator)
// protocol under /KeyfactorAgents, as Keyfactor's CAgent speaks it
// (API-NOTES §7): agent registration with bootstrap credentials and a CSR,
// the agent's client certificate issued by the built-in issuing CA, mTLS
// afterwards, sessions and heartbeats, jobs handed out with their
// configuration, inventory reports and job completion.
//
// The store catalogue and agent records belong to package stores, the job
// queue to package jobs; this package holds the protocol, sessions and the
// per-session hold on a running job. docs/agent-protocol.md describes the
// protocol as implemented.
package orchestrator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/stores"
)

// Catalogue is what the protocol needs of the store catalogue;
// *stores.Service implements it.
type Catalogue interface {
	Get(ctx context.Context, id string) (stores.Store, error)
	StorePassword(ctx context.Context, id string) (string, error)
	Agent(ctx context.Context, id string) (stores.Agent, error)
	AgentByThumbprint(ctx context.Context, tp string) (stores.Agent, error)
	RegisterAgent(ctx context.Context, a stores.Agent) (stores.Agent, error)
	UpdateAgent(ctx context.Context, a stores.Agent) error
	UseRegistrationToken(ctx context.Context, tok, usedBy string, now time.Time) (bool, error)
	SetStatus(ctx context.Context, p *auth.Principal, ids []string, status int) error
	ReplaceInventory(ctx context.Context, storeID string, items []stores.InventoryItem, now time.Time) error
}

// Queue is what the protocol needs of the job queue; *jobs.Service
// implements it.
type Queue interface {
	Due(ctx context.Context, agentID string, now time.Time) ([]jobs.Job, error)
	Get(ctx context.Context, id string) (jobs.Job, error)
	Lease(ctx context.Context, jobID, agentID string, now time.Time, d time.Duration) (jobs.Job, error)
	EntryPassword(ctx context.Context, jobID string) (string, error)
	Finish(ctx context.Context, jobID string, c jobs.Completion, now time.Time) (jobs.Outcome, error)
}

// SessionRecord is a stored agent session (TokenHash is a SHA-256 hex of the token).
type SessionRecord struct {
	TokenHash string
	AgentID   string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// Repo is this package's storage; sqlstore.Q implements it.
type Repo interface {
	InsertSession(ctx context.Context, s SessionRecord) error
	Session(ctx context.Context, tokenHash string) (SessionRecord, error)
	TouchSession(ctx context.Context, tokenHash string, seen, expires time.Time) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) error
	HoldJob(ctx context.Context, jobID, sessionHash, agentID string, now, until time.Time) (bool, error)
	JobHolder(ctx context.Context, jobID string) (string, time.Time, error)
	ReleaseJob(ctx context.Context, jobID string) error
	// ReleaseSessionHolds drops the holds of one session of the agent and
	// ends the queue leases of the unfinished jobs it held.
	ReleaseSessionHolds(ctx context.Context, agentID, sessionHash string) error

	Certificate(ctx context.Context, id int64) (certificate.Record, error)
	CertificateByThumbprint(ctx context.Context, tp string) (certificate.Record, error)
	RetainedKey(ctx context.Context, certID int64) ([]byte, error)
	Inventory(ctx context.Context, storeID string, limit, offset int) ([]stores.InventoryEntry, error)

	InsertCertificate(ctx context.Context, r *certificate.Record) (int64, error)
	AddHistory(ctx context.Context, h certificate.HistoryEntry) error
	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}

// Options wires the service.
type Options struct {
	Catalogue Catalogue
	Queue     Queue
	Repo      Repo
	InTx      func(ctx context.Context, fn func(Repo) error) error
	// Basic authenticates an HTTP Basic Authorization header.
	Basic func(ctx context.Context, header string) (*auth.Principal, error)
	// Issuer signs agent client certificates; IssuerCAID is its CA row.
	Issuer     ca.Connector
	IssuerCAID int64
	// Roots and Intermediates verify client certificates.
	Roots, Intermediates *x509.CertPool
	// ChainOf returns the CA chain (issuer first) of a certificate certdock
	// issued, for management jobs.
	ChainOf func(rec certificate.Record) []*x509.Certificate
	// Open unseals a retained private key.
	Open func(blob, aad []byte) ([]byte, error)
	// RetainedKeyAAD is the associated data of a certificate's retained key.
	RetainedKeyAAD func(certID int64) []byte
	// RandomPassword makes the one-time PfxPassword of a management job.
	RandomPassword func(n int) (string, error)
	IsNotFound     func(error) bool
	Now            func() time.Time
	Rand           io.Reader
	Logger         *slog.Logger

	// HeartbeatInterval is told to agents, in minutes (default 5).
	HeartbeatInterval int
	// LeaseDuration is how long a session holds a job it asked for before
	// another session may run it (default 5 minutes).
	LeaseDuration time.Duration
	// ClientCertValidity is the lifetime of agent certificates (default a year).
	ClientCertValidity time.Duration
}

// Service is the agent protocol.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = func() time.Time { return time.Now().UTC() }
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 5
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = 5 * time.Minute
	}
	if o.ClientCertValidity <= 0 {
		o.ClientCertValidity = 365 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{o: o}
}

// Caller is who is calling, as the transport established it.
type Caller struct {
	// Cert is the client certificate presented over TLS, unverified; the
	// service verifies it against the issuing CA.
	Cert *x509.Certificate
	// Authorization is the HTTP Authorization header (bootstrap).
	Authorization string
}

// Failure is a protocol-level refusal: the transport answers it with
// Result.Status 3 and the code. HTTP is set for failures that also change
// the HTTP status (401 for missing credentials, 400 for a malformed body).
type Failure struct {
	Code    string
	Message string
	HTTP    int
}

func (f *Failure) Error() string { return f.Code + ": " + f.Message }

func fail(code, format string, args ...any) *Failure {
	return &Failure{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ResultOf turns an error into the Result of a response.
func ResultOf(err error) Result {
	if err == nil {
		return Result{Status: StatusSuccess}
	}
	var f *Failure
	if errors.As(err, &f) {
		return Result{Status: StatusError, Error: &ResultError{Code: codeInt(f.Code), CodeString: f.Code, Message: f.Message}}
	}
	return Result{Status: StatusError, Error: &ResultError{Code: codeInt(CodeInternal), CodeString: CodeInternal, Message: "internal server error"}}
}

func codeInt(s string) int64 {
	var n int64
	fmt.Sscanf(s, "%x", &n)
	return n
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Second) }

// ---- identity ----

// clientAgent verifies a presented client certificate and returns its agent.
func (s *Service) clientAgent(ctx context.Context, cert *x509.Certificate) (stores.Agent, error) {
	if cert == nil {
		return stores.Agent{}, &Failure{Code: CodeUnauthenticated, Message: "this call needs the agent's client certificate (mTLS)", HTTP: 401}
	}
	now := s.o.Now()
	_, err := cert.Verify(x509.VerifyOptions{Roots: s.o.Roots, Intermediates: s.o.Intermediates,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return stores.Agent{}, fail(CodeCertExpired, "the client certificate expired on %s", cert.NotAfter.UTC().Format(time.RFC3339))
		}
		return stores.Agent{}, fail(CodeCertInvalid, "the client certificate was not issued by this server's issuing CA: %v", err)
	}
	tp := pki.Thumbprint(cert)
	rec, err := s.o.Repo.CertificateByThumbprint(ctx, tp)
	if err != nil {
		if s.isNotFound(err) {
			return stores.Agent{}, fail(CodeCertInvalid, "the client certificate %s is not an agent certificate of this server", tp)
		}
		return stores.Agent{}, err
	}
	if rec.State == certificate.StateRevoked || rec.Revocation != nil {
		return stores.Agent{}, fail(CodeCertRevoked, "the client certificate %s is revoked", tp)
	}
	a, err := s.o.Catalogue.AgentByThumbprint(ctx, tp)
	if err != nil {
		if s.isNotFound(err) {
			return stores.Agent{}, fail(CodeCertInvalid, "no agent holds the client certificate %s (it was replaced or the agent reset)", tp)
		}
		return stores.Agent{}, err
	}
	if a.Status == stores.AgentDisapproved {
		return a, fail(CodeDisapproved, "agent %s is disapproved", a.AgentID)
	}
	return a, nil
}

// bootstrap authenticates a first registration: HTTP Basic with a
// permission to register agents, or a one-time Bearer token. approver says
// whether the credentials may also approve agents (/agents/management/modify/).
func (s *Service) bootstrap(ctx context.Context, header, clientMachine string) (actor string, approver bool, err error) {
	actor, err = s.bootstrapActor(ctx, header, clientMachine, &approver)
	return actor, approver, err
}

func (s *Service) bootstrapActor(ctx context.Context, header, clientMachine string, approver *bool) (string, error) {
	scheme, cred, _ := strings.Cut(strings.TrimSpace(header), " ")
	switch strings.ToLower(scheme) {
	case "basic":
		p, err := s.o.Basic(ctx, header)
		if err != nil {
			return "", &Failure{Code: CodeUnauthenticated, Message: "the bootstrap credentials were refused", HTTP: 401}
		}
		if !p.Has(auth.AgentsModify) && !p.Has(auth.AgentsRegister) {
			return "", &Failure{Code: CodeUnauthenticated, Message: fmt.Sprintf("%s lacks the permission %s or %s needed to register an agent",
				p.AccountName, auth.AgentsRegister, auth.AgentsModify), HTTP: 403}
		}
		*approver = p.Has(auth.AgentsModify)
		return p.AccountName, nil
	case "bearer":
		ok, err := s.o.Catalogue.UseRegistrationToken(ctx, strings.TrimSpace(cred), clientMachine, s.now())
		if err != nil {
			return "", err
		}
		if !ok {
			return "", &Failure{Code: CodeUnauthenticated, Message: "the registration token is unknown, expired or already used", HTTP: 401}
		}
		return "registration-token", nil
	}
	return "", &Failure{Code: CodeUnauthenticated, Message: "register with the agent's client certificate, HTTP Basic credentials or a registration token", HTTP: 401}
}

// isNotFound recognises a missing row or a domain NotFound error.
func (s *Service) isNotFound(err error) bool {
	if s.o.IsNotFound != nil && s.o.IsNotFound(err) {
		return true
	}
	var e *errs.Error
	return errors.As(err, &e) && e.Kind == errs.NotFound
}

// ---- registration ----

const (
	maxClientMachine = 255
	maxCapabilities  = 64
	maxCSR           = 16 << 10
)

func (r *RegisterRequest) validate() error {
	r.ClientMachine = strings.TrimSpace(r.ClientMachine)
	switch {
	case r.ClientMachine == "":
		return &Failure{Code: CodeBadRequest, Message: "ClientMachine: is required", HTTP: 400}
	case len(r.ClientMachine) > maxClientMachine || strings.ContainsAny(r.ClientMachine, "\x00\r\n"):
		return &Failure{Code: CodeBadRequest, Message: "ClientMachine: must be at most 255 characters without control characters", HTTP: 400}
	case r.AgentId != "" && !stores.IsUUID(r.AgentId):
		return &Failure{Code: CodeBadRequest, Message: fmt.Sprintf("AgentId: %q is not a GUID", r.AgentId), HTTP: 400}
	case len(r.Capabilities) > maxCapabilities:
		return &Failure{Code: CodeBadRequest, Message: fmt.Sprintf("Capabilities: at most %d", maxCapabilities), HTTP: 400}
	case r.CSR != nil && len(*r.CSR) > maxCSR:
		return &Failure{Code: CodeBadRequest, Message: "CSR: is longer than 16 KiB", HTTP: 400}
	}
	for _, c := range r.Capabilities {
		if len(c) > 200 {
			return &Failure{Code: CodeBadRequest, Message: "Capabilities: an entry is longer than 200 characters", HTTP: 400}
		}
	}
	return nil
}

func versionString(v uint64) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.%d", v>>48, v>>32&0xFFFF, v>>16&0xFFFF, v&0xFFFF)
}

// Register handles POST /Session/Register.
func (s *Service) Register(ctx context.Context, c Caller, req RegisterRequest) (RegisterResponse, error) {
	if err := req.validate(); err != nil {
		return RegisterResponse{}, err
	}
	// Bootstrap credentials win over a presented certificate: an agent
	// whose certificate expired re-enrolls over a connection that may
	// still present the old one.
	if c.Cert != nil && strings.TrimSpace(c.Authorization) == "" {
		return s.registerMTLS(ctx, c.Cert, req)
	}
	// Everything that can be checked is checked before a one-time token is
	// used up.
	if req.CSR == nil || strings.TrimSpace(*req.CSR) == "" {
		return RegisterResponse{}, &Failure{Code: CodeBadRequest, Message: "CSR: is required to register without a client certificate", HTTP: 400}
	}
	csr, err := decodeCSR(*req.CSR)
	if err != nil {
		return RegisterResponse{}, err
	}
	bearer := strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Authorization)), "bearer ")
	if req.AgentId != "" && bearer {
		return RegisterResponse{}, &Failure{Code: CodeBadRequest, HTTP: 400,
			Message: "AgentId: a registration token registers a new agent; re-enroll an existing agent with its client certificate or HTTP Basic"}
	}
	actor, approver, err := s.bootstrap(ctx, c.Authorization, req.ClientMachine)
	if err != nil {
		return RegisterResponse{}, err
	}
	var agent stores.Agent
	if req.AgentId != "" {
		if agent, err = s.o.Catalogue.Agent(ctx, req.AgentId); err != nil {
			if s.isNotFound(err) {
				return RegisterResponse{}, fail(CodeBadRequest, "AgentId: agent %s does not exist; register with an empty AgentId", req.AgentId)
			}
			return RegisterResponse{}, err
		}
		if agent.Status == stores.AgentDisapproved {
			return RegisterResponse{}, fail(CodeDisapproved, "agent %s is disapproved", agent.AgentID)
		}
		if !strings.EqualFold(agent.ClientMachine, req.ClientMachine) {
			return RegisterResponse{}, fail(CodeBadRequest, "ClientMachine: agent %s is %q, not %q", agent.AgentID, agent.ClientMachine, req.ClientMachine)
		}
		// Re-enrolling an existing agent hands its identity (its stores'
		// passwords and the keys its jobs deliver) to whoever holds the new
		// certificate. Credentials that may only register agents (not
		// approve them) therefore get the agent back as New: it runs no
		// job until someone with /agents/management/modify/ approves it
		// again, as after a first registration. Done before the new
		// certificate exists, so no moment has it approved.
		if !approver && agent.Status == stores.AgentApproved {
			if err := s.o.Catalogue.SetStatus(ctx, auth.NewPrincipal(0, actor, nil, nil), []string{agent.AgentID}, stores.AgentNew); err != nil {
				return RegisterResponse{}, err
			}
			agent.Status = stores.AgentNew
			s.o.Logger.Warn("agent re-enrolled by an identity that cannot approve agents: it waits for approval again",
				"agent", agent.AgentID, "by", actor)
		}
	}
	cert, err := s.issue(ctx, csr, req.ClientMachine, actor)
	if err != nil {
		return RegisterResponse{}, err
	}
	tp := pki.Thumbprint(cert)
	now := s.now()
	if req.AgentId == "" {
		agent, err = s.o.Catalogue.RegisterAgent(ctx, stores.Agent{ClientMachine: req.ClientMachine, Username: actor,
			Platform: req.AgentPlatform, Status: stores.AgentNew, Version: versionString(req.AgentVersion),
			LastSeen: &now, Capabilities: req.Capabilities, Thumbprint: tp})
		if err != nil {
			return RegisterResponse{}, err
		}
	} else {
		agent.Thumbprint, agent.LastSeen = tp, &now
		if err := s.o.Catalogue.UpdateAgent(ctx, agent); err != nil {
			return RegisterResponse{}, err
		}
	}
	s.o.Logger.Info("agent registered", "agent", agent.AgentID, "machine", req.ClientMachine, "by", actor, "thumbprint", tp)
	return RegisterResponse{Result: Result{Status: StatusSuccess}, Session: Session{
		AgentId: agent.AgentID, HeartbeatInterval: s.o.HeartbeatInterval, ClientMachine: agent.ClientMachine,
		Certificate: base64.StdEncoding.EncodeToString(cert.Raw), ClientParameters: map[string]string{}, Jobs: []SessionJob{},
	}}, nil
}

func (s *Service) registerMTLS(ctx context.Context, cert *x509.Certificate, req RegisterRequest) (RegisterResponse, error) {
	agent, err := s.clientAgent(ctx, cert)
	if err != nil {
		return RegisterResponse{}, err
	}
	if req.AgentId != "" && !strings.EqualFold(req.AgentId, agent.AgentID) {
		return RegisterResponse{}, fail(CodeCertInvalid, "AgentId: the client certificate belongs to agent %s, not %s", agent.AgentID, req.AgentId)
	}
	now := s.now()
	var newCert *x509.Certificate
	if req.CSR != nil && strings.TrimSpace(*req.CSR) != "" {
		// Renewal of the client certificate before it expires.
		csr, err := decodeCSR(*req.CSR)
		if err != nil {
			return RegisterResponse{}, err
		}
		if newCert, err = s.issue(ctx, csr, agent.ClientMachine, "agent:"+agent.AgentID); err != nil {
			return RegisterResponse{}, err
		}
		agent.Thumbprint = pki.Thumbprint(newCert)
	}
	agent.LastSeen = &now
	agent.Platform = req.AgentPlatform
	if v := versionString(req.AgentVersion); v != "" {
		agent.Version = v
	}
	if req.Capabilities != nil {
		agent.Capabilities = req.Capabilities
	}
	if err := s.o.Catalogue.UpdateAgent(ctx, agent); err != nil {
		return RegisterResponse{}, err
	}
	tok, err := s.newSession(ctx, agent.AgentID, now)
	if err != nil {
		return RegisterResponse{}, err
	}
	// A restarted agent names the session it replaces: that session ends
	// (its late configuration, inventory or completion calls are refused)
	// and the jobs it held come back at once. Holds of the agent's other
	// sessions are left alone: they may belong to another live process of
	// the agent, which is running the job now; they end with completion or
	// with the lease.
	if err := s.supersede(ctx, agent.AgentID, req.PreviousSessionToken, now); err != nil {
		return RegisterResponse{}, err
	}
	sessionJobs, err := s.jobsFor(ctx, agent, hashToken(tok), now)
	if err != nil {
		return RegisterResponse{}, err
	}
	resp := RegisterResponse{Result: Result{Status: StatusSuccess}, Session: Session{
		Token: tok, AgentId: agent.AgentID, HeartbeatInterval: s.o.HeartbeatInterval, ClientMachine: agent.ClientMachine,
		ClientParameters: map[string]string{}, Jobs: sessionJobs,
	}}
	if newCert != nil {
		resp.Session.Certificate = base64.StdEncoding.EncodeToString(newCert.Raw)
	}
	if agent.Status != stores.AgentApproved {
		resp.Result = Result{Status: StatusWarning, Error: &ResultError{Code: codeInt(CodeDisapproved), CodeString: CodeDisapproved,
			Message: fmt.Sprintf("agent %s waits for approval: it gets no jobs until approved", agent.AgentID)}}
	}
	return resp, nil
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// issue signs an agent client certificate for the CSR's key and records it
// as a certificate, so it shows in the inventory and can be revoked.
func (s *Service) issue(ctx context.Context, csr *x509.CertificateRequest, clientMachine, actor string) (*x509.Certificate, error) {
	resp, err := s.o.Issuer.Issue(ctx, &ca.IssueRequest{
		PublicKey: csr.PublicKey,
		Subject:   pkix.RDNSequence{{{Type: oidCommonName, Value: clientMachine}}},
		Profile:   ca.Profile{Validity: s.o.ClientCertValidity, ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
	})
	if err != nil {
		if errors.Is(err, ca.ErrRejected) {
			return nil, fail(CodeBadRequest, "CSR: %v", err)
		}
		return nil, fmt.Errorf("issuing agent certificate: %w", err)
	}
	now := s.now()
	rec := certificate.FromX509(resp.Certificate)
	rec.ImportDate = now
	rec.State = certificate.StateActive
	caID := s.o.IssuerCAID
	rec.CAID = &caID
	rec.RequesterName = actor
	rec.Metadata = map[string]string{}
	err = s.o.InTx(ctx, func(r Repo) error {
		id, err := r.InsertCertificate(ctx, &rec)
		if err != nil {
			return err
		}
		if err := r.AddHistory(ctx, certificate.HistoryEntry{CertID: id, At: now, Operation: certificate.OpEnrolled, Actor: actor,
			Message: "agent client certificate for " + clientMachine}); err != nil {
			return err
		}
		return r.Audit(ctx, now, actor, "agent.certificate", fmt.Sprintf("certificate %d", id), clientMachine+" "+rec.Thumbprint)
	})
	if err != nil {
		return nil, fmt.Errorf("recording agent certificate: %w", err)
	}
	return resp.Certificate, nil
}

func decodeCSR(text string) (*x509.CertificateRequest, error) {
	csr, err := parseCSR([]byte(text))
	if err != nil {
		return nil, &Failure{Code: CodeBadRequest, Message: err.Error(), HTTP: 400}
	}
	return csr, nil
}

// ---- sessions ----

// supersede ends the agent's session of token prev, when there is one, and
// releases the jobs it held.
func (s *Service) supersede(ctx context.Context, agentID, prev string, now time.Time) error {
	if prev == "" || len(prev) > 200 {
		return nil
	}
	h := hashToken(prev)
	sess, err := s.o.Repo.Session(ctx, h)
	if err != nil {
		if s.isNotFound(err) {
			return nil
		}
		return err
	}
	if !strings.EqualFold(sess.AgentID, agentID) {
		return nil // another agent's token: not this caller's to end
	}
	if err := s.o.Repo.ReleaseSessionHolds(ctx, agentID, h); err != nil {
		return err
	}
	return s.o.Repo.TouchSession(ctx, h, sess.LastSeen, now)
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func (s *Service) sessionTTL() time.Duration {
	return 3 * time.Duration(s.o.HeartbeatInterval) * time.Minute
}

func (s *Service) newSession(ctx context.Context, agentID string, now time.Time) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(s.o.Rand, b[:]); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	_ = s.o.Repo.DeleteExpiredSessions(ctx, now)
	err := s.o.Repo.InsertSession(ctx, SessionRecord{TokenHash: hashToken(tok), AgentID: agentID, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(s.sessionTTL())})
	return tok, err
}

// session checks the caller's certificate and session token and returns
// the agent and the session's hash.
func (s *Service) session(ctx context.Context, c Caller, token string) (stores.Agent, string, error) {
	agent, err := s.clientAgent(ctx, c.Cert)
	if err != nil {
		return agent, "", err
	}
	if token == "" || len(token) > 200 {
		return agent, "", fail(CodeSession, "SessionToken: no valid session; register again")
	}
	h := hashToken(token)
	sess, err := s.o.Repo.Session(ctx, h)
	if err != nil {
		if s.isNotFound(err) {
			return agent, "", fail(CodeSession, "SessionToken: no valid session; register again")
		}
		return agent, "", err
	}
	if !strings.EqualFold(sess.AgentID, agent.AgentID) {
		return agent, "", fail(CodeSession, "SessionToken: the session belongs to another agent")
	}
	if !s.o.Now().Before(sess.ExpiresAt) {
		return agent, "", fail(CodeSession, "SessionToken: the session expired; register again")
	}
	return agent, h, nil
}

// Heartbeat handles POST /Session/Heartbeat.
func (s *Service) Heartbeat(ctx context.Context, c Caller, req HeartbeatRequest) (HeartbeatResponse, error) {
	agent, h, err := s.session(ctx, c, req.SessionToken)
	if err != nil {
		var f *Failure
		if errors.As(err, &f) && f.Code == CodeSession {
			// An unknown or expired session is not an error: the agent
			// registers again.
			return HeartbeatResponse{Result: Result{Status: StatusSuccess}, HeartbeatInterval: s.o.HeartbeatInterval,
				SessionValid: false, Jobs: []SessionJob{}}, nil
		}
		return HeartbeatResponse{}, err
	}
	now := s.now()
	if err := s.o.Repo.TouchSession(ctx, h, now, now.Add(s.sessionTTL())); err != nil {
		return HeartbeatResponse{}, err
	}
	agent.LastSeen = &now
	if err := s.o.Catalogue.UpdateAgent(ctx, agent); err != nil {
		return HeartbeatResponse{}, err
	}
	js, err := s.jobsFor(ctx, agent, h, now)
	if err != nil {
		return HeartbeatResponse{}, err
	}
	return HeartbeatResponse{Result: Result{Status: StatusSuccess}, HeartbeatInterval: s.o.HeartbeatInterval, SessionValid: true, Jobs: js}, nil
}

// jobsFor lists the due jobs an approved agent can run: not held by
// another session, of a built-in store type whose capability it advertises.
func (s *Service) jobsFor(ctx context.Context, agent stores.Agent, sessionHash string, now time.Time) ([]SessionJob, error) {
	out := []SessionJob{}
	if agent.Status != stores.AgentApproved {
		return out, nil
	}
	due, err := s.o.Queue.Due(ctx, agent.AgentID, now)
	if err != nil {
		return nil, err
	}
	caps := map[string]bool{}
	for _, c := range agent.Capabilities {
		caps[strings.ToLower(c)] = true
	}
	storeTypes := map[string]int{}
	for _, j := range due {
		holder, until, err := s.o.Repo.JobHolder(ctx, j.ID)
		if err != nil {
			return nil, err
		}
		if holder != "" && holder != sessionHash && now.Before(until) {
			continue
		}
		st, ok := storeTypes[j.StoreID]
		if !ok {
			store, err := s.o.Catalogue.Get(ctx, j.StoreID)
			if err != nil {
				s.o.Logger.Warn("job of an unreadable store", "job", j.ID, "store", j.StoreID, "err", err)
				continue
			}
			st = store.StoreType
			storeTypes[j.StoreID] = st
		}
		mgmt := j.Operation != jobs.Inventory
		id, ok := JobTypeID(st, mgmt)
		if !ok {
			continue
		}
		kind, _ := JobTypeOf(id)
		if len(caps) > 0 && !caps[strings.ToLower(kind.Capability())] {
			continue
		}
		sj := SessionJob{JobTypeId: id, JobId: j.ID, Priority: 5,
			ConfigurationEndpoint: "KeyfactorAgents" + PathInventoryConfig, CompletionEndpoint: "KeyfactorAgents" + PathInventoryDone}
		if mgmt {
			sj.ConfigurationEndpoint, sj.CompletionEndpoint = "KeyfactorAgents"+PathManagementConfig, "KeyfactorAgents"+PathManagementDone
			if j.Operation == jobs.Add {
				sj.Priority = 3 // CAgent runs priority-3 management jobs first
			}
		}
		out = append(out, sj)
	}
	return out, nil
}

// ---- jobs ----

// hold gives the job to this session and leases it to the agent, and
// returns it with its store. A job another session holds answers
// JobCancelled (ok false; not an error: the agent skips it).
func (s *Service) hold(ctx context.Context, agent stores.Agent, sessionHash, jobID string) (j jobs.Job, store stores.Store, ok bool, err error) {
	if !stores.IsUUID(jobID) {
		return jobs.Job{}, stores.Store{}, false, fail(CodeBadRequest, "JobId: %q is not a GUID", jobID)
	}
	if agent.Status != stores.AgentApproved {
		return jobs.Job{}, stores.Store{}, false, fail(CodeDisapproved, "agent %s is not approved", agent.AgentID)
	}
	jobID = strings.ToLower(jobID)
	now := s.now()
	// Only a job of one of the agent's own stores may be held: a foreign
	// session must not block it.
	pre, err := s.o.Queue.Get(ctx, jobID)
	if err != nil {
		return jobs.Job{}, stores.Store{}, false, fail(CodeJob, "JobId: %v", err)
	}
	if pre.Done() {
		return jobs.Job{}, stores.Store{}, false, fail(CodeJob, "JobId: job %s is finished", jobID)
	}
	store, err = s.o.Catalogue.Get(ctx, pre.StoreID)
	if err != nil {
		return jobs.Job{}, stores.Store{}, false, err
	}
	if !strings.EqualFold(store.AgentID, agent.AgentID) {
		return jobs.Job{}, stores.Store{}, false, fail(CodeJob, "JobId: job %s is not for a store of agent %s", jobID, agent.AgentID)
	}
	ok, err = s.o.Repo.HoldJob(ctx, jobID, sessionHash, agent.AgentID, now, now.Add(s.o.LeaseDuration))
	if err != nil {
		return jobs.Job{}, stores.Store{}, false, err
	}
	if !ok {
		return jobs.Job{}, stores.Store{}, false, nil
	}
	j, err = s.o.Queue.Lease(ctx, jobID, agent.AgentID, now, s.o.LeaseDuration)
	if err != nil {
		_ = s.o.Repo.ReleaseJob(ctx, jobID)
		return jobs.Job{}, stores.Store{}, false, fail(CodeJob, "JobId: %v", err)
	}
	return j, store, true, nil
}

// configured is a job whose configuration an agent asked for: held by the
// session, with its store and the store password.
type configured struct {
	job      jobs.Job
	store    stores.Store
	password string
}

// configure is how both configuration requests start: the session's agent
// holds the job (hold), which must be an inventory job exactly when
// inventory is true. ok false means another session of the agent holds it
// (answer JobCancelled with runningElsewhere).
func (s *Service) configure(ctx context.Context, c Caller, req JobRequest, inventory bool) (configured, bool, error) {
	agent, h, err := s.session(ctx, c, req.SessionToken)
	if err != nil {
		return configured{}, false, err
	}
	j, store, ok, err := s.hold(ctx, agent, h, req.JobId)
	if err != nil || !ok {
		return configured{}, false, err
	}
	switch {
	case inventory && j.Operation != jobs.Inventory:
		return configured{}, false, fail(CodeJob, "JobId: job %s is a management job", j.ID)
	case !inventory && j.Operation == jobs.Inventory:
		return configured{}, false, fail(CodeJob, "JobId: job %s is an inventory job", j.ID)
	}
	pw, err := s.o.Catalogue.StorePassword(ctx, j.StoreID)
	if err != nil {
		return configured{}, false, err
	}
	return configured{job: j, store: store, password: pw}, true, nil
}

// runningElsewhere is the Result of a configuration request for a job
// another session of the agent holds.
func runningElsewhere() Result {
	return Result{Status: StatusWarning, Error: &ResultError{
		Code: codeInt(CodeJob), CodeString: CodeJob, Message: "the job is running in another session of this agent"}}
}

// ManagementConfig handles a management job's configuration request.
func (s *Service) ManagementConfig(ctx context.Context, c Caller, req JobRequest) (ManagementConfig, error) {
	cj, ok, err := s.configure(ctx, c, req, false)
	if err != nil {
		return ManagementConfig{}, err
	}
	if !ok {
		return ManagementConfig{JobCancelled: true, Result: runningElsewhere()}, nil
	}
	j, store, pw := cj.job, cj.store, cj.password
	entryPw, err := s.o.Queue.EntryPassword(ctx, j.ID)
	if err != nil {
		return ManagementConfig{}, err
	}
	mj := ManagementJob{OperationType: int(j.Operation), ClientMachine: store.ClientMachine, StorePath: store.StorePath,
		StorePassword: pw, StoreType: store.StoreType, Category: store.StoreType, Alias: j.Alias, EntryPassword: entryPw,
		Overwrite: j.Overwrite, Properties: store.Properties, CreateIfMissing: store.CreateIfMissing}
	if j.CertificateID > 0 {
		rec, err := s.o.Repo.Certificate(ctx, j.CertificateID)
		if err != nil {
			return ManagementConfig{}, s.impossible(ctx, j, fmt.Sprintf("certificate %d: %v", j.CertificateID, err))
		}
		mj.Thumbprint = rec.Thumbprint
		if j.Operation == jobs.Remove && mj.Alias == "" {
			mj.Alias = rec.Thumbprint
		}
		if j.Operation == jobs.Add {
			if err := s.entryContents(ctx, j, rec, &mj); err != nil {
				return ManagementConfig{}, err
			}
		}
	}
	return ManagementConfig{AuditId: uint64(j.Attempts), Result: Result{Status: StatusSuccess}, Job: mj}, nil
}

// entryContents packs the certificate, its chain and (when the job asks
// for it) the retained key as a PKCS#12 with a fresh one-time password.
func (s *Service) entryContents(ctx context.Context, j jobs.Job, rec certificate.Record, mj *ManagementJob) error {
	leaf, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return fmt.Errorf("certificate %d: %w", rec.ID, err)
	}
	var chain []*x509.Certificate
	if s.o.ChainOf != nil {
		chain = s.o.ChainOf(rec)
	}
	if !j.PrivateKey {
		mj.EntryContents = base64.StdEncoding.EncodeToString(leaf.Raw)
		return nil
	}
	sealed, err := s.o.Repo.RetainedKey(ctx, rec.ID)
	if err != nil {
		if s.isNotFound(err) {
			return s.impossible(ctx, j, fmt.Sprintf("certificate %d has no retained private key to deliver", rec.ID))
		}
		return err
	}
	der, err := s.o.Open(sealed, s.o.RetainedKeyAAD(rec.ID))
	if err != nil {
		return fmt.Errorf("opening the retained key of certificate %d: %w", rec.ID, err)
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fmt.Errorf("retained key of certificate %d: %w", rec.ID, err)
	}
	pfxPw, err := s.o.RandomPassword(24)
	if err != nil {
		return err
	}
	blob, err := packPKCS12(key, leaf, chain, mj.Alias, pfxPw)
	if err != nil {
		return fmt.Errorf("packing certificate %d: %w", rec.ID, err)
	}
	mj.EntryContents = base64.StdEncoding.EncodeToString(blob)
	mj.PfxPassword = pfxPw
	mj.PrivateKeyEntry = true
	return nil
}

// impossible finishes a job that can never run and returns the failure
// the agent sees.
func (s *Service) impossible(ctx context.Context, j jobs.Job, msg string) error {
	if _, err := s.o.Queue.Finish(ctx, j.ID, jobs.Completion{Status: jobs.StatusError, Message: msg, Impossible: true}, s.now()); err != nil {
		s.o.Logger.Error("finishing an impossible job", "job", j.ID, "err", err)
	}
	_ = s.o.Repo.ReleaseJob(ctx, j.ID)
	return fail(CodeJob, "%s", msg)
}

// InventoryConfig handles an inventory job's configuration request.
func (s *Service) InventoryConfig(ctx context.Context, c Caller, req JobRequest) (InventoryConfig, error) {
	cj, ok, err := s.configure(ctx, c, req, true)
	if err != nil {
		return InventoryConfig{}, err
	}
	if !ok {
		return InventoryConfig{JobCancelled: true, Result: runningElsewhere()}, nil
	}
	j, store, pw := cj.job, cj.store, cj.password
	cur, err := s.o.Repo.Inventory(ctx, j.StoreID, stores.MaxInventoryItems, 0)
	if err != nil {
		return InventoryConfig{}, err
	}
	inv := make([]InventoryEntry, 0, len(cur))
	for _, e := range cur {
		ie := InventoryEntry{Alias: e.Alias, PrivateKeyEntry: e.PrivateKeyEntry, Thumbprints: []string{}}
		for _, c := range e.Certificates {
			ie.Thumbprints = append(ie.Thumbprints, c.Thumbprint)
		}
		inv = append(inv, ie)
	}
	return InventoryConfig{AuditId: uint64(j.Attempts), Result: Result{Status: StatusSuccess},
		InventoryEndpoint: "KeyfactorAgents" + PathInventoryEndpoint,
		Job: InventoryJob{ClientMachine: store.ClientMachine, StorePath: store.StorePath, StorePassword: pw, StoreType: store.StoreType,
			Category: store.StoreType, Properties: store.Properties, CreateIfMissing: store.CreateIfMissing, Inventory: inv}}, nil
}

// heldJob checks that this session holds the job.
func (s *Service) heldJob(ctx context.Context, agent stores.Agent, sessionHash, jobID string) (jobs.Job, error) {
	if !stores.IsUUID(jobID) {
		return jobs.Job{}, fail(CodeBadRequest, "JobId: %q is not a GUID", jobID)
	}
	jobID = strings.ToLower(jobID)
	j, err := s.o.Queue.Get(ctx, jobID)
	if err != nil {
		return j, fail(CodeJob, "JobId: %v", err)
	}
	if j.Done() {
		return j, nil
	}
	holder, _, err := s.o.Repo.JobHolder(ctx, jobID)
	if err != nil {
		return j, err
	}
	if holder != sessionHash || !strings.EqualFold(j.AgentID, agent.AgentID) {
		return j, fail(CodeJob, "JobId: job %s is not held by this session; ask for its configuration first", jobID)
	}
	return j, nil
}

// MaxInventoryCertBytes caps one base64 certificate in an inventory report.
const MaxInventoryCertBytes = 64 << 10

// SubmitInventory handles the POST to an InventoryEndpoint.
func (s *Service) SubmitInventory(ctx context.Context, c Caller, req InventoryRequest) (ResultResponse, error) {
	agent, h, err := s.session(ctx, c, req.SessionToken)
	if err != nil {
		return ResultResponse{}, err
	}
	j, err := s.heldJob(ctx, agent, h, req.JobId)
	if err != nil {
		return ResultResponse{}, err
	}
	if j.Done() {
		return ResultResponse{Result: Result{Status: StatusSuccess}}, nil
	}
	if j.Operation != jobs.Inventory {
		return ResultResponse{}, fail(CodeJob, "JobId: job %s is not an inventory job", j.ID)
	}
	if len(req.Inventory) > stores.MaxInventoryItems {
		return ResultResponse{}, fail(CodeBadRequest, "Inventory: more than %d entries", stores.MaxInventoryItems)
	}
	items := make([]stores.InventoryItem, 0, len(req.Inventory))
	for i, it := range req.Inventory {
		if it.ItemStatus == 3 { // Removed: not in the store any more
			continue
		}
		if it.Alias == "" || len(it.Alias) > 255 {
			return ResultResponse{}, fail(CodeBadRequest, "Inventory[%d].Alias: must be 1 to 255 characters", i)
		}
		if len(it.Certificates) == 0 || len(it.Certificates) > 20 {
			return ResultResponse{}, fail(CodeBadRequest, "Inventory[%d].Certificates: must hold 1 to 20 certificates", i)
		}
		si := stores.InventoryItem{Alias: it.Alias, PrivateKeyEntry: it.PrivateKeyEntry}
		for k, b := range it.Certificates {
			if len(b) > MaxInventoryCertBytes {
				return ResultResponse{}, fail(CodeBadRequest, "Inventory[%d].Certificates[%d]: too large", i, k)
			}
			der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b))
			if err != nil {
				return ResultResponse{}, fail(CodeBadRequest, "Inventory[%d].Certificates[%d]: not base64", i, k)
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				return ResultResponse{}, fail(CodeBadRequest, "Inventory[%d].Certificates[%d]: not a DER certificate: %v", i, k, err)
			}
			si.Certificates = append(si.Certificates, der)
		}
		items = append(items, si)
	}
	if err := s.o.Catalogue.ReplaceInventory(ctx, j.StoreID, items, s.now()); err != nil {
		return ResultResponse{}, err
	}
	return ResultResponse{Result: Result{Status: StatusSuccess}}, nil
}

// Complete handles the POST to a CompletionEndpoint.
func (s *Service) Complete(ctx context.Context, c Caller, req CompleteRequest) (CompleteResponse, error) {
	agent, h, err := s.session(ctx, c, req.SessionToken)
	if err != nil {
		return CompleteResponse{}, err
	}
	j, err := s.heldJob(ctx, agent, h, req.JobId)
	if err != nil {
		return CompleteResponse{}, err
	}
	if j.Done() {
		return CompleteResponse{Result: Result{Status: StatusSuccess}}, nil
	}
	switch req.Status {
	case jobs.StatusOK, jobs.StatusWarning, jobs.StatusError:
	default:
		return CompleteResponse{}, fail(CodeBadRequest, "Status: %d is not 2 (success), 3 (warning) or 4 (error)", req.Status)
	}
	out, err := s.o.Queue.Finish(ctx, j.ID, jobs.Completion{Status: req.Status, Message: req.Message, Impossible: req.Impossible,
		AgentID: agent.AgentID}, s.now())
	if err != nil {
		return CompleteResponse{}, err
	}
	if err := s.o.Repo.ReleaseJob(ctx, j.ID); err != nil {
		return CompleteResponse{}, err
	}
	if err := s.deliveredHistory(ctx, agent, out); err != nil {
		return CompleteResponse{}, err
	}
	return CompleteResponse{Result: Result{Status: StatusSuccess}, InventoryJob: out.InventoryJobID}, nil
}

// deliveredHistory records on the certificate that a management job the
// agent reported finished (docs/delivery.md): "Deployed" for an add,
// "RemovedFromStore" for a remove, with the result.
func (s *Service) deliveredHistory(ctx context.Context, agent stores.Agent, out jobs.Outcome) error {
	j := out.Job
	if out.AlreadyDone || out.Retry || j.CertificateID == 0 || (j.Operation != jobs.Add && j.Operation != jobs.Remove) {
		return nil
	}
	op, verb := certificate.OpDeployed, "added to"
	if j.Operation == jobs.Remove {
		op, verb = "RemovedFromStore", "removed from"
	}
	result := "succeeded"
	switch j.Status {
	case jobs.StatusWarning:
		result = "succeeded with a warning"
	case jobs.StatusError:
		result = "failed"
	}
	msg := fmt.Sprintf("management job %s %s: %s store %s by agent %s", j.ID, result, verb, j.StoreID, agent.AgentID)
	if j.Message != "" {
		msg += ": " + j.Message
	}
	return s.o.Repo.AddHistory(ctx, certificate.HistoryEntry{CertID: j.CertificateID, At: s.now(), Operation: op,
		Actor: "agent:" + agent.ClientMachine, Message: msg})
}
