package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/certdock/certdock/internal/errs"
)

// Identity is a security identity (a user or group account).
type Identity struct {
	ID           int64
	AccountName  string // "user" or "DOMAIN\user"
	IdentityType string // "User" or "Group"
	Valid        bool
	PasswordHash string // slow salted hash; empty = cannot log in with a password
	Roles        []RoleRef
	CreatedAt    time.Time
}

// Role is a security role.
type Role struct {
	ID          int64
	Name        string
	Description string
	Enabled     bool
	Private     bool
	Immutable   bool
	Permissions []string
	Identities  []IdentityRef
}

// IdentityRef names an identity in a role.
type IdentityRef struct {
	ID          int64
	AccountName string
}

// IdentityStore is what authentication needs from storage.
type IdentityStore interface {
	// IdentityForLogin returns the identity with its password hash and the
	// permission strings of its enabled roles.
	IdentityForLogin(ctx context.Context, account string) (Identity, []string, error)
}

// CredentialStore is optionally implemented by an IdentityStore: the identity
// with its password hash but without roles and permissions, which is all a
// login the cache already holds needs. sqlstore.Q implements it.
type CredentialStore interface {
	IdentityCredentials(ctx context.Context, account string) (Identity, error)
}

// ErrNoIdentity is returned by IdentityStore when the account does not exist.
var ErrNoIdentity = errors.New("no such identity")

// Authenticator checks HTTP Basic credentials.
//
// Password hashes are deliberately slow, so a successful check is remembered
// for a short time under a SHA-256 of (account, password, stored hash): the
// cache never holds a password, and a changed password or role takes effect
// when the entry expires (CacheTTL).
type Authenticator struct {
	store    IdentityStore
	verify   func(hash, password string) (bool, error)
	now      func() time.Time
	cacheTTL time.Duration

	dummy func() string // a hash verified for unknown accounts, to even out timing (made on first use)

	mu    sync.Mutex
	cache map[[32]byte]cached

	// slots bounds the password hash verifications running at once: each
	// argon2id check takes 19 MiB, so unauthenticated requests with wrong
	// passwords (which are never remembered) must not make memory grow
	// with the number of connections.
	slots chan struct{}
}

type cached struct {
	p       *Principal
	expires time.Time
}

// NewAuthenticator builds an authenticator.
func NewAuthenticator(store IdentityStore, verify func(hash, password string) (bool, error), now func() time.Time, cacheTTL time.Duration) *Authenticator {
	return &Authenticator{store: store, verify: verify, now: now, cacheTTL: cacheTTL, cache: map[[32]byte]cached{},
		slots: make(chan struct{}, maxVerifications())}
}

// maxVerifications is how many password hashes may be verified at once:
// twice the CPUs (the work is CPU-bound), at least 4.
func maxVerifications() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// MaxConcurrentVerifications reports the bound on password hash
// verifications running at once.
func (a *Authenticator) MaxConcurrentVerifications() int { return cap(a.slots) }

// verifyBounded is verify inside one of the slots; a caller that gives up
// while waiting gets its context's error.
func (a *Authenticator) verifyBounded(ctx context.Context, hash, password string) (bool, error) {
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-a.slots }()
	return a.verify(hash, password)
}

// Flush forgets remembered logins (after identity or role changes).
func (a *Authenticator) Flush() {
	a.mu.Lock()
	a.cache = map[[32]byte]cached{}
	a.mu.Unlock()
}

var errBadCredentials = errs.E(errs.Unauthenticated, errs.CodeUnauthenticated, "the user name or password is incorrect")

// Basic authenticates an Authorization header value.
func (a *Authenticator) Basic(ctx context.Context, header string) (*Principal, error) {
	scheme, payload, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return nil, errs.E(errs.Unauthenticated, errs.CodeUnauthenticated, "authentication required: send HTTP Basic credentials")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(payload))
	if err != nil || len(raw) > 1024 {
		return nil, errBadCredentials
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" {
		return nil, errBadCredentials
	}
	return a.Login(ctx, user, password)
}

// Login authenticates an account name ("DOMAIN\user", "user@domain" or
// "user") and password.
func (a *Authenticator) Login(ctx context.Context, user, password string) (*Principal, error) {
	account := NormalizeAccount(user)
	if p := a.remembered(ctx, account, password); p != nil {
		return p, nil
	}
	id, perms, err := a.store.IdentityForLogin(ctx, account)
	if errors.Is(err, ErrNoIdentity) {
		// DOMAIN\user falls back to a local account "user".
		if _, local, ok := strings.Cut(account, `\`); ok {
			id, perms, err = a.store.IdentityForLogin(ctx, local)
		}
	}
	if errors.Is(err, ErrNoIdentity) {
		// Spend comparable time so unknown accounts are not told apart by timing.
		if a.dummy != nil {
			if h := a.dummy(); h != "" {
				_, _ = a.verifyBounded(ctx, h, password)
			}
		}
		return nil, errBadCredentials
	}
	if err != nil {
		return nil, errs.Wrap(err, "looking up identity")
	}
	if !id.Valid || id.PasswordHash == "" {
		return nil, errBadCredentials
	}
	key := loginKey(id, password)
	now := a.now()
	a.mu.Lock()
	c, hit := a.cache[key]
	a.mu.Unlock()
	if hit && now.Before(c.expires) {
		return c.p, nil
	}
	ok, err := a.verifyBounded(ctx, id.PasswordHash, password)
	if err != nil || !ok {
		return nil, errBadCredentials
	}
	p := NewPrincipal(id.ID, id.AccountName, id.Roles, ParseGrants(perms))
	a.mu.Lock()
	if len(a.cache) > 10000 {
		a.cache = map[[32]byte]cached{}
	}
	a.cache[key] = cached{p: p, expires: now.Add(a.cacheTTL)}
	a.mu.Unlock()
	return p, nil
}

func loginKey(id Identity, password string) [32]byte {
	return sha256.Sum256([]byte(id.AccountName + "\x00" + password + "\x00" + id.PasswordHash))
}

// remembered answers a login the cache holds, reading only the identity's
// credentials (one query) instead of its roles and permissions too, which a
// cached principal already carries; it returns nil for anything else, and
// Login then takes its full path. The checks are Login's: a valid identity
// whose stored hash is the one the login was remembered with.
func (a *Authenticator) remembered(ctx context.Context, account, password string) *Principal {
	cs, ok := a.store.(CredentialStore)
	if !ok {
		return nil
	}
	id, err := cs.IdentityCredentials(ctx, account)
	if errors.Is(err, ErrNoIdentity) {
		if _, local, ok := strings.Cut(account, `\`); ok {
			id, err = cs.IdentityCredentials(ctx, local)
		}
	}
	if err != nil || !id.Valid || id.PasswordHash == "" {
		return nil
	}
	key := loginKey(id, password)
	a.mu.Lock()
	c, hit := a.cache[key]
	a.mu.Unlock()
	if hit && a.now().Before(c.expires) {
		return c.p
	}
	return nil
}

// SetDummyHash sets how to make a hash (with the live parameters) that is
// verified for unknown accounts, so they cannot be told apart by response
// time. It is made once, at the first unknown account, not at start-up (a
// password hash is slow and every CLI command opens the server).
func (a *Authenticator) SetDummyHash(hash func() (string, error)) {
	a.dummy = sync.OnceValue(func() string { h, _ := hash(); return h })
}

// NormalizeAccount turns "user@domain" into "DOMAIN\user" and trims spaces;
// "DOMAIN\user" and "user" stay as they are.
func NormalizeAccount(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, `\`) {
		return s
	}
	if u, d, ok := strings.Cut(s, "@"); ok && u != "" && d != "" {
		return strings.ToUpper(strings.Split(d, ".")[0]) + `\` + u
	}
	return s
}

// AccountKey is the case-insensitive unique key of an account name.
func AccountKey(s string) string { return strings.ToLower(NormalizeAccount(s)) }
