package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

const pgEnv = "CERTDOCK_TEST_POSTGRES_DSN"

// postgresDSN creates a fresh schema, dropped at cleanup, and returns a
// DSN using it; it skips when CERTDOCK_TEST_POSTGRES_DSN is unset.
func postgresDSN(b *testing.B) string {
	b.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		b.Skip(pgEnv + " not set")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	raw := make([]byte, 6)
	rand.Read(raw)
	schema := "bench_" + hex.EncodeToString(raw)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		b.Fatalf("postgres unreachable or unusable (%s is set): %v", pgEnv, err)
	}
	b.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			b.Errorf("drop schema: %v", err)
		}
		db.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// service wires enroll.Service as server.Handler does, over a real
// database (dsn empty: an SQLite file with synchronous=FULL) and the
// built-in CA, with the starter WebServer template (keys retained, so each
// enrollment also seals and stores the private key).
func service(b *testing.B, dsn string) *enroll.Service {
	b.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, dsn, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	issuing := issuingCA(b)
	master := make([]byte, 32)
	rand.Read(master)
	kr, err := secret.New(master)
	if err != nil {
		b.Fatal(err)
	}
	q := db.Q()
	caID, err := q.InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "IssuingCA1", HostName: "localhost", Kind: "embedded", Role: "issuing",
		AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR, CreatedAt: time.Now()},
		CertDER: issuing.Certificate().Raw, ChainDER: issuing.Chain()[0].Raw, KeySealed: []byte{1}})
	if err != nil {
		b.Fatal(err)
	}
	tplID, err := q.InsertTemplate(ctx, policy.Template{CommonName: "WebServer", TemplateName: "WebServer", DisplayName: "Web Server",
		FriendlyName: "Web Server", OID: "1.3.6.1.4.1.311.21.8.1.1", ValidityDays: 365, ExtendedKeyUsage: []string{"1.3.6.1.5.5.7.3.1"},
		KeyInfo: policy.DefaultKeyInfo(), DefaultKeyType: "RSA", DefaultKeySize: 2048, KeyRetention: policy.RetentionIndefinite,
		CAIDs: []int64{caID}, AllowedEnrollmentTypes: policy.EnrollPFX | policy.EnrollCSR, RFCEnforcement: true, AllowOneClickRenewals: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := q.InsertPattern(ctx, policy.Pattern{Name: "WebServer", TemplateID: tplID, TemplateDefault: true}); err != nil {
		b.Fatal(err)
	}
	conn := ca.Connector(issuing)
	return enroll.New(enroll.Options{
		Store: q,
		InTx: func(ctx context.Context, fn func(enroll.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Connectors: func(id int64) (ca.Connector, bool) {
			if id == caID {
				return conn, true
			}
			return nil, false
		},
		Seal:           kr.Seal,
		IsNotFound:     func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		RandomPassword: func(n int) (string, error) { return secret.RandomPassword(nil, n) },
	})
}

// BenchmarkEnrollService runs enroll.Service.EnrollPFX in process: policy
// checks, key generation, issuance, PKCS#12 and the recording transaction
// (committed durably), without HTTP. Compare with BenchmarkCryptoFloor.
func BenchmarkEnrollService(b *testing.B) {
	for _, db := range []string{"sqlite", "postgres"} {
		b.Run(db, func(b *testing.B) {
			dsn := ""
			if db == "postgres" {
				dsn = postgresDSN(b)
			}
			svc := service(b, dsn)
			p := auth.NewPrincipal(1, "admin", nil, nil)
			var n atomic.Int64
			for _, kt := range keyTypes {
				keyType := map[string]string{"P-256": "ECC", "RSA-2048": "RSA"}[kt.name]
				b.Run(kt.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						res, err := svc.EnrollPFX(context.Background(), p, enroll.PFXRequest{APIVersion: 1, Format: enroll.FormatPFX,
							Template: "WebServer", KeyType: keyType, Subject: "CN=bench-" + strconv.FormatInt(n.Add(1), 10) + ".example.com",
							Password: "bench-password-123", IncludeChain: true, Timestamp: time.Now()})
						if err != nil {
							b.Fatal(err)
						}
						if res.CertificateID == 0 || len(res.Blob) == 0 {
							b.Fatalf("no certificate or PFX: %+v", res)
						}
					}
				})
			}
		})
	}
}
