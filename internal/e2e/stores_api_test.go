package e2e

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"

	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// TestStoresAPI drives the store type, container, store, agent and job
// endpoints with SDK v25 (plus plain HTTP for what the SDK cannot send) over
// HTTPS, on SQLite and PostgreSQL.
func TestStoresAPI(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { runStoresAPI(t, start(t, ""), "") })
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresDSN(t)
		runStoresAPI(t, start(t, dsn), dsn)
	})
}

// catalogue opens the store catalogue on a second connection to the
// server's database, for fixtures that stand in for the agent protocol.
func catalogue(t *testing.T, in *instance, dsn string) *stores.Service {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn, in.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return stores.New(stores.Options{Repo: db.Q(),
		InTx: func(ctx context.Context, fn func(stores.Repo) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Dialect: db.QueryDialect(), IsNotFound: func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		IsDuplicate: func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) }})
}

// registerAgentFixture records an agent the way the agent protocol's
// registration does (stores.Service.RegisterAgent), through a second
// connection to the server's database: these tests are about the management
// API, the protocol has its own end-to-end test.
func registerAgentFixture(t *testing.T, in *instance, dsn, machine string) string {
	t.Helper()
	a, err := catalogue(t, in, dsn).RegisterAgent(context.Background(), stores.Agent{ClientMachine: machine, Username: "agent-bootstrap",
		Version: "1.0.0", Capabilities: []string{"CertStores.JKS.Inventory", "CertStores.JKS.Management", "CertStores.PEM.Inventory"}})
	if err != nil {
		t.Fatal(err)
	}
	return a.AgentID
}

func runStoresAPI(t *testing.T, in *instance, dsn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}
	agentID := registerAgentFixture(t, in, dsn, "web1.example.com")

	// ---- store types ----
	types, _, err := c.CertificateStoreTypeApi.NewGetCertificateStoreTypesRequest(ctx).Execute()
	if err != nil {
		t.Fatalf("GET CertificateStoreTypes: %s", sdkErr(err))
	}
	byShort := map[string]int32{}
	for _, ty := range types {
		byShort[ty.GetShortName()] = ty.GetStoreType()
	}
	if byShort["PEM"] != 100 || byShort["PKCS12"] != 101 || byShort["JKS"] != 102 {
		t.Fatalf("built-in store types = %v, want PEM 100, PKCS12 101, JKS 102", byShort)
	}
	jks, _, err := c.CertificateStoreTypeApi.NewGetCertificateStoreTypesByIdRequest(ctx, 102).Execute()
	if err != nil {
		t.Fatalf("GET CertificateStoreTypes/102: %s", sdkErr(err))
	}
	po := jks.GetPasswordOptions()
	if jks.GetShortName() != "JKS" || !po.GetStoreRequired() || !po.GetEntrySupported() ||
		!strings.EqualFold(jks.GetManagementJobType(), stores.JobJKSManagement) {
		t.Errorf("JKS type = %s %+v management %q", jks.GetShortName(), po, jks.GetManagementJobType())
	}
	byName, _, err := c.CertificateStoreTypeApi.NewGetCertificateStoreTypesNameNameRequest(ctx, "pkcs12").Execute()
	if err != nil || len(byName) != 1 || byName[0].GetStoreType() != 101 {
		t.Fatalf("GET CertificateStoreTypes/Name/pkcs12 = %+v, %v", byName, err)
	}
	ctReq := kfv1.NewCertificateStoresTypesCertificateStoreTypeCreationRequest("Custom e2e", "E2ECUST")
	prop := kfv1.CSSCMSDataModelModelsCertificateStoreTypeProperty{}
	prop.SetName("Region")
	prop.SetDisplayName("Region")
	prop.SetRequired(true)
	ctReq.SetProperties([]kfv1.CSSCMSDataModelModelsCertificateStoreTypeProperty{prop})
	custom, _, err := c.CertificateStoreTypeApi.NewCreateCertificateStoreTypesRequest(ctx).CertificateStoresTypesCertificateStoreTypeCreationRequest(*ctReq).Execute()
	if err != nil {
		t.Fatalf("POST CertificateStoreTypes: %s", sdkErr(err))
	}
	if custom.GetStoreType() < 1000 || custom.GetShortName() != "E2ECUST" || len(custom.GetProperties()) != 1 || custom.GetInventoryJobType() == "" {
		t.Errorf("created store type = %+v", custom)
	}
	upReq := kfv1.NewCertificateStoresTypesCertificateStoreTypeUpdateRequestWithDefaults()
	upReq.SetStoreType(custom.GetStoreType())
	upReq.SetName("Custom e2e renamed")
	upReq.SetShortName("E2ECUST")
	upReq.SetProperties([]kfv1.CSSCMSDataModelModelsCertificateStoreTypeProperty{prop})
	upd, _, err := c.CertificateStoreTypeApi.NewUpdateCertificateStoreTypesRequest(ctx).CertificateStoresTypesCertificateStoreTypeUpdateRequest(*upReq).Execute()
	if err != nil || upd.GetName() != "Custom e2e renamed" || upd.GetInventoryJobType() != custom.GetInventoryJobType() {
		t.Fatalf("PUT CertificateStoreTypes = %+v, %v", upd, err)
	}

	// ---- containers ----
	cReq := kfv1.NewCSSCMSDataModelModelsCertStoreContainerRequest()
	cReq.SetName("web-servers")
	cReq.SetCertStoreType(102)
	contA, _, err := c.CertificateStoreContainerApi.NewCreateCertificateStoreContainersRequest(ctx).CSSCMSDataModelModelsCertStoreContainerRequest(*cReq).Execute()
	if err != nil {
		t.Fatalf("POST CertificateStoreContainers: %s", sdkErr(err))
	}
	cReq.SetName("db-servers")
	contB, _, err := c.CertificateStoreContainerApi.NewCreateCertificateStoreContainersRequest(ctx).CSSCMSDataModelModelsCertStoreContainerRequest(*cReq).Execute()
	if err != nil {
		t.Fatalf("POST CertificateStoreContainers: %s", sdkErr(err))
	}
	found, _, err := c.CertificateStoreContainerApi.NewGetCertificateStoreContainersRequest(ctx).QueryString(`Name -eq "WEB-servers"`).Execute()
	if err != nil || len(found) != 1 || found[0].GetId() != contA.GetId() {
		t.Fatalf("containers by name = %+v, %v", found, err)
	}

	// ---- agents ----
	agents, _, err := c.AgentApi.NewGetAgentsRequest(ctx).QueryString(`ClientMachine -eq "web1.example.com"`).Execute()
	if err != nil || len(agents) != 1 || agents[0].GetAgentId() != agentID || agents[0].GetStatus() != 1 {
		t.Fatalf("GET Agents by ClientMachine = %+v, %v", agents, err)
	}
	if len(agents[0].GetJobTypes()) != 3 {
		t.Errorf("agent job types = %+v, want 3 from its capabilities", agents[0].GetJobTypes())
	}
	if resp, err := c.AgentApi.NewCreateAgentsApproveRequest(ctx).RequestBody([]string{agentID}).Execute(); err != nil || resp.StatusCode != 204 {
		t.Fatalf("POST Agents/Approve: %v %v", resp, err)
	}
	ag, _, err := c.AgentApi.NewGetAgentsByIdRequest(ctx, agentID).Execute()
	if err != nil || ag.GetStatus() != 2 {
		t.Fatalf("agent after approve = %+v, %v", ag, err)
	}

	// ---- stores ----
	sReq := storeCreateReq(contA.GetId(), "/opt/app/keystore.jks", 102, `{"KeystoreType":"JKS"}`, agentID)
	sec := kfv1.NewCSSCMSDataModelModelsKeyfactorAPISecret()
	sec.SetSecretValue("keystore-pass-1")
	sReq.SetPassword(*sec)
	interval := kfv1.NewKeyfactorCommonSchedulingModelsIntervalModel()
	interval.SetMinutes(60)
	sched := kfv1.NewKeyfactorCommonSchedulingKeyfactorSchedule()
	sched.SetInterval(*interval)
	sReq.SetInventorySchedule(*sched)
	st, resp, err := c.CertificateStoreApi.NewCreateCertificateStoresRequest(ctx).CSSCMSDataModelModelsCertificateStoresCertificateStoreCreateRequest(*sReq).Execute()
	if err != nil {
		t.Fatalf("POST CertificateStores: %s", sdkErr(err))
	}
	if resp.StatusCode != 200 {
		t.Errorf("POST CertificateStores status %d, want 200", resp.StatusCode)
	}
	pw := st.GetPassword()
	if st.GetStorepath() != "/opt/app/keystore.jks" || st.GetCertStoreType() != 102 || st.GetAgentId() != agentID ||
		st.GetContainerId() != contA.GetId() || st.GetContainerName() != "web-servers" || pw.GetValue() != nil || !pw.GetDoesHaveValue() {
		t.Errorf("created store = %+v", st)
	}
	is := st.GetInventorySchedule()
	if iv := is.GetInterval(); iv.GetMinutes() != 60 {
		t.Errorf("InventorySchedule = %+v, want Interval 60", is)
	}
	var props map[string]string
	if err := json.Unmarshal([]byte(st.GetProperties()), &props); err != nil || props["KeystoreType"] != "JKS" {
		t.Errorf("Properties = %q (a JSON string holding an object), %v", st.GetProperties(), err)
	}
	storeID := st.GetId()
	// The store password is sealed at rest: the row holds no plaintext.
	{
		db, err := sqlstore.Open(context.Background(), dsn, in.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		row, err := db.Q().StoreRow(context.Background(), storeID)
		db.Close()
		if err != nil || len(row.PasswordSealed) == 0 || bytes.Contains(row.PasswordSealed, []byte("keystore-pass-1")) {
			t.Errorf("stored password = %d bytes (holds the plaintext: %v), %v", len(row.PasswordSealed),
				bytes.Contains(row.PasswordSealed, []byte("keystore-pass-1")), err)
		}
	}
	// The raw body: Storepath with a lower-case p, Properties a string, no password value.
	code, raw := in.call(t, "GET", "/CertificateStores/"+storeID, "admin", adminPassword, "")
	if code != 200 || !strings.Contains(string(raw), `"Storepath":"/opt/app/keystore.jks"`) ||
		!strings.Contains(string(raw), `"Properties":"{\"KeystoreType\":\"JKS\"}"`) || strings.Contains(string(raw), "keystore-pass-1") ||
		!strings.Contains(string(raw), `"SecretValue":null`) {
		t.Errorf("GET CertificateStores/{id} raw = %d %s", code, raw)
	}

	// a PEM store outside any container, for paging and permissions
	pemReq := storeCreateReq(contB.GetId(), "/etc/ssl/web.pem", 100, `{"PrivateKeyPath":"/etc/ssl/web.key"}`, agentID)
	pemStore, _, err := c.CertificateStoreApi.NewCreateCertificateStoresRequest(ctx).CSSCMSDataModelModelsCertificateStoresCertificateStoreCreateRequest(*pemReq).Execute()
	if err != nil {
		t.Fatalf("POST PEM store: %s", sdkErr(err))
	}

	list, _, err := c.CertificateStoreApi.NewGetCertificateStoresRequest(ctx).QueryString(`CertStoreType -eq 102`).Execute()
	if err != nil || len(list) != 1 || list[0].GetId() != storeID {
		t.Fatalf("GET CertificateStores?QueryString=CertStoreType -eq 102 = %d stores, %v", len(list), err)
	}
	// go-client paging: certificateStoreQuery.pageReturned until an empty array
	var seen int
	for page := 1; page < 10; page++ {
		code, b := in.call(t, "GET", fmt.Sprintf("/CertificateStores?certificateStoreQuery.pageReturned=%d&certificateStoreQuery.returnLimit=1", page), "admin", adminPassword, "")
		var arr []map[string]any
		if code != 200 || json.Unmarshal(b, &arr) != nil || arr == nil {
			t.Fatalf("page %d: %d %s", page, code, b)
		}
		if len(arr) == 0 {
			break
		}
		seen += len(arr)
	}
	if seen != 2 {
		t.Errorf("paged through %d stores, want 2", seen)
	}
	past, _, err := c.CertificateStoreApi.NewGetCertificateStoresRequest(ctx).PageReturned(5).ReturnLimit(10).Execute()
	if err != nil || len(past) != 0 {
		t.Errorf("past the last page = %d stores, %v; want []", len(past), err)
	}

	// update through the SDK (Id + changed fields only); the password stays
	uReq := kfv1.NewCSSCMSDataModelModelsCertificateStoresCertificateStoreUpdateRequest()
	uReq.SetId(storeID)
	uReq.SetProperties(`{"KeystoreType":"PKCS12"}`)
	uReq.SetCreateIfMissing(true)
	uReq.SetAgentId(agentID)
	uReq.SetContainerId(contA.GetId())
	ust, _, err := c.CertificateStoreApi.NewUpdateCertificateStoresRequest(ctx).CSSCMSDataModelModelsCertificateStoresCertificateStoreUpdateRequest(*uReq).Execute()
	if err != nil {
		t.Fatalf("PUT CertificateStores: %s", sdkErr(err))
	}
	upw := ust.GetPassword()
	if ust.GetStorepath() != "/opt/app/keystore.jks" || !ust.GetCreateIfMissing() || !strings.Contains(ust.GetProperties(), "PKCS12") || !upw.GetDoesHaveValue() {
		t.Errorf("updated store = %+v", ust)
	}
	// Weekly and Monthly inventory schedules in the SDK's shapes
	wk := kfv1.NewKeyfactorCommonSchedulingModelsWeeklyModel()
	wk.SetDays([]kfv1.SystemDayOfWeek{kfv1.SYSTEMDAYOFWEEK_Friday, kfv1.SYSTEMDAYOFWEEK_Monday})
	wk.SetTime(time.Date(2026, 1, 1, 6, 45, 0, 0, time.UTC))
	wSched := kfv1.NewKeyfactorCommonSchedulingKeyfactorSchedule()
	wSched.SetWeekly(*wk)
	uReq.SetInventorySchedule(*wSched)
	wst, _, err := c.CertificateStoreApi.NewUpdateCertificateStoresRequest(ctx).CSSCMSDataModelModelsCertificateStoresCertificateStoreUpdateRequest(*uReq).Execute()
	if err != nil {
		t.Fatalf("PUT CertificateStores with a Weekly schedule: %s", sdkErr(err))
	}
	wis := wst.GetInventorySchedule()
	if w := wis.GetWeekly(); len(w.GetDays()) != 2 || w.GetDays()[0] != kfv1.SYSTEMDAYOFWEEK_Monday || w.GetDays()[1] != kfv1.SYSTEMDAYOFWEEK_Friday ||
		w.GetTime().Hour() != 6 || w.GetTime().Minute() != 45 {
		t.Errorf("Weekly InventorySchedule = %+v", wis)
	}
	mo := kfv1.NewKeyfactorCommonSchedulingModelsMonthlyModel()
	mo.SetDay(31)
	mo.SetTime(time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC))
	mSched := kfv1.NewKeyfactorCommonSchedulingKeyfactorSchedule()
	mSched.SetMonthly(*mo)
	uReq.SetInventorySchedule(*mSched)
	if _, _, err := c.CertificateStoreApi.NewUpdateCertificateStoresRequest(ctx).CSSCMSDataModelModelsCertificateStoresCertificateStoreUpdateRequest(*uReq).Execute(); err != nil {
		t.Fatalf("PUT CertificateStores with a Monthly schedule: %s", sdkErr(err))
	}
	mst, _, err := c.CertificateStoreApi.NewGetCertificateStoresByIdRequest(ctx, storeID).Execute()
	if err != nil {
		t.Fatalf("GET CertificateStores/{id}: %s", sdkErr(err))
	}
	mis := mst.GetInventorySchedule()
	if m := mis.GetMonthly(); m.GetDay() != 31 || m.GetTime().Hour() != 22 {
		t.Errorf("Monthly InventorySchedule = %+v", mis)
	}
	code, b := in.call(t, "PUT", "/CertificateStores", "admin", adminPassword, fmt.Sprintf(
		`{"Id":%q,"InventorySchedule":{"Weekly":{"Days":[7],"Time":"2026-01-01T06:00:00Z"}}}`, storeID))
	if code != 400 || !strings.Contains(string(b), "InventorySchedule.Weekly.Days") {
		t.Errorf("Weekly day 7: %d %s, want 400 naming InventorySchedule.Weekly.Days", code, b)
	}
	uReq.SetInventorySchedule(*sched) // back to Interval 60
	if _, _, err := c.CertificateStoreApi.NewUpdateCertificateStoresRequest(ctx).CSSCMSDataModelModelsCertificateStoresCertificateStoreUpdateRequest(*uReq).Execute(); err != nil {
		t.Fatalf("PUT CertificateStores back to Interval: %s", sdkErr(err))
	}
	// the go-client's method spelling "Put" and the full body
	code, b = in.call(t, "Put", "/CertificateStores", "admin", adminPassword, fmt.Sprintf(
		`{"Id":%q,"ClientMachine":"web1.example.com","StorePath":"/opt/app/keystore.jks","CertStoreType":102,"Properties":"{\"KeystoreType\":\"JKS\"}","AgentId":%q,"ContainerId":%d}`,
		storeID, agentID, contA.GetId()))
	if code != 200 || !strings.Contains(string(b), `\"KeystoreType\":\"JKS\"`) {
		t.Errorf("Put CertificateStores: %d %s", code, b)
	}

	inv, _, err := c.CertificateStoreApi.NewGetCertificateStoresByIdInventoryRequest(ctx, storeID).Execute()
	if err != nil || len(inv) != 0 {
		t.Errorf("inventory before any report = %+v, %v", inv, err)
	}
	if _, _, err := c.OrchestratorJobApi.NewGetOrchestratorJobsScheduledJobsRequest(ctx).Execute(); err != nil {
		t.Errorf("GET OrchestratorJobs/ScheduledJobs: %s", sdkErr(err))
	}
	if hist, _, err := c.OrchestratorJobApi.NewGetOrchestratorJobsJobHistoryRequest(ctx).Execute(); err != nil || len(hist) != 0 {
		t.Errorf("GET OrchestratorJobs/JobHistory = %d, %v", len(hist), err)
	}

	// ---- inventory and locations ----
	req := kfv1.NewEnrollmentPFXEnrollmentRequest()
	req.SetTemplate("WebServer")
	req.SetSubject("CN=located.example.com")
	req.SetPassword("located-pass-123")
	req.SetTimestamp(time.Now().UTC())
	leaf, _, cas := enrollPFXv1Chain(t, c, req)
	rec, _, err := c.CertificateApi.NewGetCertificatesRequest(ctx).QueryString(fmt.Sprintf(`Thumbprint -eq "%X"`, sha1.Sum(leaf.Raw))).Execute()
	if err != nil || len(rec) != 1 {
		t.Fatalf("enrolled certificate by thumbprint: %d, %v", len(rec), err)
	}
	certID := rec[0].GetId()
	before, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, certID).IncludeLocations(true).Execute()
	if err != nil || len(before.GetLocations()) != 0 {
		t.Fatalf("locations before any inventory = %+v, %v", before.GetLocations(), err)
	}
	chain := [][]byte{leaf.Raw}
	for _, ca := range cas {
		chain = append(chain, ca.Raw)
	}
	items := []stores.InventoryItem{{Alias: "located", PrivateKeyEntry: true, Certificates: chain},
		{Alias: "stranger", Certificates: [][]byte{cas[0].Raw}}}
	if err := catalogue(t, in, dsn).ReplaceInventory(ctx, storeID, items, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, certID).IncludeLocations(true).Execute()
	if err != nil {
		t.Fatalf("GET Certificates/{id}?includeLocations=true: %s", sdkErr(err))
	}
	locs, counts := got.GetLocations(), got.GetLocationsCount()
	if len(locs) != 1 || locs[0].GetCertStoreId() != storeID || locs[0].GetAlias() != "located" || locs[0].GetStorePath() != "/opt/app/keystore.jks" ||
		locs[0].GetStoreMachine() != "web1.example.com" || locs[0].GetStoreType() != 102 || locs[0].GetChainLevel() != 0 {
		t.Errorf("Locations = %+v", locs)
	}
	if len(counts) != 1 || counts[0].GetType() != "JKS" || counts[0].GetCount() != 1 {
		t.Errorf("LocationsCount = %+v", counts)
	}
	lr, _, err := c.CertificateApi.NewGetCertificatesLocationsByIdRequest(ctx, certID).Execute()
	if err != nil {
		t.Fatalf("GET Certificates/Locations/{id}: %s", sdkErr(err))
	}
	if d := lr.GetDetails(); len(d) != 1 || d[0].GetStoreType() != "JKS" || d[0].GetStoreCount() != 1 || len(d[0].GetLocations()) != 1 ||
		d[0].GetLocations()[0].GetStoreId() != storeID {
		t.Errorf("Certificates/Locations = %+v", lr.GetDetails())
	}
	if code, b := in.call(t, "GET", "/certificates/locations/999999", "admin", adminPassword, ""); code != 404 {
		t.Errorf("locations of an unknown certificate: %d %s", code, b)
	}
	inv, _, err = c.CertificateStoreApi.NewGetCertificateStoresByIdInventoryRequest(ctx, storeID).Execute()
	if err != nil || len(inv) != 2 {
		t.Fatalf("inventory = %+v, %v", inv, err)
	}
	for _, e := range inv {
		if e.GetName() == "located" {
			cs := e.GetCertificates()
			if len(cs) != len(chain) || cs[0].GetId() != certID || cs[0].GetThumbprint() != rec[0].GetThumbprint() ||
				cs[0].GetIssuedDN() == "" || cs[0].GetSerialNumber() != rec[0].GetSerialNumber() {
				t.Errorf("inventory entry = %+v", cs)
			}
		}
	}
	// the certificate leaves the store: the next inventory drops the location
	if err := catalogue(t, in, dsn).ReplaceInventory(ctx, storeID, items[1:], time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _, err := c.CertificateApi.NewGetCertificatesByIdRequest(ctx, certID).IncludeLocations(true).Execute(); err != nil || len(got.GetLocations()) != 0 {
		t.Errorf("locations after removal = %+v, %v", got.GetLocations(), err)
	}

	// ---- negative cases ----
	neg := []struct {
		name, method, path, body string
		status                   int
		field                    string
	}{
		{"unknown store", "GET", "/CertificateStores/11111111-2222-4333-8444-555555555555", "", 404, ""},
		{"store id not a GUID", "GET", "/CertificateStores/abc", "", 400, "id"},
		{"delete unknown store", "DELETE", "/CertificateStores/11111111-2222-4333-8444-555555555555", "", 404, ""},
		{"unknown agent", "POST", "/CertificateStores", `{"ClientMachine":"m","StorePath":"/x.pem","CertStoreType":100,"AgentId":"11111111-2222-4333-8444-555555555555"}`, 400, "AgentId"},
		{"unknown store type", "POST", "/CertificateStores", `{"ClientMachine":"m","StorePath":"/x.pem","CertStoreType":4242,"AgentId":"` + agentID + `"}`, 400, "CertStoreType"},
		{"no store path", "POST", "/CertificateStores", `{"ClientMachine":"m","CertStoreType":100,"AgentId":"` + agentID + `"}`, 400, "StorePath"},
		{"no client machine", "POST", "/CertificateStores", `{"StorePath":"/x.pem","CertStoreType":100,"AgentId":"` + agentID + `"}`, 400, "ClientMachine"},
		{"PKCS12 needs a store password", "POST", "/CertificateStores", `{"ClientMachine":"m","StorePath":"/x.p12","CertStoreType":101,"AgentId":"` + agentID + `"}`, 400, "Password"},
		{"required property missing", "POST", "/CertificateStores", fmt.Sprintf(`{"ClientMachine":"m","StorePath":"/x","CertStoreType":%d,"AgentId":%q,"Properties":"{}"}`, custom.GetStoreType(), agentID), 400, "Properties"},
		{"unknown property", "POST", "/CertificateStores", `{"ClientMachine":"m","StorePath":"/x.pem","CertStoreType":100,"AgentId":"` + agentID + `","Properties":"{\"Bogus\":\"1\"}"}`, 400, "Properties"},
		{"Properties not JSON", "POST", "/CertificateStores", `{"ClientMachine":"m","StorePath":"/x.pem","CertStoreType":100,"AgentId":"` + agentID + `","Properties":"{nope"}`, 400, "Properties"},
		{"bad KeystoreType", "POST", "/CertificateStores", `{"ClientMachine":"m","StorePath":"/k.jks","CertStoreType":102,"AgentId":"` + agentID + `","Properties":"{\"KeystoreType\":\"JCEKS\"}","Password":{"SecretValue":"x"}}`, 400, "Properties"},
		{"duplicate store", "POST", "/CertificateStores", `{"ClientMachine":"WEB1.example.com","StorePath":"/etc/ssl/web.pem","CertStoreType":100,"AgentId":"` + agentID + `"}`, 400, "StorePath"},
		{"negative PageReturned", "GET", "/CertificateStores?PageReturned=-1", "", 400, "PageReturned"},
		{"non-numeric ReturnLimit", "GET", "/CertificateStores?certificateStoreQuery.returnLimit=ten", "", 400, "certificateStoreQuery.returnLimit"},
		{"bad SortField", "GET", "/CertificateStores?SortField=Nope", "", 400, "SortField"},
		{"delete built-in type", "DELETE", "/CertificateStoreTypes/100", "", 409, ""},
		{"unknown store type id", "GET", "/CertificateStoreTypes/999", "", 404, ""},
		{"unknown container", "GET", "/CertificateStoreContainers/999", "", 404, ""},
		{"approve unknown agent", "POST", "/Agents/Approve", `["11111111-2222-4333-8444-555555555555"]`, 404, ""},
		{"approve not a GUID", "POST", "/Agents/Disapprove", `["x"]`, 400, "body[0]"},
	}
	for _, n := range neg {
		code, b := in.call(t, n.method, n.path, "admin", adminPassword, n.body)
		if code != n.status {
			t.Errorf("%s: %d %s, want %d", n.name, code, b, n.status)
			continue
		}
		e := decodeError(t, b)
		if n.field != "" && !strings.HasPrefix(*e.Message, n.field+":") {
			t.Errorf("%s: message %q does not name %s", n.name, *e.Message, n.field)
		}
	}

	// ---- container-scoped permissions ----
	const pwd = "scoped-password-123"
	if code, b := in.call(t, "POST", "/Security/Identities", "admin", adminPassword, `{"AccountName":"webops","Password":"`+pwd+`"}`); code/100 != 2 {
		t.Fatalf("identity: %d %s", code, b)
	}
	role, _ := json.Marshal(map[string]any{"Name": "web ops", "Description": "web container only",
		"Permissions": []string{fmt.Sprintf("/certificate_stores/read/#%d", contA.GetId()), fmt.Sprintf("/certificate_stores/modify/#%d", contA.GetId())},
		"Identities":  []string{"webops"}})
	if code, b := in.call(t, "POST", "/Security/Roles", "admin", adminPassword, string(role)); code/100 != 2 {
		t.Fatalf("role: %d %s", code, b)
	}
	if code, b := in.call(t, "GET", "/CertificateStores/"+storeID, "webops", pwd, ""); code != 200 {
		t.Errorf("scoped read of its container's store: %d %s", code, b)
	}
	if code, b := in.call(t, "GET", "/CertificateStores/"+pemStore.GetId(), "webops", pwd, ""); code != 403 {
		t.Errorf("scoped read of another container's store: %d %s, want 403", code, b)
	}
	code, b = in.call(t, "GET", "/CertificateStores", "webops", pwd, "")
	var visible []map[string]any
	if code != 200 || json.Unmarshal(b, &visible) != nil || len(visible) != 1 || visible[0]["Id"] != storeID {
		t.Errorf("scoped list = %d %s, want only the web store", code, b)
	}
	if code, b := in.call(t, "DELETE", "/CertificateStores/"+pemStore.GetId(), "webops", pwd, ""); code != 403 {
		t.Errorf("scoped delete of another container's store: %d %s, want 403", code, b)
	}
	moveOut := fmt.Sprintf(`{"Id":%q,"ContainerId":%d}`, storeID, contB.GetId())
	if code, b := in.call(t, "PUT", "/CertificateStores", "webops", pwd, moveOut); code != 403 {
		t.Errorf("scoped move into another container: %d %s, want 403", code, b)
	}
	if code, b := in.call(t, "POST", "/CertificateStoreContainers", "webops", pwd, `{"Name":"x","CertStoreType":100}`); code != 403 {
		t.Errorf("scoped container creation: %d %s, want 403", code, b)
	}

	// ---- registration token (certdock extension) ----
	code, b = in.call(t, "POST", "/Agents/RegistrationTokens", "admin", adminPassword, `{"Description":"e2e","ValidMinutes":30}`)
	var tok struct{ Token, ExpiresAt string }
	if code != 200 || json.Unmarshal(b, &tok) != nil || !strings.HasPrefix(tok.Token, "cdt_") || tok.ExpiresAt == "" {
		t.Errorf("RegistrationTokens: %d %s", code, b)
	}

	// ---- deletes ----
	if resp, err := c.CertificateStoreApi.NewDeleteCertificateStoresByIdRequest(ctx, pemStore.GetId()).Execute(); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE CertificateStores/{id}: %v %v", resp, err)
	}
	if _, _, err := c.CertificateStoreApi.NewGetCertificateStoresByIdRequest(ctx, pemStore.GetId()).Execute(); err == nil {
		t.Errorf("deleted store still readable")
	}
	if resp, err := c.CertificateStoreContainerApi.NewDeleteCertificateStoreContainersByIdRequest(ctx, contB.GetId()).Execute(); err != nil || resp.StatusCode != 204 {
		t.Errorf("DELETE CertificateStoreContainers/{id}: %v %v", resp, err)
	}
	if resp, err := c.CertificateStoreTypeApi.NewDeleteCertificateStoreTypesByIdRequest(ctx, custom.GetStoreType()).Execute(); err != nil || resp.StatusCode != 204 {
		t.Errorf("DELETE CertificateStoreTypes/{id}: %v %v", resp, err)
	}
	if resp, err := c.AgentApi.NewCreateAgentsByIdResetRequest(ctx, agentID).Execute(); err != nil || resp.StatusCode != 204 {
		t.Errorf("POST Agents/{id}/Reset: %v %v", resp, err)
	}
}

// storeCreateReq is a POST CertificateStores body for a store on
// web1.example.com that agentID serves.
func storeCreateReq(containerID int32, path string, storeType int32, props, agentID string) *kfv1.CSSCMSDataModelModelsCertificateStoresCertificateStoreCreateRequest {
	r := kfv1.NewCSSCMSDataModelModelsCertificateStoresCertificateStoreCreateRequest()
	r.SetContainerId(containerID)
	r.SetClientMachine("web1.example.com")
	r.SetStorepath(path)
	r.SetCertStoreType(storeType)
	r.SetProperties(props)
	r.SetAgentId(agentID)
	return r
}
