// Package server is certdock's composition root: it opens storage and the
// master key, bootstraps the built-in CA and the starter configuration,
// applies the setup file, builds the services with explicit wiring, mounts
// the routes and runs HTTPS until the context ends.
package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/certdock/certdock/internal/admin"
	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/ca"
	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/httpapi"
	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// Server is a running certdock.
type Server struct {
	cfg     config.Serve
	log     *slog.Logger
	out     io.Writer
	now     func() time.Time
	keyring *secret.Keyring
	db      *sqlstore.DB

	connectors map[int64]ca.Connector
	issuing    *embedded.CA
	root       *x509.Certificate

	Admin *admin.Service
	Auth  *auth.Authenticator

	dir enroll.Directory // nil: no directory configured

	wf wfState // approval workflows and their background loop (workflow.go)

	pki pkiState // CRL/OCSP listener and revocation service (pki.go)

	firstPassword     string
	firstPasswordFile string
}

// Open prepares a server: data directory, master key, database, CA,
// starter configuration and setup file. out receives the console messages.
func Open(ctx context.Context, cfg config.Serve, log *slog.Logger, out io.Writer) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: log, out: out, now: func() time.Time { return time.Now().UTC() }}
	var err error
	if s.keyring, _, err = secret.LoadOrCreate(filepath.Join(cfg.DataDir, "master.key"), nil); err != nil {
		return nil, err
	}
	if s.db, err = sqlstore.Open(ctx, cfg.DB, cfg.DataDir); err != nil {
		return nil, err
	}
	if err := s.preparePKI(); err != nil {
		s.db.Close()
		return nil, err
	}
	if err := s.init(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init(ctx context.Context) error {
	if err := s.bootstrapCA(ctx); err != nil {
		return err
	}
	if err := s.seed(ctx); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	s.Auth = auth.NewAuthenticator(s.db.Q(), secret.VerifyPassword, s.now, 2*time.Minute)
	s.Auth.SetDummyHash(func() (string, error) { return secret.HashPassword("certdock-timing-equaliser", nil) })
	s.Admin = admin.New(admin.Options{
		Store: s.db.Q(),
		InTx: func(ctx context.Context, fn func(admin.Store) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Now:          s.now,
		HashPassword: func(p string) (string, error) { return secret.HashPassword(p, nil) },
		Changed:      s.Auth.Flush,
		IsNotFound:   func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		IsDuplicate:  func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) },
	})
	if s.cfg.Config != "" {
		setup, err := config.LoadSetup(s.cfg.Config)
		if err != nil {
			return err
		}
		if err := s.applySetup(ctx, setup); err != nil {
			return fmt.Errorf("setup file %s: %w", s.cfg.Config, err)
		}
	}
	return s.loadCAs(ctx)
}

// loadCAs opens every issuing CA's key and builds its connector.
func (s *Server) loadCAs(ctx context.Context) error {
	rows, err := s.db.Q().CAs(ctx, "")
	if err != nil {
		return err
	}
	s.connectors = map[int64]ca.Connector{}
	for _, r := range rows {
		cert, err := x509.ParseCertificate(r.CertDER)
		if err != nil {
			return fmt.Errorf("CA %s: %w", r.LogicalName, err)
		}
		der, err := s.keyring.Open(r.KeySealed, caKeyAAD(r.LogicalName))
		if err != nil {
			return fmt.Errorf("CA %s: cannot open its key with %s (a database needs the master key it was created with): %w",
				r.LogicalName, filepath.Join(s.cfg.DataDir, "master.key"), err)
		}
		key, err := embedded.ParsePrivateKey(der)
		if err != nil {
			return err
		}
		if r.Role == "root" {
			// The root signs only its CRL here (issuing CAs are made in
			// bootstrap.go); it issues nothing through a connector.
			s.root = cert
			rc, err := embedded.New(embedded.Options{Cert: cert, Signer: key, Clock: s.now})
			if err != nil {
				return fmt.Errorf("CA %s: %w", r.LogicalName, err)
			}
			s.registerRootCRL(r.ID, r.LogicalName, rc)
			continue
		}
		chain, err := x509.ParseCertificates(r.ChainDER)
		if err != nil {
			return fmt.Errorf("CA %s chain: %w", r.LogicalName, err)
		}
		c, err := embedded.New(s.caOptions(r.LogicalName, embedded.Options{Cert: cert, Signer: key, Chain: chain, Clock: s.now}))
		if err != nil {
			return fmt.Errorf("CA %s: %w", r.LogicalName, err)
		}
		s.connectors[r.ID] = c
		s.registerRevocationCA(r.ID, r.LogicalName, c)
		if r.LogicalName == IssuingLogicalName {
			s.issuing = c
		}
	}
	if s.root == nil || s.issuing == nil {
		return errors.New("the built-in CA is incomplete in the database")
	}
	return s.writeCAFiles(s.root, s.issuing.Certificate())
}

// Handler builds the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	isNotFound := func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
	certs := certificate.NewService(s.db.Q(), s.db.QueryDialect(), s.now, isNotFound)
	dlv := s.deliveryService() // delivery into certificate stores (delivery.go)
	en := enroll.New(enroll.Options{
		Store: s.db.Q(),
		InTx: func(ctx context.Context, fn func(enroll.Store) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Connectors:     func(id int64) (ca.Connector, bool) { c, ok := s.connectors[id]; return c, ok },
		Seal:           s.keyring.Seal,
		Directory:      s.directory(),
		Now:            s.now,
		IsNotFound:     isNotFound,
		RandomPassword: func(n int) (string, error) { return secret.RandomPassword(nil, n) },
		Delivery:       delivery.EnrollmentHook{S: dlv},
		Approvals:      approvalsHook{s.workflow()},
	})
	s.workflow().SetIssuer(issuerHook{en})
	s.startWorkflow() // workflow.go
	api := httpapi.New(httpapi.Options{
		Logger: s.log, Auth: s.Auth, Admin: s.Admin, Certificates: certs, Enroll: en, Delivery: dlv,
		Health: s.db.Ping, Now: time.Now, Revocation: s.Revocation(), Retrieve: s.retrieveService(isNotFound),
		Workflow: s.workflow(),
		Stores:   s.storesService(), Jobs: s.jobsService(), // stores.go
	})
	mux := http.NewServeMux()
	mux.Handle(httpapi.Prefix+"/", api)
	mux.Handle(orchestrator.Prefix+"/", s.agentHandler()) // the agent protocol (orchestrator.go)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			fmt.Fprintln(w, "certdock: the Keyfactor-compatible API is at "+httpapi.Prefix+"/")
			return
		}
		api.ServeHTTP(w, r)
	}))
	return mux
}

// TLSConfig issues a fresh server certificate from the built-in CA for
// localhost, 127.0.0.1, ::1 and the host name. The key lives in memory only.
func (s *Server) TLSConfig(ctx context.Context) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if s.cfg.Hostname != "localhost" {
		hosts = append(hosts, s.cfg.Hostname)
	}
	resp, err := s.issuing.IssueServerCert(ctx, key.Public(), hosts, 90*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	chain := [][]byte{resp.Certificate.Raw}
	for _, c := range resp.Chain {
		chain = append(chain, c.Raw)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key, Leaf: resp.Certificate}},
		// Agents present their client certificate; only /KeyfactorAgents
		// looks at it and verifies it there (an expired or revoked one gets
		// a protocol answer, not a failed handshake). Other clients may
		// present none, or one certdock did not issue.
		ClientAuth: tls.RequestClientCert,
	}, nil
}

// Run serves HTTPS until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	tlsCfg, err := s.TLSConfig(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stopPKI, err := s.StartPKI(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopPKI()
	stopInventory := s.startInventoryScheduler(ctx) // stores.go
	defer stopInventory()
	s.announce(ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// Close releases the database.
func (s *Server) Close() error {
	s.closePKIListener()
	s.stopWorkflow()
	return s.db.Close()
}

// DB exposes the database (CLI commands).
func (s *Server) DB() *sqlstore.DB { return s.db }

func (s *Server) announce(addr net.Addr) {
	_, port, _ := net.SplitHostPort(addr.String())
	host := s.cfg.Hostname
	if h, _, _ := net.SplitHostPort(s.cfg.Listen); h != "" && h != "0.0.0.0" && h != "::" {
		host = h
	}
	url := fmt.Sprintf("https://%s", net.JoinHostPort(host, port))
	root := filepath.Join(s.cfg.DataDir, "root-ca.pem")
	fmt.Fprintf(s.out, "certdock: API base URL      %s/KeyfactorAPI\n", url)
	fmt.Fprintf(s.out, "certdock: trust this root   %s\n", root)
	if s.firstPassword != "" {
		fmt.Fprintf(s.out, "certdock: administrator     user %q, password %s\n", AdminAccount, s.firstPassword)
		fmt.Fprintf(s.out, "certdock:                   (shown once; also saved in %s, mode 0600)\n", s.firstPasswordFile)
		s.firstPassword = ""
	} else {
		fmt.Fprintf(s.out, "certdock: administrator     user %q (password from CERTDOCK_ADMIN_PASSWORD or %s)\n", AdminAccount, filepath.Join(s.cfg.DataDir, "admin-password.txt"))
	}
	fmt.Fprintf(s.out, "certdock: try               curl --cacert %s -u %s:PASSWORD -H 'x-keyfactor-requested-with: APIClient' %s/KeyfactorAPI/Status/Endpoints\n", root, AdminAccount, url)
	fmt.Fprintf(s.out, "certdock ready on %s\n", url)
}
