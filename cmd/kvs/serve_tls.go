package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"kvskit/server"
)

// serveTLS is the TLS side of kvs serve: the certificate to serve and the
// file clients trust it with.
type serveTLS struct {
	config *tls.Config
	caPath string // the CA bundle clients pass; empty for --tls-cert
}

// tlsHosts are the names the self-signed certificate must carry beyond
// localhost and the loopback addresses: the --public-url host and a
// specific --listen address.
func tlsHosts(o serveOptions, ln net.Addr) []string {
	var hosts []string
	if u, err := url.Parse(o.publicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	if ta, ok := ln.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() {
		hosts = append(hosts, ta.IP.String())
	}
	return hosts
}

// setupTLS returns nil when kvs serve runs without TLS.
func setupTLS(o serveOptions, ln net.Addr, out io.Writer) (*serveTLS, error) {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	var st serveTLS
	var cert tls.Certificate
	switch {
	case o.tlsCert != "":
		c, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s --tls-key %s: %w", o.tlsCert, o.tlsKey, err)
		}
		cert = c
	case o.tls:
		c, path, made, err := server.SelfSignedCert(o.dataDir, tlsHosts(o, ln), time.Now())
		if err != nil {
			return nil, err
		}
		cert, st.caPath = c, path
		if made {
			fmt.Fprintf(out, "kvs serve: made a self-signed TLS certificate %s; clients trust it with --ca-bundle %s (or AWS_CA_BUNDLE)\n", path, path)
		}
	default:
		return nil, nil
	}
	st.config = &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// PutMedia and GetMedia are long HTTP/1.1 streams.
		NextProtos: []string{"http/1.1"},
	}
	return &st, nil
}

// useTLS makes hs serve HTTPS on ln with st, HTTP/1.1 only.
func useTLS(hs *http.Server, ln net.Listener, st *serveTLS) net.Listener {
	if st == nil {
		return ln
	}
	hs.TLSConfig = st.config
	hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	return tls.NewListener(ln, st.config)
}

// clientURL is the URL clients should use: --public-url when set, else the
// listener's address, with a loopback address in place of an unspecified
// one (0.0.0.0 or ::, which no client can connect to).
func clientURL(o serveOptions, ln net.Addr, secure bool) string {
	if o.publicURL != "" {
		return o.publicURL
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	host, port := "127.0.0.1", "0"
	if ta, ok := ln.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
		if !ta.IP.IsUnspecified() {
			host = ta.IP.String()
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// plainTextWarning names the risk of serving a non-loopback address
// without TLS; empty when there is none.
func plainTextWarning(ln net.Addr, secure bool) string {
	ta, ok := ln.(*net.TCPAddr)
	if secure || (ok && ta.IP.IsLoopback()) {
		return ""
	}
	return fmt.Sprintf("kvs serve: WARNING: listening on %s without TLS: the video, every request and response, and the session tokens of temporary credentials cross the network in clear text, where anyone on the path can read them, and replay or alter signed requests within their 5-minute window; use --tls (or --tls-cert/--tls-key), or listen on 127.0.0.1\n", ln)
}
