package embedded

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/certdock/certdock/internal/ca"
)

// DefaultServerCertValidity is the lifetime of the server's own TLS
// certificate when none is given.
const DefaultServerCertValidity = 365 * 24 * time.Hour

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// ServerCertRequest builds the request for certdock's own TLS server
// certificate: subjectAltNames for localhost, 127.0.0.1 and ::1 plus hosts
// (DNS names or IP addresses, such as the machine's hostname), CN the first
// DNS name in hosts or "localhost", extKeyUsage serverAuth. Names are
// lower-cased and duplicates dropped. validity 0 means
// DefaultServerCertValidity.
func ServerCertRequest(pub crypto.PublicKey, hosts []string, validity time.Duration) (*ca.IssueRequest, error) {
	if validity == 0 {
		validity = DefaultServerCertValidity
	}
	req := &ca.IssueRequest{
		PublicKey: pub,
		Profile: ca.Profile{
			Validity:     validity,
			ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
	}
	seen := map[string]bool{}
	for _, h := range append(hosts, "localhost", "127.0.0.1", "::1") {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				req.IPAddresses = append(req.IPAddresses, ip)
			}
			continue
		}
		if !validHostname(h) {
			return nil, fmt.Errorf("embedded: %q is not a host name or IP address", h)
		}
		if !seen[h] {
			seen[h] = true
			req.DNSNames = append(req.DNSNames, h)
		}
	}
	req.Subject = pkix.RDNSequence{{{Type: oidCommonName, Value: req.DNSNames[0]}}}
	return req, nil
}

// IssueServerCert issues certdock's own TLS server certificate; see
// ServerCertRequest.
func (c *CA) IssueServerCert(ctx context.Context, pub crypto.PublicKey, hosts []string, validity time.Duration) (*ca.IssueResponse, error) {
	req, err := ServerCertRequest(pub, hosts, validity)
	if err != nil {
		return nil, err
	}
	return c.Issue(ctx, req)
}

// validHostname accepts LDH labels (RFC 1123), with an optional leading
// "*." wildcard label, up to 253 characters.
func validHostname(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
