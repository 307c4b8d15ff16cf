package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/policy"
	"github.com/certdock/certdock/internal/revocation"
	"github.com/certdock/certdock/internal/sqlstore"
)

// The root publishes a CRL (CRLOnly) but answers no OCSP; its issuing CA
// certificate names the root's CRL when Bootstrap is given the URL.
func TestRootCA_CRLOnly(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	crlURL, _, issuerURL := revocation.URLs("http://pki.example:8080", "RootCA")
	m, err := embedded.Bootstrap(rand.Reader, t0, embedded.BootstrapOptions{RootCRLURLs: crlURL, RootIssuerURLs: issuerURL})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.IssuingCert.CRLDistributionPoints; len(got) != 1 || got[0] != "http://pki.example:8080/crl/RootCA.crl" {
		t.Fatalf("issuing CA CDP %v", got)
	}
	if got := m.IssuingCert.IssuingCertificateURL; len(got) != 1 || got[0] != "http://pki.example:8080/ca/RootCA.crt" || len(m.IssuingCert.OCSPServer) != 0 {
		t.Fatalf("issuing CA AIA: caIssuers %v OCSP %v", got, m.IssuingCert.OCSPServer)
	}
	clock := &fakeClock{now: t0.Add(time.Hour)}
	root, err := embedded.New(embedded.Options{Cert: m.RootCert, Signer: m.RootKey, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := m.IssuingCA(embedded.Options{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rootID, err := db.Q().InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "RootCA", HostName: "h", Kind: "embedded", Role: "root", CreatedAt: t0},
		CertDER: m.RootCert.Raw, ChainDER: []byte{}})
	if err != nil {
		t.Fatal(err)
	}
	issID, err := db.Q().InsertCA(ctx, sqlstore.CARow{CA: policy.CA{LogicalName: "IssuingCA1", HostName: "h", Kind: "embedded", Role: "issuing", CreatedAt: t0},
		CertDER: m.IssuingCert.Raw, ChainDER: m.RootCert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	svc := revocation.New(revocation.Options{
		Store: db.Q(),
		InTx: func(ctx context.Context, fn func(revocation.Store) error) error {
			return db.WithTx(ctx, func(q sqlstore.Q) error { return fn(q) })
		},
		CAs: []revocation.CA{{ID: rootID, LogicalName: "RootCA", Signer: root, CRLOnly: true},
			{ID: issID, LogicalName: "IssuingCA1", Signer: iss}},
		Dialect:    db.QueryDialect(),
		Now:        clock.Now,
		IsNotFound: func(err error) bool { return errors.Is(err, sqlstore.ErrNotFound) },
	})
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/crl/RootCA.crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rl, err := x509.ParseRevocationList(der)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("root CRL: %d %v", resp.StatusCode, err)
	}
	if err := rl.CheckSignatureFrom(m.RootCert); err != nil || len(rl.RevokedCertificateEntries) != 0 || rl.Number.Sign() <= 0 {
		t.Fatalf("root CRL: signature %v, %d entries, number %v", err, len(rl.RevokedCertificateEntries), rl.Number)
	}

	// OCSP about the issuing CA certificate (issuer: the root) is not answered.
	req, err := ocsp.CreateRequest(m.IssuingCert, m.RootCert, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.RespondOCSP(ctx, req); !bytes.Equal(got, ocsp.UnauthorizedErrorResponse) {
		t.Fatalf("OCSP for a root-issued certificate: %x", got)
	}
}
