package server

import (
	"context"
	"errors"
	"time"

	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// InventoryTick is how often the inventory scheduler looks for stores whose
// InventorySchedule is due.
const InventoryTick = 30 * time.Second

// storesService builds the store catalogue over the database.
func (s *Server) storesService() *stores.Service {
	return stores.New(stores.Options{
		Repo: s.db.Q(),
		InTx: func(ctx context.Context, fn func(stores.Repo) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Dialect: s.db.QueryDialect(), Seal: s.keyring.Seal, Open: s.keyring.Open, Now: s.now,
		IsNotFound:  func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		IsDuplicate: func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) },
	})
}

// jobsService builds the orchestrator job queue over the database.
func (s *Server) jobsService() *jobs.Service {
	return jobs.New(jobs.Options{
		Repo: s.db.Q(),
		InTx: func(ctx context.Context, fn func(jobs.Repo) error) error {
			return s.db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal: s.keyring.Seal, Open: s.keyring.Open, Dialect: s.db.QueryDialect(),
		IsNotFound: func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
	})
}

// startInventoryScheduler runs the inventory scheduler until ctx ends or
// the returned stop is called; stop waits for the loop to finish.
func (s *Server) startInventoryScheduler(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	t := time.NewTicker(InventoryTick)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.jobsService().RunScheduler(ctx, s.log, s.now, t.C)
	}()
	return func() {
		cancel()
		t.Stop()
		<-done
	}
}
