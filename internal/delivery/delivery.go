// Package delivery sends certificates certdock issued into certificate
// stores by creating management jobs for the stores' agents: v2 enrollment
// with Stores (and InstallIntoExistingCertificateStores), the STORE and
// REPLACE enrollment formats whose key is kept for a later delivery,
// POST /Enrollment/PFX/Deploy, POST /Enrollment/PFX/Replace and
// POST /CertificateStores/Certificates/Add and /Remove.
//
// Delivery decides which jobs to create and checks the caller may create
// them (the store schedule permission, globally or on the store's
// container). It never talks to agents: jobs are rows the agent protocol
// (internal/orchestrator) hands out. Every job is created inside the
// transaction that records the request it belongs to, so a 200 means the
// jobs are durable. docs/delivery.md records the decisions.
package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/stores"
)

// Target is one store to deliver into.
type Target struct {
	StoreID   string
	Alias     string // "" = the agent chooses (add) or the thumbprint (remove)
	Overwrite bool
	// Properties are the per-entry job fields a client sent. The built-in
	// store types define no entry parameters, so they are accepted and not
	// forwarded (docs/delivery.md).
	Properties map[string]any
	// EntryPassword overrides the request's Password for this store
	// (CertificateStores/Certificates/Add sends one per store).
	EntryPassword *string
	// PrivateKey is whether the key goes along (add). Enrollment, Deploy and
	// Replace always send it; Certificates/Add follows IncludePrivateKey.
	PrivateKey bool
	// FromRenewal marks a store found through InstallIntoExistingCertificateStores:
	// one the caller may not schedule into is skipped and reported, not an error.
	FromRenewal bool

	legacy bool // from Deploy's StoreIds: alias and overwrite come from StoreTypes
}

// StoreInfo is what delivery needs to know about one store.
type StoreInfo struct {
	ID            string
	ContainerID   int64 // 0 = no container
	StoreType     int
	StoreTypeName string
	ClientMachine string
	StorePath     string
	Approved      bool
	// EntryPassword says the store type takes a password per entry
	// (PasswordOptions.EntrySupported): the request's Password goes with the
	// job, and Replace requires one.
	EntryPassword bool
}

// Location is a store holding a certificate, from the store's latest inventory.
type Location struct {
	StoreID string
	Alias   string
}

// Catalog answers questions about stores; the server adapts internal/stores to it.
type Catalog interface {
	// Store returns one store; an unknown id is an errs.NotFound error.
	Store(ctx context.Context, id string) (StoreInfo, error)
	// CanSchedule reports whether p may create jobs for the store.
	CanSchedule(p *auth.Principal, s StoreInfo) bool
	// LocationsOf lists the stores whose latest inventory holds certID.
	LocationsOf(ctx context.Context, certID int64) ([]Location, error)
}

// Enrollment is the record of an enrollment whose key is kept for delivery
// (table delivery_enrollments).
type Enrollment struct {
	CertificateID      int64
	RequestID          int64
	Format             string // STORE, REPLACE, or the blob format of a v2 Stores enrollment
	PasswordHash       string // argon2id of the enrollment Password (secret.HashPassword)
	KeyForDeliveryOnly bool   // the template would not have retained the key
	CreatedAt          time.Time
}

// Tx is the recording transaction delivery writes in; sqlstore.Q (inside
// WithTx) implements it. Callers that already hold a transaction (the
// enrollment flow, workflows) pass theirs. Jobs are created in it with
// jobs.Schedule.
type Tx interface {
	jobs.Store
	InsertDeliveryEnrollment(ctx context.Context, e Enrollment) error
	AddHistory(ctx context.Context, h certificate.HistoryEntry) error
	Audit(ctx context.Context, at time.Time, actor, action, target, details string) error
}

// Reader is what delivery reads outside transactions; sqlstore.Q implements it.
type Reader interface {
	Certificate(ctx context.Context, id int64) (certificate.Record, error)
	CertificateIDForRequest(ctx context.Context, requestID int64) (int64, error)
	DeliveryEnrollment(ctx context.Context, certID int64) (Enrollment, error)
}

// Options wires the service.
type Options struct {
	Reader  Reader
	Catalog Catalog
	InTx    func(ctx context.Context, fn func(Tx) error) error
	// Seal encrypts a job's entry password (the master key's Seal).
	Seal           func(plaintext, aad []byte) ([]byte, error)
	HashPassword   func(string) (string, error)
	VerifyPassword func(hash, password string) (bool, error)
	IsNotFound     func(error) bool
	Now            func() time.Time
}

// Service creates delivery jobs.
type Service struct{ o Options }

// New builds the service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}
}

// Outcome is the answer of Deploy and Replace.
type Outcome struct {
	Successful []string
	Failed     []string
	JobIDs     []string
}

// NormalizeStoreID checks a store id is a GUID and returns it lower-cased.
func NormalizeStoreID(field, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", errs.Field(field, "is required")
	}
	id = strings.Trim(id, "{}")
	if !stores.IsUUID(id) {
		return "", errs.Field(field, "%q is not a certificate store GUID", id)
	}
	return strings.ToLower(id), nil
}

// refusal is why one store cannot receive a job.
type refusal struct {
	kind errs.Kind // NotFound, Forbidden or Invalid
	msg  string
}

// resolve looks a store up and checks the caller may schedule into it.
func (s *Service) resolve(ctx context.Context, p *auth.Principal, id string) (StoreInfo, *refusal, error) {
	return s.resolveTx(ctx, nil, p, id)
}

// txCatalog is a Catalog that can also read a store through the caller's
// transaction (StoresCatalog can, when the transaction is a sqlstore.Q).
type txCatalog interface {
	StoreTx(ctx context.Context, tx Tx, id string) (StoreInfo, error)
}

// resolveTx is resolve inside the transaction tx (nil: none). Code holding a
// transaction must not wait for a second pooled connection: with SQLite,
// every other connection can be held by a transaction waiting for the write
// lock that this one holds, and both would wait for the busy timeout.
func (s *Service) resolveTx(ctx context.Context, tx Tx, p *auth.Principal, id string) (StoreInfo, *refusal, error) {
	var (
		st  StoreInfo
		err error
	)
	if c, ok := s.o.Catalog.(txCatalog); ok && tx != nil {
		st, err = c.StoreTx(ctx, tx, id)
	} else {
		st, err = s.o.Catalog.Store(ctx, id)
	}
	if err != nil {
		if errs.Is(err, errs.NotFound) || (s.o.IsNotFound != nil && s.o.IsNotFound(err)) {
			return st, &refusal{errs.NotFound, fmt.Sprintf("certificate store %s does not exist", id)}, nil
		}
		return st, nil, errs.Wrap(err, "reading certificate store")
	}
	if !s.o.Catalog.CanSchedule(p, st) {
		where := "globally"
		if st.ContainerID != 0 {
			where = fmt.Sprintf("globally or on container %d", st.ContainerID)
		}
		return st, &refusal{errs.Forbidden, fmt.Sprintf("%s lacks %s (%s) for certificate store %s", p.AccountName, auth.StoresSchedule, where, id)}, nil
	}
	if !st.Approved {
		return st, &refusal{errs.Invalid, fmt.Sprintf("certificate store %s is not approved", id)}, nil
	}
	return st, nil, nil
}

// asError turns a refusal into the error a whole-request endpoint returns.
func (r *refusal) asError(field string) error {
	switch r.kind {
	case errs.Forbidden:
		return errs.Forbiddenf("%s: %s", field, r.msg)
	default:
		return errs.Field(field, "%s", r.msg)
	}
}

// entryPassword is the password that goes with an add job to st.
func entryPassword(st StoreInfo, t Target, password string) string {
	if t.EntryPassword != nil {
		return *t.EntryPassword
	}
	if st.EntryPassword {
		return password
	}
	return ""
}

// dueAt is when a job runs: jobTime, or now when absent or in the past.
func dueAt(jobTime *time.Time, now time.Time) time.Time {
	if jobTime == nil || jobTime.Before(now) {
		return now
	}
	return jobTime.UTC()
}

// scheduleAdd creates one add job and its history entry inside tx.
func (s *Service) scheduleAdd(ctx context.Context, tx Tx, p *auth.Principal, certID int64, st StoreInfo, t Target,
	password string, due time.Time, source string, now time.Time) (string, error) {
	id, err := s.schedule(ctx, tx, jobs.Request{StoreID: st.ID, Operation: jobs.Add, CertificateID: certID, Alias: t.Alias,
		Overwrite: t.Overwrite, EntryPassword: entryPassword(st, t, password), PrivateKey: t.PrivateKey, DueAt: due,
		RequestedBy: p.AccountName, Source: source}, now)
	if err != nil {
		return "", err
	}
	when := "immediately"
	if due.After(now) {
		when = "at " + due.UTC().Format(time.RFC3339)
	}
	msg := fmt.Sprintf("management job %s scheduled %s: add to %s store %s (%s on %s)", id, when, st.StoreTypeName, st.ID, st.StorePath, st.ClientMachine)
	if t.Alias != "" {
		msg += fmt.Sprintf(", alias %q", t.Alias)
	}
	if t.Overwrite {
		msg += ", overwrite"
	}
	if err := tx.AddHistory(ctx, certificate.HistoryEntry{CertID: certID, At: now, Operation: certificate.OpDeployed,
		Actor: p.AccountName, Message: msg}); err != nil {
		return "", err
	}
	return id, nil
}

// schedule creates one job in tx with jobs.Schedule, which seals the entry
// password and refuses an unknown store.
func (s *Service) schedule(ctx context.Context, tx Tx, r jobs.Request, now time.Time) (string, error) {
	return jobs.Schedule(ctx, tx, s.o.Seal, r, now)
}

// CheckAlias validates an entry alias: at most 255 characters, no control
// characters (it becomes a keystore alias or a file's friendly name).
func CheckAlias(field, alias string) error {
	if len(alias) > 255 {
		return errs.Field(field, "must be at most 255 characters")
	}
	for _, r := range alias {
		if r < 0x20 || r == 0x7f {
			return errs.Field(field, "must not contain control characters")
		}
	}
	return nil
}
