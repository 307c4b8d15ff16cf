package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/sqlstore"
)

func TestStore_Lifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		now := utc("2026-06-01T00:00:00Z")
		reqID, err := q.InsertRequest(ctx, certificate.Request{CreatedAt: now, RequesterName: "admin", Kind: "csr", Subject: "CN=a"})
		if err != nil {
			t.Fatal(err)
		}
		if k, err := q.RequestKind(ctx, reqID); err != nil || k != "csr" {
			t.Fatalf("RequestKind = %q, %v", k, err)
		}
		if _, err := q.RequestKind(ctx, 999); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("RequestKind(999): %v", err)
		}
		ids := map[string]int64{}
		for _, c := range []struct{ tp, serial, issuer string }{
			{"AA01", "0A", "CN=Issuing A"}, {"AA02", "0A", "CN=Issuing B"}, {"AA03", "0B", "CN=Issuing A"},
		} {
			id, err := q.InsertCertificate(ctx, &certificate.Record{Thumbprint: c.tp, SerialNumber: c.serial, IssuerDN: c.issuer,
				IssuedDN: "CN=x", ImportDate: now, NotBefore: now, NotAfter: now.AddDate(1, 0, 0), State: certificate.StateActive, DER: []byte{0x30, 0}})
			if err != nil {
				t.Fatal(err)
			}
			ids[c.tp] = id
		}
		recs, err := q.CertificatesBySerial(ctx, "0A")
		if err != nil || len(recs) != 2 || recs[0].ID != ids["AA01"] || recs[1].ID != ids["AA02"] {
			t.Fatalf("CertificatesBySerial(0A) = %d records, %v", len(recs), err)
		}
		if recs, err := q.CertificatesBySerial(ctx, "FF"); err != nil || len(recs) != 0 {
			t.Fatalf("CertificatesBySerial(FF) = %d, %v", len(recs), err)
		}

		until := utc("2027-01-01T00:00:00Z")
		if err := q.InsertRetainedKey(ctx, ids["AA01"], []byte("sealed1"), &until, now); err != nil {
			t.Fatal(err)
		}
		if err := q.InsertRetainedKey(ctx, ids["AA02"], []byte("sealed2"), nil, now); err != nil {
			t.Fatal(err)
		}
		b, u, err := q.RetainedKeyInfo(ctx, ids["AA01"])
		if err != nil || string(b) != "sealed1" || u == nil || !u.Equal(until) {
			t.Fatalf("RetainedKeyInfo(AA01) = %q %v %v", b, u, err)
		}
		if b, u, err := q.RetainedKeyInfo(ctx, ids["AA02"]); err != nil || string(b) != "sealed2" || u != nil {
			t.Fatalf("RetainedKeyInfo(AA02) = %q %v %v", b, u, err)
		}
		if _, _, err := q.RetainedKeyInfo(ctx, ids["AA03"]); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("RetainedKeyInfo without key: %v", err)
		}
		// A key kept only for store delivery is not a retained key.
		if err := q.InsertDeliveryEnrollment(ctx, delivery.Enrollment{CertificateID: ids["AA02"], RequestID: reqID, Format: "STORE",
			PasswordHash: "x", KeyForDeliveryOnly: true, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := q.RetainedKeyInfo(ctx, ids["AA02"]); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("RetainedKeyInfo of a delivery-only key: %v, want ErrNotFound", err)
		}
		// The certificate record says the same (GET /Certificates/{id}
		// KeyRecoverable, one-click renewal): held, but not recoverable.
		for _, c := range []struct {
			tp                  string
			held, retained, rec bool
			until               *time.Time
		}{
			{"AA01", true, true, true, &until},
			{"AA02", true, false, false, nil},
			{"AA03", false, false, false, nil},
		} {
			r, err := q.Certificate(ctx, ids[c.tp])
			if err != nil {
				t.Fatal(err)
			}
			if r.HasPrivateKey != c.held || r.KeyRetained != c.retained || r.RecoverableAt(now) != c.rec ||
				(c.until == nil) != (r.KeyRetainUntil == nil) || (c.until != nil && !r.KeyRetainUntil.Equal(*c.until)) {
				t.Errorf("%s: HasPrivateKey %v KeyRetained %v until %v RecoverableAt %v", c.tp, r.HasPrivateKey, r.KeyRetained, r.KeyRetainUntil, r.RecoverableAt(now))
			}
		}
		if r, _ := q.Certificate(ctx, ids["AA01"]); r.RecoverableAt(until.Add(time.Second)) {
			t.Error("AA01 recoverable after its retention ended")
		}
	})
}
