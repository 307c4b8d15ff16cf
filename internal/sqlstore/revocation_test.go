package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/revocation"
	"github.com/certdock/certdock/internal/sqlstore"
)

func TestStore_RevocationStates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		caID, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "CA1", HostName: "h", Kind: "embedded", Role: "issuing", CreatedAt: now},
			CertDER: []byte{1}, ChainDER: []byte{}})
		if err != nil {
			t.Fatal(err)
		}
		cert := func(tp, serial string, notAfter time.Time) int64 {
			id, err := q.InsertCertificate(ctx, &certificate.Record{Thumbprint: tp, SerialNumber: serial, NotBefore: now.Add(-time.Hour),
				NotAfter: notAfter, ImportDate: now, State: certificate.StateActive, CAID: &caID, DER: []byte{2}})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		live := cert("T1", "0A1B", now.Add(24*time.Hour))
		expired := cert("T2", "0C", now.Add(-time.Minute))

		rev := &certificate.Revocation{EffectiveDate: now.Add(-time.Minute), Reason: 1, Comment: "lost"}
		for _, id := range []int64{live, expired} {
			if err := q.SetCertificateRevocation(ctx, id, certificate.StateActive, nil, certificate.StateRevoked, rev); err != nil {
				t.Fatal(err)
			}
		}
		// Not active any more: the conditional update matches nothing.
		if err := q.SetCertificateRevocation(ctx, live, certificate.StateActive, nil, certificate.StateRevoked, rev); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("second revocation: %v, want ErrNotFound", err)
		}
		hold := 6
		if err := q.SetCertificateRevocation(ctx, live, certificate.StateRevoked, &hold, certificate.StateActive, nil); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("releasing a non-hold: %v, want ErrNotFound", err)
		}

		got, err := q.RevokedCertificates(ctx, caID, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].SerialHex != "0A1B" || got[0].Reason != 1 || !got[0].At.Equal(rev.EffectiveDate) {
			t.Errorf("RevokedCertificates = %+v (the expired one must be left out)", got)
		}
		st, err := q.CertificateStatus(ctx, caID, "0A1B")
		if err != nil {
			t.Fatal(err)
		}
		if st.CertID != live || st.State != certificate.StateRevoked || st.Revocation == nil || st.Revocation.Comment != "lost" {
			t.Errorf("CertificateStatus = %+v", st)
		}
		if _, err := q.CertificateStatus(ctx, caID, "FFFF"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("unknown serial: %v", err)
		}
		if _, err := q.CertificateStatus(ctx, caID+1, "0A1B"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("other CA: %v", err)
		}
	})
}

func TestStore_CRLNumberSurvivesReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, reopen func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		caID, err := db.Q().InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "CA1", HostName: "h", Kind: "embedded", Role: "issuing", CreatedAt: now},
			CertDER: []byte{1}, ChainDER: []byte{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Q().CRL(ctx, caID); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("CRL before any: %v", err)
		}
		publish := func(db *sqlstore.DB, want int64) {
			t.Helper()
			err := db.WithTx(ctx, func(q sqlstore.Q) error {
				n, err := q.NextCRLNumber(ctx, caID)
				if err != nil {
					return err
				}
				if n != want {
					t.Errorf("number %d, want %d", n, want)
				}
				return q.SaveCRL(ctx, caID, revocation.CRL{Number: n, ThisUpdate: now, NextUpdate: now.Add(time.Hour), DER: []byte{byte(n)}})
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		publish(db, 1)
		publish(db, 2)
		// A failed publication rolls its number back with it.
		_ = db.WithTx(ctx, func(q sqlstore.Q) error {
			if _, err := q.NextCRLNumber(ctx, caID); err != nil {
				t.Fatal(err)
			}
			return errors.New("signing failed")
		})
		db2, err := reopen()
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		publish(db2, 3)
		c, err := db2.Q().CRL(ctx, caID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Number != 3 || len(c.DER) != 1 || c.DER[0] != 3 || !c.ThisUpdate.Equal(now) || !c.NextUpdate.Equal(now.Add(time.Hour)) {
			t.Errorf("CRL = %+v", c)
		}
		if err := db2.Q().SaveCRL(ctx, caID, revocation.CRL{Number: 2, ThisUpdate: now, NextUpdate: now, DER: []byte{9}}); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("saving a stale number: %v", err)
		}
	})
}
