package auth_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certdock/certdock/internal/auth"
	"github.com/certdock/certdock/internal/secret"
	"github.com/certdock/certdock/internal/sqlstore"
)

// storeWithUser opens a real SQLite store in a temporary directory and
// adds a User identity with the given account name and password; it
// returns the identity and its password hash.
func storeWithUser(t *testing.T, account, password string) (q sqlstore.Q, id int64, hash string) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q = db.Q()
	if hash, err = secret.HashPassword(password, nil); err != nil {
		t.Fatal(err)
	}
	if id, err = q.InsertIdentity(ctx, auth.Identity{AccountName: account, IdentityType: "User", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	return q, id, hash
}

// TestLogin_Remembered logs in against a real SQLite store: a remembered
// login skips the password hash, and is still refused at once when the
// password changes or the identity is deleted; it is checked again after
// the cache TTL.
func TestLogin_Remembered(t *testing.T) {
	ctx := context.Background()
	q, id, _ := storeWithUser(t, `CORP\alice`, "first-password-1")
	role, err := q.InsertRole(ctx, auth.Role{Name: "Enrollers", Enabled: true, Permissions: []string{string(auth.EnrollPFX)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.AddRoleMember(ctx, role, id); err != nil {
		t.Fatal(err)
	}

	var verified atomic.Int32
	verify := func(h, p string) (bool, error) { verified.Add(1); return secret.VerifyPassword(h, p) }
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := auth.NewAuthenticator(q, verify, func() time.Time { return now }, 2*time.Minute)

	login := func(user, password string) (*auth.Principal, error) {
		t.Helper()
		return a.Login(ctx, user, password)
	}
	for _, user := range []string{`CORP\alice`, "alice@corp.example", `corp\ALICE`} {
		p, err := login(user, "first-password-1")
		if err != nil {
			t.Fatalf("login %s: %v", user, err)
		}
		if p.IdentityID != id || !p.Has(auth.EnrollPFX) {
			t.Fatalf("login %s: principal %+v lacks identity %d or its role's permission", user, p, id)
		}
	}
	if n := verified.Load(); n != 1 {
		t.Fatalf("password hash verified %d times for three logins within the TTL, want 1", n)
	}
	if _, err := login(`CORP\alice`, "wrong-password-1"); err == nil {
		t.Fatal("wrong password accepted")
	}

	now = now.Add(3 * time.Minute) // past the TTL: checked again
	verified.Store(0)
	if _, err := login(`CORP\alice`, "first-password-1"); err != nil || verified.Load() != 1 {
		t.Fatalf("after the TTL: err %v, %d verifications, want one", err, verified.Load())
	}

	newHash, err := secret.HashPassword("second-password-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.SetIdentityPassword(ctx, id, newHash); err != nil {
		t.Fatal(err)
	}
	if _, err := login(`CORP\alice`, "first-password-1"); err == nil {
		t.Fatal("the old password still logs in after the password changed")
	}
	if _, err := login(`CORP\alice`, "second-password-2"); err != nil {
		t.Fatalf("new password: %v", err)
	}

	if err := q.DeleteIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := login(`CORP\alice`, "second-password-2"); err == nil {
		t.Fatal("a deleted identity still logs in from the cache")
	}
}

// TestLogin_BoundedVerifications floods the authenticator with wrong
// passwords (for a known and an unknown account) against a real SQLite
// store: no more than MaxConcurrentVerifications password hashes (19 MiB
// each with the live argon2id parameters) may be computed at once, and
// every attempt is still refused.
func TestLogin_BoundedVerifications(t *testing.T) {
	ctx := context.Background()
	q, _, hash := storeWithUser(t, "bob", "right-password-1")
	var running, peak atomic.Int32
	verify := func(h, p string) (bool, error) {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // long enough for the flood to pile up
		running.Add(-1)
		return secret.VerifyPassword(h, p)
	}
	a := auth.NewAuthenticator(q, verify, time.Now, time.Minute)
	a.SetDummyHash(func() (string, error) { return hash, nil })
	limit := a.MaxConcurrentVerifications()
	if limit < 1 {
		t.Fatalf("MaxConcurrentVerifications = %d", limit)
	}
	const attempts = 64
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for i := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := "bob"
			if i%2 == 1 {
				user = "nobody"
			}
			if _, err := a.Login(ctx, user, fmt.Sprintf("wrong-password-%d", i)); err == nil {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d wrong passwords were accepted", n)
	}
	if p := int(peak.Load()); p > limit || p < 1 {
		t.Errorf("%d password hashes ran at once, want 1..%d (of %d attempts)", p, limit, attempts)
	}
	// The right password still works after the flood.
	if _, err := a.Login(ctx, "bob", "right-password-1"); err != nil {
		t.Errorf("right password after the flood: %v", err)
	}
}

// TestLogin_DisabledRoleNotHeld: a disabled role grants neither its
// permissions nor membership: the principal's role list is what workflow
// approval steps and pattern AssociatedRoles check, so a member of a
// disabled approver role must not approve (real SQLite store).
func TestLogin_DisabledRoleNotHeld(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	q := db.Q()
	hash, err := secret.HashPassword("carol-password-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := q.InsertIdentity(ctx, auth.Identity{AccountName: "carol", IdentityType: "User", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	enabled, err := q.InsertRole(ctx, auth.Role{Name: "Readers", Enabled: true, Permissions: []string{string(auth.WorkflowsRead)}})
	if err != nil {
		t.Fatal(err)
	}
	disabled, err := q.InsertRole(ctx, auth.Role{Name: "Approvers", Enabled: false, Permissions: []string{string(auth.WorkflowsManage)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []int64{enabled, disabled} {
		if err := q.AddRoleMember(ctx, r, id); err != nil {
			t.Fatal(err)
		}
	}
	a := auth.NewAuthenticator(q, secret.VerifyPassword, time.Now, time.Minute)
	p, err := a.Login(ctx, "carol", "carol-password-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want bool
	}{
		{"member of the enabled role", p.HasRole(enabled), true},
		{"its permission", p.Has(auth.WorkflowsRead), true},
		{"member of the disabled role", p.HasRole(disabled), false},
		{"the disabled role's permission", p.Has(auth.WorkflowsManage), false},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v (roles %+v)", c.name, c.got, c.want, p.Roles)
		}
	}
}
