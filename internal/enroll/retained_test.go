package enroll_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certdock/certdock/internal/enroll"
)

// A retained key is stored sealed with the master key, bound to its
// certificate (AAD retained-key:certificate:<id>): the row holds neither
// the key nor anything that opens under another certificate's AAD.
func TestRetainedKey_SealedAtRest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	r := baseRequest()
	r.Password = "Retained-Key-Pass-1"
	res, err := f.svc.EnrollPFX(ctx, admin, r)
	if err != nil {
		t.Fatal(err)
	}
	key, _, _, err := pkcs12.DecodeChain(res.Blob, res.Password)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _, err := f.db.Q().RetainedKeyInfo(ctx, res.CertificateID)
	if err != nil {
		t.Fatalf("no retained key for a WebServer (retaining) enrollment: %v", err)
	}
	if bytes.Contains(sealed, pkcs8) || bytes.Contains(sealed, pkcs8[len(pkcs8)-32:]) {
		t.Fatal("the retained key is stored in the clear")
	}
	opened, err := f.kr.Open(sealed, enroll.RetainedKeyAAD(res.CertificateID))
	if err != nil || !bytes.Equal(opened, pkcs8) {
		t.Fatalf("opening with the certificate's AAD: %v", err)
	}
	if _, err := f.kr.Open(sealed, enroll.RetainedKeyAAD(res.CertificateID+1)); err == nil {
		t.Fatal("the sealed key opens under another certificate's AAD")
	}
}
