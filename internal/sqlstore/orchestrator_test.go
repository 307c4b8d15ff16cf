package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/orchestrator"
	"github.com/certdock/certdock/internal/sqlstore"
)

func TestStore_AgentSessions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		now := utc("2026-03-01T10:00:00Z")
		s := orchestrator.SessionRecord{TokenHash: "h1", AgentID: "a1", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(15 * time.Minute)}
		if err := q.InsertSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := q.Session(ctx, "h1")
		if err != nil || got.AgentID != "a1" || !got.ExpiresAt.Equal(s.ExpiresAt) || !got.CreatedAt.Equal(now) {
			t.Fatalf("session: %+v %v", got, err)
		}
		if _, err := q.Session(ctx, "nope"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		later := now.Add(10 * time.Minute)
		if err := q.TouchSession(ctx, "h1", later, later.Add(15*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ := q.Session(ctx, "h1"); !got.LastSeen.Equal(later) || !got.ExpiresAt.Equal(later.Add(15*time.Minute)) {
			t.Fatalf("after touch: %+v", got)
		}
		if err := q.TouchSession(ctx, "nope", later, later); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("touch unknown: %v", err)
		}
		if err := q.DeleteExpiredSessions(ctx, later.Add(16*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Session(ctx, "h1"); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Fatalf("expired session kept: %v", err)
		}
	})
}

func TestStore_JobHolds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		now := utc("2026-03-01T10:00:00Z")
		lease := 5 * time.Minute
		steps := []struct {
			name    string
			session string
			at      time.Time
			want    bool
			holder  string
		}{
			{"first hold", "s1", now, true, "s1"},
			{"same session renews", "s1", now.Add(time.Minute), true, "s1"},
			{"other session while held", "s2", now.Add(2 * time.Minute), false, "s1"},
			{"other session at expiry", "s2", now.Add(6 * time.Minute), false, "s1"},
			{"other session after expiry", "s2", now.Add(6*time.Minute + time.Second), true, "s2"},
			{"old session after takeover", "s1", now.Add(7 * time.Minute), false, "s2"},
		}
		for _, st := range steps {
			ok, err := q.HoldJob(ctx, "job-1", st.session, "agent-1", st.at, st.at.Add(lease))
			if err != nil || ok != st.want {
				t.Fatalf("%s: %v %v, want %v", st.name, ok, err, st.want)
			}
			if h, _, _ := q.JobHolder(ctx, "job-1"); h != st.holder {
				t.Fatalf("%s: holder %q, want %q", st.name, h, st.holder)
			}
		}
		if err := q.ReleaseJob(ctx, "job-1"); err != nil {
			t.Fatal(err)
		}
		if h, _, err := q.JobHolder(ctx, "job-1"); h != "" || err != nil {
			t.Fatalf("after release: %q %v", h, err)
		}

		// Racing sessions: exactly one wins.
		var wg sync.WaitGroup
		wins := make(chan string, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				s := string(rune('a' + i))
				ok, err := db.Q().HoldJob(ctx, "job-2", s, "agent-1", now, now.Add(lease))
				if err != nil {
					t.Errorf("hold %s: %v", s, err)
				}
				if ok {
					wins <- s
				}
			}(i)
		}
		wg.Wait()
		close(wins)
		var won []string
		for w := range wins {
			won = append(won, w)
		}
		if len(won) != 1 {
			t.Fatalf("%d sessions won the race: %v", len(won), won)
		}
	})
}

// TestStore_ReleaseSessionHolds: a session's holds go, the agent's other
// sessions (maybe another live process) and other agents keep theirs.
func TestStore_ReleaseSessionHolds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqlstore.DB, _ func() (*sqlstore.DB, error)) {
		ctx := context.Background()
		q := db.Q()
		now := utc("2026-03-01T10:00:00Z")
		holds := []struct{ job, session, agent string }{
			{"job-3", "s1", "agent-1"}, {"job-4", "s2", "agent-1"}, {"job-5", "s1", "agent-2"}, {"job-6", "s1", "agent-1"},
		}
		for _, h := range holds {
			if ok, err := q.HoldJob(ctx, h.job, h.session, h.agent, now, now.Add(5*time.Minute)); !ok || err != nil {
				t.Fatalf("hold %v: %v %v", h, ok, err)
			}
		}
		if err := q.ReleaseSessionHolds(ctx, "agent-1", "s1"); err != nil {
			t.Fatal(err)
		}
		for job, want := range map[string]string{"job-3": "", "job-6": "", "job-4": "s2", "job-5": "s1"} {
			if h, _, err := q.JobHolder(ctx, job); h != want || err != nil {
				t.Errorf("%s: holder %q %v, want %q", job, h, err, want)
			}
		}
	})
}
