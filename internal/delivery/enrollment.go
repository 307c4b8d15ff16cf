package delivery

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
)

// EnrollmentDelivery is what an enrollment asks delivery to do inside its
// recording transaction.
type EnrollmentDelivery struct {
	CertificateID int64
	RequestID     int64
	// Format is the enrollment's x-certificateformat.
	Format string
	// Password is the enrollment Password (given or generated). Its argon2id
	// hash is kept so Deploy can check it; it is also the entry password of
	// jobs to stores whose type takes one.
	Password string
	// PasswordHash, when set, is Password's hash made by the caller before
	// its transaction (EnrollmentHook.HashPassword); empty: hashed here.
	PasswordHash string
	// KeyForDeliveryOnly says the template would not have retained the key:
	// it is kept only so a job can deliver it.
	KeyForDeliveryOnly bool
	// Targets are the checked v2 Stores, plus (FromRenewal) the stores that
	// hold the renewed certificate.
	Targets []Target
	// JobTime is when the add jobs run; nil = now.
	JobTime *time.Time
	// Source labels the jobs ("enrollment:<request id>", "workflow:<id>").
	Source string
}

// EnrollmentResult is what the enrollment answers.
type EnrollmentResult struct {
	SuccessfulStores []string // stores an add job was created for
	// InvalidForRenewal are stores holding the renewed certificate that the
	// caller may not schedule into (StoreIdsInvalidForRenewal).
	InvalidForRenewal []string
}

// CheckTargets validates v2 Stores before anything is issued: every id is a
// GUID listed once, every store exists (else 400 naming Stores[i].StoreId),
// the caller may schedule into it (else 403) and it is approved. The
// enrollment flow calls it while checking the request.
func (s *Service) CheckTargets(ctx context.Context, p *auth.Principal, targets []Target) ([]Target, error) {
	seen := map[string]bool{}
	out := make([]Target, len(targets))
	for i, t := range targets {
		field := "Stores[" + strconv.Itoa(i) + "].StoreId"
		id, err := NormalizeStoreID(field, t.StoreID)
		if err != nil {
			return nil, err
		}
		if seen[id] {
			return nil, errs.Field(field, "certificate store %s is listed twice", id)
		}
		seen[id] = true
		if err := CheckAlias("Stores["+strconv.Itoa(i)+"].Alias", t.Alias); err != nil {
			return nil, err
		}
		_, ref, err := s.resolve(ctx, p, id)
		if err != nil {
			return nil, err
		}
		if ref != nil {
			return nil, ref.asError(field)
		}
		t.StoreID, t.PrivateKey = id, true
		out[i] = t
	}
	return out, nil
}

// RenewalTargets lists the stores holding certificate renewedID
// (InstallIntoExistingCertificateStores with RenewalCertificateId), each
// with the alias found there and Overwrite set, so the new certificate
// replaces the old one in place.
func (s *Service) RenewalTargets(ctx context.Context, renewedID int64) ([]Target, error) {
	locs, err := s.o.Catalog.LocationsOf(ctx, renewedID)
	if err != nil {
		return nil, errs.Wrap(err, "reading certificate locations")
	}
	var out []Target
	seen := map[Location]bool{}
	for _, l := range locs {
		if seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, Target{StoreID: l.StoreID, Alias: l.Alias, Overwrite: true, PrivateKey: true, FromRenewal: true})
	}
	return out, nil
}

// ScheduleForEnrollment records that certificate d.CertificateID's key is
// kept for delivery (with the hash of d.Password) and creates one add job
// per target, all inside tx, the caller's recording transaction: when tx
// commits the jobs exist, when it rolls back none does. Explicit targets
// must have passed CheckTargets; they are checked again here (a store may
// have gone since), and a refusal fails the whole call. Renewal targets the
// caller may not schedule into are reported in InvalidForRenewal instead.
//
// The enrollment flow (internal/enroll) calls it through its Delivery hook;
// workflows call it when an approved v2 request with Stores is issued.
// d.JobTime in the past means now here: the v2 400 for a past JobTime is the
// enrollment's check, made when the request arrives.
func (s *Service) ScheduleForEnrollment(ctx context.Context, tx Tx, p *auth.Principal, d EnrollmentDelivery) (EnrollmentResult, error) {
	res := EnrollmentResult{SuccessfulStores: []string{}, InvalidForRenewal: []string{}}
	now := s.o.Now().UTC()
	hash := d.PasswordHash
	if hash == "" {
		// Callers that hold a database transaction should hash first
		// (EnrollmentHook.HashPassword): argon2id is slow by design.
		var err error
		if hash, err = s.o.HashPassword(d.Password); err != nil {
			return res, errs.Wrap(err, "hashing the enrollment password")
		}
	}
	if err := tx.InsertDeliveryEnrollment(ctx, Enrollment{CertificateID: d.CertificateID, RequestID: d.RequestID,
		Format: d.Format, PasswordHash: hash, KeyForDeliveryOnly: d.KeyForDeliveryOnly, CreatedAt: now}); err != nil {
		return res, errs.Wrap(err, "recording the delivery key")
	}
	due := dueAt(d.JobTime, now)
	source := d.Source
	if source == "" {
		source = fmt.Sprintf("enrollment:%d", d.RequestID)
	}
	scheduled := map[string]bool{}
	for i, t := range d.Targets {
		id, err := NormalizeStoreID("Stores["+strconv.Itoa(i)+"].StoreId", t.StoreID)
		if err != nil {
			return res, err
		}
		st, ref, err := s.resolveTx(ctx, tx, p, id)
		if err != nil {
			return res, err
		}
		if ref != nil {
			if t.FromRenewal {
				res.InvalidForRenewal = appendOnce(res.InvalidForRenewal, id)
				continue
			}
			return res, ref.asError("Stores[" + strconv.Itoa(i) + "].StoreId")
		}
		t.PrivateKey = true
		if _, err := s.scheduleAdd(ctx, tx, p, d.CertificateID, st, t, d.Password, due, source, now); err != nil {
			return res, errs.Wrap(err, "scheduling a management job")
		}
		if !scheduled[id] {
			scheduled[id] = true
			res.SuccessfulStores = append(res.SuccessfulStores, id)
		}
	}
	return res, nil
}

// MergeTargets joins explicit v2 Stores and renewal targets: a store named
// explicitly keeps the caller's alias and overwrite choice.
func MergeTargets(explicit, renewal []Target) []Target {
	out := append([]Target{}, explicit...)
	named := map[string]bool{}
	for _, t := range explicit {
		named[t.StoreID] = true
	}
	for _, t := range renewal {
		if !named[t.StoreID] {
			out = append(out, t)
		}
	}
	return out
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
