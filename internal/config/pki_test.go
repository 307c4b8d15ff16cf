package config

import (
	"net"
	"strings"
	"testing"
)

func TestServe_PKIFlags(t *testing.T) {
	tests := []struct {
		name, addr, base string
		listen           net.Addr
		want             string // base URL, or "error: ..." prefix
	}{
		{"derived from host name", ":8080", "", &net.TCPAddr{Port: 8080}, "http://pki.example:8080"},
		{"explicit listen host", "127.0.0.1:0", "", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}, "http://127.0.0.1:41234"},
		{"IPv6 listen host", "[::1]:9000", "", &net.TCPAddr{IP: net.IPv6loopback, Port: 9000}, "http://[::1]:9000"},
		{"base URL wins", ":8080", "http://crl.example.com/pki/", &net.TCPAddr{Port: 8080}, "http://crl.example.com/pki"},
		{"bad address", "8080", "", nil, "error: --pki-http-addr"},
		{"ftp base", ":8080", "ftp://x", nil, "error: --pki-base-url"},
		{"base with query", ":8080", "http://x/?a=b", nil, "error: --pki-base-url"},
		{"disabled", "", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Serve{Listen: ":8443", DataDir: "d", Hostname: "pki.example", PKIHTTPAddr: tt.addr, PKIBaseURL: tt.base}
			err := s.Validate()
			if strings.HasPrefix(tt.want, "error: ") {
				if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(tt.want, "error: ")) {
					t.Fatalf("err %v, want %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.listen == nil {
				return
			}
			if got := s.PKIBaseURLFor(tt.listen); got != tt.want {
				t.Errorf("PKIBaseURLFor = %q, want %q", got, tt.want)
			}
		})
	}
}
