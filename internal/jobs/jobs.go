// Package jobs is the orchestrator job queue: management jobs (add, remove)
// and inventory jobs for certificate stores, scheduled at a due time,
// leased to the store's agent so that one job runs once even when two agents
// poll at once or an agent dies mid-job, completed with a status, retried
// with backoff after an error, and kept as history.
//
// Schedule works inside the caller's transaction (sqlstore.Q implements
// Store), so a delivery and its jobs commit together. Service runs on the
// non-transactional store for the agent protocol and the management API.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/query"
	"github.com/certdock/certdock/internal/stores"
)

// Operation is Keyfactor's OperationType number.
type Operation int

// Operations.
const (
	Inventory Operation = 1
	Add       Operation = 2
	Remove    Operation = 3
)

func (o Operation) String() string {
	switch o {
	case Inventory:
		return "Inventory"
	case Add:
		return "Add"
	case Remove:
		return "Remove"
	}
	return fmt.Sprintf("Operation(%d)", int(o))
}

// Job states.
const (
	StateScheduled = 1 // waiting for its due time or an agent
	StateLeased    = 2 // handed to an agent until LeaseUntil
	StateCompleted = 3 // finished with status 2 (ok) or 3 (warning)
	StateFailed    = 4 // finished with status 4 after the last attempt, or impossible
)

// JobCompleteStatus values reported by agents.
const (
	StatusUnknown = 0
	StatusOK      = 2
	StatusWarning = 3
	StatusError   = 4
)

// MaxAttempts is how many times a job is handed out before an error is final.
const MaxAttempts = 5

// Backoff is the delay before retrying after the n-th failed attempt (1-based):
// 1m, 2m, 4m, 8m.
func Backoff(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 10 {
		n = 10
	}
	return time.Minute << (n - 1)
}

// Request asks for one job.
type Request struct {
	StoreID       string
	Operation     Operation
	CertificateID int64  // add/remove; 0 for inventory
	Alias         string // "" = thumbprint for remove / agent-chosen for add
	Overwrite     bool
	EntryPassword string // plaintext in, sealed at rest by jobs; "" = none
	PrivateKey    bool   // add: deliver with private key (needs a retained key)
	DueAt         time.Time
	RequestedBy   string
	Source        string // e.g. "enrollment:42", "deploy", "replace:7", "workflow:3"
}

// Job is a scheduled job.
type Job struct {
	ID string
	Request
	State       int
	Attempts    int
	AgentID     string // the agent holding (or last holding) the lease
	LeaseUntil  *time.Time
	CompletedAt *time.Time
	Status      int // last JobCompleteStatus
	Message     string
	LeasedAt    *time.Time
	CreatedAt   time.Time
}

// Done reports whether the job is finished.
func (j Job) Done() bool { return j.State >= StateCompleted }

// Row is a job as stored (EntryPassword empty, sealed separately).
type Row struct {
	Job
	EntryPasswordSealed []byte
}

// Target is what a job's store looks like to the queue.
type Target struct {
	StoreID       string
	AgentID       string
	ClientMachine string
	StorePath     string
	StoreType     int
}

// HistoryEntry is one finished attempt.
type HistoryEntry struct {
	ID             int64
	JobID          string
	StoreID        string
	AgentID        string
	ClientMachine  string
	StorePath      string
	StoreType      int
	Operation      Operation
	Attempt        int
	Status         int
	Message        string
	OperationStart time.Time
	OperationEnd   time.Time
	// WillRetry: an error attempt after which the job ran, or will run,
	// again (set by Service.History).
	WillRetry bool
}

// Keyfactor's JobStatus of a job history entry (the SDK's
// KeyfactorOrchestratorsCommonEnumsOrchestratorJobStatusJobStatus):
// 0 Unknown, 1 Waiting, 2 InProcess, 3 Completed, 4 Acknowledged,
// 5 CompletedWillRetry. Result is the agent's JobCompleteStatus
// (2 Success, 3 Warning, 4 Failure).
const (
	JobStatusCompleted          = 3
	JobStatusCompletedWillRetry = 5
)

// JobStatus is the entry's Keyfactor JobStatus.
func (h HistoryEntry) JobStatus() int {
	if h.WillRetry {
		return JobStatusCompletedWillRetry
	}
	return JobStatusCompleted
}

// Store is the storage Schedule needs; sqlstore.Q (in or out of a
// transaction) implements it.
type Store interface {
	JobTarget(ctx context.Context, storeID string) (Target, error)
	InsertJob(ctx context.Context, r Row) error
	// PendingInventoryJob returns the id of a not-yet-leased inventory job
	// of the store due at or before dueAt, "" when none.
	PendingInventoryJob(ctx context.Context, storeID string, dueAt time.Time) (string, error)
}

// ListQuery is a compiled list request.
type ListQuery struct {
	Where         string
	Args          []any
	OrderBy       string
	Limit, Offset int
}

// ScheduledView is a not-finished job with its store, for the management API.
type ScheduledView struct {
	Job
	Target
}

// Repo is the storage the Service needs.
type Repo interface {
	Store
	Job(ctx context.Context, id string) (Row, error)
	// JobForUpdate reads a job and locks it for the rest of the transaction.
	JobForUpdate(ctx context.Context, id string) (Row, error)
	DueJobs(ctx context.Context, agentID string, now time.Time, limit int) ([]Row, error)
	// LeaseJob atomically leases a due, unfinished job of one of the agent's
	// stores to the agent when no other agent holds an unexpired lease.
	LeaseJob(ctx context.Context, jobID, agentID string, now, until time.Time) (bool, error)
	FinishJob(ctx context.Context, r Row) error
	InsertJobHistory(ctx context.Context, h HistoryEntry) error
	ScheduledJobs(ctx context.Context, l ListQuery) ([]ScheduledView, error)
	JobHistory(ctx context.Context, l ListQuery) ([]HistoryEntry, error)
	StoresDueForInventory(ctx context.Context, now time.Time, limit int) ([]stores.Store, error)
	SetNextInventory(ctx context.Context, storeID string, next *time.Time) error
}

// ErrStoreNotFound is what Store.JobTarget returns (wrapped or via
// IsNotFound) for an unknown store.
var ErrStoreNotFound = errors.New("store not found")

// EntryPasswordAAD is the associated data a job's entry password is sealed with.
func EntryPasswordAAD(jobID string) []byte { return []byte("job-entry-password:" + jobID) }

// Validate checks a request.
func (r Request) Validate() error {
	if !stores.IsUUID(r.StoreID) {
		return errs.Field("StoreId", "%q is not a GUID", r.StoreID)
	}
	switch r.Operation {
	case Inventory:
		if r.CertificateID != 0 {
			return errs.Field("CertificateId", "an inventory job takes no certificate")
		}
	case Add:
		if r.CertificateID <= 0 {
			return errs.Field("CertificateId", "is required to add a certificate")
		}
	case Remove:
		if r.CertificateID <= 0 && r.Alias == "" {
			return errs.Field("Alias", "a remove job needs a certificate or an alias")
		}
	default:
		return errs.Field("Operation", "%d is not 1 (inventory), 2 (add) or 3 (remove)", r.Operation)
	}
	if len(r.Alias) > 255 {
		return errs.Field("Alias", "must be at most 255 characters")
	}
	if len(r.EntryPassword) > 1024 {
		return errs.Field("EntryPassword", "must be at most 1024 characters")
	}
	if len(r.Source) > 255 || len(r.RequestedBy) > 255 {
		return errs.Field("Source", "must be at most 255 characters")
	}
	return nil
}

// Schedule validates r and records a job in st (the caller's transaction or
// not), sealing the entry password. A zero DueAt means now. Asking for an
// inventory job while one is already waiting returns the waiting job's id.
// An unknown store is errs NotFound.
func Schedule(ctx context.Context, st Store, seal func(plain, aad []byte) ([]byte, error), r Request, now time.Time) (string, error) {
	r.StoreID = strings.ToLower(strings.TrimSpace(r.StoreID))
	if err := r.Validate(); err != nil {
		return "", err
	}
	now = now.UTC().Truncate(time.Second)
	if r.DueAt.IsZero() || r.DueAt.Before(now) {
		r.DueAt = now
	}
	r.DueAt = r.DueAt.UTC().Truncate(time.Second)
	if _, err := st.JobTarget(ctx, r.StoreID); err != nil {
		if errors.Is(err, ErrStoreNotFound) {
			return "", errs.NotFoundf("certificate store %s was not found", r.StoreID)
		}
		return "", errs.Wrap(err, "reading store")
	}
	if r.Operation == Inventory {
		id, err := st.PendingInventoryJob(ctx, r.StoreID, r.DueAt)
		if err != nil {
			return "", errs.Wrap(err, "reading jobs")
		}
		if id != "" {
			return id, nil
		}
	}
	row := Row{Job: Job{ID: stores.NewUUID(), Request: r, State: StateScheduled, CreatedAt: now}}
	if r.EntryPassword != "" {
		sealed, err := seal([]byte(r.EntryPassword), EntryPasswordAAD(row.ID))
		if err != nil {
			return "", errs.Wrap(err, "sealing entry password")
		}
		row.EntryPasswordSealed = sealed
	}
	row.Request.EntryPassword = ""
	if err := st.InsertJob(ctx, row); err != nil {
		return "", errs.Wrap(err, "recording job")
	}
	return row.ID, nil
}

// Options wires the Service.
type Options struct {
	Repo       Repo
	InTx       func(ctx context.Context, fn func(Repo) error) error
	Seal       func(plain, aad []byte) ([]byte, error)
	Open       func(blob, aad []byte) ([]byte, error)
	Dialect    query.Dialect
	IsNotFound func(error) bool
}

// Service is the job queue.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service { return &Service{o: o} }

// Schedule records a job outside any caller transaction.
func (s *Service) Schedule(ctx context.Context, r Request, now time.Time) (string, error) {
	return Schedule(ctx, s.o.Repo, s.o.Seal, r, now)
}

// MaxDue caps how many jobs one poll returns.
const MaxDue = 100

// Due lists the jobs of the agent's stores that are due at now, not
// finished, and not under an unexpired lease. A job whose agent died
// mid-job comes back when its lease expires (the lease duration is the
// caller's choice), and is leased then as a new attempt.
func (s *Service) Due(ctx context.Context, agentID string, now time.Time) ([]Job, error) {
	rows, err := s.o.Repo.DueJobs(ctx, strings.ToLower(agentID), now.UTC(), MaxDue)
	if err != nil {
		return nil, errs.Wrap(err, "listing due jobs")
	}
	out := make([]Job, len(rows))
	for i, r := range rows {
		out[i] = r.Job
	}
	return out, nil
}

// Get returns one job.
func (s *Service) Get(ctx context.Context, id string) (Job, error) {
	r, err := s.row(ctx, id)
	return r.Job, err
}

// row reads a job's row; errs NotFound for an unknown job.
func (s *Service) row(ctx context.Context, id string) (Row, error) {
	r, err := s.o.Repo.Job(ctx, strings.ToLower(id))
	if err != nil {
		if s.o.IsNotFound(err) {
			return Row{}, errs.NotFoundf("job %s was not found", id)
		}
		return Row{}, errs.Wrap(err, "reading job")
	}
	return r, nil
}

// Lease hands the job to the agent for d. It fails with errs Conflict when
// another agent holds an unexpired lease, the job is finished or not yet due,
// or the job's store is not the agent's; errs NotFound for an unknown job.
// An unexpired lease is never handed out again, even to the agent holding it,
// so two concurrent Lease calls for one job have exactly one winner.
func (s *Service) Lease(ctx context.Context, jobID, agentID string, now time.Time, d time.Duration) (Job, error) {
	jobID, agentID = strings.ToLower(jobID), strings.ToLower(agentID)
	now = now.UTC()
	ok, err := s.o.Repo.LeaseJob(ctx, jobID, agentID, now, now.Add(d))
	if err != nil {
		return Job{}, errs.Wrap(err, "leasing job")
	}
	j, err := s.Get(ctx, jobID)
	if err != nil {
		return Job{}, err
	}
	if !ok {
		switch {
		case j.Done():
			return j, errs.Conflictf("job %s is finished", jobID)
		case j.DueAt.After(now):
			return j, errs.Conflictf("job %s is not due until %s", jobID, j.DueAt.Format(time.RFC3339))
		default:
			return j, errs.Conflictf("job %s is not available to agent %s", jobID, agentID)
		}
	}
	return j, nil
}

// EntryPassword returns a job's unsealed entry password, "" when none.
func (s *Service) EntryPassword(ctx context.Context, jobID string) (string, error) {
	r, err := s.row(ctx, jobID)
	if err != nil {
		return "", err
	}
	if len(r.EntryPasswordSealed) == 0 {
		return "", nil
	}
	b, err := s.o.Open(r.EntryPasswordSealed, EntryPasswordAAD(r.ID))
	if err != nil {
		return "", errs.Wrap(err, "opening entry password")
	}
	return string(b), nil
}

// Completion is an agent's report on a job.
type Completion struct {
	Status  int // 2 ok, 3 warning, 4 error
	Message string
	// Impossible marks an error that retrying cannot fix (the agent says the
	// job cannot be done, e.g. an unsupported store): no retry.
	Impossible bool
	// AgentID, when set, must be the agent holding the job.
	AgentID string
}

// Outcome says what Finish did.
type Outcome struct {
	Job            Job
	AlreadyDone    bool   // the job was finished before: nothing changed
	Retry          bool   // the job was rescheduled after an error
	InventoryJobID string // inventory job queued after a finished management job
}

// Complete records an agent's completion of a job. Completing a finished job
// is a no-op; an error status reschedules the job with backoff until
// MaxAttempts.
func (s *Service) Complete(ctx context.Context, jobID string, status int, message string, now time.Time) error {
	_, err := s.Finish(ctx, jobID, Completion{Status: status, Message: message}, now)
	return err
}

// MaxMessage caps a stored job message.
const MaxMessage = 4000

// Finish is Complete with the details: see Completion and Outcome.
func (s *Service) Finish(ctx context.Context, jobID string, c Completion, now time.Time) (Outcome, error) {
	jobID = strings.ToLower(jobID)
	switch c.Status {
	case StatusOK, StatusWarning, StatusError:
	default:
		return Outcome{}, errs.Field("JobResult", "%d is not 2 (success), 3 (warning) or 4 (failure)", c.Status)
	}
	if len(c.Message) > MaxMessage {
		c.Message = c.Message[:MaxMessage]
	}
	now = now.UTC().Truncate(time.Second)
	var out Outcome
	err := s.o.InTx(ctx, func(r Repo) error {
		row, err := r.JobForUpdate(ctx, jobID)
		if err != nil {
			if s.o.IsNotFound(err) {
				return errs.NotFoundf("job %s was not found", jobID)
			}
			return errs.Wrap(err, "reading job")
		}
		if row.Done() {
			out = Outcome{Job: row.Job, AlreadyDone: true}
			return nil
		}
		if c.AgentID != "" && row.AgentID != "" && !strings.EqualFold(row.AgentID, c.AgentID) {
			return errs.Conflictf("job %s is leased to another agent", jobID)
		}
		tgt, err := r.JobTarget(ctx, row.StoreID)
		if err != nil {
			return errs.Wrap(err, "reading store")
		}
		start := now
		if row.LeasedAt != nil {
			start = *row.LeasedAt
		}
		agent := row.AgentID
		if agent == "" {
			agent = tgt.AgentID
		}
		attempt := row.Attempts
		if attempt == 0 {
			attempt = 1
		}
		if err := r.InsertJobHistory(ctx, HistoryEntry{JobID: row.ID, StoreID: row.StoreID, AgentID: agent,
			ClientMachine: tgt.ClientMachine, StorePath: tgt.StorePath, StoreType: tgt.StoreType,
			Operation: row.Operation, Attempt: attempt, Status: c.Status, Message: c.Message,
			OperationStart: start, OperationEnd: now}); err != nil {
			return errs.Wrap(err, "recording job history")
		}
		row.Status, row.Message = c.Status, c.Message
		row.LeaseUntil = nil
		switch {
		case c.Status != StatusError:
			row.State = StateCompleted
			row.CompletedAt = &now
		case c.Impossible || attempt >= MaxAttempts:
			row.State = StateFailed
			row.CompletedAt = &now
		default:
			row.State = StateScheduled
			row.DueAt = now.Add(Backoff(attempt))
			out.Retry = true
		}
		if err := r.FinishJob(ctx, row); err != nil {
			return errs.Wrap(err, "recording job result")
		}
		out.Job = row.Job
		if row.Done() && row.Operation != Inventory {
			id, err := Schedule(ctx, r, s.o.Seal, Request{StoreID: row.StoreID, Operation: Inventory,
				RequestedBy: "system", Source: "after:" + row.ID}, now)
			if err != nil {
				return err
			}
			out.InventoryJobID = id
		}
		return nil
	})
	return out, err
}

// ScheduledJobs lists unfinished jobs (GET /OrchestratorJobs/ScheduledJobs).
func (s *Service) ScheduledJobs(ctx context.Context, v url.Values) ([]ScheduledView, error) {
	l, err := s.compile(v, ScheduledSchema, "Requested")
	if err != nil {
		return nil, err
	}
	out, err := s.o.Repo.ScheduledJobs(ctx, l)
	return out, errs.Wrap(err, "listing scheduled jobs")
}

// History lists finished attempts (GET /OrchestratorJobs/JobHistory).
func (s *Service) History(ctx context.Context, v url.Values) ([]HistoryEntry, error) {
	l, err := s.compile(v, HistorySchema, "JobHistoryId")
	if err != nil {
		return nil, err
	}
	out, err := s.o.Repo.JobHistory(ctx, l)
	if err != nil {
		return nil, errs.Wrap(err, "listing job history")
	}
	// An error attempt was not the last one when the job is still waiting
	// to run again or later attempts exist.
	jobsByID := map[string]Row{}
	for i := range out {
		h := &out[i]
		if h.Status != StatusError {
			continue
		}
		r, ok := jobsByID[h.JobID]
		if !ok {
			if r, err = s.o.Repo.Job(ctx, h.JobID); err != nil {
				if s.o.IsNotFound(err) {
					continue
				}
				return nil, errs.Wrap(err, "reading job")
			}
			jobsByID[h.JobID] = r
		}
		h.WillRetry = !r.Done() || r.Attempts > h.Attempt
	}
	return out, nil
}

func (s *Service) compile(v url.Values, schema *query.Schema, def string) (ListQuery, error) {
	page, err := query.ParsePage(v, "pq.", "query.", "pagedQuery.")
	if err != nil {
		return ListQuery{}, err
	}
	where, args, err := schema.Where(page.Query, s.o.Dialect, 1)
	if err != nil {
		return ListQuery{}, err
	}
	order, err := schema.OrderBy(page, s.o.Dialect, def)
	if err != nil {
		return ListQuery{}, err
	}
	limit, offset := page.LimitOffset()
	return ListQuery{Where: where, Args: args, OrderBy: order, Limit: limit, Offset: offset}, nil
}

// ScheduledSchema lists what ScheduledJobs can filter and sort on
// (j = jobs, s = stores).
var ScheduledSchema = query.NewSchema(
	query.Field{Name: "Id", Column: "j.id", Kind: query.String, CaseInsensitive: true, Key: true},
	query.Field{Name: "ClientMachine", Column: "s.client_machine", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "Target", Column: "s.store_path", Kind: query.String},
	query.Field{Name: "StoreId", Column: "j.store_id", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "AgentId", Column: "s.agent_id", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "Requested", Column: "j.created_at", Kind: query.Date},
	query.Field{Name: "Schedule", Column: "j.due_at", Kind: query.Date},
	query.Field{Name: "OperationType", Column: "j.operation", Kind: query.Int},
	query.Field{Name: "CertificateId", Column: "j.certificate_id", Kind: query.Int},
)

// HistorySchema lists what History can filter and sort on (h = job_history).
var HistorySchema = query.NewSchema(
	query.Field{Name: "JobHistoryId", Column: "h.id", Kind: query.Int, Key: true},
	query.Field{Name: "JobId", Column: "h.job_id", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "StoreId", Column: "h.store_id", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "AgentId", Column: "h.agent_id", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "ClientMachine", Column: "h.client_machine", Kind: query.String, CaseInsensitive: true},
	query.Field{Name: "StorePath", Column: "h.store_path", Kind: query.String},
	query.Field{Name: "OperationType", Column: "h.operation", Kind: query.Int},
	query.Field{Name: "Result", Column: "h.status", Kind: query.Int},
	query.Field{Name: "OperationStart", Column: "h.operation_start", Kind: query.Date},
	query.Field{Name: "OperationEnd", Column: "h.operation_end", Kind: query.Date},
)
