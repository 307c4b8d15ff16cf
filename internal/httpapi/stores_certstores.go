package httpapi

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/stores"
)

// secretDTO is the store password as shown: never its value.
type secretDTO struct {
	SecretValue    *string `json:"SecretValue"`
	SecretTypeGuid *string `json:"SecretTypeGuid"`
	InstanceId     *int    `json:"InstanceId"`
	HasValue       bool    `json:"HasValue"`
	IsManaged      bool    `json:"IsManaged"`
}

type reenrollmentStatusDTO struct {
	Data               bool                `json:"Data"`
	AgentId            *string             `json:"AgentId"`
	Message            *string             `json:"Message"`
	JobProperties      *string             `json:"JobProperties"`
	CustomAliasAllowed int                 `json:"CustomAliasAllowed"`
	EntryParameters    []entryParameterDTO `json:"EntryParameters"`
}

// storeDTO is Keyfactor's CertificateStore response; Storepath has a
// lower-case p and Properties is a JSON string.
type storeDTO struct {
	Id                      string                 `json:"Id"`
	ContainerId             *int64                 `json:"ContainerId"`
	DisplayName             *string                `json:"DisplayName"`
	ClientMachine           string                 `json:"ClientMachine"`
	Storepath               string                 `json:"Storepath"`
	CertStoreInventoryJobId *string                `json:"CertStoreInventoryJobId"`
	CertStoreType           int                    `json:"CertStoreType"`
	Approved                bool                   `json:"Approved"`
	CreateIfMissing         bool                   `json:"CreateIfMissing"`
	Properties              string                 `json:"Properties"`
	AgentId                 string                 `json:"AgentId"`
	AgentAssigned           bool                   `json:"AgentAssigned"`
	ContainerName           *string                `json:"ContainerName"`
	InventorySchedule       *stores.ScheduleObject `json:"InventorySchedule"`
	ReenrollmentStatus      reenrollmentStatusDTO  `json:"ReenrollmentStatus"`
	SetNewPasswordAllowed   bool                   `json:"SetNewPasswordAllowed"`
	Password                secretDTO              `json:"Password"`
}

func toStoreDTO(s stores.Store) storeDTO {
	props := s.Properties
	if props == "" {
		props = "{}"
	}
	return storeDTO{Id: s.ID, ContainerId: s.ContainerID, DisplayName: strPtr(s.DisplayName), ClientMachine: s.ClientMachine,
		Storepath: s.StorePath, CertStoreType: s.StoreType, Approved: s.Approved, CreateIfMissing: s.CreateIfMissing,
		Properties: props, AgentId: s.AgentID, AgentAssigned: s.AgentID != "", ContainerName: strPtr(s.ContainerName),
		InventorySchedule:     scheduleObject(s.InventorySchedule),
		ReenrollmentStatus:    reenrollmentStatusDTO{EntryParameters: []entryParameterDTO{}},
		SetNewPasswordAllowed: s.SetNewPasswordAllowed, Password: secretDTO{HasValue: s.HasPassword}}
}

// storeRequest is the create (POST) and update (PUT) body.
type storeRequest struct {
	Id                    string                 `json:"Id"`
	ContainerId           *int64                 `json:"ContainerId"`
	DisplayName           string                 `json:"DisplayName"`
	ClientMachine         string                 `json:"ClientMachine"`
	StorePath             string                 `json:"StorePath"` // matches "Storepath" too
	CertStoreType         *int                   `json:"CertStoreType"`
	Approved              *bool                  `json:"Approved"`
	CreateIfMissing       bool                   `json:"CreateIfMissing"`
	Properties            json.RawMessage        `json:"Properties"`
	AgentId               string                 `json:"AgentId"`
	InventorySchedule     *stores.ScheduleObject `json:"InventorySchedule"`
	SetNewPasswordAllowed bool                   `json:"SetNewPasswordAllowed"`
	Password              json.RawMessage        `json:"Password"`
}

// properties reads Properties given as a JSON string (the contract) or, leniently, as an object.
func (q storeRequest) properties() (string, error) {
	raw := bytes.TrimSpace(q.Properties)
	if len(raw) == 0 || string(raw) == "null" {
		return "{}", nil
	}
	if raw[0] == '{' {
		return string(raw), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errs.Field("Properties", "must be a string holding a JSON object")
	}
	return s, nil
}

// password reads Password: null/absent keeps (nil), {"SecretValue": "x"}
// sets, {"SecretValue": ""} clears; a bare string is accepted too.
func (q storeRequest) password() (*string, error) {
	raw := bytes.TrimSpace(q.Password)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &s, nil
	}
	var o struct {
		SecretValue *string `json:"SecretValue"`
		Value       *string `json:"Value"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, errs.Field("Password", "must be an object {\"SecretValue\": \"...\"}")
	}
	if o.SecretValue == nil {
		return o.Value, nil
	}
	return o.SecretValue, nil
}

func (q storeRequest) input() (stores.StoreInput, error) {
	props, err := q.properties()
	if err != nil {
		return stores.StoreInput{}, err
	}
	pw, err := q.password()
	if err != nil {
		return stores.StoreInput{}, err
	}
	if q.CertStoreType == nil {
		return stores.StoreInput{}, errs.Field("CertStoreType", "is required")
	}
	sc, err := stores.FromObject(q.InventorySchedule, "InventorySchedule")
	if err != nil {
		return stores.StoreInput{}, err
	}
	return stores.StoreInput{ID: strings.ToLower(strings.TrimSpace(q.Id)), ContainerID: q.ContainerId, DisplayName: q.DisplayName,
		ClientMachine: q.ClientMachine, StorePath: q.StorePath, StoreType: *q.CertStoreType, Approved: q.Approved,
		CreateIfMissing: q.CreateIfMissing, Properties: props, AgentID: q.AgentId, InventorySchedule: sc.String(),
		SetNewPasswordAllowed: q.SetNewPasswordAllowed, Password: pw}, nil
}

func (a *API) listStores(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sts, err := a.o.Stores.List(r.Context(), p, r.URL.Query())
	if err != nil {
		return err
	}
	out := mapList(sts, toStoreDTO)
	return writeJSON(w, out)
}

func (a *API) getStore(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	s, err := a.o.Stores.GetFor(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, toStoreDTO(s))
}

func (a *API) postStore(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	in, err := decodeAs(r, storeRequest.input)
	if err != nil {
		return err
	}
	s, err := a.o.Stores.Create(r.Context(), p, in)
	if err != nil {
		return err
	}
	return writeJSON(w, toStoreDTO(s))
}

// putStore updates a store. SDK v25's update body carries only Id,
// ContainerId, CreateIfMissing, Properties, AgentId, InventorySchedule and
// Password; the go-client sends the whole store. A field absent from the
// body keeps its stored value (ContainerId null removes the container).
func (a *API) putStore(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req storeRequest
	if err := decode(r, &req, false); err != nil {
		return err
	}
	if req.Id == "" {
		return errs.Field("Id", "is required to update a store")
	}
	var present map[string]json.RawMessage
	_ = json.Unmarshal(body, &present)
	has := func(name string) bool {
		for k := range present {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	}
	old, err := a.o.Stores.Get(r.Context(), strings.ToLower(strings.TrimSpace(req.Id)))
	if err != nil {
		return err
	}
	if !has("ClientMachine") {
		req.ClientMachine = old.ClientMachine
	}
	if !has("StorePath") {
		req.StorePath = old.StorePath
	}
	if !has("CertStoreType") {
		req.CertStoreType = &old.StoreType
	}
	if !has("ContainerId") {
		req.ContainerId = old.ContainerID
	}
	if !has("DisplayName") {
		req.DisplayName = old.DisplayName
	}
	if !has("CreateIfMissing") {
		req.CreateIfMissing = old.CreateIfMissing
	}
	if !has("Properties") {
		req.Properties, _ = json.Marshal(old.Properties)
	}
	if !has("AgentId") {
		req.AgentId = old.AgentID
	}
	if !has("SetNewPasswordAllowed") {
		req.SetNewPasswordAllowed = old.SetNewPasswordAllowed
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	if !has("InventorySchedule") {
		in.InventorySchedule = old.InventorySchedule
	}
	s, err := a.o.Stores.Update(r.Context(), p, in)
	if err != nil {
		return err
	}
	return writeJSON(w, toStoreDTO(s))
}

func (a *API) deleteStore(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := a.o.Stores.Delete(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	return noContent(w)
}

// ---- inventory ----

type inventoryCertDTO struct {
	Id                       *int64            `json:"Id"`
	IssuedDN                 *string           `json:"IssuedDN"`
	SerialNumber             *string           `json:"SerialNumber"`
	NotBefore                *string           `json:"NotBefore"`
	NotAfter                 *string           `json:"NotAfter"`
	SigningAlgorithm         *string           `json:"SigningAlgorithm"`
	IssuerDN                 *string           `json:"IssuerDN"`
	Thumbprint               string            `json:"Thumbprint"`
	CertStoreInventoryItemId int64             `json:"CertStoreInventoryItemId"`
	CertState                int               `json:"CertState"`
	Metadata                 map[string]string `json:"Metadata"`
}

type inventoryDTO struct {
	Name         string             `json:"Name"`
	CertStoreId  string             `json:"CertStoreId"`
	Parameters   map[string]any     `json:"Parameters"`
	Certificates []inventoryCertDTO `json:"Certificates"`
}

func (a *API) getStoreInventory(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	es, err := a.o.Stores.Inventory(r.Context(), p, r.PathValue("id"), r.URL.Query())
	if err != nil {
		return err
	}
	out := make([]inventoryDTO, 0, len(es))
	for _, e := range es {
		d := inventoryDTO{Name: e.Alias, CertStoreId: e.StoreID, Parameters: map[string]any{"PrivateKeyEntry": e.PrivateKeyEntry},
			Certificates: []inventoryCertDTO{}}
		for _, c := range e.Certificates {
			cd := inventoryCertDTO{Id: c.CertificateID, Thumbprint: c.Thumbprint, CertStoreInventoryItemId: e.ID, Metadata: map[string]string{}}
			// DER from the agent: parsed for display only, bounded by the inventory report's size cap.
			if x, err := x509.ParseCertificate(c.DER); err == nil {
				cd.IssuedDN, cd.IssuerDN = strPtr(x.Subject.String()), strPtr(x.Issuer.String())
				cd.SerialNumber = strPtr(pki.SerialHex(x))
				cd.NotBefore, cd.NotAfter = strPtr(ts(x.NotBefore)), strPtr(ts(x.NotAfter))
				cd.SigningAlgorithm = strPtr(x.SignatureAlgorithm.String())
			}
			if c.CertificateID != nil {
				cd.CertState = 1
			}
			d.Certificates = append(d.Certificates, cd)
		}
		out = append(out, d)
	}
	return writeJSON(w, out)
}

// ---- certificate locations ----

type locationCountDTO struct {
	Type  string `json:"Type"`
	Count int    `json:"Count"`
}

// certificateLocations lists where a certificate was inventoried, the
// stores the caller may not read left out.
func (a *API) certificateLocations(ctx context.Context, p *auth.Principal, certID int64) ([]locationDTO, []locationCountDTO, error) {
	lv, err := a.locationsOf(ctx, p, []int64{certID})
	if err != nil {
		return nil, nil, err
	}
	return lv.locs[certID], lv.counts[certID], nil
}

// locationsView is the readable locations of a page of certificates.
type locationsView struct {
	locs   map[int64][]locationDTO
	counts map[int64][]locationCountDTO
}

// locationsOf reads the locations of several certificates with one query
// (a list page with includeLocations=true); store type names are read once
// per type.
func (a *API) locationsOf(ctx context.Context, p *auth.Principal, certIDs []int64) (locationsView, error) {
	all, err := a.o.Stores.LocationsOfMany(ctx, certIDs)
	if err != nil {
		return locationsView{}, err
	}
	names := map[int]string{}
	typeName := func(typ int) string {
		n, ok := names[typ]
		if !ok {
			if t, err := a.o.Stores.StoreType(ctx, typ); err == nil {
				n = t.ShortName
			}
			names[typ] = n
		}
		return n
	}
	v := locationsView{locs: map[int64][]locationDTO{}, counts: map[int64][]locationCountDTO{}}
	for _, id := range certIDs {
		out := []locationDTO{}
		counts := map[int]int{}
		for _, l := range all[id] {
			if !stores.CanRead(p, stores.Store{ID: l.StoreID, ContainerID: l.ContainerID}) {
				continue
			}
			out = append(out, locationDTO{StoreMachine: l.StoreMachine, StorePath: l.StorePath, StoreType: l.StoreType,
				Alias: l.Alias, ChainLevel: l.ChainLevel, CertStoreId: l.StoreID})
			counts[l.StoreType]++
		}
		cs := []locationCountDTO{}
		for typ, n := range counts {
			cs = append(cs, locationCountDTO{Type: typeName(typ), Count: n})
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].Type < cs[j].Type })
		v.locs[id], v.counts[id] = out, cs
	}
	return v, nil
}

// addLocations fills a certificate response's Locations and LocationsCount
// (includeLocations=true).
func (a *API) addLocations(ctx context.Context, p *auth.Principal, d *certificateDTO) error {
	if a.o.Stores == nil {
		return nil
	}
	locs, counts, err := a.certificateLocations(ctx, p, d.Id)
	if err != nil {
		return err
	}
	setLocations(d, locs, counts)
	return nil
}

// addLocationsPage fills Locations and LocationsCount of a page of
// certificate responses with one locations query.
func (a *API) addLocationsPage(ctx context.Context, p *auth.Principal, ds []certificateDTO) error {
	if a.o.Stores == nil || len(ds) == 0 {
		return nil
	}
	ids := make([]int64, len(ds))
	for i := range ds {
		ids[i] = ds[i].Id
	}
	lv, err := a.locationsOf(ctx, p, ids)
	if err != nil {
		return err
	}
	for i := range ds {
		setLocations(&ds[i], lv.locs[ds[i].Id], lv.counts[ds[i].Id])
	}
	return nil
}

func setLocations(d *certificateDTO, locs []locationDTO, counts []locationCountDTO) {
	if locs == nil {
		locs = []locationDTO{}
	}
	d.Locations = locs
	d.LocationsCount = make([]any, 0, len(counts))
	for _, c := range counts {
		d.LocationsCount = append(d.LocationsCount, c)
	}
}

// certificateLocationsResponse is GET /Certificates/Locations/{id}
// (SDK v25 CertificatesCertificateLocationsResponse).
type certificateLocationsResponse struct {
	Details []certificateLocationsGroup `json:"Details"`
}

type certificateLocationsGroup struct {
	StoreType   string                      `json:"StoreType"`
	StoreTypeId int                         `json:"StoreTypeId"`
	StoreCount  int                         `json:"StoreCount"`
	Locations   []certificateLocationDetail `json:"Locations"`
}

type certificateLocationDetail struct {
	StoreId       string  `json:"StoreId"`
	StoreTypeId   int     `json:"StoreTypeId"`
	ClientMachine string  `json:"ClientMachine"`
	StorePath     string  `json:"StorePath"`
	AgentPool     *string `json:"AgentPool"`
	Alias         string  `json:"Alias"`
	IPAddress     *string `json:"IPAddress"`
	Port          *int    `json:"Port"`
	NetworkName   *string `json:"NetworkName"`
}

// getCertificateSub serves GET /Certificates/{sub}/{id}: today only
// /Certificates/Locations/{id}. (A literal /Certificates/Locations/{id}
// pattern would conflict in ServeMux with /Certificates/{id}/History.)
func (a *API) getCertificateSub(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !strings.EqualFold(r.PathValue("sub"), "Locations") {
		return errs.NotFoundf("no endpoint %s %s", r.Method, r.URL.Path)
	}
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if _, err := a.o.Certificates.Get(r.Context(), id); err != nil {
		return err
	}
	locs, _, err := a.certificateLocations(r.Context(), p, id)
	if err != nil {
		return err
	}
	byType := map[int]*certificateLocationsGroup{}
	seen := map[int]map[string]bool{}
	var order []int
	for _, l := range locs {
		g, ok := byType[l.StoreType]
		if !ok {
			name := ""
			if t, err := a.o.Stores.StoreType(r.Context(), l.StoreType); err == nil {
				name = t.ShortName
			}
			g = &certificateLocationsGroup{StoreType: name, StoreTypeId: l.StoreType, Locations: []certificateLocationDetail{}}
			byType[l.StoreType] = g
			seen[l.StoreType] = map[string]bool{}
			order = append(order, l.StoreType)
		}
		g.Locations = append(g.Locations, certificateLocationDetail{StoreId: l.CertStoreId, StoreTypeId: l.StoreType,
			ClientMachine: l.StoreMachine, StorePath: l.StorePath, Alias: l.Alias})
		seen[l.StoreType][l.CertStoreId] = true
	}
	sort.Ints(order)
	out := certificateLocationsResponse{Details: []certificateLocationsGroup{}}
	for _, t := range order {
		g := byType[t]
		g.StoreCount = len(seen[t])
		out.Details = append(out.Details, *g)
	}
	return writeJSON(w, out)
}
