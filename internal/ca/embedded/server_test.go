package embedded

import (
	"context"
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"
)

func TestIssueServerCert(t *testing.T) {
	tc := newTestCA(t, BootstrapOptions{}, Options{})
	key := leafKey(t, "P-256")
	resp, err := tc.IssueServerCert(context.Background(), key.Public(), []string{"Build-01.corp.example.", "10.0.0.7", "localhost"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Certificate
	checkRFC5280(t, tc, c)
	if want := []string{"build-01.corp.example", "localhost"}; !slices.Equal(c.DNSNames, want) {
		t.Errorf("DNS names %v, want %v", c.DNSNames, want)
	}
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.0.0.7", "127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IP addresses %v, want %v", ips, want)
	}
	if c.Subject.CommonName != "build-01.corp.example" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("EKU %v", c.ExtKeyUsage)
	}
	if want := tc.clock.Now().Add(DefaultServerCertValidity).Truncate(time.Second); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter %v, want %v", c.NotAfter, want)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(tc.m.RootCert)
	inter.AddCert(tc.m.IssuingCert)
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "build-01.corp.example", "10.0.0.7"} {
		if _, err := c.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, CurrentTime: tc.clock.Now()}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if err := c.VerifyHostname("other.example"); err == nil {
		t.Error("valid for a host not asked for")
	}
}

func TestServerCertRequest(t *testing.T) {
	pub := leafKey(t, "Ed25519").Public()
	t.Run("defaults", func(t *testing.T) {
		req, err := ServerCertRequest(pub, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(req.DNSNames, []string{"localhost"}) || len(req.IPAddresses) != 2 ||
			!req.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !req.IPAddresses[1].Equal(net.IPv6loopback) {
			t.Errorf("SANs %v %v", req.DNSNames, req.IPAddresses)
		}
		if req.Profile.Validity != DefaultServerCertValidity {
			t.Errorf("validity %v", req.Profile.Validity)
		}
	})
	t.Run("IP first still gives a DNS CN", func(t *testing.T) {
		req, err := ServerCertRequest(pub, []string{"192.0.2.5", "host"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := req.Subject.String(); got != "CN=host" {
			t.Errorf("subject %s", got)
		}
	})
	for _, bad := range []string{"", "under_score", "-lead", "trail-.example", "a..b", "spa ce", "bücher"} {
		t.Run("rejects "+bad, func(t *testing.T) {
			if _, err := ServerCertRequest(pub, []string{bad}, time.Hour); err == nil {
				t.Errorf("accepted %q", bad)
			}
		})
	}
}
