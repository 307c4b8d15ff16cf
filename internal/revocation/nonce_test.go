package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/certdock/certdock/internal/ca/embedded"
	"github.com/certdock/certdock/internal/revocation"
)

// addRequestNonce adds requestExtensions with a nonce whose extnValue is
// ext to a DER OCSP request made by ocsp.CreateRequest (which writes none).
func addRequestNonce(t testing.TB, req, ext []byte) []byte {
	t.Helper()
	var outer, tbs asn1.RawValue
	if _, err := asn1.Unmarshal(req, &outer); err != nil {
		t.Fatal(err)
	}
	if _, err := asn1.Unmarshal(outer.Bytes, &tbs); err != nil {
		t.Fatal(err)
	}
	exts, _ := asn1.Marshal([]pkix.Extension{{Id: embedded.OIDOCSPNonce, Value: ext}})
	tagged, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: exts})
	newTBS, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: append(append([]byte{}, tbs.Bytes...), tagged...)})
	out, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: newTBS})
	return out
}

// responseNonce digs the responseExtensions' nonce out of a response.
func responseNonce(t *testing.T, der []byte) []byte {
	t.Helper()
	var outer struct {
		Status asn1.Enumerated
		Bytes  struct {
			Type     asn1.ObjectIdentifier
			Response []byte
		} `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &outer); err != nil {
		t.Fatal(err)
	}
	var basic struct {
		TBS struct {
			Version     int `asn1:"optional,default:0,explicit,tag:0"`
			ResponderID asn1.RawValue
			ProducedAt  asn1.RawValue
			Responses   asn1.RawValue
			Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
		}
		SigAlg, Sig asn1.RawValue
	}
	if _, err := asn1.Unmarshal(outer.Bytes.Response, &basic); err != nil {
		t.Fatal(err)
	}
	for _, e := range basic.TBS.Extensions {
		if e.Id.Equal(embedded.OIDOCSPNonce) {
			return e.Value
		}
	}
	return nil
}

func TestOCSP_NonceEcho(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1)
	issuer, leaf := f.ca.Certificate(), f.certs[0].cert
	plain := ocspRequest(t, leaf, issuer, crypto.SHA256)
	octets := func(n int) []byte { b, _ := asn1.Marshal(bytes.Repeat([]byte{0xa5}, n)); return b }
	for _, tt := range []struct {
		name string
		ext  []byte // nil: no nonce extension
		echo bool
	}{
		{"no nonce", nil, false},
		{"16 octets (openssl)", octets(16), true},
		{"32 octets", octets(32), true},
		{"1 octet", octets(1), true},
		{"33 octets not echoed", octets(33), false},
		{"not an OCTET STRING", []byte{0x02, 0x01, 0x05}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := plain
			if tt.ext != nil {
				req = addRequestNonce(t, plain, tt.ext)
			}
			der := f.svc.RespondOCSP(ctx, req)
			// The signature covers the rewritten ResponseData.
			r, err := ocsp.ParseResponseForCert(der, leaf, issuer)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != ocsp.Good {
				t.Fatalf("status %d", r.Status)
			}
			got := responseNonce(t, der)
			switch {
			case tt.echo && !bytes.Equal(got, tt.ext):
				t.Fatalf("nonce %x, want %x", got, tt.ext)
			case !tt.echo && got != nil:
				t.Fatalf("nonce %x echoed", got)
			}
		})
	}
	if revocation.RequestNonce([]byte{0x30, 0x00}) != nil {
		t.Fatal("nonce from an empty request")
	}
}
