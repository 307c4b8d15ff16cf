package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/certdock/certdock/internal/stores"
)

// ScheduleInventories queues an inventory job for every store whose
// InventorySchedule is due at now and moves the store's next run on. It
// returns how many stores it handled. Each store is handled in its own
// transaction, so one bad store does not hold back the others.
func (s *Service) ScheduleInventories(ctx context.Context, now time.Time) (int, error) {
	now = now.UTC().Truncate(time.Second)
	due, err := s.o.Repo.StoresDueForInventory(ctx, now, 500)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range due {
		sched, err := stores.ParseSchedule(st.InventorySchedule)
		if err != nil {
			sched = stores.Schedule{} // unparsable: stop scheduling it
		}
		err = s.o.InTx(ctx, func(r Repo) error {
			if sched.Kind != "" {
				if _, err := Schedule(ctx, r, s.o.Seal, Request{StoreID: st.ID, Operation: Inventory,
					RequestedBy: "system", Source: "schedule:" + sched.String()}, now); err != nil {
					return err
				}
			}
			return r.SetNextInventory(ctx, st.ID, sched.Next(now))
		})
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// RunScheduler calls ScheduleInventories every tick until ctx ends. now is
// the clock (a fake one in tests); tick is how a test drives it.
func (s *Service) RunScheduler(ctx context.Context, log *slog.Logger, now func() time.Time, tick <-chan time.Time) {
	for {
		if _, err := s.ScheduleInventories(ctx, now()); err != nil && ctx.Err() == nil {
			log.Error("scheduling inventory jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
	}
}
