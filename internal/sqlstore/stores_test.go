package sqlstore_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

func adminPrincipal() *auth.Principal {
	var g []auth.Grant
	for _, p := range auth.All() {
		g = append(g, auth.Grant{Permission: p})
	}
	return auth.NewPrincipal(1, "admin", nil, g)
}

func TestStores_CRUDAndPassword(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ss := storesService(db, func() time.Time { return now })
		admin := adminPrincipal()

		types, err := ss.StoreTypes(ctx)
		if err != nil || len(types) != 3 || types[0].ShortName != "PEM" || types[2].ShortName != "JKS" {
			t.Fatalf("built-in store types = %+v, %v", types, err)
		}
		jks, err := ss.StoreTypeByShortName(ctx, "jks")
		if err != nil || !jks.PasswordOptions.StoreRequired || !jks.PasswordOptions.EntrySupported || jks.ManagementJobType != stores.JobJKSManagement {
			t.Fatalf("JKS = %+v, %v", jks, err)
		}
		custom, err := ss.SaveStoreType(ctx, admin, stores.StoreType{Name: "Custom", ShortName: "CUST",
			Properties: []stores.Property{{Name: "Needed", Required: true}}})
		if err != nil || custom.ID < 1000 {
			t.Fatalf("custom store type = %+v, %v (ids from 1000)", custom, err)
		}
		if _, err := ss.SaveStoreType(ctx, admin, stores.StoreType{Name: "Again", ShortName: "cust"}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("duplicate short name: %v", err)
		}
		if err := ss.DeleteStoreType(ctx, admin, stores.TypePEM); !errs.Is(err, errs.Conflict) {
			t.Fatalf("deleting a built-in type: %v", err)
		}

		c, err := ss.SaveContainer(ctx, admin, stores.Container{Name: "Web", StoreType: stores.TypeJKS})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ss.RegisterAgent(ctx, stores.Agent{ClientMachine: "web1"})
		if err != nil {
			t.Fatal(err)
		}
		pw := "store-secret"
		st, err := ss.Create(ctx, admin, stores.StoreInput{ContainerID: &c.ID, ClientMachine: "web1", StorePath: "/opt/app/ks.jks",
			StoreType: stores.TypeJKS, AgentID: a.AgentID, Properties: `{"KeystoreType":{"value":"PKCS12"}}`, Password: &pw})
		if err != nil {
			t.Fatal(err)
		}
		if !st.HasPassword || st.Properties != `{"KeystoreType":"PKCS12"}` || st.ContainerName != "Web" {
			t.Fatalf("created store = %+v", st)
		}
		if got, err := ss.StorePassword(ctx, st.ID); err != nil || got != pw {
			t.Fatalf("StorePassword = %q, %v", got, err)
		}
		// sealed at rest: the stored bytes are bound to the store id
		row, err := db.Q().StoreRow(ctx, st.ID)
		if err != nil || string(row.PasswordSealed) != "store-password:"+st.ID+"|"+pw {
			t.Fatalf("sealed password = %q, %v", row.PasswordSealed, err)
		}

		bad := []struct {
			name, field string
			in          stores.StoreInput
		}{
			{"no machine", "ClientMachine", stores.StoreInput{StorePath: "/x", StoreType: stores.TypePEM, AgentID: a.AgentID}},
			{"no path", "StorePath", stores.StoreInput{ClientMachine: "m", StoreType: stores.TypePEM, AgentID: a.AgentID}},
			{"unknown type", "CertStoreType", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: 555, AgentID: a.AgentID}},
			{"unknown agent", "AgentId", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: stores.TypePEM, AgentID: "11111111-2222-4333-8444-555555555555"}},
			{"password required", "Password", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: stores.TypePKCS12, AgentID: a.AgentID}},
			{"unknown property", "Properties", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: stores.TypePEM, AgentID: a.AgentID, Properties: `{"Nope":"1"}`}},
			{"required property", "Properties", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: custom.ID, AgentID: a.AgentID}},
			{"properties not json", "Properties", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: stores.TypePEM, AgentID: a.AgentID, Properties: `{`}},
			{"bad schedule", "InventorySchedule", stores.StoreInput{ClientMachine: "m", StorePath: "/x", StoreType: stores.TypePEM, AgentID: a.AgentID, InventorySchedule: "I_0"}},
			{"duplicate", "StorePath", stores.StoreInput{ClientMachine: "WEB1", StorePath: "/opt/app/ks.jks", StoreType: stores.TypeJKS, AgentID: a.AgentID, Password: &pw}},
		}
		for _, b := range bad {
			_, err := ss.Create(ctx, admin, b.in)
			e := errs.As(err)
			if err == nil || e.Kind != errs.Invalid || e.Field != b.field {
				t.Errorf("%s: err = %v, want Invalid on %s", b.name, err, b.field)
			}
		}

		// update keeps the password when none is given, and moves the store out of its container
		upd, err := ss.Update(ctx, admin, stores.StoreInput{ID: st.ID, ClientMachine: "web1", StorePath: "/opt/app/ks.jks",
			StoreType: stores.TypeJKS, AgentID: a.AgentID, DisplayName: "app keystore"})
		if err != nil || !upd.HasPassword || upd.ContainerID != nil || upd.DisplayName != "app keystore" {
			t.Fatalf("update = %+v, %v", upd, err)
		}

		// container-scoped reader sees only its container's stores
		if _, err := ss.Update(ctx, admin, stores.StoreInput{ID: st.ID, ContainerID: &c.ID, ClientMachine: "web1", StorePath: "/opt/app/ks.jks",
			StoreType: stores.TypeJKS, AgentID: a.AgentID}); err != nil {
			t.Fatal(err)
		}
		other, err := ss.Create(ctx, admin, stores.StoreInput{ClientMachine: "web2", StorePath: "/b.pem", StoreType: stores.TypePEM, AgentID: a.AgentID})
		if err != nil {
			t.Fatal(err)
		}
		scoped := auth.NewPrincipal(2, "scoped", nil, []auth.Grant{{Permission: auth.StoresRead, Container: c.ID}})
		list, err := ss.List(ctx, scoped, url.Values{})
		if err != nil || len(list) != 1 || list[0].ID != st.ID {
			t.Fatalf("scoped list = %+v, %v", list, err)
		}
		if _, err := ss.GetFor(ctx, scoped, other.ID); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("scoped read of another container's store: %v", err)
		}
		all, err := ss.List(ctx, admin, url.Values{"certificateStoreQuery.queryString": {`ClientMachine -eq "WEB2"`}})
		if err != nil || len(all) != 1 || all[0].ID != other.ID {
			t.Fatalf("query list = %+v, %v", all, err)
		}
		past, err := ss.List(ctx, admin, url.Values{"PageReturned": {"3"}, "ReturnLimit": {"1"}})
		if err != nil || len(past) != 0 || past == nil {
			t.Fatalf("past the last page = %#v, %v; want []", past, err)
		}
		if err := ss.Delete(ctx, admin, other.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Get(ctx, other.ID); !errs.Is(err, errs.NotFound) {
			t.Fatalf("deleted store: %v", err)
		}
	})
}

func TestStores_InventoryAndLocations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ss := storesService(db, func() time.Time { return now })
		_, store := jobFixture(t, db, now)
		known := []byte("known-der")
		unknown := []byte("unknown-der")
		rec := certificate.Record{Thumbprint: pki.ThumbprintDER(known), DER: known, NotAfter: now.Add(time.Hour)}
		certID, err := db.Q().InsertCertificate(ctx, &rec)
		if err != nil {
			t.Fatal(err)
		}
		items := []stores.InventoryItem{
			{Alias: "web", PrivateKeyEntry: true, Certificates: [][]byte{known, unknown}},
			{Alias: "other", Certificates: [][]byte{unknown}},
		}
		if err := ss.ReplaceInventory(ctx, store, items, now); err != nil {
			t.Fatal(err)
		}
		locs, err := ss.LocationsOf(ctx, certID)
		if err != nil || len(locs) != 1 || locs[0].Alias != "web" || locs[0].StoreID != store || locs[0].ChainLevel != 0 || locs[0].StorePath != "/etc/ssl/web.pem" {
			t.Fatalf("locations = %+v, %v", locs, err)
		}
		inv, err := ss.Inventory(ctx, adminPrincipal(), store, nil)
		if err != nil || len(inv) != 2 || len(inv[1].Certificates) != 2 || inv[1].Certificates[0].CertificateID == nil {
			t.Fatalf("inventory = %+v, %v", inv, err)
		}
		// a new report without the certificate removes the location
		if err := ss.ReplaceInventory(ctx, store, items[1:], now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if locs, _ := ss.LocationsOf(ctx, certID); len(locs) != 0 {
			t.Fatalf("locations after removal = %+v", locs)
		}
		if err := ss.ReplaceInventory(ctx, "11111111-2222-4333-8444-555555555555", nil, now); !errs.Is(err, errs.NotFound) {
			t.Fatalf("inventory of an unknown store: %v", err)
		}
	})
}

func TestStores_AgentsAndTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ss := storesService(db, func() time.Time { return now })
		admin := adminPrincipal()
		a, err := ss.RegisterAgent(ctx, stores.Agent{ClientMachine: "Host1", Thumbprint: "ab12", Capabilities: []string{"CertStores.PEM.Inventory"}})
		if err != nil || a.Status != stores.AgentNew {
			t.Fatalf("register = %+v, %v", a, err)
		}
		if got, err := ss.AgentByThumbprint(ctx, "AB12"); err != nil || got.AgentID != a.AgentID || len(got.Capabilities) != 1 {
			t.Fatalf("by thumbprint = %+v, %v", got, err)
		}
		if err := ss.SetStatus(ctx, admin, []string{a.AgentID}, stores.AgentApproved); err != nil {
			t.Fatal(err)
		}
		if got, _ := ss.Agent(ctx, a.AgentID); got.Status != stores.AgentApproved {
			t.Fatalf("status = %d", got.Status)
		}
		if err := ss.SetStatus(ctx, admin, []string{"11111111-2222-4333-8444-555555555555"}, stores.AgentApproved); !errs.Is(err, errs.NotFound) {
			t.Fatalf("approve unknown: %v", err)
		}
		list, err := ss.Agents(ctx, url.Values{"pq.queryString": {`ClientMachine -eq "host1"`}})
		if err != nil || len(list) != 1 {
			t.Fatalf("agents by machine = %+v, %v", list, err)
		}
		if err := ss.Reset(ctx, admin, a.AgentID); err != nil {
			t.Fatal(err)
		}
		if got, _ := ss.Agent(ctx, a.AgentID); got.Status != stores.AgentNew || got.Thumbprint != "" {
			t.Fatalf("after reset = %+v", got)
		}

		tok, exp, err := ss.CreateRegistrationToken(ctx, admin, "web hosts", time.Hour)
		if err != nil || !exp.Equal(now.Add(time.Hour)) {
			t.Fatal(err)
		}
		if ok, err := ss.UseRegistrationToken(ctx, tok, "agent-1", now.Add(2*time.Hour)); err != nil || ok {
			t.Fatalf("expired token accepted: %v %v", ok, err)
		}
		if ok, err := ss.UseRegistrationToken(ctx, tok, "agent-1", now); err != nil || !ok {
			t.Fatalf("valid token refused: %v %v", ok, err)
		}
		if ok, _ := ss.UseRegistrationToken(ctx, tok, "agent-2", now); ok {
			t.Fatalf("token used twice")
		}
	})
}

func TestStores_ContainerOverwritesSchedules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ss := storesService(db, func() time.Time { return now })
		admin := adminPrincipal()
		c, err := ss.SaveContainer(ctx, admin, stores.Container{Name: "fleet", StoreType: stores.TypePEM, OverwriteSchedules: true, Schedule: "I_30"})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ss.RegisterAgent(ctx, stores.Agent{ClientMachine: "h"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ss.Create(ctx, admin, stores.StoreInput{ContainerID: &c.ID, ClientMachine: "h", StorePath: "/a.pem",
			StoreType: stores.TypePEM, AgentID: a.AgentID, InventorySchedule: "I_60"})
		if err != nil {
			t.Fatal(err)
		}
		if st.InventorySchedule != "I_30" || st.NextInventoryAt == nil || !st.NextInventoryAt.Equal(now.Add(30*time.Minute)) {
			t.Fatalf("store in an overwriting container: schedule %q next %v, want I_30 at +30m", st.InventorySchedule, st.NextInventoryAt)
		}
		c.Schedule = "I_10"
		if _, err := ss.SaveContainer(ctx, admin, c); err != nil {
			t.Fatal(err)
		}
		got, err := ss.Get(ctx, st.ID)
		if err != nil || got.InventorySchedule != "I_10" || !got.NextInventoryAt.Equal(now.Add(10*time.Minute)) {
			t.Fatalf("after the container's schedule changed: %q %v, %v", got.InventorySchedule, got.NextInventoryAt, err)
		}
	})
}
