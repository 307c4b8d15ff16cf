package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/errs"
)

// ---- POST /Enrollment/PFX/Deploy ----

type dlvStoreTypeEntryDTO struct {
	StoreTypeId int
	Alias       *string
	Overwrite   *bool
	Properties  []any
}

type deployReq struct {
	Stores        []storeEntry
	StoreIds      []string
	StoreTypes    []dlvStoreTypeEntryDTO
	CertificateId int64
	RequestId     int64
	Password      string
	JobTime       *string
}

type dlvManagementResponseDTO struct {
	SuccessfulStores []string `json:"SuccessfulStores"`
	FailedStores     []string `json:"FailedStores"`
}

func (q deployReq) toRequest() (delivery.DeployRequest, error) {
	r := delivery.DeployRequest{StoreIDs: q.StoreIds, CertificateID: q.CertificateId, RequestID: q.RequestId, Password: q.Password}
	for _, s := range q.Stores {
		r.Stores = append(r.Stores, s.target())
	}
	for _, t := range q.StoreTypes {
		d := delivery.StoreTypeDefaults{StoreTypeID: t.StoreTypeId, Properties: t.Properties}
		if t.Alias != nil {
			d.Alias = strings.TrimSpace(*t.Alias)
		}
		if t.Overwrite != nil {
			d.Overwrite = *t.Overwrite
		}
		r.StoreTypes = append(r.StoreTypes, d)
	}
	var err error
	r.JobTime, err = optionalTimestamp("JobTime", q.JobTime)
	return r, err
}

func (s storeEntry) target() delivery.Target {
	id := s.StoreId
	if id == "" {
		id = s.CertificateStoreId
	}
	props := s.Properties
	if props == nil {
		props = s.JobFields
	}
	return delivery.Target{StoreID: strings.TrimSpace(id), Alias: strings.TrimSpace(s.Alias), Overwrite: s.Overwrite, Properties: props}
}

func (a *API) postDeploy(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	req, err := decodeAs(r, deployReq.toRequest)
	if err != nil {
		return err
	}
	out, err := a.o.Delivery.Deploy(r.Context(), p, req)
	if err != nil {
		return err
	}
	return writeJSON(w, dlvManagementResponseDTO{SuccessfulStores: out.Successful, FailedStores: out.Failed})
}

// ---- POST /Enrollment/PFX/Replace ----

type replaceReq struct {
	ExistingCertificateId int64
	CertificateId         int64
	RequestId             int64
	Password              *string
	JobTime               *string
}

func (a *API) postReplace(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q replaceReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	req := delivery.ReplaceRequest{ExistingCertificateID: q.ExistingCertificateId, CertificateID: q.CertificateId, RequestID: q.RequestId}
	if q.Password != nil {
		req.Password = *q.Password
	}
	var err error
	if req.JobTime, err = optionalTimestamp("JobTime", q.JobTime); err != nil {
		return err
	}
	out, err := a.o.Delivery.Replace(r.Context(), p, req)
	if err != nil {
		return err
	}
	return writeJSON(w, dlvManagementResponseDTO{SuccessfulStores: out.Successful, FailedStores: out.Failed})
}

// ---- POST /CertificateStores/Certificates/Add and /Remove ----

type dlvSecretDTO struct {
	SecretValue *string
}

type dlvStoreCertEntryDTO struct {
	CertificateStoreId string
	Alias              *string
	JobFields          map[string]any
	Overwrite          *bool
	EntryPassword      *dlvSecretDTO
	PfxPassword        *string
	IncludePrivateKey  *bool
}

// target is the store, alias and job fields of an entry (what Add and
// Remove both take; Add reads the rest itself).
func (e dlvStoreCertEntryDTO) target() delivery.Target {
	t := delivery.Target{StoreID: strings.TrimSpace(e.CertificateStoreId), Properties: e.JobFields}
	if e.Alias != nil {
		t.Alias = strings.TrimSpace(*e.Alias)
	}
	return t
}

// dlvScheduleDTO is Keyfactor's KeyfactorSchedule. Management jobs run once:
// Immediate or ExactlyOnce; the recurring kinds are refused.
type dlvScheduleDTO struct {
	Immediate   *bool
	ExactlyOnce *struct{ Time *string }
	Interval    json.RawMessage
	Daily       json.RawMessage
	Weekly      json.RawMessage
	Monthly     json.RawMessage
}

func dlvPresent(m json.RawMessage) bool {
	t := strings.TrimSpace(string(m))
	return t != "" && t != "null"
}

// dueAt reads the schedule: nil = immediate.
func (s *dlvScheduleDTO) dueAt() (*time.Time, error) {
	if s == nil {
		return nil, errs.Field("Schedule", "is required ({\"Immediate\": true} or {\"ExactlyOnce\": {\"Time\": \"...\"}})")
	}
	if dlvPresent(s.Interval) || dlvPresent(s.Daily) || dlvPresent(s.Weekly) || dlvPresent(s.Monthly) {
		return nil, errs.Field("Schedule", "a management job runs once: use Immediate or ExactlyOnce")
	}
	if s.ExactlyOnce != nil {
		if s.Immediate != nil && *s.Immediate {
			return nil, errs.Field("Schedule", "give Immediate or ExactlyOnce, not both")
		}
		if s.ExactlyOnce.Time == nil || strings.TrimSpace(*s.ExactlyOnce.Time) == "" {
			return nil, errs.Field("Schedule.ExactlyOnce.Time", "is required")
		}
		return optionalTimestamp("Schedule.ExactlyOnce.Time", s.ExactlyOnce.Time)
	}
	if s.Immediate == nil || !*s.Immediate {
		return nil, errs.Field("Schedule", "set Immediate to true or give ExactlyOnce")
	}
	return nil, nil
}

type addCertReq struct {
	CertificateId     int64
	CertificateStores []dlvStoreCertEntryDTO
	Schedule          *dlvScheduleDTO
	CollectionId      *int64
}

func (a *API) postStoreCertificatesAdd(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q addCertReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	due, err := q.Schedule.dueAt()
	if err != nil {
		return err
	}
	req := delivery.AddRequest{CertificateID: q.CertificateId, DueAt: due}
	for i, e := range q.CertificateStores {
		t := e.target()
		if e.Overwrite != nil {
			t.Overwrite = *e.Overwrite
		}
		if e.IncludePrivateKey != nil {
			t.PrivateKey = *e.IncludePrivateKey
		}
		if e.EntryPassword != nil && e.EntryPassword.SecretValue != nil {
			v := *e.EntryPassword.SecretValue
			if len(v) > 256 {
				return errs.Field("CertificateStores["+strconv.Itoa(i)+"].EntryPassword", "must be at most 256 characters")
			}
			t.EntryPassword = &v
		}
		req.Stores = append(req.Stores, t)
	}
	ids, err := a.o.Delivery.Add(r.Context(), p, req)
	if err != nil {
		return err
	}
	return writeJSON(w, ids)
}

type removeCertReq struct {
	CertificateId     int64
	Alias             *string
	CertificateStores []dlvStoreCertEntryDTO
	Schedule          *dlvScheduleDTO
	CollectionId      *int64
}

func (a *API) postStoreCertificatesRemove(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q removeCertReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	due, err := q.Schedule.dueAt()
	if err != nil {
		return err
	}
	req := delivery.RemoveRequest{CertificateID: q.CertificateId, DueAt: due}
	if q.Alias != nil {
		req.Alias = strings.TrimSpace(*q.Alias)
	}
	for _, e := range q.CertificateStores {
		req.Stores = append(req.Stores, e.target())
	}
	ids, err := a.o.Delivery.Remove(r.Context(), p, req)
	if err != nil {
		return err
	}
	return writeJSON(w, ids)
}
