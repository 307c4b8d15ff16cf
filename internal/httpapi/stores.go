package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/stores"
)

// enumInt is an enum field that clients send as a number, a numeric string
// or the enum's name (SDK v25 sends numbers; the go-client and kfutil names).
type enumInt struct {
	set bool
	v   int
}

var enumNames = map[string]int{
	"string": 0, "bool": 1, "multiplechoice": 2, "secret": 3, // store type property types
	"forbidden": 0, "optional": 1, "required": 2, // PrivateKeyAllowed, CustomAliasAllowed
	"pfx": 1, "pem": 2, // CertificateFormat
	"default": 0, "custom": 1, // password Style
}

func (f *enumInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		f.set, f.v = true, n
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("expected a number or an enum name")
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		f.set, f.v = true, n
		return nil
	}
	n, ok := enumNames[strings.ToLower(strings.TrimSpace(s))]
	if !ok {
		return errs.E(errs.Invalid, errs.CodeValidation, "%q is not a known enum name", s)
	}
	f.set, f.v = true, n
	return nil
}

// ---- store types ----

type storeTypePropertyDTO struct {
	Id           int     `json:"Id"`
	StoreTypeId  int     `json:"StoreTypeId"`
	Name         string  `json:"Name"`
	DisplayName  string  `json:"DisplayName"`
	Type         int     `json:"Type"`
	DependsOn    *string `json:"DependsOn"`
	DefaultValue *string `json:"DefaultValue"`
	Required     bool    `json:"Required"`
}

type entryParameterDTO struct {
	Id           int     `json:"Id"`
	StoreTypeId  int     `json:"StoreTypeId"`
	Name         string  `json:"Name"`
	DisplayName  string  `json:"DisplayName"`
	Type         int     `json:"Type"`
	RequiredWhen int     `json:"RequiredWhen"`
	DependsOn    *string `json:"DependsOn"`
	DefaultValue *string `json:"DefaultValue"`
	Options      *string `json:"Options"`
}

type storeTypeDTO struct {
	Name                string                     `json:"Name"`
	ShortName           string                     `json:"ShortName"`
	Capability          string                     `json:"Capability"`
	StoreType           int                        `json:"StoreType"`
	ImportType          int                        `json:"ImportType"`
	LocalStore          bool                       `json:"LocalStore"`
	SupportedOperations stores.SupportedOperations `json:"SupportedOperations"`
	Properties          []storeTypePropertyDTO     `json:"Properties"`
	EntryParameters     []entryParameterDTO        `json:"EntryParameters"`
	PasswordOptions     stores.PasswordOptions     `json:"PasswordOptions"`
	StorePathType       *string                    `json:"StorePathType"`
	StorePathValue      *string                    `json:"StorePathValue"`
	PrivateKeyAllowed   int                        `json:"PrivateKeyAllowed"`
	CertificateFormat   int                        `json:"CertificateFormat"`
	JobProperties       []string                   `json:"JobProperties"`
	ServerRequired      bool                       `json:"ServerRequired"`
	PowerShell          bool                       `json:"PowerShell"`
	BlueprintAllowed    bool                       `json:"BlueprintAllowed"`
	CustomAliasAllowed  int                        `json:"CustomAliasAllowed"`
	ServerRegistration  *int                       `json:"ServerRegistration"`
	InventoryEndpoint   *string                    `json:"InventoryEndpoint"`
	InventoryJobType    string                     `json:"InventoryJobType"`
	ManagementJobType   *string                    `json:"ManagementJobType"`
	DiscoveryJobType    *string                    `json:"DiscoveryJobType"`
	EnrollmentJobType   *string                    `json:"EnrollmentJobType"`
}

func toStoreTypeDTO(t stores.StoreType) storeTypeDTO {
	d := storeTypeDTO{Name: t.Name, ShortName: t.ShortName, Capability: t.Capability, StoreType: t.ID, ImportType: t.ID,
		LocalStore: t.LocalStore, SupportedOperations: t.SupportedOperations, PasswordOptions: t.PasswordOptions,
		StorePathType: strPtr(t.StorePathType), StorePathValue: strPtr(t.StorePathValue), PrivateKeyAllowed: t.PrivateKeyAllowed,
		CertificateFormat: t.CertificateFormat, JobProperties: t.JobProperties, ServerRequired: t.ServerRequired,
		PowerShell: t.PowerShell, BlueprintAllowed: t.BlueprintAllowed, CustomAliasAllowed: t.CustomAliasAllowed,
		ServerRegistration: ptr(t.ServerRegistration), InventoryEndpoint: strPtr(t.InventoryEndpoint),
		InventoryJobType: t.InventoryJobType, ManagementJobType: strPtr(t.ManagementJobType),
		DiscoveryJobType: strPtr(t.DiscoveryJobType), EnrollmentJobType: strPtr(t.EnrollmentJobType),
		Properties: []storeTypePropertyDTO{}, EntryParameters: []entryParameterDTO{}}
	if d.JobProperties == nil {
		d.JobProperties = []string{}
	}
	for i, p := range t.Properties {
		d.Properties = append(d.Properties, storeTypePropertyDTO{Id: i + 1, StoreTypeId: t.ID, Name: p.Name, DisplayName: p.DisplayName,
			Type: p.Type, DependsOn: strPtr(p.DependsOn), DefaultValue: strPtr(p.DefaultValue), Required: p.Required})
	}
	for i, p := range t.EntryParameters {
		d.EntryParameters = append(d.EntryParameters, entryParameterDTO{Id: i + 1, StoreTypeId: t.ID, Name: p.Name,
			DisplayName: p.DisplayName, Type: p.Type, RequiredWhen: p.RequiredWhen, DependsOn: strPtr(p.DependsOn),
			DefaultValue: strPtr(p.DefaultValue), Options: strPtr(p.Options)})
	}
	return d
}

type storeTypeRequest struct {
	StoreType           *int                        `json:"StoreType"`
	Name                string                      `json:"Name"`
	ShortName           string                      `json:"ShortName"`
	Capability          string                      `json:"Capability"`
	LocalStore          bool                        `json:"LocalStore"`
	SupportedOperations *stores.SupportedOperations `json:"SupportedOperations"`
	Properties          []struct {
		Name         string  `json:"Name"`
		DisplayName  string  `json:"DisplayName"`
		Type         enumInt `json:"Type"`
		DependsOn    string  `json:"DependsOn"`
		DefaultValue string  `json:"DefaultValue"`
		Required     bool    `json:"Required"`
	} `json:"Properties"`
	EntryParameters []struct {
		Name         string          `json:"Name"`
		DisplayName  string          `json:"DisplayName"`
		Type         enumInt         `json:"Type"`
		RequiredWhen json.RawMessage `json:"RequiredWhen"`
		DependsOn    string          `json:"DependsOn"`
		DefaultValue string          `json:"DefaultValue"`
		Options      string          `json:"Options"`
	} `json:"EntryParameters"`
	PasswordOptions *struct {
		EntrySupported bool    `json:"EntrySupported"`
		StoreRequired  bool    `json:"StoreRequired"`
		Style          enumInt `json:"Style"`
	} `json:"PasswordOptions"`
	StorePathType       string   `json:"StorePathType"`
	StorePathValue      string   `json:"StorePathValue"`
	PrivateKeyAllowed   enumInt  `json:"PrivateKeyAllowed"`
	CertificateFormat   enumInt  `json:"CertificateFormat"`
	JobProperties       []string `json:"JobProperties"`
	ServerRequired      bool     `json:"ServerRequired"`
	PowerShell          bool     `json:"PowerShell"`
	BlueprintAllowed    bool     `json:"BlueprintAllowed"`
	CustomAliasAllowed  enumInt  `json:"CustomAliasAllowed"`
	ServerRegistration  int      `json:"ServerRegistration"`
	InventoryEndpoint   string   `json:"InventoryEndpoint"`
	InventoryJobTypeId  string   `json:"InventoryJobTypeId"`
	ManagementJobTypeId string   `json:"ManagementJobTypeId"`
	DiscoveryJobTypeId  string   `json:"DiscoveryJobTypeId"`
	EnrollmentJobTypeId string   `json:"EnrollmentJobTypeId"`
}

// requiredWhen reads the usage flags as a number or as
// {HasPrivateKey, OnAdd, OnRemove, OnReenrollment}.
func requiredWhen(raw json.RawMessage, i int) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n, nil
	}
	var o struct{ HasPrivateKey, OnAdd, OnRemove, OnReenrollment bool }
	if err := json.Unmarshal(raw, &o); err != nil {
		return 0, errs.Field(fmt.Sprintf("EntryParameters[%d].RequiredWhen", i), "expected a number or an object of booleans")
	}
	for bit, on := range []bool{o.HasPrivateKey, o.OnAdd, o.OnRemove, o.OnReenrollment} {
		if on {
			n |= 1 << bit
		}
	}
	return n, nil
}

func (q storeTypeRequest) toStoreType() (stores.StoreType, error) {
	t := stores.StoreType{Name: q.Name, ShortName: q.ShortName, Capability: q.Capability, LocalStore: q.LocalStore,
		StorePathType: q.StorePathType, StorePathValue: q.StorePathValue, PrivateKeyAllowed: q.PrivateKeyAllowed.v,
		CertificateFormat: q.CertificateFormat.v, JobProperties: q.JobProperties, ServerRequired: q.ServerRequired,
		PowerShell: q.PowerShell, BlueprintAllowed: q.BlueprintAllowed, CustomAliasAllowed: q.CustomAliasAllowed.v,
		ServerRegistration: q.ServerRegistration, InventoryEndpoint: q.InventoryEndpoint,
		InventoryJobType: q.InventoryJobTypeId, ManagementJobType: q.ManagementJobTypeId,
		DiscoveryJobType: q.DiscoveryJobTypeId, EnrollmentJobType: q.EnrollmentJobTypeId}
	if q.StoreType != nil {
		t.ID = *q.StoreType
	}
	if !q.PrivateKeyAllowed.set {
		t.PrivateKeyAllowed = 1
	}
	if !q.CustomAliasAllowed.set {
		t.CustomAliasAllowed = 1
	}
	if q.SupportedOperations != nil {
		t.SupportedOperations = *q.SupportedOperations
	}
	if q.PasswordOptions != nil {
		t.PasswordOptions = stores.PasswordOptions{EntrySupported: q.PasswordOptions.EntrySupported,
			StoreRequired: q.PasswordOptions.StoreRequired, Style: q.PasswordOptions.Style.v}
	}
	for _, p := range q.Properties {
		t.Properties = append(t.Properties, stores.Property{Name: p.Name, DisplayName: p.DisplayName, Type: p.Type.v,
			DependsOn: p.DependsOn, DefaultValue: p.DefaultValue, Required: p.Required})
	}
	for i, p := range q.EntryParameters {
		rw, err := requiredWhen(p.RequiredWhen, i)
		if err != nil {
			return t, err
		}
		t.EntryParameters = append(t.EntryParameters, stores.EntryParameter{Name: p.Name, DisplayName: p.DisplayName,
			Type: p.Type.v, RequiredWhen: rw, DependsOn: p.DependsOn, DefaultValue: p.DefaultValue, Options: p.Options})
	}
	for _, g := range []struct {
		field string
		v     *string
	}{{"InventoryJobTypeId", &t.InventoryJobType}, {"ManagementJobTypeId", &t.ManagementJobType},
		{"DiscoveryJobTypeId", &t.DiscoveryJobType}, {"EnrollmentJobTypeId", &t.EnrollmentJobType}} {
		if *g.v != "" && !stores.IsUUID(*g.v) {
			return t, errs.Field(g.field, "%q is not a GUID", *g.v)
		}
		*g.v = strings.ToLower(*g.v)
	}
	if t.InventoryJobType == "" {
		t.InventoryJobType = stores.NewUUID()
	}
	return t, nil
}

func (a *API) listStoreTypes(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ts, err := a.o.Stores.StoreTypes(r.Context())
	if err != nil {
		return err
	}
	out := mapList(ts, toStoreTypeDTO)
	return writeJSON(w, out)
}

func (a *API) getStoreType(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	t, err := a.o.Stores.StoreType(r.Context(), int(id))
	if err != nil {
		return err
	}
	return writeJSON(w, toStoreTypeDTO(t))
}

func (a *API) getStoreTypeByName(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	// An array of one, as SDK v25 and the go-client decode it.
	t, err := a.o.Stores.StoreTypeByShortName(r.Context(), r.PathValue("shortName"))
	if err != nil {
		return err
	}
	return writeJSON(w, []storeTypeDTO{toStoreTypeDTO(t)})
}

// needGlobal refuses callers whose grant is container-scoped only: store
// types and containers are global configuration.
func needGlobal(p *auth.Principal, perm auth.Permission) error {
	if !p.Has(perm) {
		return errs.Forbiddenf("%s lacks the permission %s (globally) needed to change store types and containers", p.AccountName, perm)
	}
	return nil
}

func (a *API) saveStoreType(w http.ResponseWriter, r *http.Request, p *auth.Principal, create bool) error {
	if err := needGlobal(p, auth.StoresModify); err != nil {
		return err
	}
	var req storeTypeRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	t, err := req.toStoreType()
	if err != nil {
		return err
	}
	if create {
		t.ID = 0
	} else if t.ID == 0 {
		return errs.Field("StoreType", "is required to update a store type")
	}
	if !create {
		old, err := a.o.Stores.StoreType(r.Context(), t.ID)
		if err != nil {
			return err
		}
		if req.InventoryJobTypeId == "" {
			t.InventoryJobType = old.InventoryJobType
		}
	}
	t, err = a.o.Stores.SaveStoreType(r.Context(), p, t)
	if err != nil {
		return err
	}
	return writeJSON(w, toStoreTypeDTO(t))
}

func (a *API) deleteStoreType(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return deleteGlobal(w, r, p, func(ctx context.Context, id int64) error {
		return a.o.Stores.DeleteStoreType(ctx, p, int(id))
	})
}

// saveFunc is a handler that creates (POST) or updates (PUT) one resource.
type saveFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal, create bool) error

// creating and updating make a saveFunc the POST and the PUT route.
func creating(save saveFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error { return save(w, r, p, true) }
}

func updating(save saveFunc) HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error { return save(w, r, p, false) }
}

// deleteGlobal is DELETE .../{id} of global configuration (store types,
// containers): the permission globally, the path id, del, 204.
func deleteGlobal(w http.ResponseWriter, r *http.Request, p *auth.Principal, del func(ctx context.Context, id int64) error) error {
	if err := needGlobal(p, auth.StoresModify); err != nil {
		return err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := del(r.Context(), id); err != nil {
		return err
	}
	return noContent(w)
}

// ---- containers ----

type containerListDTO struct {
	Id                 int64   `json:"Id"`
	Name               string  `json:"Name"`
	OverwriteSchedules bool    `json:"OverwriteSchedules"`
	Schedule           *string `json:"Schedule"`
	CertStoreType      int     `json:"CertStoreType"`
	StoreCount         int     `json:"StoreCount"`
}

type containerDTO struct {
	Id                 int64                  `json:"Id"`
	Name               string                 `json:"Name"`
	OverwriteSchedules bool                   `json:"OverwriteSchedules"`
	Schedule           *stores.ScheduleObject `json:"Schedule"`
	CertStoreType      int                    `json:"CertStoreType"`
	CertificateStores  []storeDTO             `json:"CertificateStores"`
}

type containerRequest struct {
	Id                 int64                  `json:"Id"`
	Name               string                 `json:"Name"`
	OverwriteSchedules bool                   `json:"OverwriteSchedules"`
	Schedule           *stores.ScheduleObject `json:"Schedule"`
	CertStoreType      *int                   `json:"CertStoreType"`
}

func scheduleText(s string) *string {
	sc, err := stores.ParseSchedule(s)
	if err != nil || sc.Object() == nil {
		return nil
	}
	b, _ := json.Marshal(sc.Object())
	t := string(b)
	return &t
}

func scheduleObject(s string) *stores.ScheduleObject {
	sc, err := stores.ParseSchedule(s)
	if err != nil {
		return nil
	}
	return sc.Object()
}

func (a *API) listContainers(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	cs, err := a.o.Stores.Containers(r.Context(), r.URL.Query())
	if err != nil {
		return err
	}
	out := make([]containerListDTO, 0, len(cs))
	for _, c := range cs {
		out = append(out, containerListDTO{Id: c.ID, Name: c.Name, OverwriteSchedules: c.OverwriteSchedules,
			Schedule: scheduleText(c.Schedule), CertStoreType: c.StoreType, StoreCount: c.StoreCount})
	}
	return writeJSON(w, out)
}

func (a *API) containerDTO(r *http.Request, p *auth.Principal, c stores.Container) (containerDTO, error) {
	d := containerDTO{Id: c.ID, Name: c.Name, OverwriteSchedules: c.OverwriteSchedules, Schedule: scheduleObject(c.Schedule),
		CertStoreType: c.StoreType, CertificateStores: []storeDTO{}}
	q := map[string][]string{"QueryString": {fmt.Sprintf("ContainerId -eq %d", c.ID)}, "ReturnLimit": {"1000"}}
	sts, err := a.o.Stores.List(r.Context(), p, q)
	if err != nil {
		return d, err
	}
	for _, s := range sts {
		d.CertificateStores = append(d.CertificateStores, toStoreDTO(s))
	}
	return d, nil
}

func (a *API) getContainer(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	c, err := a.o.Stores.Container(r.Context(), id)
	if err != nil {
		return err
	}
	return a.writeContainer(w, r, p, c)
}

// writeContainer renders c with the stores p may see in it.
func (a *API) writeContainer(w http.ResponseWriter, r *http.Request, p *auth.Principal, c stores.Container) error {
	d, err := a.containerDTO(r, p, c)
	if err != nil {
		return err
	}
	return writeJSON(w, d)
}

func (a *API) saveContainer(w http.ResponseWriter, r *http.Request, p *auth.Principal, create bool) error {
	if err := needGlobal(p, auth.StoresModify); err != nil {
		return err
	}
	var req containerRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if req.CertStoreType == nil {
		return errs.Field("CertStoreType", "is required")
	}
	sc, err := stores.FromObject(req.Schedule, "Schedule")
	if err != nil {
		return err
	}
	c := stores.Container{ID: req.Id, Name: req.Name, OverwriteSchedules: req.OverwriteSchedules, Schedule: sc.String(), StoreType: *req.CertStoreType}
	if create {
		c.ID = 0
	} else if c.ID <= 0 {
		return errs.Field("Id", "is required to update a container")
	}
	c, err = a.o.Stores.SaveContainer(r.Context(), p, c)
	if err != nil {
		return err
	}
	return a.writeContainer(w, r, p, c)
}

func (a *API) deleteContainer(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return deleteGlobal(w, r, p, func(ctx context.Context, id int64) error {
		return a.o.Stores.DeleteContainer(ctx, p, id)
	})
}
