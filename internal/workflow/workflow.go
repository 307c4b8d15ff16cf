// Package workflow is certdock's approval workflow engine for enrollments:
// workflow definitions (a draft and a published list of steps, keyed to an
// enrollment pattern or a template), instances that hold a sealed
// enrollment until it is decided, approval and denial signals, expiry of
// stale requests and a durable webhook outbox.
//
// The package decides; it does not issue. When an instance's last step is
// done it hands the sealed enrollment snapshot to an Issuer (internal/enroll)
// that issues under the policy captured at request time and records the
// certificate in one transaction together with the instance's completion.
// docs/workflow.md records the decisions.
package workflow

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/certdock/certdock/internal/certificate"
)

// TypeEnrollment is the only workflow type certdock runs.
const TypeEnrollment = "Enrollment"

// Step extension names.
const (
	StepRequireApproval = "RequireApproval"
	StepRESTRequest     = "RESTRequest"
)

// SignalApprovalStatus is the RequireApproval step's signal.
const SignalApprovalStatus = "ApprovalStatus"

// Decisions carried by an ApprovalStatus signal.
const (
	DecisionApprove = "APPROVE"
	DecisionDeny    = "DENY"
)

// Status is Keyfactor's KeyfactorWorkflowsWorkflowInstanceStatus. The
// numbers are the SDK's; the names are certdock's reading (docs/workflow.md).
type Status int

// Instance statuses.
const (
	StatusUnknown   Status = 0
	StatusFailed    Status = 1 // issuance failed, or the request expired
	StatusRunning   Status = 2 // approved, being issued
	StatusSuspended Status = 3 // waiting for approval signals
	StatusComplete  Status = 4 // issued
	StatusRejected  Status = 5 // denied
	StatusStopped   Status = 6 // stopped by an administrator
)

var statusNames = map[Status]string{
	StatusUnknown: "Unknown", StatusFailed: "Failed", StatusRunning: "Running", StatusSuspended: "Suspended",
	StatusComplete: "Complete", StatusRejected: "Rejected", StatusStopped: "Stopped",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Key kinds: what a definition is keyed to.
const (
	KeyPattern  = "pattern"
	KeyTemplate = "template"
)

// Signal configures who may send a step's signal.
type Signal struct {
	SignalName string
	RoleIDs    []int64
}

// Step is one step of a definition.
type Step struct {
	ID                      string
	ExtensionName           string
	UniqueName              string
	DisplayName             string
	Enabled                 bool
	ConfigurationParameters map[string]any
	Signals                 []Signal
	Conditions              []string
	Outputs                 map[string]string
}

// Definition is a workflow definition.
type Definition struct {
	ID               string
	DisplayName      string
	Description      string
	WorkflowType     string
	KeyKind          string // KeyPattern or KeyTemplate
	KeyID            int64
	KeyDisplayName   string // filled on read
	Enabled          bool
	DraftVersion     int
	PublishedVersion *int
	DraftSteps       []Step
	PublishedSteps   []Step
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Key renders the definition's key as the API shows it: the pattern id, or
// "Template:<id>".
func (d Definition) Key() string {
	if d.KeyKind == KeyTemplate {
		return fmt.Sprintf("Template:%d", d.KeyID)
	}
	return fmt.Sprint(d.KeyID)
}

// Summary describes a held enrollment for the pending lists and instance
// InitialData. It names the requested subject, SANs, metadata and stores,
// so it is sealed at rest like the snapshot (SummaryAAD) and opened on read.
type Summary struct {
	APIVersion           int
	Format               string
	Subject              string
	CommonName           string
	CertificateAuthority string
	CAID                 int64
	Template             string
	TemplateID           *int64
	PatternID            *int64
	Metadata             map[string]string `json:",omitempty"`
	SANs                 []string          `json:",omitempty"`
	KeyType              string
	KeyLength            int        `json:",omitempty"`
	Curve                string     `json:",omitempty"`
	Stores               []StoreRef `json:",omitempty"`
	JobTime              *time.Time `json:",omitempty"`
}

// StoreRef names a v2 delivery target of a held enrollment.
type StoreRef struct {
	StoreID       string
	ClientMachine string `json:",omitempty"`
	StorePath     string `json:",omitempty"`
	Alias         string `json:",omitempty"`
}

// Instance is one enrollment waiting for, or past, its decision.
type Instance struct {
	ID                string
	DefinitionID      string // "" for the implicit RequiresApproval definition
	DefinitionVersion int
	DefinitionName    string
	WorkflowType      string
	Title             string
	RequestID         int64
	RequesterID       int64
	RequesterName     string
	Status            Status
	CurrentStep       int
	StatusMessage     string
	Steps             []Step
	Summary           Summary // opened from SummarySealed by the service
	SummarySealed     []byte
	Sealed            []byte // the sealed enrollment snapshot; nil once decided
	CertificateID     *int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
	ExpiresAt         time.Time
	DecidedBy         string
	DecisionComment   string
	Signals           []SignalRecord // filled on read
}

// SignalRecord is one received signal.
type SignalRecord struct {
	InstanceID  string
	StepIndex   int
	IdentityID  int64
	AccountName string
	Decision    string
	Comment     string
	At          time.Time
}

// Webhook is one queued HTTP request of the outbox.
type Webhook struct {
	ID         int64
	InstanceID string
	URL        string
	Method     string
	Headers    map[string]string
	Body       string
	Attempts   int
	NextAt     time.Time
	State      string // WebhookPending, WebhookSent, WebhookFailed
	LastError  string
	CreatedAt  time.Time
}

// Webhook states.
const (
	WebhookPending = "pending"
	WebhookSent    = "sent"
	WebhookFailed  = "failed"
)

// InstanceFilter selects instances.
type InstanceFilter struct {
	RequesterID *int64
	Statuses    []Status
}

// Store is what the workflow engine reads and writes; sqlstore.Q implements it.
type Store interface {
	InsertWorkflowDefinition(ctx context.Context, d Definition) error
	UpdateWorkflowDefinition(ctx context.Context, d Definition) error
	DeleteWorkflowDefinition(ctx context.Context, id string) error
	WorkflowDefinition(ctx context.Context, id string) (Definition, error)
	WorkflowDefinitions(ctx context.Context) ([]Definition, error)
	WorkflowDefinitionByKey(ctx context.Context, workflowType, keyKind string, keyID int64) (Definition, error)

	InsertWorkflowInstance(ctx context.Context, in Instance) error
	UpdateWorkflowInstance(ctx context.Context, in Instance) error
	// LockWorkflowInstance reads an instance for update (FOR UPDATE on PostgreSQL).
	LockWorkflowInstance(ctx context.Context, id string) (Instance, error)
	WorkflowInstance(ctx context.Context, id string) (Instance, error)
	WorkflowInstanceByRequest(ctx context.Context, requestID int64) (Instance, error)
	WorkflowInstances(ctx context.Context, f InstanceFilter) ([]Instance, error)
	ExpiredWorkflowInstances(ctx context.Context, now time.Time) ([]string, error)
	// InsertWorkflowSignal records a signal; false when this identity already
	// signalled this step.
	InsertWorkflowSignal(ctx context.Context, s SignalRecord) (bool, error)

	EnqueueWebhook(ctx context.Context, w Webhook) error
	DueWebhooks(ctx context.Context, now time.Time, limit int) ([]Webhook, error)
	UpdateWebhook(ctx context.Context, w Webhook) error

	InsertRequest(ctx context.Context, r certificate.Request) (int64, error)
	CompleteRequest(ctx context.Context, id int64, state int, certID *int64) error
	AddHistory(ctx context.Context, h certificate.HistoryEntry) error
	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}

// Issuance is what the Issuer needs besides the snapshot.
type Issuance struct {
	RequestID     int64
	RequesterID   int64
	RequesterName string
	Approvers     []string
	// Within runs inside the transaction that records the certificate; an
	// error rolls the recording back.
	Within func(ctx context.Context, tx Store, certID int64) error
}

// Issuer issues a held enrollment from its snapshot; internal/enroll
// implements it (wired in internal/server).
type Issuer interface {
	IssueHeld(ctx context.Context, snapshot []byte, is Issuance) (certID int64, err error)
}

// Options wires the service.
type Options struct {
	Store  Store
	InTx   func(ctx context.Context, fn func(Store) error) error
	Seal   func(plaintext, aad []byte) ([]byte, error)
	Open   func(sealed, aad []byte) ([]byte, error)
	Issuer Issuer
	Now    func() time.Time
	Logger *slog.Logger
	Rand   io.Reader
	// IsNotFound reports a storage not-found error.
	IsNotFound func(error) bool

	// ApprovalTimeout is how long a request may wait; default 7 days.
	ApprovalTimeout time.Duration
	// NotifyURL, when set, receives a POST for every state change.
	NotifyURL string
	// HTTPClient sends webhooks; default a client with a 10 s timeout.
	HTTPClient *http.Client
	// WebhookBackoff is the first retry delay, doubled each attempt (default
	// 5 s, capped at 1 h); WebhookAttempts caps the attempts (default 8).
	WebhookBackoff  time.Duration
	WebhookAttempts int
	// Tick is the background loop's period (default 5 s).
	Tick time.Duration
}

// Service runs workflows.
type Service struct {
	o    Options
	kick chan struct{}

	mu       sync.Mutex               // guards inflight and o.Issuer
	inflight map[string]chan struct{} // instances being issued by this process
	sendMu   sync.Mutex               // one webhook sender at a time in this process
}

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ApprovalTimeout <= 0 {
		o.ApprovalTimeout = 7 * 24 * time.Hour
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.WebhookBackoff <= 0 {
		o.WebhookBackoff = 5 * time.Second
	}
	if o.WebhookAttempts <= 0 {
		o.WebhookAttempts = 8
	}
	if o.Tick <= 0 {
		o.Tick = 5 * time.Second
	}
	if o.IsNotFound == nil {
		o.IsNotFound = func(error) bool { return false }
	}
	return &Service{o: o, kick: make(chan struct{}, 1)}
}

// SetIssuer sets the issuer after construction: enroll and workflow refer
// to each other, so the composition root builds one, then the other.
func (s *Service) SetIssuer(i Issuer) {
	s.mu.Lock()
	s.o.Issuer = i
	s.mu.Unlock()
}

// issuer reads the issuer (the background loop runs while the server wires it).
func (s *Service) issuer() Issuer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.o.Issuer
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Second) }

// newID makes a random (version 4) UUID.
func (s *Service) newID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.o.Rand, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// RequestAAD binds a held enrollment's sealed snapshot to its request row.
func RequestAAD(requestID int64) []byte {
	return []byte(fmt.Sprintf("workflow-request:certificate_requests:%d", requestID))
}

// SummaryAAD binds a held enrollment's sealed summary to its request row.
func SummaryAAD(requestID int64) []byte {
	return []byte(fmt.Sprintf("workflow-summary:certificate_requests:%d", requestID))
}

// reveal opens an instance's sealed summary.
func (s *Service) reveal(in *Instance) error {
	if len(in.SummarySealed) == 0 {
		return nil
	}
	b, err := s.o.Open(in.SummarySealed, SummaryAAD(in.RequestID))
	if err != nil {
		return fmt.Errorf("workflow instance %s: opening its summary: %w", in.ID, err)
	}
	return json.Unmarshal(b, &in.Summary)
}

func (s *Service) revealAll(ins []Instance) ([]Instance, error) {
	for i := range ins {
		if err := s.reveal(&ins[i]); err != nil {
			return nil, err
		}
	}
	return ins, nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
