package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

var (
	rsaKey, _   = rsa.GenerateKey(rand.Reader, 2048)
	p256Key, _  = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224Key, _  = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	edPub, _, _ = ed25519.GenerateKey(rand.Reader)
)

func TestRejectf_MatchesErrRejected(t *testing.T) {
	err := fmt.Errorf("issuing: %w", Rejectf("subject %q is empty", "CN="))
	if !errors.Is(err, ErrRejected) {
		t.Fatal("wrapped RejectedError does not match ErrRejected")
	}
	var rej *RejectedError
	if !errors.As(err, &rej) || rej.Reason != `subject "CN=" is empty` {
		t.Fatalf("errors.As gave %+v", rej)
	}
	if !strings.Contains(err.Error(), "request rejected: subject") {
		t.Errorf("message %q", err)
	}
	if errors.Is(errors.New("ca: request rejected"), ErrRejected) {
		t.Error("an unrelated error with the same text matches ErrRejected")
	}
}

func TestKeyUsageFor(t *testing.T) {
	const (
		ds = x509.KeyUsageDigitalSignature
		cc = x509.KeyUsageContentCommitment
		ke = x509.KeyUsageKeyEncipherment
		de = x509.KeyUsageDataEncipherment
		ka = x509.KeyUsageKeyAgreement
		cs = x509.KeyUsageCertSign
		cr = x509.KeyUsageCRLSign
		eo = x509.KeyUsageEncipherOnly
	)
	for _, tc := range []struct {
		name      string
		pub       crypto.PublicKey
		requested x509.KeyUsage
		isCA      bool
		want      x509.KeyUsage
		rejected  bool
	}{
		{"RSA default", &rsaKey.PublicKey, 0, false, ds | ke, false},
		{"ECDSA default", &p256Key.PublicKey, 0, false, ds, false},
		{"Ed25519 default", edPub, 0, false, ds, false},
		{"RSA keeps encipherment", &rsaKey.PublicKey, ds | ke | de, false, ds | ke | de, false},
		{"RSA drops key agreement", &rsaKey.PublicKey, ds | ka, false, ds, false},
		{"ECDSA drops encipherment", &p256Key.PublicKey, ds | ke | de, false, ds, false},
		{"ECDSA only encipherment falls back to default", &p256Key.PublicKey, ke, false, ds, false},
		{"ECDSA keeps key agreement", &p256Key.PublicKey, ds | ka | eo, false, ds | ka | eo, false},
		{"ECDSA encipherOnly needs key agreement", &p256Key.PublicKey, ds | eo, false, ds, false},
		{"Ed25519 drops agreement and encipherment", edPub, ds | cc | ke | ka, false, ds | cc, false},
		{"CA default", &p256Key.PublicKey, 0, true, cs | cr | ds, false},
		{"CA always gets certSign", &rsaKey.PublicKey, cr, true, cr | cs, false},
		{"leaf with certSign rejected", &p256Key.PublicKey, ds | cs, false, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KeyUsageFor(tc.pub, tc.requested, tc.isCA)
			if tc.rejected {
				if !errors.Is(err, ErrRejected) {
					t.Fatalf("got %v, %v; want ErrRejected", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("KeyUsageFor = %#x, %v; want %#x", got, err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	san := pkix.Extension{Id: OIDSubjectAltName, Value: []byte{0x30, 0x00}}
	other := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}
	ok := func() *IssueRequest {
		return &IssueRequest{PublicKey: &p256Key.PublicKey, Profile: Profile{Validity: time.Hour}}
	}
	for _, tc := range []struct {
		name    string
		mod     func(r *IssueRequest)
		errText string // "" means valid
	}{
		{"minimal", func(r *IssueRequest) {}, ""},
		{"RSA", func(r *IssueRequest) { r.PublicKey = &rsaKey.PublicKey }, ""},
		{"Ed25519", func(r *IssueRequest) { r.PublicKey = edPub }, ""},
		{"SAN extension", func(r *IssueRequest) { r.ExtraExtensions = []pkix.Extension{san, other} }, ""},
		{"plain SANs", func(r *IssueRequest) { r.IPAddresses = []net.IP{net.IPv6loopback} }, ""},
		{"CA with pathlen", func(r *IssueRequest) { r.Profile.IsCA, r.Profile.MaxPathLen = true, 2 }, ""},
		{"CA without limit", func(r *IssueRequest) { r.Profile.IsCA, r.Profile.MaxPathLen = true, -1 }, ""},
		{"no key", func(r *IssueRequest) { r.PublicKey = nil }, "no public key"},
		{"private key given", func(r *IssueRequest) { r.PublicKey = p256Key }, "unsupported public key type"},
		{"P-224", func(r *IssueRequest) { r.PublicKey = &p224Key.PublicKey }, "unsupported elliptic curve P-224"},
		{"empty RSA", func(r *IssueRequest) { r.PublicKey = &rsa.PublicKey{} }, "empty RSA"},
		{"short Ed25519", func(r *IssueRequest) { r.PublicKey = ed25519.PublicKey{1, 2} }, "Ed25519 public key of 2 bytes"},
		{"zero validity", func(r *IssueRequest) { r.Profile.Validity = 0 }, "validity"},
		{"negative validity", func(r *IssueRequest) { r.Profile.Validity = -time.Hour }, "validity"},
		{"leaf with pathlen", func(r *IssueRequest) { r.Profile.MaxPathLen = 1 }, "only for CA"},
		{"CA pathlen -2", func(r *IssueRequest) { r.Profile.IsCA, r.Profile.MaxPathLen = true, -2 }, "-1 or more"},
		{"duplicate extension", func(r *IssueRequest) { r.ExtraExtensions = []pkix.Extension{other, other} }, "given twice"},
		{"SAN twice", func(r *IssueRequest) {
			r.ExtraExtensions = []pkix.Extension{san}
			r.DNSNames = []string{"a.example"}
		}, "both as an extension and as plain names"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.mod(r)
			err := r.Validate()
			switch {
			case tc.errText == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tc.errText)
			}
		})
	}
	var nilReq *IssueRequest
	if nilReq.Validate() == nil {
		t.Error("nil request validated")
	}
}

func TestIssueRequest_SANExtension(t *testing.T) {
	san := pkix.Extension{Id: OIDSubjectAltName, Critical: true, Value: []byte{0x30, 0}}
	r := &IssueRequest{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2}}, san}}
	got, ok := r.SANExtension()
	if !ok || !got.Critical {
		t.Fatalf("SANExtension() = %+v, %v", got, ok)
	}
	if _, ok := (&IssueRequest{}).SANExtension(); ok {
		t.Error("found a SAN extension in an empty request")
	}
	if (&IssueRequest{}).HasPlainSANs() || !(&IssueRequest{EmailAddresses: []string{"a@b"}}).HasPlainSANs() {
		t.Error("HasPlainSANs wrong")
	}
}
