package revocation

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Paths on the PKI listener. Certificates carry
//
//	cRLDistributionPoints  BASE/crl/<CA logical name>.crl
//	authorityInfoAccess    OCSP BASE/ocsp, caIssuers BASE/ca/<CA logical name>.crt
const (
	pathCRL  = "/crl/"
	pathCA   = "/ca/"
	pathOCSP = "/ocsp"
)

// URLs returns the CRL distribution point, OCSP and CA issuers URLs that a
// certificate of the named CA carries, for a PKI listener at base
// ("http://host:port", no trailing slash).
func URLs(base, logicalName string) (crl, ocsp, issuer []string) {
	base = strings.TrimSuffix(base, "/")
	n := url.PathEscape(logicalName)
	return []string{base + pathCRL + n + ".crl"}, []string{base + pathOCSP}, []string{base + pathCA + n + ".crt"}
}

// maxOCSPGetPath bounds the base64 of a GET request (RFC 6960 A.1):
// MaxOCSPRequest bytes in base64, URL-escaped at worst three characters
// per character.
const maxOCSPGetPath = (MaxOCSPRequest*4/3 + 4) * 3

// Handler serves the PKI endpoints over plain HTTP: CRLs (DER,
// application/pkix-crl), CA certificates (DER, application/pkix-cert) and
// the OCSP responder (POST application/ocsp-request, or GET with the
// base64 request in the path, RFC 6960 appendix A). It does not use
// http.ServeMux: the mux cleans paths, and base64 may contain "//".
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	switch {
	case p == pathOCSP || p == pathOCSP+"/":
		s.serveOCSPPost(w, r)
	case strings.HasPrefix(p, pathOCSP+"/"):
		s.serveOCSPGet(w, r, strings.TrimPrefix(p, pathOCSP+"/"))
	case strings.HasPrefix(p, pathCRL):
		s.serveCRL(w, r, r.URL.Path[len(pathCRL):])
	case strings.HasPrefix(p, pathCA):
		s.serveCACert(w, r, r.URL.Path[len(pathCA):])
	default:
		http.NotFound(w, r)
	}
}

func getOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (s *Service) serveCRL(w http.ResponseWriter, r *http.Request, name string) {
	if !getOnly(w, r) {
		return
	}
	c, ok := s.CAByName(strings.TrimSuffix(name, ".crl"))
	if !ok || !strings.HasSuffix(name, ".crl") {
		http.NotFound(w, r)
		return
	}
	crl, err := s.CurrentCRL(r.Context(), c.ID)
	if err != nil {
		s.o.Logger.Error("serving CRL", "ca", c.LogicalName, "err", err)
		http.Error(w, "the CRL is unavailable", http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pkix-crl")
	h.Set("Last-Modified", crl.ThisUpdate.UTC().Format(http.TimeFormat))
	h.Set("ETag", `"`+strconv.FormatInt(crl.Number, 10)+`"`)
	// Revocations are published at once; caches must ask again.
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(crl.DER)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(crl.DER)
}

func (s *Service) serveCACert(w http.ResponseWriter, r *http.Request, name string) {
	if !getOnly(w, r) {
		return
	}
	c, ok := s.CAByName(strings.TrimSuffix(name, ".crt"))
	if !ok || !strings.HasSuffix(name, ".crt") {
		http.NotFound(w, r)
		return
	}
	der := c.Signer.Certificate().Raw
	w.Header().Set("Content-Type", "application/pkix-cert")
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(der)
}

func (s *Service) serveOCSPPost(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "OCSP requests are POSTed to "+pathOCSP+" or sent with GET to "+pathOCSP+"/<base64>", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/ocsp-request") {
		http.Error(w, "Content-Type must be application/ocsp-request", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxOCSPRequest))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		http.Error(w, "the OCSP request is too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		return
	}
	s.writeOCSP(w, r, s.RespondOCSP(r.Context(), body))
}

func (s *Service) serveOCSPGet(w http.ResponseWriter, r *http.Request, escaped string) {
	if !getOnly(w, r) {
		return
	}
	der, ok := DecodeOCSPGetPath(escaped)
	if !ok {
		http.Error(w, "the path is not a base64 OCSP request", http.StatusBadRequest)
		return
	}
	s.writeOCSP(w, r, s.RespondOCSP(r.Context(), der))
}

// DecodeOCSPGetPath decodes the part after /ocsp/ of a GET request: the
// URL-escaped base64 of the DER request (RFC 6960 A.1). Padding is
// optional and the URL-safe alphabet is accepted, because clients differ.
func DecodeOCSPGetPath(escaped string) ([]byte, bool) {
	if escaped == "" || len(escaped) > maxOCSPGetPath {
		return nil, false
	}
	raw, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, false
	}
	// Some clients form-encode "+" as a space.
	raw = strings.TrimRight(strings.ReplaceAll(raw, " ", "+"), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if der, err := enc.DecodeString(raw); err == nil && len(der) > 0 && len(der) <= MaxOCSPRequest {
			return der, true
		}
	}
	return nil, false
}

func (s *Service) writeOCSP(w http.ResponseWriter, r *http.Request, resp []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/ocsp-response")
	h.Set("Cache-Control", "no-cache")
	h.Set("Date", s.now().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.Itoa(len(resp)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(resp)
}
