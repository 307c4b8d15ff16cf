package revocation_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/certdock/certdock/internal/revocation"
)

// TestCRL_RevocationCommittedBeforeACrash: a revocation answered without
// PublishCRL is committed, and its CRL is re-signed after the answer. When
// the process dies in between, the restarted server must not keep serving
// the stored CRL (fresh by its dates) without the serial until half its
// validity has passed; and a restart with nothing pending re-signs nothing.
func TestCRL_RevocationCommittedBeforeACrash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 2)
	if c, err := f.svc.CurrentCRL(ctx, f.caID); err != nil || c.Number != 1 {
		t.Fatalf("first CRL %d %v", c.Number, err)
	}
	if _, err := f.svc.Revoke(ctx, f.admin, revocation.RevokeRequest{CertificateIDs: []int64{f.certs[0].id}, Reason: 1}); err != nil {
		t.Fatal(err)
	}
	// The process is killed here, before anything re-signs the CRL.
	after := f.service() // the restarted process
	c2, err := after.CurrentCRL(ctx, f.caID)
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(c2.DER)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Number != 2 || len(rl.RevokedCertificateEntries) != 1 || rl.RevokedCertificateEntries[0].SerialNumber.Cmp(f.certs[0].cert.SerialNumber) != 0 {
		t.Fatalf("after the restart: CRL %d with %d entries, want 2 listing the revoked serial", c2.Number, len(rl.RevokedCertificateEntries))
	}
	// Restarted again with the CRL current: served as stored.
	if c3, err := f.service().CurrentCRL(ctx, f.caID); err != nil || c3.Number != 2 {
		t.Errorf("second restart: CRL %d %v, want the stored 2", c3.Number, err)
	}
}
