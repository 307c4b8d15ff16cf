package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

type patternTemplateDTO struct {
	Id          int64  `json:"Id"`
	Name        string `json:"Name"`
	CommonName  string `json:"CommonName"`
	DisplayName string `json:"DisplayName"`
}

type patternCADTO struct {
	Id          int64  `json:"Id"`
	LogicalName string `json:"LogicalName"`
	HostName    string `json:"HostName"`
	CAName      string `json:"CAName"`
}

type patternPolicyDTO struct {
	AllowKeyReuse                   bool            `json:"AllowKeyReuse"`
	AllowWildcards                  bool            `json:"AllowWildcards"`
	RFCEnforcement                  bool            `json:"RFCEnforcement"`
	CertificateOwnerRole            int             `json:"CertificateOwnerRole"`
	DefaultCertificateOwnerRoleId   *int64          `json:"DefaultCertificateOwnerRoleId"`
	DefaultCertificateOwnerRoleName *string         `json:"DefaultCertificateOwnerRoleName"`
	KeyInfo                         *policy.KeyInfo `json:"KeyInfo"`
}

type patternFieldDTO struct {
	Name     string   `json:"Name"`
	DataType int      `json:"DataType"`
	Options  []string `json:"Options"`
	Required bool     `json:"Required"`
}

type patternMetadataDTO struct {
	MetadataId    int64   `json:"MetadataId"`
	DefaultValue  *string `json:"DefaultValue"`
	Validation    *string `json:"Validation"`
	Enrollment    int     `json:"Enrollment"`
	Message       *string `json:"Message"`
	CaseSensitive bool    `json:"CaseSensitive"`
}

type patternRegexDTO struct {
	SubjectPart   string `json:"SubjectPart"`
	Regex         string `json:"Regex"`
	Error         string `json:"Error"`
	CaseSensitive bool   `json:"CaseSensitive"`
}

type patternDefaultDTO struct {
	SubjectPart string `json:"SubjectPart"`
	Value       string `json:"Value"`
}

type patternDTO struct {
	Id                     int64                `json:"Id"`
	Name                   string               `json:"Name"`
	Description            string               `json:"Description"`
	Template               patternTemplateDTO   `json:"Template"`
	TemplateDefault        bool                 `json:"TemplateDefault"`
	UseADPermissions       bool                 `json:"UseADPermissions"`
	AssociatedRoles        []any                `json:"AssociatedRoles"`
	CertificateAuthorities []patternCADTO       `json:"CertificateAuthorities"`
	AllowedEnrollmentTypes int                  `json:"AllowedEnrollmentTypes"`
	Regexes                []patternRegexDTO    `json:"Regexes"`
	MetadataFields         []patternMetadataDTO `json:"MetadataFields"`
	RestrictCAs            bool                 `json:"RestrictCAs"`
	Policies               patternPolicyDTO     `json:"Policies"`
	Defaults               []patternDefaultDTO  `json:"Defaults"`
	EnrollmentFields       []patternFieldDTO    `json:"EnrollmentFields"`
	RequiresApproval       bool                 `json:"RequiresApproval"`
}

// patternRefs memoises, for one request, what toPatternDTO reads besides the
// pattern: listing N patterns then reads the CAs once and each template and
// owner role once, instead of once per pattern. A failed read leaves its
// part of the DTO empty, as for a single pattern.
type patternRefs struct {
	cas       []policy.CA
	casRead   bool
	templates map[int64]*policy.Template
	roles     map[int64]*auth.Role
}

func (x *patternRefs) template(a *API, r *http.Request, id int64) *policy.Template {
	return memoRead(&x.templates, id, func() (policy.Template, error) { return a.o.Admin.Template(r.Context(), id) })
}

func (x *patternRefs) role(a *API, r *http.Request, id int64) *auth.Role {
	return memoRead(&x.roles, id, func() (auth.Role, error) { return a.o.Admin.Role(r.Context(), id) })
}

// memoRead returns (*m)[id], reading it first when absent; a failed read is
// remembered as nil.
func memoRead[V any](m *map[int64]*V, id int64, read func() (V, error)) *V {
	if v, ok := (*m)[id]; ok {
		return v
	}
	var out *V
	if v, err := read(); err == nil {
		out = &v
	}
	if *m == nil {
		*m = map[int64]*V{}
	}
	(*m)[id] = out
	return out
}

func (x *patternRefs) allCAs(a *API, r *http.Request) []policy.CA {
	if !x.casRead {
		x.cas, _ = a.o.Admin.CAs(r.Context())
		x.casRead = true
	}
	return x.cas
}

func (a *API) toPatternDTO(r *http.Request, p policy.Pattern) patternDTO {
	return a.toPatternDTOWith(r, p, &patternRefs{})
}

func (a *API) toPatternDTOWith(r *http.Request, p policy.Pattern, refs *patternRefs) patternDTO {
	d := patternDTO{Id: p.ID, Name: p.Name, Description: p.Description, TemplateDefault: p.TemplateDefault,
		AssociatedRoles: []any{}, CertificateAuthorities: []patternCADTO{}, AllowedEnrollmentTypes: p.AllowedEnrollmentTypes,
		Regexes: []patternRegexDTO{}, MetadataFields: []patternMetadataDTO{}, RestrictCAs: p.RestrictCAs,
		Defaults: []patternDefaultDTO{}, EnrollmentFields: []patternFieldDTO{}, RequiresApproval: p.RequiresApproval}
	if t := refs.template(a, r, p.TemplateID); t != nil {
		d.Template = patternTemplateDTO{Id: t.ID, Name: t.TemplateName, CommonName: t.CommonName, DisplayName: t.DisplayName}
	}
	for _, id := range p.CAIDs {
		for _, c := range refs.allCAs(a, r) {
			if c.ID == id {
				d.CertificateAuthorities = append(d.CertificateAuthorities, patternCADTO{Id: c.ID, LogicalName: c.LogicalName, HostName: c.HostName, CAName: c.Name()})
			}
		}
	}
	for _, x := range p.Regexes {
		d.Regexes = append(d.Regexes, patternRegexDTO(x))
	}
	for _, x := range p.Defaults {
		d.Defaults = append(d.Defaults, patternDefaultDTO(x))
	}
	for _, x := range p.EnrollmentFields {
		opts := x.Options
		if opts == nil {
			opts = []string{}
		}
		d.EnrollmentFields = append(d.EnrollmentFields, patternFieldDTO{Name: x.Name, DataType: x.DataType, Options: opts, Required: x.Required})
	}
	for _, m := range p.MetadataRules {
		d.MetadataFields = append(d.MetadataFields, patternMetadataDTO{MetadataId: m.MetadataID, DefaultValue: strPtr(m.DefaultValue),
			Validation: strPtr(m.Validation), Enrollment: m.Enrollment, Message: strPtr(m.Message)})
	}
	d.Policies = patternPolicyDTO{AllowWildcards: p.AllowWildcards, RFCEnforcement: true, CertificateOwnerRole: int(p.OwnerRolePolicy),
		DefaultCertificateOwnerRoleId: p.DefaultOwnerRoleID, KeyInfo: p.KeyInfo}
	if p.DefaultOwnerRoleID != nil {
		if role := refs.role(a, r, *p.DefaultOwnerRoleID); role != nil {
			d.Policies.DefaultCertificateOwnerRoleName = &role.Name
		}
	}
	return d
}

// patternReq is the body of POST and PUT /EnrollmentPatterns. Template is the
// template id (the SDK's create request); an object {Id} is accepted too.
type patternReq struct {
	Id                     int64
	Name                   string
	Description            string
	Template               flexID
	TemplateDefault        bool
	CertificateAuthorities []flexID
	AllowedEnrollmentTypes int
	RestrictCAs            bool
	Regexes                []patternRegexDTO
	Defaults               []patternDefaultDTO
	EnrollmentFields       []patternFieldDTO
	MetadataFields         []patternMetadataDTO
	Policies               *struct {
		AllowWildcards                bool
		CertificateOwnerRole          int
		DefaultCertificateOwnerRoleId *int64
		KeyInfo                       *policy.KeyInfo
	}
	RequiresApproval bool
}

func (q patternReq) pattern() (policy.Pattern, error) {
	p := policy.Pattern{ID: q.Id, Name: q.Name, Description: q.Description, TemplateID: int64(q.Template),
		TemplateDefault: q.TemplateDefault, AllowedEnrollmentTypes: q.AllowedEnrollmentTypes, RestrictCAs: q.RestrictCAs,
		RequiresApproval: q.RequiresApproval}
	for _, c := range q.CertificateAuthorities {
		p.CAIDs = append(p.CAIDs, int64(c))
	}
	for _, x := range q.Regexes {
		p.Regexes = append(p.Regexes, policy.SubjectRegex(x))
	}
	for _, x := range q.Defaults {
		p.Defaults = append(p.Defaults, policy.SubjectDefault(x))
	}
	for _, x := range q.EnrollmentFields {
		p.EnrollmentFields = append(p.EnrollmentFields, policy.EnrollmentField{Name: x.Name, DataType: x.DataType, Options: x.Options, Required: x.Required})
	}
	for _, m := range q.MetadataFields {
		rule := policy.MetadataRule{MetadataID: m.MetadataId, Enrollment: m.Enrollment}
		if m.DefaultValue != nil {
			rule.DefaultValue = *m.DefaultValue
		}
		if m.Validation != nil {
			rule.Validation = *m.Validation
		}
		if m.Message != nil {
			rule.Message = *m.Message
		}
		p.MetadataRules = append(p.MetadataRules, rule)
	}
	if q.Policies != nil {
		p.AllowWildcards = q.Policies.AllowWildcards
		p.OwnerRolePolicy = policy.OwnerRolePolicy(q.Policies.CertificateOwnerRole)
		p.DefaultOwnerRoleID = q.Policies.DefaultCertificateOwnerRoleId
		p.KeyInfo = q.Policies.KeyInfo
	} else {
		p.AllowWildcards = true
	}
	return p, nil
}

// flexID decodes an id given as a number, a numeric string or an object
// with an Id member.
type flexID int64

func (f *flexID) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexID(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return errs.Field("Id", "%q is not a number", s)
		}
		*f = flexID(v)
		return nil
	}
	var o struct{ Id int64 }
	if err := json.Unmarshal(b, &o); err != nil {
		return errs.Field("Id", "expected a number or an object with an Id")
	}
	*f = flexID(o.Id)
	return nil
}

func (a *API) listPatterns(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ps, err := a.o.Admin.Patterns(r.Context())
	if err != nil {
		return err
	}
	refs := &patternRefs{}
	out := mapList(ps, func(x policy.Pattern) patternDTO { return a.toPatternDTOWith(r, x, refs) })
	return writeList(w, r, out, func(d patternDTO) map[string]any {
		return map[string]any{"Id": d.Id, "Name": d.Name, "Description": d.Description, "TemplateId": d.Template.Id,
			"Template": d.Template.CommonName, "TemplateDefault": d.TemplateDefault}
	})
}

func (a *API) getPattern(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	x, err := a.o.Admin.Pattern(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, a.toPatternDTO(r, x))
}

func (a *API) postPattern(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	x, err := decodeAs(r, patternReq.pattern)
	if err != nil {
		return err
	}
	x.ID = 0
	if force, _ := queryBool(r.URL.Query(), "forceTemplateDefault", false); force {
		x.TemplateDefault = true
	}
	x, err = a.o.Admin.SavePattern(r.Context(), p, x)
	if err != nil {
		return err
	}
	return writeJSON(w, a.toPatternDTO(r, x))
}

func (a *API) putPattern(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var q patternReq
	if err := decode(r, &q, false); err != nil {
		return err
	}
	if v := r.PathValue("id"); v != "" {
		id, err := pathID(r, "id")
		if err != nil {
			return err
		}
		if q.Id != 0 && q.Id != id {
			return errs.Field("Id", "%d does not match the id %d in the path", q.Id, id)
		}
		q.Id = id
	}
	if q.Id <= 0 {
		return errs.Field("Id", "is required")
	}
	if _, err := a.o.Admin.Pattern(r.Context(), q.Id); err != nil {
		return err
	}
	x, err := q.pattern()
	if err != nil {
		return err
	}
	x, err = a.o.Admin.SavePattern(r.Context(), p, x)
	if err != nil {
		return err
	}
	return writeJSON(w, a.toPatternDTO(r, x))
}

func (a *API) deletePattern(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := a.o.Admin.DeletePattern(r.Context(), p, id); err != nil {
		return err
	}
	return noContent(w)
}
