package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/revocation"
	"github.com/certdock/certdock/internal/sqlstore"
)

// pkiState is the plain-HTTP PKI listener (CRLs, CA certificates, OCSP)
// and the revocation service behind it.
type pkiState struct {
	base string       // base URL put into certificates; "" when disabled
	ln   net.Listener // bound in Open when the port is chosen by the kernel
	cas  []revocation.CA

	once sync.Once
	svc  *revocation.Service
}

// preparePKI fixes the PKI base URL before any certificate is issued. With
// port 0 it has to bind the listener now to learn the port; otherwise it
// binds in StartPKI, so that CLI commands that open the server do not
// take the port.
func (s *Server) preparePKI() error {
	if s.cfg.PKIHTTPAddr == "" {
		s.pki.base = s.cfg.PKIBaseURL // a listener elsewhere (reverse proxy) may serve it
		return nil
	}
	host, port, err := net.SplitHostPort(s.cfg.PKIHTTPAddr)
	if err != nil {
		return fmt.Errorf("--pki-http-addr: %w", err)
	}
	if port == "0" {
		if s.pki.ln, err = net.Listen("tcp", s.cfg.PKIHTTPAddr); err != nil {
			return fmt.Errorf("PKI listener: %w", err)
		}
		s.pki.base = s.cfg.PKIBaseURLFor(s.pki.ln.Addr())
		return nil
	}
	s.pki.base = s.cfg.PKIBaseURLFor(&net.TCPAddr{IP: net.ParseIP(host), Port: mustPort(port)})
	return nil
}

func mustPort(p string) int {
	var n int
	fmt.Sscanf(p, "%d", &n)
	return n
}

// caOptions adds the CRL distribution point and AIA URLs of CA logical to
// o, when a PKI base URL is known.
func (s *Server) caOptions(logical string, o embedded.Options) embedded.Options {
	if s.pki.base != "" {
		o.CRLURLs, o.OCSPURLs, o.IssuerURLs = revocation.URLs(s.pki.base, logical)
	}
	return o
}

// rootOptions adds, when a PKI base URL is known, the URLs of the root's
// CRL and certificate: the root signs them into the issuing CA
// certificates it makes (cRLDistributionPoints, caIssuers). The root
// answers no OCSP, so no OCSP URL.
func (s *Server) rootOptions(o embedded.Options) embedded.Options {
	if s.pki.base != "" {
		o.CRLURLs, _, o.IssuerURLs = revocation.URLs(s.pki.base, RootLogicalName)
	}
	return o
}

// registerRootCRL records the root CA for CRL publication only.
func (s *Server) registerRootCRL(id int64, logical string, c *embedded.CA) {
	s.pki.cas = append(s.pki.cas, revocation.CA{ID: id, LogicalName: logical, Signer: c, CRLOnly: true})
}

// registerRevocationCA records an issuing CA for CRL and OCSP publication.
func (s *Server) registerRevocationCA(id int64, logical string, c *embedded.CA) {
	s.pki.cas = append(s.pki.cas, revocation.CA{ID: id, LogicalName: logical, Signer: c})
}

// Revocation returns the revocation service (one per server: the API and
// the PKI listener share its CRL state).
func (s *Server) Revocation() *revocation.Service {
	s.pki.once.Do(func() {
		s.pki.svc = revocation.New(revocation.Options{
			Store: s.db.Q(),
			InTx: func(ctx context.Context, fn func(revocation.Store) error) error {
				return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
			},
			CAs:        s.pki.cas,
			Dialect:    s.db.QueryDialect(),
			Now:        s.now,
			IsNotFound: func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
			Logger:     s.log,
		})
	})
	return s.pki.svc
}

// PKIBaseURL is the base URL of the PKI listener as put into certificates;
// empty when there is none.
func (s *Server) PKIBaseURL() string { return s.pki.base }

// StartPKI serves CRLs, CA certificates and OCSP over plain HTTP on
// --pki-http-addr and runs the CRL schedule, until ctx ends or stop is
// called. Without a PKI address it does nothing.
func (s *Server) StartPKI(ctx context.Context) (stop func(), err error) {
	if s.cfg.PKIHTTPAddr == "" {
		return func() {}, nil
	}
	ln := s.pki.ln
	if ln == nil {
		if ln, err = net.Listen("tcp", s.cfg.PKIHTTPAddr); err != nil {
			return nil, fmt.Errorf("PKI listener: %w", err)
		}
	}
	s.pki.ln = nil
	svc := s.Revocation()
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("PKI listener stopped", "err", err)
		}
	}()
	go func() { defer wg.Done(); svc.RunScheduler(ctx, time.Minute) }()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(s.out, "certdock: CRL and OCSP at    %s (listening on %s)\n", s.pki.base, ln.Addr())
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }, nil
}

// closePKIListener releases a listener bound in Open but never served.
func (s *Server) closePKIListener() {
	if s.pki.ln != nil {
		s.pki.ln.Close()
		s.pki.ln = nil
	}
}
