package server

import (
	"context"
	"crypto/x509"

	"github.com/certdock/certdock/internal/retrieve"
	"github.com/certdock/certdock/internal/sqlstore"
)

// retrieveService wires download and key recovery (issue 4).
func (s *Server) retrieveService(isNotFound func(error) bool) *retrieve.Service {
	return retrieve.New(retrieve.Options{
		Store: s.db.Q(),
		InTx: func(ctx context.Context, fn func(retrieve.Store) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Open: s.keyring.Open,
		Chain: func(caID int64) ([]*x509.Certificate, bool) {
			c, ok := s.connectors[caID].(interface{ Chain() []*x509.Certificate })
			if !ok {
				return nil, false
			}
			return c.Chain(), true
		},
		IsNotFound: isNotFound,
		Now:        s.now,
	})
}
