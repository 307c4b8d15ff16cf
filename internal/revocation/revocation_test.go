package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/certdock/certdock/internal/certificate"
	"github.com/certdock/certdock/internal/errs"
	"github.com/certdock/certdock/internal/revocation"
)

func TestRevokeRequest_Validate(t *testing.T) {
	now := t0
	tests := []struct {
		name  string
		req   revocation.RevokeRequest
		field string // "" means valid
	}{
		{"ok", revocation.RevokeRequest{CertificateIDs: []int64{1, 2}, Reason: 1}, ""},
		{"every allowed reason -1", revocation.RevokeRequest{CertificateIDs: []int64{1}, Reason: -1}, ""},
		{"999", revocation.RevokeRequest{CertificateIDs: []int64{1}, Reason: 999}, ""},
		{"no ids", revocation.RevokeRequest{Reason: 1}, "CertificateIds"},
		{"zero id", revocation.RevokeRequest{CertificateIDs: []int64{3, 0}}, "CertificateIds[1]"},
		{"duplicate id", revocation.RevokeRequest{CertificateIDs: []int64{3, 3}}, "CertificateIds[1]"},
		{"reason 7", revocation.RevokeRequest{CertificateIDs: []int64{1}, Reason: 7}, "Reason"},
		{"reason 10", revocation.RevokeRequest{CertificateIDs: []int64{1}, Reason: 10}, "Reason"},
		{"long comment", revocation.RevokeRequest{CertificateIDs: []int64{1}, Comment: strings.Repeat("x", 4001)}, "Comment"},
		{"future", revocation.RevokeRequest{CertificateIDs: []int64{1}, EffectiveDate: now.Add(time.Hour)}, "EffectiveDate"},
		{"slightly ahead", revocation.RevokeRequest{CertificateIDs: []int64{1}, EffectiveDate: now.Add(time.Minute)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate(now)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			e := errs.As(err)
			if e.Kind != errs.Invalid || e.Field != tt.field || !strings.HasPrefix(e.Message, tt.field+": ") {
				t.Errorf("got %+v, want field %s", e, tt.field)
			}
		})
	}
}

func TestRevoke_Transitions(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 3)
	a, b, c := f.certs[0].id, f.certs[1].id, f.certs[2].id
	state := func(id int64) (certificate.State, int) {
		t.Helper()
		r, err := f.db.Q().Certificate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Revocation == nil {
			return r.State, -100
		}
		return r.State, r.Revocation.Reason
	}
	steps := []struct {
		name   string
		ids    []int64
		reason int
		kind   errs.Kind // 0 (Internal) is never expected; use -1 for success
		msg    string
		check  int64
		want   certificate.State
		wantR  int
	}{
		{"hold a", []int64{a}, 6, -1, "", a, certificate.StateRevoked, 6},
		{"hold a again", []int64{a}, 6, errs.Conflict, "already on hold", a, certificate.StateRevoked, 6},
		{"release b (not held)", []int64{b}, 8, errs.Conflict, "not on hold", b, certificate.StateActive, -100},
		{"release a", []int64{a}, 8, -1, "", a, certificate.StateActive, -100},
		{"hold a then revoke for good", []int64{a}, 6, -1, "", a, certificate.StateRevoked, 6},
		{"revoke held a", []int64{a}, 1, -1, "", a, certificate.StateRevoked, 1},
		{"revoke a twice", []int64{a}, 4, errs.Conflict, "already revoked", a, certificate.StateRevoked, 1},
		{"mixed batch changes nothing", []int64{b, a, 999}, 5, errs.Conflict, "no certificate of the batch was revoked", b, certificate.StateActive, -100},
		{"unknown", []int64{999}, 5, errs.NotFound, "certificate 999 was not found", b, certificate.StateActive, -100},
		{"batch", []int64{b, c}, -1, -1, "", c, certificate.StateRevoked, -1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			res, err := f.svc.Revoke(ctx, f.admin, revocation.RevokeRequest{CertificateIDs: s.ids, Reason: s.reason, PublishCRL: true})
			if s.kind == -1 {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				if len(res.RevokedIDs) != len(s.ids) {
					t.Errorf("RevokedIDs %v", res.RevokedIDs)
				}
			} else {
				e := errs.As(err)
				if e.Kind != s.kind || !strings.Contains(e.Message, s.msg) {
					t.Fatalf("got %v (kind %d), want kind %d with %q", err, e.Kind, s.kind, s.msg)
				}
			}
			if st, r := state(s.check); st != s.want || r != s.wantR {
				t.Errorf("certificate %d: state %v reason %d, want %v %d", s.check, st, r, s.want, s.wantR)
			}
		})
	}
	// hold, release, hold, revoke of a; b and c in the last batch.
	if n := f.auditCount(t, "certificate.revoke"); n != 6 {
		t.Errorf("%d audit entries, want 6", n)
	}
	h, err := f.svc.History(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 || h[0].Operation != certificate.OpRevoked || h[0].Actor != "admin" || !strings.Contains(h[1].Message, "released from hold") {
		t.Errorf("history of a: %+v", h)
	}
}

func TestCRL_NumberingAndSchedule(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	leaf := f.certs[0]
	c1, err := f.svc.CurrentCRL(ctx, f.caID)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Number != 1 || !c1.NextUpdate.Equal(c1.ThisUpdate.Add(revocation.DefaultCRLValidity)) {
		t.Fatalf("first CRL %d %v..%v", c1.Number, c1.ThisUpdate, c1.NextUpdate)
	}
	f.clock.Add(revocation.DefaultCRLValidity/2 - time.Minute)
	if c, _ := f.svc.CurrentCRL(ctx, f.caID); c.Number != 1 {
		t.Errorf("CRL re-signed before half its validity: %d", c.Number)
	}
	f.svc.RefreshCRLs(ctx)
	if c, _ := f.svc.CurrentCRL(ctx, f.caID); c.Number != 1 {
		t.Errorf("RefreshCRLs re-signed a fresh CRL: %d", c.Number)
	}
	f.clock.Add(2 * time.Minute)
	f.svc.RefreshCRLs(ctx)
	c2, _ := f.svc.CurrentCRL(ctx, f.caID)
	if c2.Number != 2 || !c2.ThisUpdate.After(c1.ThisUpdate) {
		t.Errorf("after half the validity: number %d thisUpdate %v", c2.Number, c2.ThisUpdate)
	}
	// A revocation without PublishCRL marks the CRL stale: the next read
	// re-signs it with the serial.
	if _, err := f.svc.Revoke(ctx, f.admin, revocation.RevokeRequest{CertificateIDs: []int64{leaf.id}, Reason: 2}); err != nil {
		t.Fatal(err)
	}
	c3, err := f.svc.CurrentCRL(ctx, f.caID)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(c3.DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := rl.CheckSignatureFrom(f.ca.Certificate()); err != nil {
		t.Fatal(err)
	}
	if c3.Number != 3 || len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.cert.SerialNumber) != 0 ||
		rl.RevokedCertificateEntries[0].ReasonCode != 2 {
		t.Errorf("CRL %d entries %+v", c3.Number, rl.RevokedCertificateEntries)
	}
	// Once the certificate has expired it leaves the CRL.
	f.clock.Add(31 * 24 * time.Hour)
	c4, _ := f.svc.CurrentCRL(ctx, f.caID)
	rl, _ = x509.ParseRevocationList(c4.DER)
	if c4.Number != 4 || len(rl.RevokedCertificateEntries) != 0 {
		t.Errorf("after expiry: CRL %d with %d entries", c4.Number, len(rl.RevokedCertificateEntries))
	}
}

func ocspRequest(t *testing.T, cert, issuer *x509.Certificate, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestOCSP_Answers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2)
	good, bad := f.certs[0], f.certs[1]
	if _, err := f.svc.Revoke(ctx, f.admin, revocation.RevokeRequest{CertificateIDs: []int64{bad.id}, Reason: 999, EffectiveDate: f.clock.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	issuer := f.ca.Certificate()
	unknown := *good.cert
	unknown.SerialNumber = big.NewInt(424242)
	for _, tt := range []struct {
		name   string
		cert   *x509.Certificate
		hash   crypto.Hash
		status int
	}{
		{"good sha1", good.cert, crypto.SHA1, ocsp.Good},
		{"good sha256", good.cert, crypto.SHA256, ocsp.Good},
		{"revoked", bad.cert, crypto.SHA1, ocsp.Revoked},
		{"unknown serial", &unknown, crypto.SHA1, ocsp.Unknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			der := f.svc.RespondOCSP(ctx, ocspRequest(t, tt.cert, issuer, tt.hash))
			r, err := ocsp.ParseResponseForCert(der, tt.cert, issuer)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status {
				t.Errorf("status %d, want %d", r.Status, tt.status)
			}
			if !r.NextUpdate.Equal(r.ThisUpdate.Add(revocation.DefaultOCSPValidity)) {
				t.Errorf("validity %v..%v", r.ThisUpdate, r.NextUpdate)
			}
			if tt.status == ocsp.Revoked && (r.RevocationReason != ocsp.Unspecified || !r.RevokedAt.Equal(f.clock.Now().Add(-time.Hour).Truncate(time.Second))) {
				t.Errorf("revoked: reason %d at %v", r.RevocationReason, r.RevokedAt)
			}
		})
	}
	// A certificate of another CA: unauthorized (RFC 6960 2.3).
	if got := f.svc.RespondOCSP(ctx, ocspRequest(t, good.cert, f.root, crypto.SHA1)); !bytes.Equal(got, ocsp.UnauthorizedErrorResponse) {
		t.Errorf("foreign issuer: %x", got)
	}
	for _, in := range [][]byte{nil, []byte("junk"), make([]byte, revocation.MaxOCSPRequest+1)} {
		if got := f.svc.RespondOCSP(ctx, in); !bytes.Equal(got, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("malformed %d bytes: %x", len(in), got)
		}
	}
}

func TestHandler_Routes(t *testing.T) {
	f := newFixture(t, 1)
	srv := httptest.NewServer(f.svc.Handler())
	defer srv.Close()
	req := ocspRequest(t, f.certs[0].cert, f.ca.Certificate(), crypto.SHA1)
	b64 := base64.StdEncoding.EncodeToString(req)
	for _, tt := range []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		wantType                  string
	}{
		{"CRL", "GET", "/crl/IssuingCA1.crl", "", nil, 200, "application/pkix-crl"},
		{"CRL HEAD", "HEAD", "/crl/IssuingCA1.crl", "", nil, 200, "application/pkix-crl"},
		{"CRL unknown CA", "GET", "/crl/Nope.crl", "", nil, 404, ""},
		{"CRL no suffix", "GET", "/crl/IssuingCA1", "", nil, 404, ""},
		{"CRL POST", "POST", "/crl/IssuingCA1.crl", "", nil, 405, ""},
		{"CA cert", "GET", "/ca/IssuingCA1.crt", "", nil, 200, "application/pkix-cert"},
		{"OCSP POST", "POST", "/ocsp", "application/ocsp-request", req, 200, "application/ocsp-response"},
		{"OCSP POST wrong type", "POST", "/ocsp", "text/plain", req, 415, ""},
		{"OCSP POST too big", "POST", "/ocsp", "application/ocsp-request", make([]byte, revocation.MaxOCSPRequest+1), 413, ""},
		{"OCSP GET", "GET", "/ocsp/" + url.PathEscape(b64), "", nil, 200, "application/ocsp-response"},
		{"OCSP GET raw", "GET", "/ocsp/" + b64, "", nil, 200, "application/ocsp-response"},
		{"OCSP GET not base64", "GET", "/ocsp/%%%", "", nil, 400, ""},
		{"OCSP DELETE", "DELETE", "/ocsp", "", nil, 405, ""},
		{"elsewhere", "GET", "/", "", nil, 404, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(tt.method, srv.URL+tt.path, bytes.NewReader(tt.body))
			if r == nil {
				r = &http.Request{Method: tt.method, URL: &url.URL{Scheme: "http", Host: strings.TrimPrefix(srv.URL, "http://"), Opaque: tt.path}}
			}
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
			}
			if tt.wantType == "application/ocsp-response" {
				if r, err := ocsp.ParseResponseForCert(body, f.certs[0].cert, f.ca.Certificate()); err != nil || r.Status != ocsp.Good {
					t.Errorf("OCSP: %v %+v", err, r)
				}
			}
		})
	}
}

func TestDecodeOCSPGetPath(t *testing.T) {
	der := []byte{0x30, 0xfb, 0xff, 0x3e, 0x01} // base64 "MPv/PgE=" has a "/" and padding
	std := base64.StdEncoding.EncodeToString(der)
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{std, true},
		{url.PathEscape(std), true},
		{strings.TrimRight(std, "="), true},
		{base64.RawURLEncoding.EncodeToString(der), true},
		{strings.ReplaceAll(std, "+", " "), true},
		{"", false},
		{"%zz", false},
		{"!!!!", false},
		{strings.Repeat("A", 100000), false},
	} {
		got, ok := revocation.DecodeOCSPGetPath(tt.in)
		if ok != tt.ok || (ok && !bytes.Equal(got, der)) {
			t.Errorf("%.40q: %x %v", tt.in, got, ok)
		}
	}
}

// TestCRL_ConcurrentDownloadsSignOnce: the scheduler and simultaneous
// downloads of a missing CRL sign one CRL between them.
func TestCRL_ConcurrentDownloadsSignOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	var wg sync.WaitGroup
	numbers := make([]int64, 8)
	for i := range numbers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				f.svc.RefreshCRLs(ctx)
			}
			c, err := f.svc.CurrentCRL(ctx, f.caID)
			if err != nil {
				t.Error(err)
			}
			numbers[i] = c.Number
		}()
	}
	wg.Wait()
	for i, n := range numbers {
		if n != 1 {
			t.Errorf("reader %d got CRL %d, want 1", i, n)
		}
	}
}
