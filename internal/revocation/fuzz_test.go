package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/certdock/certdock/internal/revocation"
)

// FuzzRespondOCSP feeds arbitrary bytes to the OCSP responder: it must
// always answer with a DER OCSP response (an error status for anything it
// cannot parse), never panic, and sign only for requests that parse.
func FuzzRespondOCSP(f *testing.F) {
	fx := newFixture(f, 1)
	valid, err := ocsp.CreateRequest(fx.certs[0].cert, fx.ca.Certificate(), &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	// With requestExtensions: a nonce as openssl sends it, and a malformed one.
	f.Add(addRequestNonce(f, valid, []byte{0x04, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}))
	f.Add(addRequestNonce(f, valid, []byte{0x04, 0x05, 1}))
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		resp := fx.svc.RespondOCSP(context.Background(), in)
		if len(resp) == 0 {
			t.Fatal("empty response")
		}
		r, err := ocsp.ParseResponse(resp, fx.ca.Certificate())
		if err != nil {
			// Error statuses parse as a ResponseError.
			if _, ok := err.(ocsp.ResponseError); !ok {
				t.Fatalf("response does not parse: %v", err)
			}
			if _, perr := ocsp.ParseRequest(in); perr == nil && len(in) <= revocation.MaxOCSPRequest {
				// A parsable request for another issuer is unauthorized.
				if !bytes.Equal(resp, ocsp.UnauthorizedErrorResponse) {
					t.Fatalf("parsable request got %x", resp)
				}
			}
			return
		}
		if r.SerialNumber == nil {
			t.Fatal("signed response without serial")
		}
	})
}

// FuzzDecodeOCSPGetPath checks the GET path decoder: bounded output, and a
// round trip for what it accepts.
func FuzzDecodeOCSPGetPath(f *testing.F) {
	for _, s := range []string{"MEIwQDA%2BMDwwOjAJBgUrDgMCGgUABBQ", "MPv/PgE=", "", "%", "a b+c", strings.Repeat("QQ", 50)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		der, ok := revocation.DecodeOCSPGetPath(s)
		if !ok {
			return
		}
		if len(der) == 0 || len(der) > revocation.MaxOCSPRequest {
			t.Fatalf("accepted %d bytes", len(der))
		}
		back, ok := revocation.DecodeOCSPGetPath(base64.StdEncoding.EncodeToString(der))
		if !ok || !bytes.Equal(back, der) {
			t.Fatal("round trip failed")
		}
	})
}

// FuzzPKIHandler sends arbitrary methods, paths and bodies to the PKI
// listener's handler: it must never panic or answer 5xx.
func FuzzPKIHandler(f *testing.F) {
	fx := newFixture(f, 1)
	h := fx.svc.Handler()
	valid, _ := ocsp.CreateRequest(fx.certs[0].cert, fx.ca.Certificate(), nil)
	f.Add("POST", "/ocsp", valid)
	f.Add("GET", "/ocsp/"+base64.StdEncoding.EncodeToString(valid), []byte(nil))
	f.Add("GET", "/crl/IssuingCA1.crl", []byte(nil))
	f.Add("GET", "/ca/IssuingCA1.crt", []byte(nil))
	f.Add("GET", "/ocsp//%2F%2B==", []byte(nil))
	f.Add("PUT", "/crl/../ca/x", []byte("x"))
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		req, err := http.NewRequest(method, "http://pki.test/", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.Path = path
		req.URL.RawPath = ""
		req.Header.Set("Content-Type", "application/ocsp-request")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", method, path, rec.Code, rec.Body.Bytes())
		}
	})
}
