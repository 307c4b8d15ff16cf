package directory

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

func TestNew_Validation(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := Config{URL: "ldap://dc1.example.com", BaseDN: "dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "pw"}
	tests := []struct {
		name    string
		modify  func(*Config)
		wantErr string // "" means valid
	}{
		{"minimal", func(c *Config) {}, ""},
		{"anonymous", func(c *Config) { c.BindDN, c.BindPassword = "", "" }, ""},
		{"ldaps with port", func(c *Config) { c.URL = "ldaps://dc1.example.com:3269" }, ""},
		{"StartTLS", func(c *Config) { c.StartTLS = true }, ""},
		{"custom filters", func(c *Config) {
			c.UserFilter = "(&(objectClass=user)(sAMAccountName=%s))"
			c.HostFilter = "(cn=%s)"
		}, ""},
		{"custom attributes", func(c *Config) { c.Attributes = map[string][]string{"ou": {"department"}, "E": nil} }, ""},
		{"empty URL", func(c *Config) { c.URL = "" }, "scheme must be ldap or ldaps"},
		{"http URL", func(c *Config) { c.URL = "http://dc1.example.com" }, "scheme must be ldap or ldaps"},
		{"ldapi URL", func(c *Config) { c.URL = "ldapi:///var/run/slapd/ldapi" }, "scheme must be ldap or ldaps"},
		{"no host", func(c *Config) { c.URL = "ldap://" }, "has no host"},
		{"DN in URL", func(c *Config) { c.URL = "ldap://dc1/dc=example,dc=com" }, "give only scheme, host and port"},
		{"credentials in URL", func(c *Config) { c.URL = "ldap://u:p@dc1" }, "give only scheme, host and port"},
		{"no base DN", func(c *Config) { c.BaseDN = " " }, "BaseDN is required"},
		{"bad base DN", func(c *Config) { c.BaseDN = "example.com" }, "BaseDN"},
		{"bad bind DN", func(c *Config) { c.BindDN = "svc" }, "BindDN"},
		{"password without DN", func(c *Config) { c.BindDN = "" }, "BindDN is empty"},
		{"DN without password", func(c *Config) { c.BindPassword = "" }, "BindPassword is empty"},
		{"filter without %s", func(c *Config) { c.UserFilter = "(uid=alice)" }, "has no %s"},
		{"unbalanced filter", func(c *Config) { c.HostFilter = "(|(cn=%s)" }, "HostFilter"},
		{"unknown part", func(c *Config) { c.Attributes = map[string][]string{"CN": {"cn"}} }, "unknown subject part"},
		{"bad attribute name", func(c *Config) { c.Attributes = map[string][]string{"O": {"o)(x"}} }, "not an LDAP attribute name"},
		{"negative timeout", func(c *Config) { c.Timeout = -1 }, "negative"},
		{"StartTLS on ldaps", func(c *Config) { c.URL = "ldaps://dc1"; c.StartTLS = true }, "already TLS"},
		{"CA file on plain ldap", func(c *Config) { c.CACertFile = notPEM }, "need an ldaps:// URL or StartTLS"},
		{"CA file and skip verify", func(c *Config) { c.StartTLS = true; c.CACertFile = notPEM; c.InsecureSkipVerify = true }, "contradict"},
		{"missing CA file", func(c *Config) { c.StartTLS = true; c.CACertFile = filepath.Join(dir, "nope.pem") }, "CACertFile"},
		{"CA file without certificates", func(c *Config) { c.StartTLS = true; c.CACertFile = notPEM }, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.modify(&c)
			l, err := New(c)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr == "" && l == nil:
				t.Fatal("New returned nil and no error")
			case tt.wantErr != "" && err == nil:
				t.Fatalf("New accepted %v, want an error mentioning %q", c, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("New error = %q, want one mentioning %q", err, tt.wantErr)
			}
			if err != nil && c.BindPassword != "" && strings.Contains(err.Error(), c.BindPassword) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestNew_Defaults(t *testing.T) {
	l, err := New(Config{URL: "LDAP://dc1.example.com", BaseDN: "dc=example,dc=com",
		Attributes: map[string][]string{"E": {}, "o": {"company", "O"}}})
	if err != nil {
		t.Fatal(err)
	}
	if l.addr != "dc1.example.com:389" || l.timeout != DefaultTimeout || l.tls != nil {
		t.Errorf("addr=%s timeout=%v tls=%v, want dc1.example.com:389, %v, no TLS", l.addr, l.timeout, l.tls, DefaultTimeout)
	}
	if l.userFilter != DefaultUserFilter || l.hostFilter != DefaultHostFilter {
		t.Errorf("filters = %q, %q, want the defaults", l.userFilter, l.hostFilter)
	}
	// "O" and "o" are the same attribute; mail is not asked for (E is off).
	want := []string{"company", "O", "ou", "department", "l", "st", "c"}
	if fmt.Sprint(l.request) != fmt.Sprint(want) {
		t.Errorf("requested attributes = %v, want %v", l.request, want)
	}
	l, err = New(Config{URL: "ldaps://[::1]", BaseDN: "dc=example,dc=com"})
	if err != nil {
		t.Fatal(err)
	}
	if l.addr != "[::1]:636" || l.tls == nil || l.tls.ServerName != "::1" {
		t.Errorf("ldaps://[::1]: addr=%s tls=%v, want [::1]:636 with ServerName ::1", l.addr, l.tls)
	}
}

func TestConfig_PasswordNotPrinted(t *testing.T) {
	const pw = "s3cret-Zq9"
	c := Config{URL: "ldap://dc1", BaseDN: "dc=x", BindDN: "cn=svc,dc=x", BindPassword: pw}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("directory", "config", c)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("directory", "config", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v", &c), buf.String()} {
		if strings.Contains(s, pw) {
			t.Errorf("password printed: %s", s)
		}
		if !strings.Contains(s, "cn=svc,dc=x") {
			t.Errorf("bind DN missing from %s", s)
		}
	}
}

func TestPick_Values(t *testing.T) {
	tests := []struct {
		part   string
		values []string
		want   string
		ok     bool
	}{
		{"O", []string{"Example"}, "Example", true},
		{"O", []string{"", "  ", " Example "}, "Example", true},
		{"O", nil, "", false},
		{"C", []string{"us"}, "US", true},
		{"C", []string{"Germany", "DE"}, "DE", true},
		{"C", []string{"276"}, "", false},
		{"C", []string{"É1"}, "", false},
		{"C", []string{" fr "}, "FR", true},
	}
	for _, tt := range tests {
		got, ok := pick(tt.part, tt.values)
		if got != tt.want || ok != tt.ok {
			t.Errorf("pick(%s, %q) = %q, %t, want %q, %t", tt.part, tt.values, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzBuildFilter checks that no CN can change a filter's structure: the
// filter always compiles, it has only AND, OR and equality nodes, exactly as
// many equality nodes as the template with a plain name, and every
// assertion value that came from %s is the CN byte for byte.
func FuzzBuildFilter(f *testing.F) {
	for _, s := range []string{"alice", "*", "*)(uid=*", `a\2a`, "x\x00y", "é", "\xff", "web01.example.com", ")(", "(|(cn=*))"} {
		f.Add(s)
	}
	templates := []string{DefaultUserFilter, DefaultHostFilter}
	plain := make([]int, len(templates))
	for i, tpl := range templates {
		p, err := ldap.CompileFilter(buildFilter(tpl, "x"))
		if err != nil {
			f.Fatal(err)
		}
		plain[i] = countCN(f, p, "x")
	}
	f.Fuzz(func(t *testing.T, cn string) {
		if len(cn) > MaxCNLength {
			return
		}
		for i, tpl := range templates {
			p, err := ldap.CompileFilter(buildFilter(tpl, cn))
			if err != nil {
				t.Fatalf("filter for %q does not compile: %v", cn, err)
			}
			if n := countCN(t, p, cn); n != plain[i] {
				t.Fatalf("filter for %q has %d equality assertions on the CN, want %d", cn, n, plain[i])
			}
		}
	})
}

// countCN walks a compiled filter, fails on any node other than AND, OR and
// equality, and counts the equality nodes whose value is cn (objectClass
// assertions excepted).
func countCN(tb testing.TB, p *ber.Packet, cn string) int {
	tb.Helper()
	switch p.Tag {
	case ldap.FilterAnd, ldap.FilterOr:
		n := 0
		for _, c := range p.Children {
			n += countCN(tb, c, cn)
		}
		return n
	case ldap.FilterEqualityMatch:
		attr := string(p.Children[0].Data.Bytes())
		val := p.Children[1].Data.Bytes()
		if strings.EqualFold(attr, "objectClass") {
			return 0
		}
		if string(val) != cn {
			tb.Fatalf("%s assertion value %q, want the CN %q (valid UTF-8: %t)", attr, val, cn, utf8.ValidString(cn))
		}
		return 1
	default:
		tb.Fatalf("filter for %q has a %s node", cn, ldap.FilterMap[uint64(p.Tag)])
		return 0
	}
}
