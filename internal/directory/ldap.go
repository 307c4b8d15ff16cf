// Package directory looks up accounts and hosts in an LDAP directory (Active
// Directory or OpenLDAP) for the PopulateMissingValuesFromAD parameter of
// POST /Enrollment/PFX v1: given the CN of a requested subject it finds the
// one user or computer entry of that name and returns the subject parts the
// directory holds for it (O, OU, L, ST, C, E).
//
// Scope: read-only search with a simple bind as a service account, over
// ldap:// (optionally StartTLS) or ldaps://. One connection per lookup; no
// pool, no caching, no writes, no SASL/Kerberos.
//
// Errors: a CN that is empty, too long, unknown or ambiguous is the client's
// problem and comes back as an *errs.Error about the PopulateMissingValuesFromAD
// field; anything else (dial, TLS, bind, search failures, a cancelled
// context) is a plain wrapped error the caller reports as the directory being
// unavailable. Error texts never contain the bind password.
//
// Tests: the Lookup tests run against a real OpenLDAP server. Start one with
//
//	env_lines=$(bash .ci/slapd.sh) && eval "$env_lines"
//	go test ./internal/directory/
//
// The script prints the CERTDOCK_TEST_LDAP_* variables the tests read; without
// CERTDOCK_TEST_LDAP_URL those tests are skipped.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/certdock/certdock/internal/errs"
)

// MaxCNLength caps the CN a lookup accepts, in bytes. The CN comes from an
// API client; X.509's upper bound for a CN is 64 characters, and 256 leaves
// room for UPNs and long FQDNs while keeping the filter sent to the server
// small.
const MaxCNLength = 256

// field is the request field lookup errors are about.
const field = "PopulateMissingValuesFromAD"

// Default filters and timeout; see Config.
const (
	DefaultUserFilter = "(&(|(objectClass=user)(objectClass=inetOrgPerson)(objectClass=person))" +
		"(|(sAMAccountName=%s)(uid=%s)(cn=%s)(userPrincipalName=%s)(mail=%s)))"
	DefaultHostFilter = "(&(|(objectClass=computer)(objectClass=device))(|(cn=%s)(dNSHostName=%s)))"
	DefaultTimeout    = 5 * time.Second
)

// Parts lists the subject parts a lookup can return, in the order they are
// filled.
var Parts = []string{"O", "OU", "L", "ST", "C", "E"}

// DefaultAttributes returns the default mapping from subject part to the
// directory attributes tried in order: the first attribute with a usable value
// wins. "company" and "department" are Active Directory's names; "c" is the
// two-letter country code in both AD and OpenLDAP.
func DefaultAttributes() map[string][]string {
	return map[string][]string{
		"O":  {"o", "company"},
		"OU": {"ou", "department"},
		"L":  {"l"},
		"ST": {"st"},
		"C":  {"c"},
		"E":  {"mail"},
	}
}

// Config says where the directory is and how to search it.
type Config struct {
	// URL is ldap://host[:389] or ldaps://host[:636].
	URL string
	// BindDN and BindPassword are the service account's simple-bind
	// credentials. Both empty means anonymous searches. BindPassword is
	// never logged or put in an error; over plain ldap:// without StartTLS
	// it travels in the clear.
	BindDN       string
	BindPassword string
	// BaseDN is where the subtree searches start. Required.
	BaseDN string
	// UserFilter and HostFilter are LDAP filters in which every %s is
	// replaced by the LDAP-escaped CN (ldap.EscapeFilter). Empty means
	// DefaultUserFilter and DefaultHostFilter. For a host CN with dots
	// (web01.example.com) the host filter is also tried with the first
	// label (web01).
	UserFilter, HostFilter string
	// Attributes maps a subject part (O, OU, L, ST, C, E) to the directory
	// attributes tried in order. A part given here replaces its default
	// (DefaultAttributes); a part given with an empty list is never filled.
	// C only takes two-letter values, upper-cased.
	Attributes map[string][]string
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool
	// InsecureSkipVerify turns off certificate verification. Only for tests.
	InsecureSkipVerify bool
	// CACertFile is a PEM file of the CA certificates to trust for the
	// server's certificate; empty means the system roots.
	CACertFile string
	// Timeout bounds one whole lookup (dial, TLS, bind, searches); zero
	// means DefaultTimeout.
	Timeout time.Duration
}

// String describes c without its password.
func (c Config) String() string {
	pw := ""
	if c.BindPassword != "" {
		pw = " password=<redacted>"
	}
	return fmt.Sprintf("ldap %s base=%q bind=%q%s starttls=%t", c.URL, c.BaseDN, c.BindDN, pw, c.StartTLS)
}

// GoString is String, so %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the password out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.String("base_dn", c.BaseDN),
		slog.String("bind_dn", c.BindDN),
		slog.Bool("start_tls", c.StartTLS),
		slog.Bool("insecure_skip_verify", c.InsecureSkipVerify),
		slog.Duration("timeout", c.Timeout),
	)
}

// LDAP looks up accounts and hosts in one directory. It is safe for
// concurrent use.
type LDAP struct {
	scheme     string // "ldap" or "ldaps"
	addr       string // host:port
	bindDN     string
	bindPW     string
	baseDN     string
	userFilter string
	hostFilter string
	attrs      map[string][]string // part -> directory attributes
	request    []string            // every directory attribute to ask for
	tls        *tls.Config         // nil for ldap:// without StartTLS
	timeout    time.Duration
}

// New checks c and returns a directory client. It does not connect: a
// directory that is down at start-up only fails the lookups made while it is.
func New(c Config) (*LDAP, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("directory: URL: %w", err)
	}
	l := &LDAP{scheme: strings.ToLower(u.Scheme), bindDN: c.BindDN, bindPW: c.BindPassword, timeout: c.Timeout}
	port := u.Port()
	switch l.scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if port == "" {
			port = "636"
		}
		if c.StartTLS {
			return nil, errors.New("directory: StartTLS is for ldap:// URLs; an ldaps:// connection is already TLS")
		}
	default:
		return nil, fmt.Errorf("directory: URL %q: scheme must be ldap or ldaps", c.URL)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("directory: URL %q has no host", c.URL)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("directory: URL %q: give only scheme, host and port (the base DN is BaseDN)", c.URL)
	}
	l.addr = net.JoinHostPort(u.Hostname(), port)

	if strings.TrimSpace(c.BaseDN) == "" {
		return nil, errors.New("directory: BaseDN is required")
	}
	if _, err := ldap.ParseDN(c.BaseDN); err != nil {
		return nil, fmt.Errorf("directory: BaseDN %q: %w", c.BaseDN, err)
	}
	l.baseDN = c.BaseDN

	switch {
	case c.BindDN == "" && c.BindPassword != "":
		return nil, errors.New("directory: BindPassword is set but BindDN is empty")
	case c.BindDN != "" && c.BindPassword == "":
		// A simple bind with a DN and no password is an "unauthenticated
		// bind" (RFC 4513 5.1.2): servers accept it without checking
		// anything, which hides a missing password until searches fail.
		return nil, errors.New("directory: BindDN is set but BindPassword is empty")
	case c.BindDN != "":
		if _, err := ldap.ParseDN(c.BindDN); err != nil {
			return nil, fmt.Errorf("directory: BindDN %q: %w", c.BindDN, err)
		}
	}

	if l.userFilter, err = checkFilter("UserFilter", c.UserFilter, DefaultUserFilter); err != nil {
		return nil, err
	}
	if l.hostFilter, err = checkFilter("HostFilter", c.HostFilter, DefaultHostFilter); err != nil {
		return nil, err
	}

	l.attrs = DefaultAttributes()
	for part, names := range c.Attributes {
		p := strings.ToUpper(part)
		if !slices.Contains(Parts, p) {
			return nil, fmt.Errorf("directory: Attributes: unknown subject part %q (want one of %s)", part, strings.Join(Parts, ", "))
		}
		for _, n := range names {
			if !validAttrName(n) {
				return nil, fmt.Errorf("directory: Attributes[%s]: %q is not an LDAP attribute name", p, n)
			}
		}
		l.attrs[p] = slices.Clone(names)
	}
	for _, p := range Parts {
		for _, n := range l.attrs[p] {
			if !slices.ContainsFunc(l.request, func(s string) bool { return strings.EqualFold(s, n) }) {
				l.request = append(l.request, n)
			}
		}
	}
	if len(l.request) == 0 {
		// An empty attribute list would ask the server for all of them.
		l.request = []string{"1.1"} // RFC 4511 4.5.1.8: no attributes
	}

	switch {
	case c.Timeout < 0:
		return nil, fmt.Errorf("directory: Timeout %v is negative", c.Timeout)
	case c.Timeout == 0:
		l.timeout = DefaultTimeout
	}

	if c.InsecureSkipVerify && c.CACertFile != "" {
		return nil, errors.New("directory: CACertFile and InsecureSkipVerify contradict each other; set one")
	}
	if l.scheme == "ldap" && !c.StartTLS && (c.InsecureSkipVerify || c.CACertFile != "") {
		return nil, errors.New("directory: CACertFile and InsecureSkipVerify need an ldaps:// URL or StartTLS")
	}
	if l.scheme == "ldaps" || c.StartTLS {
		l.tls = &tls.Config{
			ServerName:         u.Hostname(),
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
		}
		if c.CACertFile != "" {
			pemBytes, err := os.ReadFile(c.CACertFile)
			if err != nil {
				return nil, fmt.Errorf("directory: CACertFile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				return nil, fmt.Errorf("directory: CACertFile %s holds no PEM certificate", c.CACertFile)
			}
			l.tls.RootCAs = pool
		}
	}
	return l, nil
}

// checkFilter returns f (or def when f is empty) after checking that it has a
// %s for the CN and is a valid filter once the CN is put in.
func checkFilter(name, f, def string) (string, error) {
	if f == "" {
		return def, nil
	}
	if !strings.Contains(f, "%s") {
		return "", fmt.Errorf("directory: %s %q has no %%s for the CN", name, f)
	}
	if _, err := ldap.CompileFilter(buildFilter(f, "x")); err != nil {
		return "", fmt.Errorf("directory: %s %q: %w", name, f, err)
	}
	return f, nil
}

// buildFilter puts the escaped cn in place of every %s of template. It does
// not use fmt, so a template needs no argument count and cannot produce
// %!(EXTRA ...) text.
func buildFilter(template, cn string) string {
	return strings.ReplaceAll(template, "%s", ldap.EscapeFilter(cn))
}

// validAttrName reports whether s is an attribute description: a name
// (letter, then letters, digits, hyphens) or a numeric OID, with optional
// ;options.
func validAttrName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case (r >= '0' && r <= '9') || r == '-' || r == ';' || r == '.':
			if i == 0 && !(r >= '0' && r <= '9') {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Lookup finds the one user, or failing that the one host, named cn and
// returns the subject parts its entry holds, by short name (O, OU, L, ST, C,
// E). Parts the entry lacks are absent from the map.
//
// Users are searched first with the user filter, then hosts with the host
// filter and the full cn, then, when cn has dots, hosts with its first label.
// The first search that finds exactly one entry decides; one that finds more
// is an "ambiguous" error.
func (l *LDAP) Lookup(ctx context.Context, cn string) (map[string]string, error) {
	if cn == "" {
		return nil, errs.Field(field, "needs a CN to find the account or host in the directory")
	}
	if len(cn) > MaxCNLength {
		return nil, errs.Field(field, "the CN is longer than %d bytes, too long to look up in the directory", MaxCNLength)
	}

	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, l.failed(ctx, err)
	}
	defer conn.Close()

	filters := []string{buildFilter(l.userFilter, cn), buildFilter(l.hostFilter, cn)}
	if label, _, ok := strings.Cut(cn, "."); ok && label != "" && net.ParseIP(cn) == nil && !strings.Contains(cn, "@") {
		filters = append(filters, buildFilter(l.hostFilter, label))
	}
	for _, f := range filters {
		entry, n, err := l.search(ctx, conn, f)
		if err != nil {
			return nil, l.failed(ctx, err)
		}
		switch n {
		case 0:
			continue
		case 1:
			return l.parts(entry), nil
		default:
			return nil, errs.Field(field, "the name %q is ambiguous: more than one account or host in the directory has it", cn)
		}
	}
	return nil, errs.Field(field, "no account or host named %q was found in the directory", cn)
}

// failed wraps a connection or protocol error, preferring the context's
// reason when the lookup ran out of time or was cancelled (the connection is
// closed then, and the library's error only says so).
func (l *LDAP) failed(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("directory %s: %w (%v)", l.addr, cerr, err)
	}
	return fmt.Errorf("directory %s: %w", l.addr, err)
}

// connect dials, sets up TLS and binds, all bounded by ctx.
func (l *LDAP) connect(ctx context.Context) (*ldap.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", l.addr)
	if err != nil {
		return nil, err
	}
	// Closing the socket when ctx ends unblocks whatever is waiting on it
	// (TLS handshake, StartTLS, bind, search), so ctx bounds the whole
	// lookup and the library's request timeout is not needed. ctx is the
	// lookup's own and ends with it. The close comes only after ctx is
	// done, so failed can trust ctx.Err() to say why the lookup broke off.
	context.AfterFunc(ctx, func() { raw.Close() })

	var nc net.Conn = raw
	if l.scheme == "ldaps" {
		tc := tls.Client(raw, l.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	conn := ldap.NewConn(nc, l.scheme == "ldaps")
	conn.Start()
	if l.scheme == "ldap" && l.tls != nil {
		if err := conn.StartTLS(l.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if l.bindDN != "" {
		if err := conn.Bind(l.bindDN, l.bindPW); err != nil {
			conn.Close()
			return nil, fmt.Errorf("bind: %w", err)
		}
	}
	return conn, nil
}

// search runs one subtree search for at most two entries: one is the answer,
// two means the name is ambiguous, and asking for more would only load the
// server. It returns the entry when there is exactly one, and n = 0, 1 or 2
// (for two or more).
func (l *LDAP) search(ctx context.Context, conn *ldap.Conn, filter string) (entry *ldap.Entry, n int, err error) {
	secs := int(math.Ceil(time.Until(deadline(ctx, l.timeout)).Seconds()))
	req := ldap.NewSearchRequest(l.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, max(secs, 1), false, filter, l.request, nil)
	res, err := conn.Search(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || errors.Is(err, ldap.ErrSizeLimitExceeded) {
		return nil, 2, nil // the server stopped at the limit: more than two match
	}
	if err != nil {
		return nil, 0, fmt.Errorf("search: %w", err)
	}
	switch len(res.Entries) {
	case 0:
		return nil, 0, nil
	case 1:
		return res.Entries[0], 1, nil
	default:
		return nil, 2, nil
	}
}

func deadline(ctx context.Context, d time.Duration) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return dl
	}
	return time.Now().Add(d)
}

// parts maps the entry's attributes to subject parts: for each part the
// first configured attribute with a usable value wins; surrounding spaces
// are trimmed, and C must be two ASCII letters (AD's "c"; "co" is a name and
// "countryCode" a number, neither fits a certificate's C).
func (l *LDAP) parts(e *ldap.Entry) map[string]string {
	out := make(map[string]string)
	for _, p := range Parts {
		for _, attr := range l.attrs[p] {
			if v, ok := pick(p, e.GetEqualFoldAttributeValues(attr)); ok {
				out[p] = v
				break
			}
		}
	}
	return out
}

// pick returns the first usable value for subject part p.
func pick(p string, values []string) (string, bool) {
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p == "C" {
			if len(v) != 2 || !isASCIILetter(v[0]) || !isASCIILetter(v[1]) {
				continue
			}
			v = strings.ToUpper(v)
		}
		return v, true
	}
	return "", false
}

func isASCIILetter(b byte) bool { return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') }
