package httpapi

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

// ---- status ----

// endpointList is the body of GET /Status/Endpoints: each route's method and
// path, sorted, once. New builds it, as the route table does not change.
func endpointList(routes []Route) []string {
	out := make([]string, 0, len(routes))
	seen := map[string]bool{}
	for _, rt := range routes {
		s := rt.Method + " " + strings.TrimPrefix(rt.Path, "/")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func (a *API) getStatusEndpoints(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return writeJSON(w, a.endpoints)
}

func (a *API) getHealthCheck(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.o.Health(r.Context()); err != nil {
		return errs.E(errs.Unavailable, errs.CodeUnavailable, "unhealthy: the database cannot be reached")
	}
	return noContent(w)
}

// ---- certificate authorities ----

type caDTO struct {
	Id                     int64    `json:"Id"`
	LogicalName            string   `json:"LogicalName"`
	HostName               string   `json:"HostName"`
	Delegate               bool     `json:"Delegate"`
	DelegateEnrollment     bool     `json:"DelegateEnrollment"`
	ForestRoot             string   `json:"ForestRoot"`
	ConfigurationTenant    string   `json:"ConfigurationTenant"`
	Remote                 bool     `json:"Remote"`
	Agent                  *string  `json:"Agent"`
	Standalone             bool     `json:"Standalone"`
	MonitorThresholds      bool     `json:"MonitorThresholds"`
	IssuanceMax            *int     `json:"IssuanceMax"`
	IssuanceMin            *int     `json:"IssuanceMin"`
	DenialMax              *int     `json:"DenialMax"`
	FailureMax             *int     `json:"FailureMax"`
	RFCEnforcement         bool     `json:"RFCEnforcement"`
	Properties             string   `json:"Properties"`
	AllowedEnrollmentTypes int      `json:"AllowedEnrollmentTypes"`
	KeyRetention           int      `json:"KeyRetention"`
	KeyRetentionDays       *int     `json:"KeyRetentionDays"`
	ExplicitCredentials    bool     `json:"ExplicitCredentials"`
	SubscriberTerms        bool     `json:"SubscriberTerms"`
	ExplicitUser           *string  `json:"ExplicitUser"`
	UseAllowedRequesters   bool     `json:"UseAllowedRequesters"`
	AllowedRequesters      []string `json:"AllowedRequesters"`
	UseForEnrollment       bool     `json:"UseForEnrollment"`
	CAType                 int      `json:"CAType"`
}

func toCADTO(c policy.CA) caDTO {
	d := caDTO{Id: c.ID, LogicalName: c.LogicalName, HostName: c.HostName, ForestRoot: c.HostName,
		ConfigurationTenant: c.HostName, Standalone: c.Standalone, Properties: "{}", RFCEnforcement: true,
		AllowedEnrollmentTypes: c.AllowedEnrollmentTypes, KeyRetention: int(c.KeyRetention),
		AllowedRequesters: []string{}, UseForEnrollment: true}
	if c.KeyRetentionDays > 0 {
		d.KeyRetentionDays = ptr(c.KeyRetentionDays)
	}
	return d
}

func (a *API) listCAs(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	cas, err := a.o.Admin.CAs(r.Context())
	if err != nil {
		return err
	}
	out := mapList(cas, toCADTO)
	return writeJSON(w, out)
}

func (a *API) getCA(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := a.o.Admin.CA(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, toCADTO(c))
}

// ---- templates ----

type ekuDTO struct {
	Id          int    `json:"Id"`
	Oid         string `json:"Oid"`
	DisplayName string `json:"DisplayName"`
}

type templatePolicyDTO struct {
	TemplateId                      int64          `json:"TemplateId"`
	AllowKeyReuse                   bool           `json:"AllowKeyReuse"`
	AllowWildcards                  bool           `json:"AllowWildcards"`
	RFCEnforcement                  bool           `json:"RFCEnforcement"`
	CertificateOwnerRole            int            `json:"CertificateOwnerRole"`
	DefaultCertificateOwnerRoleId   *int64         `json:"DefaultCertificateOwnerRoleId"`
	DefaultCertificateOwnerRoleName *string        `json:"DefaultCertificateOwnerRoleName"`
	KeyInfo                         policy.KeyInfo `json:"KeyInfo"`
}

type templateDTO struct {
	Id                     int64             `json:"Id"`
	CommonName             string            `json:"CommonName"`
	TemplateName           string            `json:"TemplateName"`
	Oid                    string            `json:"Oid"`
	KeySize                string            `json:"KeySize"`
	KeyType                string            `json:"KeyType"`
	ForestRoot             string            `json:"ForestRoot"`
	ConfigurationTenant    string            `json:"ConfigurationTenant"`
	FriendlyName           string            `json:"FriendlyName"`
	KeyRetention           int               `json:"KeyRetention"`
	KeyRetentionDays       *int              `json:"KeyRetentionDays"`
	KeyArchival            bool              `json:"KeyArchival"`
	EnrollmentFields       []any             `json:"EnrollmentFields"`
	MetadataFields         []any             `json:"MetadataFields"`
	AllowedEnrollmentTypes int               `json:"AllowedEnrollmentTypes"`
	TemplateRegexes        []any             `json:"TemplateRegexes"`
	TemplateDefaults       []any             `json:"TemplateDefaults"`
	TemplatePolicy         templatePolicyDTO `json:"TemplatePolicy"`
	KeyAlgorithms          struct {
		TemplateId int64          `json:"TemplateId"`
		KeyInfo    policy.KeyInfo `json:"KeyInfo"`
	} `json:"KeyAlgorithms"`
	UseAllowedRequesters  bool     `json:"UseAllowedRequesters"`
	AllowedRequesters     []string `json:"AllowedRequesters"`
	DisplayName           string   `json:"DisplayName"`
	RFCEnforcement        bool     `json:"RFCEnforcement"`
	RequiresApproval      bool     `json:"RequiresApproval"`
	KeyUsage              int      `json:"KeyUsage"`
	ExtendedKeyUsages     []ekuDTO `json:"ExtendedKeyUsages"`
	Curve                 *string  `json:"Curve"`
	AllowOneClickRenewals bool     `json:"AllowOneClickRenewals"`
	KeyTypes              string   `json:"KeyTypes"`
	// certdock extensions
	ValidityDays           int     `json:"ValidityDays"`
	CertificateAuthorities []int64 `json:"CertificateAuthorities"`
}

func toTemplateDTO(t policy.Template, hostName string) templateDTO {
	d := templateDTO{Id: t.ID, CommonName: t.CommonName, TemplateName: t.TemplateName, Oid: t.OID,
		ForestRoot: hostName, ConfigurationTenant: hostName, FriendlyName: t.FriendlyName,
		KeyRetention: int(t.KeyRetention), KeyArchival: t.KeyRetention != policy.RetentionNone,
		EnrollmentFields: []any{}, MetadataFields: []any{}, AllowedEnrollmentTypes: t.AllowedEnrollmentTypes,
		TemplateRegexes: []any{}, TemplateDefaults: []any{}, AllowedRequesters: []string{},
		DisplayName: t.DisplayName, RFCEnforcement: t.RFCEnforcement, RequiresApproval: t.RequiresApproval,
		KeyUsage: t.KeyUsage, ExtendedKeyUsages: []ekuDTO{}, AllowOneClickRenewals: t.AllowOneClickRenewals,
		ValidityDays: t.ValidityDays, CertificateAuthorities: nonNilIDs(t.CAIDs)}
	if t.KeyRetentionDays > 0 {
		d.KeyRetentionDays = ptr(t.KeyRetentionDays)
	}
	d.KeyType = t.DefaultKeyType
	if t.DefaultKeySize > 0 {
		d.KeySize = strconv.Itoa(t.DefaultKeySize)
	}
	var types []string
	if t.KeyInfo.RSA != nil {
		types = append(types, "RSA")
	}
	if t.KeyInfo.ECDSA != nil {
		types = append(types, "ECC")
	}
	if t.KeyInfo.Ed25519 != nil {
		types = append(types, "Ed25519")
	}
	d.KeyTypes = strings.Join(types, ",")
	d.TemplatePolicy = templatePolicyDTO{TemplateId: t.ID, RFCEnforcement: t.RFCEnforcement, AllowWildcards: true, KeyInfo: t.KeyInfo}
	d.KeyAlgorithms.TemplateId, d.KeyAlgorithms.KeyInfo = t.ID, t.KeyInfo
	for i, o := range t.ExtendedKeyUsage {
		d.ExtendedKeyUsages = append(d.ExtendedKeyUsages, ekuDTO{Id: i + 1, Oid: o, DisplayName: certificate.EKUName(o)})
	}
	return d
}

func nonNilIDs(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (a *API) listTemplates(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ts, err := a.o.Admin.Templates(r.Context())
	if err != nil {
		return err
	}
	host := a.hostName(r)
	out := mapList(ts, func(t policy.Template) templateDTO { return toTemplateDTO(t, host) })
	return writeList(w, r, out, func(d templateDTO) map[string]any {
		return map[string]any{"Id": d.Id, "CommonName": d.CommonName, "TemplateName": d.TemplateName, "DisplayName": d.DisplayName}
	})
}

func (a *API) hostName(r *http.Request) string {
	cas, err := a.o.Admin.CAs(r.Context())
	if err == nil && len(cas) > 0 {
		return cas[0].HostName
	}
	return ""
}

func (a *API) getTemplate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := a.o.Admin.Template(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, toTemplateDTO(t, a.hostName(r)))
}

// templateUpdate is PUT /Templates: Keyfactor's update fields plus certdock's
// profile fields (ValidityDays, ExtendedKeyUsages, CertificateAuthorities),
// each applied only when present.
type templateUpdate struct {
	Id                     int64
	FriendlyName           *string
	KeyRetention           *int
	KeyRetentionDays       *int
	AllowedEnrollmentTypes *int
	RequiresApproval       *bool
	KeyUsage               *int
	AllowOneClickRenewals  *bool
	TemplatePolicy         *struct {
		RFCEnforcement *bool
		KeyInfo        *policy.KeyInfo
	}
	KeyInfo                *policy.KeyInfo
	ValidityDays           *int
	ExtendedKeyUsages      *[]string
	CertificateAuthorities *[]int64
	DefaultKeyType         *string
	DefaultKeySize         *int
	DisplayName            *string
}

func (a *API) putTemplate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var u templateUpdate
	if err := decode(r, &u, false); err != nil {
		return err
	}
	if u.Id <= 0 {
		return errs.Field("Id", "is required")
	}
	t, err := a.o.Admin.Template(r.Context(), u.Id)
	if err != nil {
		return err
	}
	setIf(&t.FriendlyName, u.FriendlyName)
	if u.KeyRetention != nil {
		t.KeyRetention = policy.KeyRetention(*u.KeyRetention)
	}
	setIf(&t.KeyRetentionDays, u.KeyRetentionDays)
	setIf(&t.AllowedEnrollmentTypes, u.AllowedEnrollmentTypes)
	setIf(&t.RequiresApproval, u.RequiresApproval)
	setIf(&t.KeyUsage, u.KeyUsage)
	setIf(&t.AllowOneClickRenewals, u.AllowOneClickRenewals)
	if u.TemplatePolicy != nil {
		setIf(&t.RFCEnforcement, u.TemplatePolicy.RFCEnforcement)
		setIf(&t.KeyInfo, u.TemplatePolicy.KeyInfo)
	}
	setIf(&t.KeyInfo, u.KeyInfo)
	setIf(&t.ValidityDays, u.ValidityDays)
	setIf(&t.ExtendedKeyUsage, u.ExtendedKeyUsages)
	setIf(&t.CAIDs, u.CertificateAuthorities)
	setIf(&t.DefaultKeyType, u.DefaultKeyType)
	setIf(&t.DefaultKeySize, u.DefaultKeySize)
	setIf(&t.DisplayName, u.DisplayName)
	t, err = a.o.Admin.SaveTemplate(r.Context(), p, t)
	if err != nil {
		return err
	}
	return writeJSON(w, toTemplateDTO(t, a.hostName(r)))
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// ---- metadata fields ----

type metadataFieldDTO struct {
	Id                      int64   `json:"Id"`
	Name                    string  `json:"Name"`
	Description             string  `json:"Description"`
	DataType                int     `json:"DataType"`
	Hint                    string  `json:"Hint"`
	Validation              *string `json:"Validation"`
	Enrollment              int     `json:"Enrollment"`
	Message                 *string `json:"Message"`
	Options                 *string `json:"Options"`
	DefaultValue            *string `json:"DefaultValue"`
	AllowAPI                bool    `json:"AllowAPI"`
	ExplicitUpdate          bool    `json:"ExplicitUpdate"`
	DisplayOrder            int     `json:"DisplayOrder"`
	CaseSensitive           bool    `json:"CaseSensitive"`
	ExemptFromActionedCount bool    `json:"ExemptFromActionedCount"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toFieldDTO(f policy.MetadataField) metadataFieldDTO {
	d := metadataFieldDTO{Id: f.ID, Name: f.Name, Description: f.Description, DataType: f.DataType, Hint: f.Hint,
		Validation: strPtr(f.Validation), Enrollment: f.Enrollment, Message: strPtr(f.Message),
		DefaultValue: strPtr(f.DefaultValue), AllowAPI: f.AllowAPI, DisplayOrder: f.DisplayOrder, CaseSensitive: f.CaseSensitive}
	if len(f.Options) > 0 {
		d.Options = ptr(strings.Join(f.Options, ","))
	}
	return d
}

type metadataFieldReq struct {
	Id            int64
	Name          string
	Description   string
	DataType      int
	Hint          string
	Validation    string
	Enrollment    int
	Message       string
	Options       string
	DefaultValue  string
	AllowAPI      *bool
	DisplayOrder  int
	CaseSensitive bool
}

func (m metadataFieldReq) field() policy.MetadataField {
	f := policy.MetadataField{ID: m.Id, Name: strings.TrimSpace(m.Name), Description: m.Description, DataType: m.DataType,
		Hint: m.Hint, Validation: m.Validation, Enrollment: m.Enrollment, Message: m.Message,
		DefaultValue: m.DefaultValue, AllowAPI: true, DisplayOrder: m.DisplayOrder, CaseSensitive: m.CaseSensitive}
	if m.AllowAPI != nil {
		f.AllowAPI = *m.AllowAPI
	}
	for _, o := range strings.Split(m.Options, ",") {
		if o = strings.TrimSpace(o); o != "" {
			f.Options = append(f.Options, o)
		}
	}
	return f
}

func (a *API) listMetadataFields(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	fs, err := a.o.Admin.MetadataFields(r.Context())
	if err != nil {
		return err
	}
	out := mapList(fs, toFieldDTO)
	return writeList(w, r, out, func(d metadataFieldDTO) map[string]any {
		return map[string]any{"Id": d.Id, "Name": d.Name, "DataType": d.DataType, "Description": d.Description}
	})
}

func (a *API) getMetadataField(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	key := r.PathValue("id")
	var (
		f   policy.MetadataField
		err error
	)
	if id, perr := strconv.ParseInt(key, 10, 64); perr == nil {
		f, err = a.o.Admin.MetadataField(r.Context(), id)
	} else {
		f, err = a.o.Admin.MetadataFieldByName(r.Context(), key)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, toFieldDTO(f))
}

func (a *API) metadataFieldInUse(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	in, err := a.o.Admin.MetadataFieldInUse(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, in)
}

func (a *API) postMetadataField(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var m metadataFieldReq
	if err := decode(r, &m, false); err != nil {
		return err
	}
	f := m.field()
	f.ID = 0
	f, err := a.o.Admin.SaveMetadataField(r.Context(), p, f)
	if err != nil {
		return err
	}
	return writeJSON(w, toFieldDTO(f))
}

func (a *API) putMetadataField(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var m metadataFieldReq
	if err := decode(r, &m, false); err != nil {
		return err
	}
	if m.Id <= 0 {
		return errs.Field("Id", "is required")
	}
	f, err := a.o.Admin.SaveMetadataField(r.Context(), p, m.field())
	if err != nil {
		return err
	}
	return writeJSON(w, toFieldDTO(f))
}

func (a *API) deleteMetadataField(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	force, err := queryBool(r.URL.Query(), "force", false)
	if err != nil {
		return err
	}
	if err := a.o.Admin.DeleteMetadataField(r.Context(), p, id, force); err != nil {
		return err
	}
	return noContent(w)
}
