package delivery

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
)

// StoreTypeDefaults is one entry of Deploy's legacy StoreTypes: the alias,
// overwrite flag and job properties for the StoreIds of that store type.
type StoreTypeDefaults struct {
	StoreTypeID int
	Alias       string
	Overwrite   bool
	Properties  []any
}

// DeployRequest is POST /Enrollment/PFX/Deploy.
type DeployRequest struct {
	Stores        []Target            // the Stores form
	StoreIDs      []string            // the legacy form ...
	StoreTypes    []StoreTypeDefaults // ... with per-store-type defaults
	CertificateID int64               // 0 = absent
	RequestID     int64               // 0 = absent
	Password      string
	JobTime       *time.Time
}

// Validate checks the request's shape; it names the field.
func (r *DeployRequest) Validate() error {
	if err := checkIDs(r.CertificateID, r.RequestID); err != nil {
		return err
	}
	if r.CertificateID == 0 && r.RequestID == 0 {
		return errs.Field("CertificateId", "give the CertificateId or the RequestId of the enrollment to deploy")
	}
	if r.Password == "" {
		return errs.Field("Password", "is required: the password given (or generated) at enrollment")
	}
	if len(r.Password) > 256 {
		return errs.Field("Password", "must be at most 256 characters")
	}
	if len(r.Stores) == 0 && len(r.StoreIDs) == 0 {
		return errs.Field("Stores", "at least one certificate store is required (Stores, or the legacy StoreIds)")
	}
	seen := map[string]bool{}
	for i := range r.Stores {
		f := "Stores[" + strconv.Itoa(i) + "].StoreId"
		id, err := NormalizeStoreID(f, r.Stores[i].StoreID)
		if err != nil {
			return err
		}
		if seen[id] {
			return errs.Field(f, "certificate store %s is listed twice", id)
		}
		seen[id], r.Stores[i].StoreID = true, id
		if err := CheckAlias("Stores["+strconv.Itoa(i)+"].Alias", r.Stores[i].Alias); err != nil {
			return err
		}
	}
	for i := range r.StoreIDs {
		f := "StoreIds[" + strconv.Itoa(i) + "]"
		id, err := NormalizeStoreID(f, r.StoreIDs[i])
		if err != nil {
			return err
		}
		if seen[id] {
			return errs.Field(f, "certificate store %s is listed twice", id)
		}
		seen[id], r.StoreIDs[i] = true, id
	}
	types := map[int]bool{}
	for i, t := range r.StoreTypes {
		f := "StoreTypes[" + strconv.Itoa(i) + "].StoreTypeId"
		if t.StoreTypeID <= 0 {
			return errs.Field(f, "is required (a certificate store type id)")
		}
		if types[t.StoreTypeID] {
			return errs.Field(f, "store type %d is listed twice", t.StoreTypeID)
		}
		types[t.StoreTypeID] = true
		if err := CheckAlias("StoreTypes["+strconv.Itoa(i)+"].Alias", t.Alias); err != nil {
			return err
		}
	}
	return nil
}

// checkIDs checks the CertificateId and RequestId of a Deploy or Replace
// (0 = absent).
func checkIDs(certID, reqID int64) error {
	if certID < 0 {
		return errs.Field("CertificateId", "must be a positive certificate id")
	}
	if reqID < 0 {
		return errs.Field("RequestId", "must be a positive request id")
	}
	return nil
}

// begin is how Deploy and Replace start: an empty Outcome, the request
// validated, and the certificate it delivers resolved (kept).
func (s *Service) begin(ctx context.Context, validate func() error, certID, reqID int64) (Outcome, certificate.Record, error) {
	out := Outcome{Successful: []string{}, Failed: []string{}, JobIDs: []string{}}
	if err := validate(); err != nil {
		return out, certificate.Record{}, err
	}
	rec, err := s.kept(ctx, certID, reqID)
	return out, rec, err
}

// kept resolves the certificate a Deploy or Replace names by CertificateId
// and/or RequestId (both must then agree) and checks certdock holds its key.
func (s *Service) kept(ctx context.Context, certID, reqID int64) (certificate.Record, error) {
	if reqID != 0 {
		id, err := s.o.Reader.CertificateIDForRequest(ctx, reqID)
		if s.notFound(err) {
			return certificate.Record{}, errs.Field("RequestId", "request %d does not exist or issued no certificate", reqID)
		} else if err != nil {
			return certificate.Record{}, errs.Wrap(err, "reading the request")
		}
		if certID != 0 && certID != id {
			return certificate.Record{}, errs.Field("RequestId", "request %d issued certificate %d, not CertificateId %d", reqID, id, certID)
		}
		certID = id
	}
	field := "CertificateId"
	if reqID != 0 {
		field = "RequestId"
	}
	rec, err := s.o.Reader.Certificate(ctx, certID)
	if s.notFound(err) {
		return rec, errs.Field(field, "certificate %d does not exist", certID)
	} else if err != nil {
		return rec, errs.Wrap(err, "reading the certificate")
	}
	if rec.State == certificate.StateRevoked || rec.Revocation != nil {
		return rec, errs.Field(field, "certificate %d is revoked", certID)
	}
	if !rec.HasPrivateKey {
		return rec, errs.Field(field, "certdock holds no private key for certificate %d: enroll with x-certificateformat STORE or REPLACE (or a template that retains keys) to deliver it later", certID)
	}
	return rec, nil
}

func (s *Service) notFound(err error) bool {
	return err != nil && (errs.Is(err, errs.NotFound) || (s.o.IsNotFound != nil && s.o.IsNotFound(err)))
}

// planned is a store Deploy or Replace schedules an add job into.
type planned struct {
	st StoreInfo
	t  Target
}

// scheduleAdds creates in tx one add job per planned store (ref names the
// operation, as "deploy:ID") and records the jobs and stores in out; a
// store planned twice (Replace: two aliases) is listed once.
func (s *Service) scheduleAdds(ctx context.Context, tx Tx, p *auth.Principal, certID int64, plan []planned, password string,
	due time.Time, ref string, now time.Time, out *Outcome) error {
	for _, pl := range plan {
		id, err := s.scheduleAdd(ctx, tx, p, certID, pl.st, pl.t, password, due, ref, now)
		if err != nil {
			return err
		}
		out.JobIDs = append(out.JobIDs, id)
		out.Successful = appendOnce(out.Successful, pl.st.ID)
	}
	return nil
}

// Deploy creates add jobs delivering a STORE (or REPLACE, or v2) enrollment's
// certificate and key into stores. The Password must match the one given at
// enrollment (400 naming Password otherwise). A store that does not exist,
// that the caller may not schedule into, or that is not approved goes to
// Failed; the others get a job, all in one transaction.
func (s *Service) Deploy(ctx context.Context, p *auth.Principal, r DeployRequest) (Outcome, error) {
	out, rec, err := s.begin(ctx, r.Validate, r.CertificateID, r.RequestID)
	if err != nil {
		return out, err
	}
	field := "CertificateId"
	if r.CertificateID == 0 {
		field = "RequestId"
	}
	en, err := s.o.Reader.DeliveryEnrollment(ctx, rec.ID)
	if s.notFound(err) {
		return out, errs.Field(field, "certificate %d was not enrolled for delivery (x-certificateformat STORE or REPLACE, or v2 with Stores), so there is no enrollment password to deploy it with", rec.ID)
	} else if err != nil {
		return out, errs.Wrap(err, "reading the delivery record")
	}
	ok, err := s.o.VerifyPassword(en.PasswordHash, r.Password)
	if err != nil {
		return out, errs.Wrap(err, "checking the enrollment password")
	}
	if !ok {
		return out, errs.Field("Password", "does not match the password of certificate %d's enrollment", rec.ID)
	}

	targets := append([]Target{}, r.Stores...)
	for _, id := range r.StoreIDs {
		targets = append(targets, Target{StoreID: id, legacy: true})
	}
	defaults := map[int]StoreTypeDefaults{}
	for _, d := range r.StoreTypes {
		defaults[d.StoreTypeID] = d
	}
	var plan []planned
	for _, t := range targets {
		st, ref, err := s.resolve(ctx, p, t.StoreID)
		if err != nil {
			return out, err
		}
		if ref != nil {
			out.Failed = append(out.Failed, t.StoreID)
			continue
		}
		if t.legacy {
			if d, ok := defaults[st.StoreType]; ok {
				t.Alias, t.Overwrite = d.Alias, d.Overwrite
			}
		}
		t.PrivateKey = true
		plan = append(plan, planned{st, t})
	}
	now := s.o.Now().UTC()
	due := dueAt(r.JobTime, now)
	err = s.o.InTx(ctx, func(tx Tx) error {
		if err := s.scheduleAdds(ctx, tx, p, rec.ID, plan, r.Password, due, fmt.Sprintf("deploy:%d", rec.ID), now, &out); err != nil {
			return err
		}
		return tx.Audit(ctx, now, p.AccountName, "enroll.pfx.deploy", fmt.Sprintf("certificate %d", rec.ID),
			fmt.Sprintf("jobs %v for stores %v; failed stores %v", out.JobIDs, out.Successful, out.Failed))
	})
	if err != nil {
		return Outcome{}, errs.Wrap(err, "scheduling management jobs")
	}
	return out, nil
}

// ReplaceRequest is POST /Enrollment/PFX/Replace.
type ReplaceRequest struct {
	ExistingCertificateID int64
	CertificateID         int64
	RequestID             int64
	Password              string
	JobTime               *time.Time
}

// Validate checks the request's shape; it names the field.
func (r ReplaceRequest) Validate() error {
	if err := checkIDs(r.CertificateID, r.RequestID); err != nil {
		return err
	}
	if (r.CertificateID == 0) == (r.RequestID == 0) {
		return errs.Field("CertificateId", "give exactly one of CertificateId and RequestId")
	}
	if r.ExistingCertificateID <= 0 {
		return errs.Field("ExistingCertificateId", "is required: the certificate to replace in the stores that hold it")
	}
	if len(r.Password) > 256 {
		return errs.Field("Password", "must be at most 256 characters")
	}
	return nil
}

// Replace creates, for every store whose latest inventory holds the
// existing certificate, one add job that writes the new certificate and key
// under the alias the old one has there, overwriting it. A JobTime in the
// past means now. Stores the caller may not schedule into go to Failed.
// The Password is required when one of the stores' types takes an entry
// password.
func (s *Service) Replace(ctx context.Context, p *auth.Principal, r ReplaceRequest) (Outcome, error) {
	out, rec, err := s.begin(ctx, r.Validate, r.CertificateID, r.RequestID)
	if err != nil {
		return out, err
	}
	// Replace takes no enrollment password (Deploy does), so it is limited
	// to the certificate's requester: anyone else holding the schedule
	// permission could otherwise deliver any retained key into a store they
	// control. Others need the key recovery permission.
	if !p.Has(auth.CertificatesRecover) && (rec.RequesterID == nil || *rec.RequesterID != p.IdentityID) {
		field := "CertificateId"
		if r.CertificateID == 0 {
			field = "RequestId"
		}
		return out, errs.Forbiddenf("%s: %s did not request certificate %d and lacks the permission %s needed to deliver another identity's private key",
			field, p.AccountName, rec.ID, auth.CertificatesRecover)
	}
	old, err := s.o.Reader.Certificate(ctx, r.ExistingCertificateID)
	if s.notFound(err) {
		return out, errs.Field("ExistingCertificateId", "certificate %d does not exist", r.ExistingCertificateID)
	} else if err != nil {
		return out, errs.Wrap(err, "reading the existing certificate")
	}
	if old.ID == rec.ID {
		return out, errs.Field("ExistingCertificateId", "is the certificate being deployed (%d); name the certificate it replaces", old.ID)
	}
	// The stores holding the old certificate, as a renewal finds them.
	targets, err := s.RenewalTargets(ctx, old.ID)
	if err != nil {
		return out, err
	}
	var plan []planned
	for _, t := range targets {
		st, ref, err := s.resolve(ctx, p, t.StoreID)
		if err != nil {
			return out, err
		}
		if ref != nil {
			out.Failed = appendOnce(out.Failed, t.StoreID)
			continue
		}
		if st.EntryPassword && r.Password == "" {
			return out, errs.Field("Password", "is required: certificate store %s is of type %s, which takes an entry password", st.ID, st.StoreTypeName)
		}
		t.StoreID, t.FromRenewal = st.ID, false
		if t.Alias == "" {
			t.Alias = old.Thumbprint
		}
		plan = append(plan, planned{st, t})
	}
	now := s.o.Now().UTC()
	due := dueAt(r.JobTime, now)
	err = s.o.InTx(ctx, func(tx Tx) error {
		if err := s.scheduleAdds(ctx, tx, p, rec.ID, plan, r.Password, due, fmt.Sprintf("replace:%d", old.ID), now, &out); err != nil {
			return err
		}
		if len(plan) > 0 {
			if err := tx.AddHistory(ctx, certificate.HistoryEntry{CertID: old.ID, At: now, Operation: certificate.OpDeployed,
				Actor: p.AccountName, Message: fmt.Sprintf("replacement by certificate %d scheduled in stores %v", rec.ID, out.Successful)}); err != nil {
				return err
			}
		}
		return tx.Audit(ctx, now, p.AccountName, "enroll.pfx.replace", fmt.Sprintf("certificate %d", rec.ID),
			fmt.Sprintf("replaces certificate %d: jobs %v for stores %v; failed stores %v", old.ID, out.JobIDs, out.Successful, out.Failed))
	})
	if err != nil {
		return Outcome{}, errs.Wrap(err, "scheduling management jobs")
	}
	return out, nil
}
