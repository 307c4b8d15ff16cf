package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/keystore"
)

// apiVersion reads x-keyfactor-api-version: absent, 1 or 1.0 is v1; 2 or
// 2.0 is v2.
func apiVersion(r *http.Request) (int, error) {
	switch v := strings.TrimSpace(r.Header.Get("x-keyfactor-api-version")); v {
	case "", "1", "1.0":
		return 1, nil
	case "2", "2.0":
		return 2, nil
	default:
		return 0, errs.Field("x-keyfactor-api-version", "%q is not a supported API version (1 or 2)", v)
	}
}

// stringMap decodes a JSON object whose values may be strings, numbers,
// booleans or null into strings (Metadata and AdditionalEnrollmentFields are
// map<string, any> on the wire).
type stringMap map[string]string

func (m *stringMap) UnmarshalJSON(b []byte) error { return m.decodeNamed(b, "") }

// decodeNamed decodes the map; errors name parent.key (parent empty: key).
func (m *stringMap) decodeNamed(b []byte, parent string) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		if parent != "" {
			return errs.Field(parent, "must be a JSON object")
		}
		return fmt.Errorf("field must be a JSON object")
	}
	out := stringMap{}
	for k, v := range raw {
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		t := strings.TrimSpace(string(v))
		if t == "null" {
			out[k] = ""
			continue
		}
		if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
			name := k
			if parent != "" {
				name = parent + "." + k
			}
			return errs.Field(name, "must be a string, number or boolean")
		}
		out[k] = t
	}
	*m = out
	return nil
}

// metadataMap and fieldsMap are the PFX request's Metadata and
// AdditionalEnrollmentFields: their errors name the request field
// ("Metadata.Team: ...", not "Team: ...").
type (
	metadataMap stringMap
	fieldsMap   stringMap
)

func (m *metadataMap) UnmarshalJSON(b []byte) error {
	return (*stringMap)(m).decodeNamed(b, "Metadata")
}

func (m *fieldsMap) UnmarshalJSON(b []byte) error {
	return (*stringMap)(m).decodeNamed(b, "AdditionalEnrollmentFields")
}

// sansMap is a request's SANs: {"dns": ["a", "b"], "ip4": [...]}. Its
// errors name the key ("SANs.dns: ..."), which encoding/json does not.
type sansMap map[string][]string

func (m *sansMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errs.Field("SANs", "must be a JSON object of arrays, like {\"dns\": [\"host.example.com\"]}")
	}
	out := sansMap{}
	for k, v := range raw {
		var vals []string
		if err := json.Unmarshal(v, &vals); err != nil {
			return errs.Field("SANs."+k, "must be a JSON array of strings")
		}
		out[k] = vals
	}
	*m = out
	return nil
}

// storeEntry accepts both spellings clients send: the SDK's StoreId +
// Properties and the go-client's CertificateStoreId + JobFields.
type storeEntry struct {
	StoreId            string
	CertificateStoreId string
	Alias              string
	Overwrite          bool
	Properties         map[string]any
	JobFields          map[string]any
}

type pfxReq struct {
	CustomFriendlyName                   string
	Password                             string
	PopulateMissingValuesFromAD          bool
	Subject                              string
	IncludeChain                         *bool
	IncludeSubjectHeader                 *bool
	RenewalCertificateId                 int64
	CertificateAuthority                 string
	Template                             string
	EnrollmentPatternId                  int64
	Timestamp                            *string
	SANs                                 sansMap
	Metadata                             metadataMap
	AdditionalEnrollmentFields           fieldsMap
	KeyType                              string
	KeyLength                            flexInt
	Curve                                string
	ChainOrder                           string
	UseLegacyEncryption                  bool
	MicrosoftTargetCSP                   string
	OwnerRoleId                          int64
	OwnerRoleName                        string
	Stores                               []storeEntry
	InstallIntoExistingCertificateStores *bool // absent = true (the spec's default)
	JobTime                              *string
}

// flexInt accepts a number or a numeric string (the spec calls KeyLength a
// string; the SDK sends a number).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexInt(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errs.Field("KeyLength", "must be a number")
	}
	if strings.TrimSpace(s) == "" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return errs.Field("KeyLength", "%q is not a number", s)
	}
	*f = flexInt(n)
	return nil
}

// parseTimestamp parses an ISO 8601 UTC time; a time without a zone is UTC.
func parseTimestamp(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errs.Field(field, "%q is not an ISO 8601 UTC date and time (e.g. 2023-11-19T16:23:01Z)", s)
}

// optionalTimestamp parses an optional ISO 8601 UTC time: nil when absent or blank.
func optionalTimestamp(field string, s *string) (*time.Time, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	t, err := parseTimestamp(field, *s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func chainOrder(s string) (keystore.ChainOrder, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "endentityfirst":
		return keystore.EndEntityFirst, nil
	case "rootfirst":
		return keystore.RootFirst, nil
	}
	return 0, errs.Field("ChainOrder", "%q is not EndEntityFirst or RootFirst", s)
}

func (q pfxReq) toRequest(version int, format string) (enroll.PFXRequest, error) {
	req := enroll.PFXRequest{
		APIVersion: version, Format: enroll.Format(strings.ToUpper(strings.TrimSpace(format))),
		Template: strings.TrimSpace(q.Template), EnrollmentPatternID: q.EnrollmentPatternId,
		CertificateAuthority: strings.TrimSpace(q.CertificateAuthority), KeyType: strings.TrimSpace(q.KeyType),
		KeyLength: int(q.KeyLength), Curve: strings.TrimSpace(q.Curve), Subject: q.Subject, SANs: q.SANs,
		Password: q.Password, CustomFriendlyName: q.CustomFriendlyName, MicrosoftTargetCSP: q.MicrosoftTargetCSP,
		Metadata: q.Metadata, AdditionalEnrollmentFields: q.AdditionalEnrollmentFields,
		OwnerRoleID: q.OwnerRoleId, OwnerRoleName: strings.TrimSpace(q.OwnerRoleName),
		RenewalCertificateID: q.RenewalCertificateId, PopulateMissingValuesFromAD: q.PopulateMissingValuesFromAD,
		IncludeChain: true, IncludeSubjectHeader: true, UseLegacyEncryption: q.UseLegacyEncryption,
		InstallIntoExistingCertificateStores: q.InstallIntoExistingCertificateStores == nil || *q.InstallIntoExistingCertificateStores,
	}
	if q.IncludeChain != nil {
		req.IncludeChain = *q.IncludeChain
	}
	if q.IncludeSubjectHeader != nil {
		req.IncludeSubjectHeader = *q.IncludeSubjectHeader
	}
	var err error
	if req.ChainOrder, err = chainOrder(q.ChainOrder); err != nil {
		return req, err
	}
	if q.Timestamp == nil || strings.TrimSpace(*q.Timestamp) == "" {
		return req, errs.Field("Timestamp", "is required (ISO 8601 UTC, e.g. 2023-11-19T16:23:01Z)")
	}
	if req.Timestamp, err = parseTimestamp("Timestamp", *q.Timestamp); err != nil {
		return req, err
	}
	if version >= 2 {
		if req.JobTime, err = optionalTimestamp("JobTime", q.JobTime); err != nil {
			return req, err
		}
		for _, s := range q.Stores {
			t := s.target() // the alias goes on untrimmed, as enrollment always passed it
			req.Stores = append(req.Stores, enroll.StoreTarget{StoreID: t.StoreID, Alias: s.Alias, Overwrite: t.Overwrite, Properties: t.Properties})
		}
	}
	return req, nil
}

type pkcs12ResponseDTO struct {
	SerialNumber              string            `json:"SerialNumber"`
	IssuerDN                  string            `json:"IssuerDN"`
	Thumbprint                string            `json:"Thumbprint"`
	KeyfactorId               int64             `json:"KeyfactorId"`
	Pkcs12Blob                *string           `json:"Pkcs12Blob"`
	Certificates              []string          `json:"Certificates"`
	Password                  string            `json:"Password"`
	WorkflowInstanceId        string            `json:"WorkflowInstanceId"`
	WorkflowReferenceId       int64             `json:"WorkflowReferenceId"`
	StoreIdsInvalidForRenewal []string          `json:"StoreIdsInvalidForRenewal"`
	KeyfactorRequestId        int64             `json:"KeyfactorRequestId"`
	RequestDisposition        string            `json:"RequestDisposition"`
	DispositionMessage        string            `json:"DispositionMessage"`
	EnrollmentContext         map[string]string `json:"EnrollmentContext"`
}

type pfxResponseDTO struct {
	SuccessfulStores       *[]string         `json:"SuccessfulStores,omitempty"`
	CertificateInformation pkcs12ResponseDTO `json:"CertificateInformation"`
	Metadata               map[string]string `json:"Metadata"`
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

func (a *API) postEnrollPFX(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	version, err := apiVersion(r)
	if err != nil {
		return err
	}
	format := r.Header.Get("x-certificateformat")
	if strings.TrimSpace(format) == "" {
		return errs.Field("x-certificateformat", "the header is required (PFX, PEM, ZIP, JKS, STORE or REPLACE)")
	}
	var q pfxReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	req, err := q.toRequest(version, format)
	if err != nil {
		return err
	}
	res, err := a.o.Enroll.EnrollPFX(r.Context(), p, req)
	if err != nil {
		return err
	}
	info := pkcs12ResponseDTO{
		SerialNumber: res.SerialNumber, IssuerDN: res.IssuerDN, Thumbprint: res.Thumbprint, KeyfactorId: res.CertificateID,
		Password: res.Password, WorkflowInstanceId: zeroGUID, StoreIdsInvalidForRenewal: []string{},
		KeyfactorRequestId: res.RequestID, RequestDisposition: res.Disposition, DispositionMessage: res.DispositionMessage,
		EnrollmentContext: res.EnrollmentContext,
	}
	if len(res.StoreIdsInvalidForRenewal) > 0 {
		info.StoreIdsInvalidForRenewal = res.StoreIdsInvalidForRenewal
	}
	if res.WorkflowInstanceID != "" { // PENDING: waiting for approval (docs/workflow.md)
		info.WorkflowInstanceId, info.WorkflowReferenceId = res.WorkflowInstanceID, res.RequestID
	}
	if res.Blob != nil {
		info.Pkcs12Blob = ptr(base64.StdEncoding.EncodeToString(res.Blob))
	}
	out := pfxResponseDTO{CertificateInformation: info, Metadata: res.Metadata}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	if version >= 2 {
		stores := res.SuccessfulStores
		if stores == nil {
			stores = []string{}
		}
		out.SuccessfulStores = &stores
	}
	return writeJSON(w, out)
}
