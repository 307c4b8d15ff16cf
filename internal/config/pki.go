package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// validatePKI checks --pki-http-addr and --pki-base-url.
func (s *Serve) validatePKI() error {
	if s.PKIHTTPAddr != "" {
		if _, _, err := net.SplitHostPort(s.PKIHTTPAddr); err != nil {
			return fmt.Errorf("--pki-http-addr %q: %v", s.PKIHTTPAddr, err)
		}
	}
	if s.PKIBaseURL == "" {
		return nil
	}
	u, err := url.Parse(s.PKIBaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--pki-base-url %q must be an http:// URL with a host and no query", s.PKIBaseURL)
	}
	s.PKIBaseURL = strings.TrimSuffix(s.PKIBaseURL, "/")
	return nil
}

// PKIBaseURLFor derives the PKI base URL from the listener's real address
// when --pki-base-url is unset: http://HOSTNAME:PORT, or the listen host
// when one is given explicitly.
func (s *Serve) PKIBaseURLFor(addr net.Addr) string {
	if s.PKIBaseURL != "" {
		return s.PKIBaseURL
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return ""
	}
	if h, _, _ := net.SplitHostPort(s.PKIHTTPAddr); h != "" && h != "0.0.0.0" && h != "::" {
		host = h
	} else {
		host = s.Hostname
	}
	return "http://" + net.JoinHostPort(host, port)
}
