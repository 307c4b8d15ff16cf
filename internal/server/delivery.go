package server

import (
	"context"
	"errors"

	"github.com/certdock/certdock/internal/delivery"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// deliveryService wires internal/delivery (docs/delivery.md): it reads
// stores through its own view of the store catalogue and creates jobs with
// jobs.Schedule inside the caller's transaction (a sqlstore.Q inside WithTx).
func (s *Server) deliveryService() *delivery.Service {
	isNotFound := func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) }
	catalog := stores.New(stores.Options{
		Repo: s.db.Q(),
		InTx: func(ctx context.Context, fn func(stores.Repo) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Dialect: s.db.QueryDialect(), Seal: s.keyring.Seal, Open: s.keyring.Open, Now: s.now,
		IsNotFound:  isNotFound,
		IsDuplicate: func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) },
	})
	return delivery.New(delivery.Options{
		Reader:  s.db.Q(),
		Catalog: delivery.StoresCatalog{S: catalog},
		InTx: func(ctx context.Context, fn func(delivery.Tx) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal:           s.keyring.Seal,
		HashPassword:   func(p string) (string, error) { return secret.HashPassword(p, nil) },
		VerifyPassword: secret.VerifyPassword,
		IsNotFound:     isNotFound,
		Now:            s.now,
	})
}
