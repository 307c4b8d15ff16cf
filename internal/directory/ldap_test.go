package directory

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/certdock/certdock/internal/errs"
)

// The tests in this file need the OpenLDAP server and fixtures of
// .ci/slapd.sh (run `eval "$(bash .ci/slapd.sh)"` from the repository root).

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// slapdConfig returns a Config for the .ci/slapd.sh server, or skips the test
// when that server was not started. In CI (CI=true) a missing server fails
// the test instead, so the directory tests cannot silently stop running.
func slapdConfig(t *testing.T) Config {
	t.Helper()
	u := os.Getenv("CERTDOCK_TEST_LDAP_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CERTDOCK_TEST_LDAP_URL is not set: .ci/run must start .ci/slapd.sh before the tests")
		}
		t.Skip("CERTDOCK_TEST_LDAP_URL is not set; run `eval \"$(bash .ci/slapd.sh)\"` from the repository root")
	}
	return Config{
		URL:          u,
		BindDN:       envOr("CERTDOCK_TEST_LDAP_BIND_DN", "cn=certdock,ou=Services,dc=example,dc=com"),
		BindPassword: envOr("CERTDOCK_TEST_LDAP_BIND_PASSWORD", "certdock-test"),
		BaseDN:       envOr("CERTDOCK_TEST_LDAP_BASE_DN", "dc=example,dc=com"),
		Timeout:      5 * time.Second,
	}
}

func mustNew(t *testing.T, c Config) *LDAP {
	t.Helper()
	l, err := New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

var alice = map[string]string{
	"O": "Example Corp", "OU": "Engineering", "L": "Springfield", "ST": "Illinois", "C": "US", "E": "alice@example.com",
}

func TestLookup_Found(t *testing.T) {
	l := mustNew(t, slapdConfig(t))
	web01 := map[string]string{"O": "Example Corp", "OU": "Web", "L": "Berlin", "ST": "Berlin", "C": "DE"}
	tests := []struct {
		name, cn string
		want     map[string]string
	}{
		{"user by uid", "alice", alice},
		{"user by cn", "Alice Liddell", alice},
		{"user by cn, other case", "alice liddell", alice},
		{"user by mail", "alice@example.com", alice},
		{"user with only O", "bob", map[string]string{"O": "Example Corp"}},
		{"host by short name", "web01", web01},
		{"host by FQDN, found by first label", "web01.example.com", web01},
		{"host whose cn is the FQDN", "db01.example.com", map[string]string{"O": "Example Corp", "OU": "Databases", "L": "Paris", "C": "FR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Lookup(context.Background(), tt.cn)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.cn, err)
			}
			if !equalMaps(got, tt.want) {
				t.Errorf("Lookup(%q) = %v, want %v", tt.cn, got, tt.want)
			}
		})
	}
}

// TestLookup_NotFound includes filter injection attempts: unescaped, "*"
// would match every entry (an "ambiguous" error) and "*)(uid=*" would turn
// the filter into a presence test. Escaped, each is a literal name nobody has.
func TestLookup_NotFound(t *testing.T) {
	l := mustNew(t, slapdConfig(t))
	for _, cn := range []string{
		"nobody",
		"web99.example.com",
		"*",
		"*)(uid=*",
		"alice)(uid=*",
		"ali*",
		`alice\29`,
		"*))(|(objectClass=*",
		"alice\x00",
	} {
		t.Run(cn, func(t *testing.T) {
			got, err := l.Lookup(context.Background(), cn)
			if err == nil {
				t.Fatalf("Lookup(%q) = %v, want a not-found error", cn, got)
			}
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("Lookup(%q) error %v is not an *errs.Error", cn, err)
			}
			if e.Kind != errs.Invalid || e.Field != "PopulateMissingValuesFromAD" || !strings.Contains(e.Message, "no account or host named") {
				t.Errorf("Lookup(%q) error = %+v, want Invalid field error \"no account or host named ...\"", cn, e)
			}
		})
	}
}

func TestLookup_Ambiguous(t *testing.T) {
	base := slapdConfig(t)
	byO := base
	byO.UserFilter = "(&(objectClass=inetOrgPerson)(o=%s))" // four users have o=Example Corp
	tests := []struct {
		name, cn string
		cfg      Config
	}{
		{"two users share a cn", "Sam Smith", base},
		{"more than the size limit match", "Example Corp", byO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, tt.cfg)
			got, err := l.Lookup(context.Background(), tt.cn)
			if err == nil {
				t.Fatalf("Lookup(%q) = %v, want an ambiguity error", tt.cn, got)
			}
			if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "is ambiguous") ||
				!strings.HasPrefix(err.Error(), "PopulateMissingValuesFromAD: ") {
				t.Errorf("Lookup(%q) error = %v, want Invalid PopulateMissingValuesFromAD \"is ambiguous\"", tt.cn, err)
			}
		})
	}
}

func TestLookup_AttributeMapping(t *testing.T) {
	c := slapdConfig(t)
	c.Attributes = map[string][]string{
		"OU": {"department", "departmentNumber"}, // AD's first, then the OpenLDAP attribute carol has
		"E":  {},                                 // never filled
		"c":  {"C"},                              // keys and attribute names in any case
	}
	l := mustNew(t, c)
	got, err := l.Lookup(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"OU": "Flight Ops", "L": "Boston"}; !equalMaps(got, want) {
		t.Errorf("carol = %v, want %v", got, want)
	}
	got, err = l.Lookup(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	// OU's list replaced the default (ou), and alice has no department:
	// no OU; E is off.
	if want := map[string]string{"O": "Example Corp", "L": "Springfield", "ST": "Illinois", "C": "US"}; !equalMaps(got, want) {
		t.Errorf("alice = %v, want %v", got, want)
	}
}

func TestLookup_BindFailure(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
	}{
		{"wrong password", func(c *Config) { c.BindPassword = "not-the-password-Xq7" }},
		{"unknown bind DN", func(c *Config) { c.BindDN = "cn=nobody,dc=example,dc=com"; c.BindPassword = "not-the-password-Xq7" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := slapdConfig(t)
			tt.modify(&c)
			l := mustNew(t, c)
			got, err := l.Lookup(context.Background(), "alice")
			if err == nil {
				t.Fatalf("Lookup = %v, want a bind error", got)
			}
			var e *errs.Error
			if errors.As(err, &e) {
				t.Errorf("bind failure came back as *errs.Error %+v; the caller must see a plain (unavailable) error", e)
			}
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Errorf("error %v does not carry LDAP result 49 (invalid credentials)", err)
			}
			if strings.Contains(err.Error(), c.BindPassword) {
				t.Errorf("error text %q contains the bind password", err)
			}
		})
	}
}

// TestLookup_Anonymous checks that anonymous lookups run (no bind) and that
// the server's refusal is an error, not a silent "not found": the fixtures
// let anonymous clients only bind, as AD does.
func TestLookup_Anonymous(t *testing.T) {
	c := slapdConfig(t)
	c.BindDN, c.BindPassword = "", ""
	l := mustNew(t, c)
	got, err := l.Lookup(context.Background(), "alice")
	if err == nil {
		t.Fatalf("anonymous Lookup = %v, want the server's refusal", got)
	}
	if errs.Is(err, errs.Invalid) {
		t.Errorf("anonymous refusal = %v, want a plain error, not a client error", err)
	}
}

func TestLookup_TLS(t *testing.T) {
	base := slapdConfig(t)
	ldapsURL := os.Getenv("CERTDOCK_TEST_LDAPS_URL")
	caFile := os.Getenv("CERTDOCK_TEST_LDAP_CA_FILE")
	if ldapsURL == "" || caFile == "" {
		t.Fatal("CERTDOCK_TEST_LDAPS_URL and CERTDOCK_TEST_LDAP_CA_FILE must be set with CERTDOCK_TEST_LDAP_URL (.ci/slapd.sh prints all three)")
	}
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr string // "" means alice must be found
	}{
		{"ldaps with the CA file", func(c *Config) { c.URL = ldapsURL; c.CACertFile = caFile }, ""},
		{"StartTLS with the CA file", func(c *Config) { c.StartTLS = true; c.CACertFile = caFile }, ""},
		{"ldaps skipping verification", func(c *Config) { c.URL = ldapsURL; c.InsecureSkipVerify = true }, ""},
		{"ldaps with system roots", func(c *Config) { c.URL = ldapsURL }, "certificate"},
		{"StartTLS with system roots", func(c *Config) { c.StartTLS = true }, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.modify(&c)
			l := mustNew(t, c)
			got, err := l.Lookup(context.Background(), "alice")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Lookup: %v", err)
			case tt.wantErr == "" && !equalMaps(got, alice):
				t.Errorf("Lookup = %v, want %v", got, alice)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Lookup error = %v, want one mentioning %q", err, tt.wantErr)
			case tt.wantErr != "" && errs.Is(err, errs.Invalid):
				t.Errorf("TLS failure %v came back as a client error", err)
			}
		})
	}
}

func TestLookup_ConcurrentUse(t *testing.T) {
	l := mustNew(t, slapdConfig(t))
	errc := make(chan error, 8)
	for i := range 8 {
		go func() {
			cn := []string{"alice", "web01.example.com"}[i%2]
			_, err := l.Lookup(context.Background(), cn)
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// The tests below need no directory server.

func TestLookup_BadCN(t *testing.T) {
	// Port 1 on 127.0.0.1 refuses connections: the CN checks must come
	// before any network use, so the errors must be client errors.
	l := mustNew(t, Config{URL: "ldap://127.0.0.1:1", BaseDN: "dc=example,dc=com"})
	for name, cn := range map[string]string{
		"empty":    "",
		"too long": strings.Repeat("a", MaxCNLength+1),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := l.Lookup(context.Background(), cn)
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid || e.Field != "PopulateMissingValuesFromAD" {
				t.Errorf("Lookup(%d bytes) error = %v, want an Invalid PopulateMissingValuesFromAD error", len(cn), err)
			}
		})
	}
	_, err := l.Lookup(context.Background(), strings.Repeat("a", MaxCNLength))
	if err == nil || errs.Is(err, errs.Invalid) {
		t.Errorf("a CN of exactly %d bytes should reach the (refusing) server, got %v", MaxCNLength, err)
	}
}

// silentServer accepts connections and never answers, like a directory
// behind a dead load balancer.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(done)
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestLookup_Unresponsive(t *testing.T) {
	addr := silentServer(t)
	tests := []struct {
		name    string
		cfg     Config
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{"timeout, plain", Config{URL: "ldap://" + addr, BaseDN: "dc=x", Timeout: 300 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			context.DeadlineExceeded},
		{"timeout during bind", Config{URL: "ldap://" + addr, BaseDN: "dc=x", BindDN: "cn=a,dc=x", BindPassword: "p", Timeout: 300 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			context.DeadlineExceeded},
		{"timeout during StartTLS", Config{URL: "ldap://" + addr, BaseDN: "dc=x", StartTLS: true, Timeout: 300 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			context.DeadlineExceeded},
		{"timeout during TLS handshake", Config{URL: "ldaps://" + addr, BaseDN: "dc=x", Timeout: 300 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			context.DeadlineExceeded},
		{"caller's deadline is shorter", Config{URL: "ldap://" + addr, BaseDN: "dc=x", Timeout: time.Minute},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			context.DeadlineExceeded},
		{"caller cancels", Config{URL: "ldap://" + addr, BaseDN: "dc=x", Timeout: time.Minute},
			func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(300*time.Millisecond, cancel)
				return ctx, cancel
			},
			context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, tt.cfg)
			ctx, cancel := tt.ctx()
			defer cancel()
			start := time.Now()
			_, err := l.Lookup(ctx, "alice")
			took := time.Since(start)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Lookup error = %v, want %v", err, tt.wantErr)
			}
			if errs.Is(err, errs.Invalid) {
				t.Errorf("an unresponsive directory came back as a client error: %v", err)
			}
			if took > 3*time.Second {
				t.Errorf("Lookup took %v; it must give up after about 300ms", took)
			}
		})
	}
}

func TestLookup_Refused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	l := mustNew(t, Config{URL: "ldap://" + addr, BaseDN: "dc=example,dc=com"})
	_, err = l.Lookup(context.Background(), "alice")
	var oe *net.OpError
	if !errors.As(err, &oe) || errs.Is(err, errs.Invalid) {
		t.Errorf("Lookup error = %v, want a plain wrapped dial error", err)
	}
}
