package embedded

import (
	"context"
	"crypto"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func TestSignCRL_ParsesAndVerifies(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	now := tc.clock.Now()
	entries := []CRLEntry{
		{Serial: big.NewInt(1001), RevokedAt: now.Add(-time.Hour), Reason: 1},
		{Serial: big.NewInt(1002), RevokedAt: now.Add(-2 * time.Hour), Reason: 0},
		{Serial: big.NewInt(1003), RevokedAt: now, Reason: 6},
	}
	der, err := tc.SignCRL(big.NewInt(7), entries, now, now.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(tc.m.IssuingCert); err != nil {
		t.Errorf("signature: %v", err)
	}
	if crl.Number.Int64() != 7 {
		t.Errorf("number %v", crl.Number)
	}
	if !crl.NextUpdate.Equal(now.Add(24 * time.Hour).Truncate(time.Second)) {
		t.Errorf("nextUpdate %v", crl.NextUpdate)
	}
	if len(crl.RevokedCertificateEntries) != 3 {
		t.Fatalf("%d entries", len(crl.RevokedCertificateEntries))
	}
	for i, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(entries[i].Serial) != 0 || e.ReasonCode != entries[i].Reason {
			t.Errorf("entry %d: serial %v reason %d", i, e.SerialNumber, e.ReasonCode)
		}
	}
	if string(crl.AuthorityKeyId) != string(tc.m.IssuingCert.SubjectKeyId) {
		t.Error("authorityKeyIdentifier is not the issuing CA's key id")
	}
}

func TestSignCRL_Rejects(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	now := tc.clock.Now()
	tests := []struct {
		name    string
		number  *big.Int
		entries []CRLEntry
		next    time.Time
	}{
		{"zero number", big.NewInt(0), nil, now.Add(time.Hour)},
		{"huge number", new(big.Int).Lsh(big.NewInt(1), 170), nil, now.Add(time.Hour)},
		{"next before this", big.NewInt(1), nil, now.Add(-time.Hour)},
		{"reason 7", big.NewInt(1), []CRLEntry{{Serial: big.NewInt(5), RevokedAt: now, Reason: 7}}, now.Add(time.Hour)},
		{"no serial", big.NewInt(1), []CRLEntry{{RevokedAt: now}}, now.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tc.SignCRL(tt.number, tt.entries, now, tt.next); err == nil {
				t.Error("signed")
			}
		})
	}
}

func TestSignOCSP_Statuses(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{OCSPURLs: []string{"http://127.0.0.1:1/ocsp"}})
	leaf, err := tc.Issue(context.Background(), serverRequest(leafKey(t, "P-256").Public(), "ocsp.example"))
	if err != nil {
		t.Fatal(err)
	}
	now := tc.clock.Now()
	for _, tt := range []struct {
		name   string
		status int
		reason int
		hash   crypto.Hash
	}{
		{"good", ocsp.Good, 0, 0},
		{"revoked keyCompromise", ocsp.Revoked, ocsp.KeyCompromise, crypto.SHA1},
		{"revoked hold sha256", ocsp.Revoked, ocsp.CertificateHold, crypto.SHA256},
		{"unknown", ocsp.Unknown, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			der, err := tc.SignOCSP(OCSPStatus{Status: tt.status, Serial: leaf.Certificate.SerialNumber, RevokedAt: now.Add(-time.Minute),
				Reason: tt.reason, Hash: tt.hash, ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			r, err := ocsp.ParseResponseForCert(der, leaf.Certificate, tc.m.IssuingCert)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || r.SerialNumber.Cmp(leaf.Certificate.SerialNumber) != 0 {
				t.Errorf("status %d serial %v", r.Status, r.SerialNumber)
			}
			if tt.status == ocsp.Revoked && (r.RevocationReason != tt.reason || !r.RevokedAt.Equal(now.Add(-time.Minute))) {
				t.Errorf("reason %d at %v", r.RevocationReason, r.RevokedAt)
			}
			if tt.hash != 0 && r.IssuerHash != tt.hash {
				t.Errorf("issuer hash %v", r.IssuerHash)
			}
		})
	}
	if got := leaf.Certificate.OCSPServer; len(got) != 1 || got[0] != "http://127.0.0.1:1/ocsp" {
		t.Errorf("OCSPServer = %v", got)
	}
}
