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
	"strings"
	"sync"
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
	return startWith(t, startOptions{DSN: dsn}).instance
}

// startSetup is start with a setup file (--config); empty means none.
func startSetup(t testing.TB, dsn, setupFile string) *instance {
	t.Helper()
	return startWith(t, startOptions{DSN: dsn, SetupFile: setupFile}).instance
}

// startOptions says how startWith runs a server; the zero value is
// start(t, "").
type startOptions struct {
	DSN       string // empty: SQLite in the data directory
	SetupFile string // setup file (--config); empty: none
	// DataDir empty is a fresh t.TempDir(); passing one a stopped server
	// used restarts on its data (with the same DSN).
	DataDir string
	// PKI serves the plain-HTTP PKI listener (CRL, OCSP) on a
	// kernel-chosen port with its CRL schedule, as server.Run does; the
	// server derives the CRL/OCSP URLs from the real port before it issues
	// anything.
	PKI  bool
	Env  map[string]string   // more environment for the server (t.Setenv)
	Tune func(*config.Serve) // changes the configuration before server.Open
}

// running is a server startWith started, with what tests reach beyond the
// REST API.
type running struct {
	*instance
	srv     *server.Server
	url     string // https://localhost:port
	caFile  string // the root CA's PEM file in the data directory
	handler http.Handler
	tlsCfg  *tls.Config
	pkiBase string // http://127.0.0.1:PORT with PKI, else empty
	// stop shuts the server down before the test ends (restart tests);
	// it runs at cleanup too, once in all.
	stop func()
}

// startWith runs a server as o says on a real TLS listener until the test
// ends or stop is called.
func startWith(t testing.TB, o startOptions) *running {
	t.Helper()
	t.Setenv("CERTDOCK_ADMIN_PASSWORD", adminPassword)
	for k, v := range o.Env {
		t.Setenv(k, v)
	}
	ctx := context.Background()
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := config.Serve{Listen: "127.0.0.1:0", DataDir: dir, DB: o.DSN, Hostname: "localhost", Config: o.SetupFile}
	if o.PKI {
		cfg.PKIHTTPAddr = "127.0.0.1:0"
	}
	if o.Tune != nil {
		o.Tune(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.Open(ctx, cfg, log, io.Discard)
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
	stopPKI, err := s.StartPKI(ctx) // does nothing without PKI
	if err != nil {
		ln.Close()
		s.Close()
		t.Fatalf("StartPKI: %v", err)
	}
	handler := s.Handler()
	srv := &http.Server{Handler: handler, TLSConfig: tlsCfg.Clone(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); srv.ServeTLS(ln, "", "") }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			<-done
			stopPKI()
			if err := s.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	caFile := filepath.Join(dir, "root-ca.pem")
	pemRoot, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("root CA file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemRoot) {
		t.Fatal("root-ca.pem holds no certificate")
	}
	port := ln.Addr().(*net.TCPAddr).Port
	url := "https://localhost:" + strconv.Itoa(port)
	r := &running{instance: &instance{dataDir: dir, port: port, base: url + "/KeyfactorAPI", roots: pool},
		srv: s, url: url, caFile: caFile, handler: handler, tlsCfg: tlsCfg, pkiBase: s.PKIBaseURL(), stop: stop}
	if o.PKI && (!strings.HasPrefix(r.pkiBase, "http://127.0.0.1:") || strings.HasSuffix(r.pkiBase, ":0")) {
		t.Fatalf("PKI base URL %q does not name the real port", r.pkiBase)
	}
	return r
}

// httpClient trusts only the server's root CA.
func (in *instance) httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: in.roots}}}
}
