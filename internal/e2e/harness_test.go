// Package e2e holds end-to-end tests: a real certdock server on a real TLS
// listener, driven by the official Keyfactor Go SDK, plain net/http clients
// and the openssl command-line tool. It has no non-test code.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/server"
)

const adminPassword = "e2e-admin-password-123"

// instance is one running server under test.
type instance struct {
	dataDir string
	port    int
	base    string // https://localhost:port/KeyfactorAPI
	roots   *x509.CertPool
}

const pgEnv = "CERTDOCK_TEST_POSTGRES_DSN"

// postgresDSN creates a fresh schema and returns a DSN using it. It skips
// when the env var is unset and fails when Postgres is unreachable.
func postgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		t.Skip(pgEnv + " not set")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("postgres unreachable at %s: %v", base, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "e2e_" + hex.EncodeToString(b)
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		db.Close()
	})
	sep := "?"
	for _, c := range base {
		if c == '?' {
			sep = "&"
		}
	}
	return base + sep + "search_path=" + schema
}

// start runs a server on a real TLS listener; dsn empty means SQLite.
func start(t testing.TB, dsn string) *instance {
	t.Helper()
	return startSetup(t, dsn, "")
}

// startSetup is start with a setup file (--config); empty means none.
func startSetup(t testing.TB, dsn, setupFile string) *instance {
	t.Helper()
	t.Setenv("CERTDOCK_ADMIN_PASSWORD", adminPassword)
	ctx := context.Background()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.Open(ctx, config.Serve{Listen: "127.0.0.1:0", DataDir: dir, DB: dsn, Hostname: "localhost", Config: setupFile}, log, io.Discard)
	if err != nil {
		t.Fatalf("server.Open: %v", err)
	}
	tlsCfg, err := s.TLSConfig(ctx)
	if err != nil {
		s.Close()
		t.Fatalf("TLSConfig: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(), TLSConfig: tlsCfg, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	pemRoot, err := os.ReadFile(filepath.Join(dir, "root-ca.pem"))
	if err != nil {
		t.Fatalf("root CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemRoot) {
		t.Fatal("root-ca.pem holds no certificate")
	}
	port := ln.Addr().(*net.TCPAddr).Port
	return &instance{dataDir: dir, port: port, base: "https://localhost:" + strconv.Itoa(port) + "/KeyfactorAPI", roots: pool}
}

// httpClient trusts only the server's root CA.
func (in *instance) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: in.roots}}}
}
