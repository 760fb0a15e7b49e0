package server

import (
	"context"
	"net"
	"net/http"
	"testing"
)

func TestHostWithPort(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4567}
	v6 := &net.TCPAddr{IP: net.IPv6loopback, Port: 4567}
	cases := []struct {
		host  string
		local net.Addr
		def   string
		want  string
	}{
		{"127.0.0.1", v4, "80", "127.0.0.1:4567"},
		{"127.0.0.1:9999", v4, "80", "127.0.0.1:9999"}, // a proxy's port is kept
		{"localhost", v4, "80", "localhost:4567"},
		{"[::1]", v6, "80", "[::1]:4567"},
		{"example.com", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, "80", "example.com"},
		{"example.com", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}, "443", "example.com"},
		{"example.com", nil, "80", "example.com"},
	}
	for _, c := range cases {
		r, _ := http.NewRequest(http.MethodPost, "http://x/getDataEndpoint", nil)
		r.Host = c.host
		if c.local != nil {
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, c.local))
		}
		if got := hostWithPort(r, c.def); got != c.want {
			t.Errorf("Host %q on %v: %q, want %q", c.host, c.local, got, c.want)
		}
	}
}
