package delivery_test

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// poolCountingCatalog counts the store reads made outside any transaction.
type poolCountingCatalog struct {
	delivery.StoresCatalog
	pool atomic.Int32
}

func (c *poolCountingCatalog) Store(ctx context.Context, id string) (delivery.StoreInfo, error) {
	c.pool.Add(1)
	return c.StoresCatalog.Store(ctx, id)
}

// TestScheduleForEnrollment_ReadsInItsTransaction: the enrollment's
// transaction must not wait for a second pooled connection to read the
// target stores. With SQLite (4 connections), concurrent enrollments held
// every other connection waiting for the write lock this transaction held,
// and each waited for the 10 s busy timeout; one then failed with
// SQLITE_BUSY (found by internal/e2e's crash test).
func TestScheduleForEnrollment_ReadsInItsTransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		master := make([]byte, 32)
		rand.Read(master)
		kr, err := secret.New(master)
		if err != nil {
			t.Fatal(err)
		}
		cat := &poolCountingCatalog{StoresCatalog: delivery.StoresCatalog{S: e.st}}
		svc := delivery.New(delivery.Options{
			Reader: e.db.Q(), Catalog: cat,
			InTx: func(ctx context.Context, fn func(delivery.Tx) error) error {
				return e.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
			},
			Seal:           kr.Seal,
			HashPassword:   func(p string) (string, error) { return "plain:" + p, nil },
			VerifyPassword: func(h, p string) (bool, error) { return h == "plain:"+p, nil },
			IsNotFound:     func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
			Now:            e.clock.Now,
		})
		rec, _ := e.cert("in-tx.example.com", true)
		err = e.db.WithTx(e.ctx, func(q sqlstore.Q) error {
			res, err := svc.ScheduleForEnrollment(e.ctx, q, e.admin, delivery.EnrollmentDelivery{CertificateID: rec.ID,
				RequestID: *rec.CertRequestID, Format: "PFX", Password: "p",
				Targets: []delivery.Target{{StoreID: e.pem.ID}, {StoreID: e.jks.ID, Alias: "a"}}})
			if err == nil && len(res.SuccessfulStores) != 2 {
				t.Errorf("SuccessfulStores %v", res.SuccessfulStores)
			}
			return err
		})
		if err != nil {
			t.Fatalf("ScheduleForEnrollment: %v", err)
		}
		if n := cat.pool.Load(); n != 0 {
			t.Errorf("%d store reads outside the enrollment's transaction", n)
		}
		if n := len(e.scheduled()); n != 2 {
			t.Errorf("%d jobs scheduled, want 2", n)
		}
		// An unknown store is still refused, read in the transaction.
		rec2, _ := e.cert("in-tx-unknown.example.com", true)
		err = e.db.WithTx(e.ctx, func(q sqlstore.Q) error {
			_, err := svc.ScheduleForEnrollment(e.ctx, q, e.admin, delivery.EnrollmentDelivery{CertificateID: rec2.ID,
				RequestID: *rec2.CertRequestID, Format: "PFX", Password: "p",
				Targets: []delivery.Target{{StoreID: "3f1c9a52-0000-4000-8000-000000000001"}}})
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("unknown store: %v", err)
		}
	})
}
