package delivery

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/jobs"
)

// OpRemovedFromStore is the history operation of a scheduled removal.
const OpRemovedFromStore = "RemovedFromStore"

// AddRequest is POST /CertificateStores/Certificates/Add.
type AddRequest struct {
	CertificateID int64
	Stores        []Target // EntryPassword and PrivateKey per store
	DueAt         *time.Time
}

// RemoveRequest is POST /CertificateStores/Certificates/Remove.
type RemoveRequest struct {
	CertificateID int64  // 0 = absent
	Alias         string // default alias for stores without one
	Stores        []Target
	DueAt         *time.Time
}

func checkStoreList(stores []Target) error {
	if len(stores) == 0 {
		return errs.Field("CertificateStores", "at least one certificate store is required")
	}
	seen := map[string]bool{}
	for i := range stores {
		f := "CertificateStores[" + strconv.Itoa(i) + "].CertificateStoreId"
		id, err := NormalizeStoreID(f, stores[i].StoreID)
		if err != nil {
			return err
		}
		if seen[id] {
			return errs.Field(f, "certificate store %s is listed twice", id)
		}
		seen[id], stores[i].StoreID = true, id
		if err := CheckAlias("CertificateStores["+strconv.Itoa(i)+"].Alias", stores[i].Alias); err != nil {
			return err
		}
	}
	return nil
}

// resolveAll resolves every store of a Certificates/Add or /Remove request;
// any refusal fails the whole request (404-like refusals as 400 naming the
// entry, missing permission as 403), since the answer has no FailedStores.
func (s *Service) resolveAll(ctx context.Context, p *auth.Principal, stores []Target) ([]StoreInfo, error) {
	out := make([]StoreInfo, len(stores))
	for i, t := range stores {
		st, ref, err := s.resolve(ctx, p, t.StoreID)
		if err != nil {
			return nil, err
		}
		if ref != nil {
			return nil, ref.asError("CertificateStores[" + strconv.Itoa(i) + "].CertificateStoreId")
		}
		out[i] = st
	}
	return out, nil
}

// Add creates one add job per store for a certificate certdock knows,
// with its private key where IncludePrivateKey asks (the key must be kept).
func (s *Service) Add(ctx context.Context, p *auth.Principal, r AddRequest) ([]string, error) {
	if r.CertificateID <= 0 {
		return nil, errs.Field("CertificateId", "is required (a positive certificate id)")
	}
	if err := checkStoreList(r.Stores); err != nil {
		return nil, err
	}
	rec, err := s.o.Reader.Certificate(ctx, r.CertificateID)
	if s.notFound(err) {
		return nil, errs.Field("CertificateId", "certificate %d does not exist", r.CertificateID)
	} else if err != nil {
		return nil, errs.Wrap(err, "reading the certificate")
	}
	for i, t := range r.Stores {
		if !t.PrivateKey {
			continue
		}
		// Delivering the retained key into a store is handing it out: it
		// needs the key recovery permission (globally), as POST
		// /Certificates/Recover does, not only the schedule permission.
		if !p.Has(auth.CertificatesRecover) {
			return nil, errs.Forbiddenf("CertificateStores[%d].IncludePrivateKey: %s lacks the permission %s needed to deliver the private key of certificate %d",
				i, p.AccountName, auth.CertificatesRecover, rec.ID)
		}
		if !rec.HasPrivateKey {
			return nil, errs.Field("CertificateStores["+strconv.Itoa(i)+"].IncludePrivateKey",
				"certdock holds no private key for certificate %d", rec.ID)
		}
	}
	sts, err := s.resolveAll(ctx, p, r.Stores)
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC()
	due := dueAt(r.DueAt, now)
	ids := []string{}
	err = s.o.InTx(ctx, func(tx Tx) error {
		for i, t := range r.Stores {
			id, err := s.scheduleAdd(ctx, tx, p, rec.ID, sts[i], t, "", due, "add", now)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return tx.Audit(ctx, now, p.AccountName, "stores.certificates.add", fmt.Sprintf("certificate %d", rec.ID), fmt.Sprintf("jobs %v", ids))
	})
	if err != nil {
		return nil, errs.Wrap(err, "scheduling management jobs")
	}
	return ids, nil
}

// Remove creates one remove job per store. The alias of each entry is, in
// order: the entry's Alias, the request's Alias, the alias under which the
// store's latest inventory holds CertificateId, that certificate's
// thumbprint.
func (s *Service) Remove(ctx context.Context, p *auth.Principal, r RemoveRequest) ([]string, error) {
	if r.CertificateID < 0 {
		return nil, errs.Field("CertificateId", "must be a positive certificate id")
	}
	if err := checkStoreList(r.Stores); err != nil {
		return nil, err
	}
	if err := CheckAlias("Alias", r.Alias); err != nil {
		return nil, err
	}
	var rec *certificate.Record
	if r.CertificateID != 0 {
		c, err := s.o.Reader.Certificate(ctx, r.CertificateID)
		if s.notFound(err) {
			return nil, errs.Field("CertificateId", "certificate %d does not exist", r.CertificateID)
		} else if err != nil {
			return nil, errs.Wrap(err, "reading the certificate")
		}
		rec = &c
	}
	var where map[string]string
	if rec != nil {
		locs, err := s.o.Catalog.LocationsOf(ctx, rec.ID)
		if err != nil {
			return nil, errs.Wrap(err, "reading certificate locations")
		}
		where = map[string]string{}
		for _, l := range locs {
			where[l.StoreID] = l.Alias
		}
	}
	for i := range r.Stores {
		t := &r.Stores[i]
		switch {
		case t.Alias != "":
		case r.Alias != "":
			t.Alias = r.Alias
		case rec != nil && where[t.StoreID] != "":
			t.Alias = where[t.StoreID]
		case rec != nil:
			t.Alias = rec.Thumbprint
		default:
			return nil, errs.Field("CertificateStores["+strconv.Itoa(i)+"].Alias", "is required when no CertificateId is given")
		}
	}
	sts, err := s.resolveAll(ctx, p, r.Stores)
	if err != nil {
		return nil, err
	}
	now := s.o.Now().UTC()
	due := dueAt(r.DueAt, now)
	var certID int64
	if rec != nil {
		certID = rec.ID
	}
	ids := []string{}
	err = s.o.InTx(ctx, func(tx Tx) error {
		for i, t := range r.Stores {
			id, err := s.schedule(ctx, tx, jobs.Request{StoreID: sts[i].ID, Operation: jobs.Remove, CertificateID: certID, Alias: t.Alias,
				DueAt: due, RequestedBy: p.AccountName, Source: "remove"}, now)
			if err != nil {
				return err
			}
			ids = append(ids, id)
			if rec != nil {
				if err := tx.AddHistory(ctx, certificate.HistoryEntry{CertID: rec.ID, At: now, Operation: OpRemovedFromStore, Actor: p.AccountName,
					Message: fmt.Sprintf("management job %s scheduled: remove alias %q from %s store %s (%s on %s)", id, t.Alias,
						sts[i].StoreTypeName, sts[i].ID, sts[i].StorePath, sts[i].ClientMachine)}); err != nil {
					return err
				}
			}
		}
		return tx.Audit(ctx, now, p.AccountName, "stores.certificates.remove", fmt.Sprintf("certificate %d", certID), fmt.Sprintf("jobs %v", ids))
	})
	if err != nil {
		return nil, errs.Wrap(err, "scheduling management jobs")
	}
	return ids, nil
}
