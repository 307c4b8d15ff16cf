package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/pki"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// TestStores_LocationsOfManyMatchesLocationsOf: the one-query-per-page
// locations of a certificate list give the same rows as one LocationsOf
// per certificate, plus the store's container.
func TestStores_LocationsOfManyMatchesLocationsOf(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		ss := storesService(db, func() time.Time { return now })
		agentID, store1 := jobFixture(t, db, now)
		admin := adminPrincipal()
		c, err := ss.SaveContainer(ctx, admin, stores.Container{Name: "Loc", StoreType: stores.TypePEM})
		if err != nil {
			t.Fatal(err)
		}
		st2, err := ss.Create(ctx, admin, stores.StoreInput{ContainerID: &c.ID, ClientMachine: "aaa-first", StorePath: "/z.pem",
			StoreType: stores.TypePEM, AgentID: agentID})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		var ders [][]byte
		for _, name := range []string{"one", "two", "three"} {
			der := []byte("der-" + name)
			rec := certificate.Record{Thumbprint: pki.ThumbprintDER(der), DER: der, NotAfter: now.Add(time.Hour)}
			id, err := db.Q().InsertCertificate(ctx, &rec)
			if err != nil {
				t.Fatal(err)
			}
			ids, ders = append(ids, id), append(ders, der)
		}
		if err := ss.ReplaceInventory(ctx, store1, []stores.InventoryItem{
			{Alias: "b", Certificates: [][]byte{ders[1]}},
			{Alias: "a", PrivateKeyEntry: true, Certificates: [][]byte{ders[0], ders[1]}},
		}, now); err != nil {
			t.Fatal(err)
		}
		if err := ss.ReplaceInventory(ctx, st2.ID, []stores.InventoryItem{{Alias: "z", Certificates: [][]byte{ders[0]}}}, now); err != nil {
			t.Fatal(err)
		}
		// more ids than one batch holds, most of them unknown
		query := append([]int64{}, ids...)
		for i := int64(1); len(query) < 1200; i++ {
			query = append(query, 1_000_000+i)
		}
		many, err := ss.LocationsOfMany(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, id := range ids {
			one, err := ss.LocationsOf(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got := many[id]
			if len(got) != len(one) {
				t.Fatalf("certificate %d: %d locations in the batch, %d alone: %+v vs %+v", id, len(got), len(one), got, one)
			}
			for i := range one {
				g := got[i]
				if g.StoreID == st2.ID && (g.ContainerID == nil || *g.ContainerID != c.ID) {
					t.Errorf("certificate %d at %s: ContainerID %v, want %d", id, g.StoreID, g.ContainerID, c.ID)
				}
				if g.StoreID == store1 && g.ContainerID != nil {
					t.Errorf("certificate %d at %s: ContainerID %v, want none", id, g.StoreID, *g.ContainerID)
				}
				g.ContainerID = nil
				if g != one[i] {
					t.Errorf("certificate %d location %d: batch %+v, alone %+v", id, i, g, one[i])
				}
			}
			total += len(got)
		}
		// one: a@store1 (level 0) and z@st2; two: a@store1 (level 1) and b@store1; three: nowhere
		if len(many[ids[0]]) != 2 || len(many[ids[1]]) != 2 || len(many[ids[2]]) != 0 || total != 4 || len(many) != 2 {
			t.Fatalf("batch = %+v", many)
		}
	})
}
