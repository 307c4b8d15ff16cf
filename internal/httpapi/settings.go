package httpapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/policy"
)

// appSettingDTO is one application setting (GET /AppSetting).
type appSettingDTO struct {
	Id          int    `json:"Id"`
	DisplayName string `json:"DisplayName"`
	ShortName   string `json:"ShortName"`
	Description string `json:"Description"`
	Value       string `json:"Value"`
	ValueType   string `json:"ValueType"`
}

// appSettings are the enrollment application settings the spec names, with
// fixed ids.
var appSettings = []struct {
	id                          int
	short, display, desc, vtype string
	get                         func(policy.Settings) string
	set                         func(*policy.Settings, string) error
}{
	{1, "PasswordLength", "Password Length", "Minimum length of PFX passwords.", "Int",
		func(s policy.Settings) string { return strconv.Itoa(s.PasswordLength) },
		func(s *policy.Settings, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return errs.Field("Value", "%q is not an integer", v)
			}
			s.PasswordLength = n
			return nil
		}},
	{2, "CommonNameRegex", "Common Name Regular Expression", "Regular expression the CN must match.", "String",
		func(s policy.Settings) string { return s.CommonNameRegex },
		func(s *policy.Settings, v string) error { s.CommonNameRegex = v; return nil }},
	{3, "RequireCustomFriendlyName", "Require Custom Friendly Name", "Whether CustomFriendlyName is required.", "Boolean",
		func(s policy.Settings) string { return strconv.FormatBool(s.RequireCustomFriendlyName) },
		func(s *policy.Settings, v string) error { return parseBoolInto(&s.RequireCustomFriendlyName, v) }},
	{4, "AllowCSPs", "Allow Cryptographic Service Providers (CSPs)", "Whether MicrosoftTargetCSP may be given.", "Boolean",
		func(s policy.Settings) string { return strconv.FormatBool(s.AllowCSPs) },
		func(s *policy.Settings, v string) error { return parseBoolInto(&s.AllowCSPs, v) }},
	{5, "CSPList", "Cryptographic Service Providers (CSPs)", "Allowed CSP names, one per line.", "String",
		func(s policy.Settings) string { return strings.Join(s.CSPs, "\n") },
		func(s *policy.Settings, v string) error {
			s.CSPs = nil
			for _, c := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ';' }) {
				if c = strings.TrimSpace(c); c != "" {
					s.CSPs = append(s.CSPs, c)
				}
			}
			return nil
		}},
}

func parseBoolInto(dst *bool, v string) error {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return errs.Field("Value", "%q is not true or false", v)
	}
	*dst = b
	return nil
}

func (a *API) listAppSettings(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	s, err := a.o.Admin.Settings(r.Context())
	if err != nil {
		return err
	}
	out := make([]appSettingDTO, 0, len(appSettings))
	for _, x := range appSettings {
		out = append(out, appSettingDTO{x.id, x.display, x.short, x.desc, x.get(s), x.vtype})
	}
	return writeJSON(w, out)
}

func findAppSetting(key string) (int, bool) {
	for i, x := range appSettings {
		if strconv.Itoa(x.id) == key || strings.EqualFold(x.short, key) {
			return i, true
		}
	}
	return 0, false
}

func (a *API) getAppSetting(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	i, ok := findAppSetting(r.PathValue("id"))
	if !ok {
		return errs.NotFoundf("application setting %q was not found", r.PathValue("id"))
	}
	s, err := a.o.Admin.Settings(r.Context())
	if err != nil {
		return err
	}
	x := appSettings[i]
	return writeJSON(w, appSettingDTO{x.id, x.display, x.short, x.desc, x.get(s), x.vtype})
}

func (a *API) setAppSetting(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	i, ok := findAppSetting(r.PathValue("id"))
	if !ok {
		return errs.NotFoundf("application setting %q was not found", r.PathValue("id"))
	}
	var body struct{ Value *string }
	if err := decode(r, &body, false); err != nil {
		return err
	}
	if body.Value == nil {
		return errs.Field("Value", "is required")
	}
	s, err := a.o.Admin.Settings(r.Context())
	if err != nil {
		return err
	}
	x := appSettings[i]
	if err := x.set(&s, *body.Value); err != nil {
		return err
	}
	if err := a.o.Admin.UpdateSettings(r.Context(), p, s); err != nil {
		return err
	}
	return writeJSON(w, appSettingDTO{x.id, x.display, x.short, x.desc, x.get(s), x.vtype})
}

// globalPatternSettings is GET/PUT /EnrollmentPatterns/Settings: the
// system-wide enrollment pattern policy.
type globalPatternSettings struct {
	Regexes  []patternRegexDTO   `json:"Regexes"`
	Defaults []patternDefaultDTO `json:"Defaults"`
	Policies struct {
		AllowKeyReuse                 bool           `json:"AllowKeyReuse"`
		AllowWildcards                bool           `json:"AllowWildcards"`
		RFCEnforcement                bool           `json:"RFCEnforcement"`
		CertificateOwnerRole          int            `json:"CertificateOwnerRole"`
		DefaultCertificateOwnerRoleId *int64         `json:"DefaultCertificateOwnerRoleId"`
		KeyInfo                       policy.KeyInfo `json:"KeyInfo"`
	} `json:"Policies"`
}

func toGlobal(s policy.Settings) globalPatternSettings {
	var g globalPatternSettings
	g.Regexes, g.Defaults = []patternRegexDTO{}, []patternDefaultDTO{}
	for _, x := range s.Regexes {
		g.Regexes = append(g.Regexes, patternRegexDTO(x))
	}
	for _, x := range s.Defaults {
		g.Defaults = append(g.Defaults, patternDefaultDTO(x))
	}
	g.Policies.AllowWildcards = s.AllowWildcards
	g.Policies.RFCEnforcement = true
	g.Policies.CertificateOwnerRole = int(s.OwnerRolePolicy)
	g.Policies.DefaultCertificateOwnerRoleId = s.DefaultOwnerRoleID
	g.Policies.KeyInfo = s.KeyInfo
	return g
}

func (a *API) getPatternSettings(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	s, err := a.o.Admin.Settings(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, toGlobal(s))
}

func (a *API) putPatternSettings(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	s, err := a.o.Admin.Settings(r.Context())
	if err != nil {
		return err
	}
	g := toGlobal(s)
	if err := decode(r, &g, false); err != nil {
		return err
	}
	s.Regexes, s.Defaults = nil, nil
	for _, x := range g.Regexes {
		s.Regexes = append(s.Regexes, policy.SubjectRegex(x))
	}
	for _, x := range g.Defaults {
		s.Defaults = append(s.Defaults, policy.SubjectDefault(x))
	}
	s.AllowWildcards = g.Policies.AllowWildcards
	s.OwnerRolePolicy = policy.OwnerRolePolicy(g.Policies.CertificateOwnerRole)
	s.DefaultOwnerRoleID = g.Policies.DefaultCertificateOwnerRoleId
	s.KeyInfo = g.Policies.KeyInfo
	if err := a.o.Admin.UpdateSettings(r.Context(), p, s); err != nil {
		return err
	}
	return writeJSON(w, toGlobal(s))
}
