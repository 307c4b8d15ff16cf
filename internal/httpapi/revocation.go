package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/query"
	"github.com/certdock/certdock/internal/revocation"
)

// revokeRequestDTO is Keyfactor's CertificatesRevokeCertificateRequest.
type revokeRequestDTO struct {
	CertificateIds []int64 `json:"CertificateIds"`
	Reason         *int    `json:"Reason"`
	Comment        *string `json:"Comment"`
	EffectiveDate  *string `json:"EffectiveDate"`
	CollectionId   *int64  `json:"CollectionId"`
	PublishCRL     *bool   `json:"PublishCRL"`
}

// toRequest checks the fields the domain does not see (dates, collection)
// and builds the domain request. A missing Reason is 0 (unspecified).
func (d revokeRequestDTO) toRequest() (revocation.RevokeRequest, error) {
	req := revocation.RevokeRequest{CertificateIDs: d.CertificateIds}
	if d.Reason != nil {
		req.Reason = *d.Reason
	}
	if d.Comment != nil {
		req.Comment = *d.Comment
	}
	if d.PublishCRL != nil {
		req.PublishCRL = *d.PublishCRL
	}
	if d.CollectionId != nil && *d.CollectionId < 0 {
		return req, errs.Field("CollectionId", "%d is not a collection id", *d.CollectionId)
	}
	if d.EffectiveDate != nil && strings.TrimSpace(*d.EffectiveDate) != "" {
		t, ok := parseAPITime(*d.EffectiveDate)
		if !ok {
			return req, errs.Field("EffectiveDate", "%q is not an RFC 3339 date and time", *d.EffectiveDate)
		}
		req.EffectiveDate = t
	}
	return req, nil
}

// parseAPITime accepts RFC 3339 and, as ASP.NET does, a date-time without
// zone (taken as UTC).
func parseAPITime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

type suspendedDTO struct {
	CertId     int64   `json:"CertId"`
	WorkflowId string  `json:"WorkflowId"`
	Message    *string `json:"Message"`
}

type revokeResponseDTO struct {
	RevokedIds     []int64        `json:"RevokedIds"`
	SuspendedCerts []suspendedDTO `json:"SuspendedCerts"`
}

func (a *API) postRevoke(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := checkCollectionID(r); err != nil {
		return err
	}
	req, err := decodeAs(r, revokeRequestDTO.toRequest)
	if err != nil {
		return err
	}
	res, err := a.o.Revocation.Revoke(r.Context(), p, req)
	if err != nil {
		return err
	}
	out := revokeResponseDTO{RevokedIds: res.RevokedIDs, SuspendedCerts: []suspendedDTO{}}
	if out.RevokedIds == nil {
		out.RevokedIds = []int64{}
	}
	return writeJSON(w, out)
}

// metadataValues reads a Metadata object whose values are strings (or, as
// some clients send, numbers, booleans or null, which are taken as text).
type metadataValues map[string]string

func (m *metadataValues) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errs.Field("Metadata", "must be an object of field names to values")
	}
	if raw == nil {
		*m = nil
		return nil
	}
	out := make(metadataValues, len(raw))
	for k, v := range raw {
		s, err := scalarText(v)
		if err != nil {
			return errs.Field("Metadata."+k, "must be a string, number or boolean")
		}
		out[k] = s
	}
	*m = out
	return nil
}

func scalarText(v json.RawMessage) (string, error) {
	var x any
	if err := json.Unmarshal(v, &x); err != nil {
		return "", err
	}
	switch t := x.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strings.TrimSpace(string(v)), nil
	}
	return "", errs.E(errs.Invalid, errs.CodeValidation, "not a scalar")
}

// metadataUpdateDTO is Keyfactor's MetadataUpdateRequest.
type metadataUpdateDTO struct {
	Id           *int64         `json:"Id"`
	Metadata     metadataValues `json:"Metadata"`
	CollectionId *int64         `json:"CollectionId"`
}

func (a *API) putCertificateMetadata(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := checkCollectionID(r); err != nil {
		return err
	}
	var d metadataUpdateDTO
	if err := decode(r, &d, false); err != nil {
		return err
	}
	if d.Id == nil {
		return errs.Field("Id", "is required")
	}
	if err := a.o.Revocation.UpdateMetadata(r.Context(), p, *d.Id, d.Metadata); err != nil {
		return err
	}
	return noContent(w)
}

// metadataSingleDTO is Keyfactor's MetadataSingleUpdateRequest.
type metadataSingleDTO struct {
	MetadataName      *string          `json:"MetadataName"`
	Value             *json.RawMessage `json:"Value"`
	OverwriteExisting *bool            `json:"OverwriteExisting"`
}

// metadataAllDTO is Keyfactor's MetadataAllUpdateRequest.
type metadataAllDTO struct {
	Query          *string             `json:"Query"`
	CertificateIds []int64             `json:"CertificateIds"`
	Metadata       []metadataSingleDTO `json:"Metadata"`
}

func (a *API) putCertificateMetadataAll(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := checkCollectionID(r); err != nil {
		return err
	}
	var d metadataAllDTO
	if err := decode(r, &d, false); err != nil {
		return err
	}
	req := revocation.MetadataAllRequest{CertificateIDs: d.CertificateIds}
	if d.Query != nil {
		req.Query = *d.Query
	}
	for i, it := range d.Metadata {
		item := revocation.MetadataItem{}
		if it.MetadataName != nil {
			item.Name = *it.MetadataName
		}
		if it.Value != nil {
			v, err := scalarText(*it.Value)
			if err != nil {
				return errs.Field("Metadata["+strconv.Itoa(i)+"].Value", "must be a string, number or boolean")
			}
			item.Value = v
		}
		if it.OverwriteExisting != nil {
			item.Overwrite = *it.OverwriteExisting
		}
		req.Items = append(req.Items, item)
	}
	if _, err := a.o.Revocation.UpdateMetadataAll(r.Context(), p, req); err != nil {
		return err
	}
	return noContent(w)
}

// certificateOperationDTO is Keyfactor's PKICertificateOperation, one
// history entry. certdock records operations as instants, so start and end
// are the same time.
type certificateOperationDTO struct {
	Id             int64  `json:"Id"`
	OperationStart string `json:"OperationStart"`
	OperationEnd   string `json:"OperationEnd"`
	Username       string `json:"Username"`
	Comment        string `json:"Comment"`
	Action         string `json:"Action"`
}

func (a *API) getCertificateHistory(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := checkCollectionID(r); err != nil {
		return err
	}
	page, err := query.ParsePage(r.URL.Query(), "pq.", "query.")
	if err != nil {
		return err
	}
	switch strings.ToLower(page.SortField) {
	case "", "id", "operationstart", "operationend":
	default:
		return errs.Field("SortField", "history sorts by Id or OperationStart, not %q", page.SortField)
	}
	hist, err := a.o.Revocation.History(r.Context(), id)
	if err != nil {
		return err
	}
	if !page.SortAscending {
		for i, j := 0, len(hist)-1; i < j; i, j = i+1, j-1 {
			hist[i], hist[j] = hist[j], hist[i]
		}
	}
	limit, offset := page.LimitOffset()
	out := []certificateOperationDTO{}
	for i := offset; i < len(hist) && i < offset+limit; i++ {
		h := hist[i]
		out = append(out, certificateOperationDTO{Id: h.ID, OperationStart: ts(h.At), OperationEnd: ts(h.At),
			Username: h.Actor, Comment: h.Message, Action: h.Operation})
	}
	return writeJSON(w, out)
}

// validationDTO is Keyfactor's CertificateValidationResponse.
type validationDTO struct {
	Valid   bool              `json:"Valid"`
	Results map[string]string `json:"Results"`
}

func (a *API) getCertificateValidate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := checkCollectionID(r); err != nil {
		return err
	}
	v, err := a.o.Revocation.Validate(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, validationDTO{Valid: v.Valid, Results: v.Results})
}
