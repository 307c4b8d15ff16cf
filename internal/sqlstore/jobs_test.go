package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/jobs"
	"github.com/certdock/certdock/internal/query"
	"github.com/certdock/certdock/internal/sqlstore"
	"github.com/certdock/certdock/internal/stores"
)

// fakeSeal is a reversible stand-in for the keyring that still binds the AAD.
func fakeSeal(plain, aad []byte) ([]byte, error) {
	return append(append(append([]byte{}, aad...), '|'), plain...), nil
}

func fakeOpen(blob, aad []byte) ([]byte, error) {
	if len(blob) < len(aad)+1 || string(blob[:len(aad)]) != string(aad) {
		return nil, errors.New("aad mismatch")
	}
	return blob[len(aad)+1:], nil
}

func qdialect(db *sqlstore.DB) query.Dialect { return db.QueryDialect() }

func storesService(db *sqlstore.DB, now func() time.Time) *stores.Service {
	return stores.New(stores.Options{
		Repo: db.Q(),
		InTx: func(ctx context.Context, fn func(stores.Repo) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Dialect: qdialect(db), Seal: fakeSeal, Open: fakeOpen, Now: now,
		IsNotFound:  func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
		IsDuplicate: func(err error) bool { return errors.Is(err, sqlstore.ErrDuplicate) },
	})
}

func jobsService(db *sqlstore.DB) *jobs.Service {
	return jobs.New(jobs.Options{
		Repo: db.Q(),
		InTx: func(ctx context.Context, fn func(jobs.Repo) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		Seal: fakeSeal, Open: fakeOpen, Dialect: qdialect(db),
		IsNotFound: func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
	})
}

// jobFixture makes an agent and a PEM store served by it.
func jobFixture(t *testing.T, db *sqlstore.DB, now time.Time) (agentID, storeID string) {
	t.Helper()
	ctx := context.Background()
	ss := storesService(db, func() time.Time { return now })
	a, err := ss.RegisterAgent(ctx, stores.Agent{ClientMachine: "web1", Username: "agent"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := ss.Create(ctx, adminPrincipal(), stores.StoreInput{ClientMachine: "web1", StorePath: "/etc/ssl/web.pem",
		StoreType: stores.TypePEM, AgentID: a.AgentID})
	if err != nil {
		t.Fatal(err)
	}
	return a.AgentID, st.ID
}

// jobsStart is how a jobs test begins: the fixture agent and store at the
// fake clock's start t0, and the jobs service.
func jobsStart(t *testing.T, db *sqlstore.DB) (ctx context.Context, t0 time.Time, agent, store string, js *jobs.Service) {
	t.Helper()
	t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	agent, store = jobFixture(t, db, t0)
	return context.Background(), t0, agent, store, jobsService(db)
}

// scheduleAddJob schedules an add job of certificate certID into store at
// now and returns its id.
func scheduleAddJob(t *testing.T, js *jobs.Service, store string, certID int64, now time.Time) string {
	t.Helper()
	id, err := js.Schedule(context.Background(), jobs.Request{StoreID: store, Operation: jobs.Add, CertificateID: certID}, now)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestJobs_ScheduleDueLeaseComplete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx, t0, agent, store, js := jobsStart(t, db)

		var id string
		err := db.WithTx(ctx, func(q sqlstore.Q) error {
			var err error
			id, err = jobs.Schedule(ctx, q, fakeSeal, jobs.Request{StoreID: store, Operation: jobs.Add, CertificateID: 7,
				Alias: "web", EntryPassword: "entry-secret", PrivateKey: true, Source: "deploy"}, t0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		future, err := js.Schedule(ctx, jobs.Request{StoreID: store, Operation: jobs.Remove, CertificateID: 7,
			DueAt: t0.Add(time.Hour)}, t0)
		if err != nil {
			t.Fatal(err)
		}

		due, err := js.Due(ctx, agent, t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].ID != id || due[0].Alias != "web" || due[0].CertificateID != 7 || !due[0].PrivateKey {
			t.Fatalf("Due at t0 = %+v, want only the add job %s", due, id)
		}
		if due[0].EntryPassword != "" {
			t.Fatalf("Due leaked the entry password")
		}
		if pw, err := js.EntryPassword(ctx, id); err != nil || pw != "entry-secret" {
			t.Fatalf("EntryPassword = %q, %v", pw, err)
		}
		if _, err := js.Lease(ctx, future, agent, t0, time.Minute); !errs.Is(err, errs.Conflict) {
			t.Fatalf("Lease of a future job: err = %v, want Conflict", err)
		}
		if d, _ := js.Due(ctx, agent, t0.Add(time.Hour)); len(d) != 2 {
			t.Fatalf("Due after the future job's time = %d jobs, want 2", len(d))
		}
		if d, _ := js.Due(ctx, "00000000-0000-4000-8000-000000000000", t0); len(d) != 0 {
			t.Fatalf("another agent sees %d jobs", len(d))
		}

		j, err := js.Lease(ctx, id, agent, t0, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != jobs.StateLeased || j.Attempts != 1 || j.AgentID != agent {
			t.Fatalf("leased job = %+v", j)
		}
		if d, _ := js.Due(ctx, agent, t0.Add(time.Minute)); len(d) != 0 {
			t.Fatalf("a leased job is still due: %+v", d)
		}
		if err := js.Complete(ctx, id, jobs.StatusOK, "done", t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		// idempotent: a second completion (even with another status) changes nothing
		if err := js.Complete(ctx, id, jobs.StatusError, "late duplicate", t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := js.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != jobs.StateCompleted || got.Status != jobs.StatusOK || got.Message != "done" || got.CompletedAt == nil {
			t.Fatalf("completed job = %+v", got)
		}
		hist, err := js.History(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 || hist[0].JobID != id || hist[0].Status != jobs.StatusOK || hist[0].StorePath != "/etc/ssl/web.pem" {
			t.Fatalf("history = %+v, want one entry", hist)
		}
		// the finished management job queued an inventory job, due at once
		d, _ := js.Due(ctx, agent, t0.Add(2*time.Minute))
		if len(d) != 1 || d[0].Operation != jobs.Inventory {
			t.Fatalf("after completion Due = %+v, want one inventory job", d)
		}
		sched, err := js.ScheduledJobs(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sched) != 2 { // the future remove and the inventory
			t.Fatalf("ScheduledJobs = %d, want 2", len(sched))
		}
	})
}

func TestJobs_ConcurrentLeaseOneWinner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx, t0, agent, store, js := jobsStart(t, db)
		for round := 0; round < 10; round++ {
			id, err := js.Schedule(ctx, jobs.Request{StoreID: store, Operation: jobs.Add, CertificateID: int64(round + 1)}, t0)
			if err != nil {
				t.Fatal(err)
			}
			const n = 4
			var wg sync.WaitGroup
			wins := make(chan error, n)
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := js.Lease(ctx, id, agent, t0, time.Minute)
					wins <- err
				}()
			}
			close(start)
			wg.Wait()
			close(wins)
			won := 0
			for err := range wins {
				switch {
				case err == nil:
					won++
				case !errs.Is(err, errs.Conflict):
					t.Fatalf("round %d: unexpected lease error %v", round, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d concurrent Lease calls won, want exactly 1", round, won)
			}
		}
	})
}

func TestJobs_LeaseExpiryAndRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx, t0, agent, store, js := jobsStart(t, db)
		id := scheduleAddJob(t, js, store, 3, t0)
		if _, err := js.Lease(ctx, id, agent, t0, time.Minute); err != nil {
			t.Fatal(err)
		}
		// the agent dies: within the lease nobody gets the job, after it the job is handed out again
		if _, err := js.Lease(ctx, id, agent, t0.Add(30*time.Second), time.Minute); !errs.Is(err, errs.Conflict) {
			t.Fatalf("Lease within the lease: err = %v, want Conflict", err)
		}
		d, _ := js.Due(ctx, agent, t0.Add(61*time.Second))
		if len(d) != 1 || d[0].ID != id {
			t.Fatalf("after lease expiry Due = %+v, want the job back", d)
		}
		j, err := js.Lease(ctx, id, agent, t0.Add(61*time.Second), time.Minute)
		if err != nil || j.Attempts != 2 {
			t.Fatalf("re-lease after expiry = %+v, %v; want attempt 2", j, err)
		}

		// error -> retried with backoff: attempt 2 failed -> due 2 minutes later
		now := t0.Add(90 * time.Second)
		out, err := js.Finish(ctx, id, jobs.Completion{Status: jobs.StatusError, Message: "disk full"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Retry || out.Job.State != jobs.StateScheduled || !out.Job.DueAt.Equal(now.Add(2*time.Minute)) {
			t.Fatalf("after an error: %+v, want a retry due %s", out.Job, now.Add(2*time.Minute))
		}
		if d, _ := js.Due(ctx, agent, now.Add(time.Minute)); len(d) != 0 {
			t.Fatalf("retry is due before its backoff: %+v", d)
		}
		// fail until the last attempt: final failure, then an inventory job
		for now = now.Add(2 * time.Minute); ; now = now.Add(time.Hour) {
			if _, err := js.Lease(ctx, id, agent, now, time.Minute); err != nil {
				t.Fatal(err)
			}
			out, err = js.Finish(ctx, id, jobs.Completion{Status: jobs.StatusError, Message: "still full"}, now)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Retry {
				break
			}
		}
		if out.Job.State != jobs.StateFailed || out.Job.Attempts != jobs.MaxAttempts || out.InventoryJobID == "" {
			t.Fatalf("final failure = %+v (inventory %q), want Failed after %d attempts", out.Job, out.InventoryJobID, jobs.MaxAttempts)
		}

		// impossible: no retry
		id2, _ := js.Schedule(ctx, jobs.Request{StoreID: store, Operation: jobs.Remove, Alias: "x"}, now)
		if _, err := js.Lease(ctx, id2, agent, now, time.Minute); err != nil {
			t.Fatal(err)
		}
		out, err = js.Finish(ctx, id2, jobs.Completion{Status: jobs.StatusError, Message: "unsupported", Impossible: true}, now)
		if err != nil || out.Retry || out.Job.State != jobs.StateFailed {
			t.Fatalf("impossible job = %+v, %v", out, err)
		}

		// JobHistory: every error attempt but the last is CompletedWillRetry (5);
		// the final failure and the impossible job are Completed (3) with Result 4.
		hist, err := js.History(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hist {
			if h.JobID == id || h.JobID == id2 {
				tag := "a"
				if h.JobID == id2 {
					tag = "b"
				}
				got = append(got, fmt.Sprintf("%s%d:%d/%d", tag, h.Attempt, h.Status, h.JobStatus()))
			}
		}
		if g, want := strings.Join(got, " "), "a2:4/5 a3:4/5 a4:4/5 a5:4/3 b1:4/3"; g != want {
			t.Errorf("history attempt:Result/Status = %s, want %s", g, want)
		}
	})
}

// TestJobs_HistoryStatusAfterRetrySucceeds: an error followed by a
// successful retry shows 5 then 3; a warning is Completed with Result 3.
func TestJobs_HistoryStatusAfterRetrySucceeds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx, t0, agent, store, js := jobsStart(t, db)
		id := scheduleAddJob(t, js, store, 3, t0)
		steps := []struct {
			at     time.Time
			status int
		}{{t0, jobs.StatusError}, {t0.Add(2 * time.Minute), jobs.StatusWarning}}
		for _, st := range steps {
			if _, err := js.Lease(ctx, id, agent, st.at, time.Minute); err != nil {
				t.Fatal(err)
			}
			if _, err := js.Finish(ctx, id, jobs.Completion{Status: st.status, Message: "m"}, st.at); err != nil {
				t.Fatal(err)
			}
		}
		hist, err := js.History(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, h := range hist {
			if h.JobID == id {
				got = append(got, fmt.Sprintf("%d:%d/%d", h.Attempt, h.Status, h.JobStatus()))
			}
		}
		if g, want := strings.Join(got, " "), "1:4/5 2:3/3"; g != want {
			t.Errorf("history attempt:Result/Status = %s, want %s", g, want)
		}
	})
}

func TestJobs_ScheduleRejects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx, t0, _, store, js := jobsStart(t, db)
		cases := []struct {
			name string
			r    jobs.Request
			kind errs.Kind
		}{
			{"unknown store", jobs.Request{StoreID: "11111111-2222-4333-8444-555555555555", Operation: jobs.Inventory}, errs.NotFound},
			{"not a guid", jobs.Request{StoreID: "nope", Operation: jobs.Inventory}, errs.Invalid},
			{"bad operation", jobs.Request{StoreID: store, Operation: 9}, errs.Invalid},
			{"add without certificate", jobs.Request{StoreID: store, Operation: jobs.Add}, errs.Invalid},
		}
		for _, c := range cases {
			if _, err := js.Schedule(ctx, c.r, t0); !errs.Is(err, c.kind) {
				t.Errorf("%s: err = %v, want kind %v", c.name, err, c.kind)
			}
		}
		// a second inventory request while one waits returns the waiting job
		a, err := js.Schedule(ctx, jobs.Request{StoreID: store, Operation: jobs.Inventory}, t0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := js.Schedule(ctx, jobs.Request{StoreID: store, Operation: jobs.Inventory}, t0.Add(time.Second))
		if err != nil || a != b {
			t.Fatalf("second inventory = %q, %v; want the waiting %q", b, err, a)
		}
		if err := js.Complete(ctx, "11111111-2222-4333-8444-555555555555", jobs.StatusOK, "", t0); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Complete unknown job: %v", err)
		}
	})
}

func TestJobs_InventoryScheduler(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		clock := t0
		ss := storesService(db, func() time.Time { return clock })
		a, err := ss.RegisterAgent(ctx, stores.Agent{ClientMachine: "web1"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := ss.Create(ctx, adminPrincipal(), stores.StoreInput{ClientMachine: "web1", StorePath: "/a.p12",
			StoreType: stores.TypePKCS12, AgentID: a.AgentID, InventorySchedule: "I_60", Password: ptrTo("pw")})
		if err != nil {
			t.Fatal(err)
		}
		js := jobsService(db)
		if n, err := js.ScheduleInventories(ctx, t0.Add(59*time.Minute)); err != nil || n != 0 {
			t.Fatalf("before the interval: %d stores, %v", n, err)
		}
		if n, err := js.ScheduleInventories(ctx, t0.Add(60*time.Minute)); err != nil || n != 1 {
			t.Fatalf("at the interval: %d stores, %v", n, err)
		}
		d, _ := js.Due(ctx, a.AgentID, t0.Add(60*time.Minute))
		if len(d) != 1 || d[0].Operation != jobs.Inventory || d[0].StoreID != st.ID {
			t.Fatalf("Due = %+v, want one inventory job", d)
		}
		// not again until the next hour
		if n, _ := js.ScheduleInventories(ctx, t0.Add(119*time.Minute)); n != 0 {
			t.Fatalf("scheduled again within the hour")
		}
		if n, _ := js.ScheduleInventories(ctx, t0.Add(120*time.Minute)); n != 1 {
			t.Fatalf("not scheduled at the second hour")
		}
		// the waiting inventory job absorbed the second run
		if d, _ := js.Due(ctx, a.AgentID, t0.Add(120*time.Minute)); len(d) != 1 {
			t.Fatalf("Due = %d jobs, want 1 (no duplicate inventory)", len(d))
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

// TestJobs_RunSchedulerLoop drives the server's scheduler loop with a fake
// clock and a hand-fed tick channel.
func TestJobs_RunSchedulerLoop(t *testing.T) {
	db, _ := sqliteBackend().open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := t0
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ss := storesService(db, now)
	a, err := ss.RegisterAgent(ctx, stores.Agent{ClientMachine: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Create(ctx, adminPrincipal(), stores.StoreInput{ClientMachine: "h", StorePath: "/p.pem",
		StoreType: stores.TypePEM, AgentID: a.AgentID, InventorySchedule: "I_5"}); err != nil {
		t.Fatal(err)
	}
	js := jobsService(db)
	tick := make(chan time.Time)
	done := make(chan struct{})
	go func() { defer close(done); js.RunScheduler(ctx, slog.New(slog.DiscardHandler), now, tick) }()
	waitDue := func(at time.Time, want int) {
		t.Helper()
		for i := 0; i < 200; i++ {
			if d, _ := js.Due(ctx, a.AgentID, at); len(d) == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		d, _ := js.Due(ctx, a.AgentID, at)
		t.Fatalf("Due at %s = %d jobs, want %d", at, len(d), want)
	}
	tick <- t0 // the loop ran once at start; this tick makes sure it ran again
	waitDue(t0.Add(time.Hour), 0)
	mu.Lock()
	clock = t0.Add(5 * time.Minute)
	mu.Unlock()
	tick <- t0
	tick <- t0 // the second send returns only once the first tick's run is done
	waitDue(t0.Add(5*time.Minute), 1)
	cancel()
	<-done
}

// TestJobs_ConcurrentCompleteOnce: an agent retrying its completion while the
// first is still in flight records the job once and queues one inventory job.
func TestJobs_ConcurrentCompleteOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx, t0, agent, store, js := jobsStart(t, db)
		id := scheduleAddJob(t, js, store, 9, t0)
		if _, err := js.Lease(ctx, id, agent, t0, time.Minute); err != nil {
			t.Fatal(err)
		}
		const n = 4
		var wg sync.WaitGroup
		outs := make(chan jobs.Outcome, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				o, err := js.Finish(ctx, id, jobs.Completion{Status: jobs.StatusOK, Message: "ok"}, t0.Add(time.Second))
				if err != nil {
					t.Error(err)
				}
				outs <- o
			}()
		}
		wg.Wait()
		close(outs)
		fresh := 0
		for o := range outs {
			if !o.AlreadyDone {
				fresh++
			}
		}
		hist, _ := js.History(ctx, nil)
		due, _ := js.Due(ctx, agent, t0.Add(time.Second))
		if fresh != 1 || len(hist) != 1 || len(due) != 1 {
			t.Fatalf("%d completions took effect, %d history rows, %d inventory jobs; want 1, 1, 1", fresh, len(hist), len(due))
		}
	})
}
