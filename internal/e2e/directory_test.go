package e2e

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kfv1 "github.com/Keyfactor/keyfactor-go-client-sdk/v25/api/keyfactor/v1"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/config"
	"github.com/certdock/certdock/internal/server"
)

// slapdEnv returns the .ci/slapd.sh server's settings, or skips the test when
// it was not started (fails instead under CI=true, as internal/directory's
// tests do).
func slapdEnv(t *testing.T) (url, bindDN, bindPW, baseDN string) {
	t.Helper()
	url = os.Getenv("CERTDOCK_TEST_LDAP_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CERTDOCK_TEST_LDAP_URL is not set: .ci/run must start .ci/slapd.sh before the tests")
		}
		t.Skip("CERTDOCK_TEST_LDAP_URL is not set; run `eval \"$(bash .ci/slapd.sh)\"` from the repository root")
	}
	get := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	return url,
		get("CERTDOCK_TEST_LDAP_BIND_DN", "cn=certdock,ou=Services,dc=example,dc=com"),
		get("CERTDOCK_TEST_LDAP_BIND_PASSWORD", "certdock-test"),
		get("CERTDOCK_TEST_LDAP_BASE_DN", "dc=example,dc=com")
}

// writeSetup writes a setup document to a temporary file.
func writeSetup(t *testing.T, doc any) string {
	t.Helper()
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "setup.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// enrollPFXv1 enrolls through the SDK and decodes the PFX with go-pkcs12.
func enrollPFXv1(t *testing.T, c *kfv1.APIClient, req *kfv1.EnrollmentPFXEnrollmentRequest) *x509.Certificate {
	t.Helper()
	leaf, _, _ := enrollPFXv1Chain(t, c, req)
	return leaf
}

// enrollPFXv1Chain is enrollPFXv1 returning what go-pkcs12's DecodeChain
// (the Keyfactor Go client's reader) finds: leaf, key and CA certificates.
func enrollPFXv1Chain(t *testing.T, c *kfv1.APIClient, req *kfv1.EnrollmentPFXEnrollmentRequest) (*x509.Certificate, any, []*x509.Certificate) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, _, err := c.EnrollmentApi.NewCreateEnrollmentPFXRequest(ctx).XCertificateformat("PFX").EnrollmentPFXEnrollmentRequest(*req).Execute()
	if err != nil {
		t.Fatalf("POST Enrollment/PFX: %s", sdkErr(err))
	}
	info := resp.GetCertificateInformation()
	der, err := base64.StdEncoding.DecodeString(info.GetPkcs12Blob())
	if err != nil {
		t.Fatalf("Pkcs12Blob: %v", err)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(der, req.GetPassword())
	if err != nil {
		t.Fatalf("decode PFX: %v", err)
	}
	return leaf, key, cas
}

func TestDirectory_PopulateMissingValuesFromAD(t *testing.T) {
	url, bindDN, bindPW, baseDN := slapdEnv(t)
	t.Setenv("E2E_LDAP_BIND_PASSWORD", bindPW)
	setup := writeSetup(t, map[string]any{
		"Directory": map[string]any{
			"URL": url, "BindDN": bindDN, "BindPasswordEnv": "E2E_LDAP_BIND_PASSWORD", "BaseDN": baseDN,
		},
	})
	in := startSetup(t, "", setup)
	c, err := kfv1.NewAPIClient(in.sdkConfig())
	if err != nil {
		t.Fatal(err)
	}

	newReq := func(subject string) *kfv1.EnrollmentPFXEnrollmentRequest {
		req := kfv1.NewEnrollmentPFXEnrollmentRequest()
		req.SetTemplate("WebServer")
		req.SetSubject(subject)
		req.SetPassword("directory-pass-123")
		req.SetPopulateMissingValuesFromAD(true)
		req.SetTimestamp(time.Now().UTC())
		return req
	}

	tests := []struct {
		name    string
		subject string
		want    map[string]string // subject part -> value; "" means absent
	}{
		{"host", "CN=web01", map[string]string{"O": "Example Corp", "OU": "Web", "L": "Berlin", "ST": "Berlin", "C": "DE"}},
		{"host by FQDN", "CN=web01.example.com", map[string]string{"O": "Example Corp", "OU": "Web", "C": "DE"}},
		{"user", "CN=alice", map[string]string{"O": "Example Corp", "OU": "Engineering", "L": "Springfield", "ST": "Illinois", "C": "US"}},
		{"request wins over directory", "CN=alice,O=Request Org", map[string]string{"O": "Request Org", "OU": "Engineering"}},
		{"partial entry", "CN=bob", map[string]string{"O": "Example Corp", "OU": "", "L": "", "C": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leaf := enrollPFXv1(t, c, newReq(tc.subject))
			s := leaf.Subject
			got := map[string]string{
				"O": strings.Join(s.Organization, "+"), "OU": strings.Join(s.OrganizationalUnit, "+"),
				"L": strings.Join(s.Locality, "+"), "ST": strings.Join(s.Province, "+"), "C": strings.Join(s.Country, "+"),
			}
			for part, want := range tc.want {
				if got[part] != want {
					t.Errorf("subject %s = %q, want %q (subject %s)", part, got[part], want, s)
				}
			}
		})
	}

	t.Run("unknown name is a 400 naming the field", func(t *testing.T) {
		body := `{"Template":"WebServer","Subject":"CN=nobody-here","Password":"directory-pass-123",` +
			`"PopulateMissingValuesFromAD":true,"Timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`
		code, b := in.callHeaders(t, "POST", "/Enrollment/PFX", body, map[string]string{"x-certificateformat": "PFX"})
		if code != http.StatusBadRequest {
			t.Fatalf("status %d, want 400: %s", code, b)
		}
		if e := decodeError(t, b); !strings.Contains(*e.Message, "PopulateMissingValuesFromAD") {
			t.Errorf("message %q does not name PopulateMissingValuesFromAD", *e.Message)
		}
	})
}

// TestDirectory_Unreachable points the directory at a closed port: the client
// gets a 503 with a generic message and none of the LDAP error text.
func TestDirectory_Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	t.Setenv("E2E_LDAP_BIND_PASSWORD", "secret-bind-password")
	setup := writeSetup(t, map[string]any{
		"Directory": map[string]any{
			"URL": "ldap://" + addr, "BindDN": "cn=certdock,dc=example,dc=com",
			"BindPasswordEnv": "E2E_LDAP_BIND_PASSWORD", "BaseDN": "dc=example,dc=com",
		},
	})
	in := startSetup(t, "", setup)
	body := `{"Template":"WebServer","Subject":"CN=web01","Password":"directory-pass-123",` +
		`"PopulateMissingValuesFromAD":true,"Timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`
	code, b := in.callHeaders(t, "POST", "/Enrollment/PFX", body, map[string]string{"x-certificateformat": "PFX"})
	if code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", code, b)
	}
	e := decodeError(t, b)
	if *e.ErrorCode != "0xA0000002" {
		t.Errorf("ErrorCode %q, want 0xA0000002", *e.ErrorCode)
	}
	for _, leak := range []string{addr, "connection refused", "dial", "ldap://", "secret-bind-password"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("error body leaks %q: %s", leak, b)
		}
	}
	if !strings.Contains(*e.Message, "PopulateMissingValuesFromAD") {
		t.Errorf("message %q does not name PopulateMissingValuesFromAD", *e.Message)
	}
}

func TestDirectory_BadSetup(t *testing.T) {
	t.Setenv("E2E_LDAP_EMPTY", "")
	tests := []struct {
		name string
		dir  map[string]any
		want string
	}{
		{"password env empty", map[string]any{"URL": "ldap://127.0.0.1:1", "BindDN": "cn=x,dc=example,dc=com",
			"BindPasswordEnv": "E2E_LDAP_EMPTY", "BaseDN": "dc=example,dc=com"}, "E2E_LDAP_EMPTY"},
		{"bind DN without password env", map[string]any{"URL": "ldap://127.0.0.1:1", "BindDN": "cn=x,dc=example,dc=com",
			"BaseDN": "dc=example,dc=com"}, "BindPasswordEnv"},
		{"bad scheme", map[string]any{"URL": "http://127.0.0.1:1", "BaseDN": "dc=example,dc=com"}, "scheme"},
		{"no base DN", map[string]any{"URL": "ldap://127.0.0.1:1"}, "BaseDN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := openErr(t, writeSetup(t, map[string]any{"Directory": tc.dir}))
			if err == nil {
				t.Fatal("server started with a bad Directory section")
			}
			if !strings.Contains(err.Error(), "Directory") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name Directory and %q", err, tc.want)
			}
		})
	}
}

// openErr opens (and closes) a server with a setup file and returns the
// error Open gave, nil when it started.
func openErr(t *testing.T, setupFile string) error {
	t.Helper()
	t.Setenv("CERTDOCK_ADMIN_PASSWORD", adminPassword)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.Open(context.Background(), config.Serve{Listen: "127.0.0.1:0", DataDir: t.TempDir(),
		Hostname: "localhost", Config: setupFile}, log, io.Discard)
	if err == nil {
		s.Close()
	}
	return err
}

// callHeaders sends one request as admin with extra headers.
func (in *instance) callHeaders(t *testing.T, method, path, body string, headers map[string]string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, in.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-keyfactor-requested-with", "APIClient")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.SetBasicAuth("admin", adminPassword)
	resp, err := in.httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b
}
