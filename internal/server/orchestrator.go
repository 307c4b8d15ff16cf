package server

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/enroll"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// Environment knobs of the agent protocol (docs/agent-protocol.md).
const (
	// EnvAgentJobLease is how long a session holds a job it started
	// (a Go duration, default 5m): a crashed agent's job runs again after it.
	EnvAgentJobLease = "CERTDOCK_AGENT_JOB_LEASE"
	// EnvAgentHeartbeat is the heartbeat interval told to agents, in minutes.
	EnvAgentHeartbeat = "CERTDOCK_AGENT_HEARTBEAT_MINUTES"
	// EnvAgentCertValidity is the lifetime of agent client certificates
	// (a Go duration, default a year).
	EnvAgentCertValidity = "CERTDOCK_AGENT_CERT_VALIDITY"
)

// agentHandler builds the agent protocol handler mounted at /KeyfactorAgents/.
func (s *Server) agentHandler() http.Handler {
	isNotFound := func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
	q := s.db.Q()
	cat := stores.New(stores.Options{
		Repo: q,
		InTx: func(ctx context.Context, fn func(stores.Repo) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Dialect: s.db.QueryDialect(), Seal: s.keyring.Seal, Open: s.keyring.Open, Now: s.now,
		IsNotFound: isNotFound, IsDuplicate: func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) },
	})
	queue := jobs.New(jobs.Options{
		Repo: q,
		InTx: func(ctx context.Context, fn func(jobs.Repo) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal: s.keyring.Seal, Open: s.keyring.Open, Dialect: s.db.QueryDialect(), IsNotFound: isNotFound,
	})
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(s.root)
	for _, c := range s.issuing.Chain() {
		if c.Equal(s.root) {
			continue
		}
		inter.AddCert(c)
	}
	var issuerID int64
	for id, c := range s.connectors {
		if c == s.issuing {
			issuerID = id
		}
	}
	lease, _ := time.ParseDuration(os.Getenv(EnvAgentJobLease))
	validity, _ := time.ParseDuration(os.Getenv(EnvAgentCertValidity))
	hb := 0
	if v := os.Getenv(EnvAgentHeartbeat); v != "" {
		if d, err := time.ParseDuration(v + "m"); err == nil {
			hb = int(d / time.Minute)
		}
	}
	svc := orchestrator.New(orchestrator.Options{
		Catalogue: cat, Queue: queue, Repo: q,
		InTx: func(ctx context.Context, fn func(orchestrator.Repo) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Basic:  s.Auth.Basic,
		Issuer: s.issuing, IssuerCAID: issuerID, Roots: roots, Intermediates: inter,
		ChainOf: func(rec certificate.Record) []*x509.Certificate {
			if rec.CAID != nil {
				if c, ok := s.connectors[*rec.CAID]; ok {
					if ch, ok := c.(interface{ Chain() []*x509.Certificate }); ok {
						return ch.Chain()
					}
				}
			}
			return s.issuing.Chain()
		},
		Open:           s.keyring.Open,
		RetainedKeyAAD: enroll.RetainedKeyAAD,
		RandomPassword: func(n int) (string, error) { return secret.RandomPassword(nil, n) },
		IsNotFound:     isNotFound,
		Now:            s.now,
		Logger:         s.log,
		LeaseDuration:  lease, HeartbeatInterval: hb, ClientCertValidity: validity,
	})
	return svc.Handler()
}
