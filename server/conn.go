package server

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ConnLimits bound the connections of the endpoint, so that clients that
// hold connections open (idle, slow, or refused ones) cannot exhaust the
// process's file descriptors or starve other clients. The zero value of a
// field means its default.
type ConnLimits struct {
	// MaxConns caps open connections in all; more are closed as soon as
	// they are accepted.
	MaxConns int
	// MaxConnsPerAddr caps open connections from one client IP address.
	MaxConnsPerAddr int
	// HeaderTimeout is how long a client has to send a request's headers,
	// from its first byte (or from the end of the previous request).
	HeaderTimeout time.Duration
	// BodyTimeout is the longest wait for the next bytes of a request body
	// (progress, not the whole body). PutMedia bodies are governed by
	// Limits.IdleTimeout instead.
	BodyTimeout time.Duration
	// KeepAliveTimeout closes a keep-alive connection idle this long
	// between requests.
	KeepAliveTimeout time.Duration
}

// DefaultConnLimits returns limits that let a small machine serve 100
// cameras (about two connections each, several behind one address) while
// keeping descriptors and memory bounded.
func DefaultConnLimits() ConnLimits {
	return ConnLimits{
		MaxConns:         1024,
		MaxConnsPerAddr:  256,
		HeaderTimeout:    10 * time.Second,
		BodyTimeout:      10 * time.Second,
		KeepAliveTimeout: 60 * time.Second,
	}
}

func (l ConnLimits) withDefaults() ConnLimits {
	d := DefaultConnLimits()
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxConnsPerAddr <= 0 {
		l.MaxConnsPerAddr = d.MaxConnsPerAddr
	}
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = d.HeaderTimeout
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = d.BodyTimeout
	}
	if l.KeepAliveTimeout <= 0 {
		l.KeepAliveTimeout = d.KeepAliveTimeout
	}
	return l
}

// HTTPServer returns an http.Server serving the endpoint with the timeouts
// of the connection limits. Serve it on a listener from LimitListener.
func (s *Server) HTTPServer() *http.Server {
	c := s.conns
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: c.HeaderTimeout,
		IdleTimeout:       c.KeepAliveTimeout,
	}
}

// LimitListener wraps ln so that at most MaxConns connections, and
// MaxConnsPerAddr from one client address, are open at once; a connection
// over either cap is closed as soon as it is accepted.
func (s *Server) LimitListener(ln net.Listener) net.Listener {
	return &limitListener{Listener: ln, s: s, max: s.conns.MaxConns, perAddr: s.conns.MaxConnsPerAddr,
		byAddr: make(map[netip.Addr]int)}
}

type limitListener struct {
	net.Listener
	s       *Server
	max     int
	perAddr int

	mu      sync.Mutex
	total   int
	byAddr  map[netip.Addr]int
	refused atomic.Int64
	lastLog atomic.Int64 // unix nanos of the last refusal logged
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		if l.total >= l.max || l.byAddr[ip] >= l.perAddr {
			total, fromAddr := l.total, l.byAddr[ip]
			l.mu.Unlock()
			c.Close()
			l.logRefusal(ip, total, fromAddr)
			continue
		}
		l.total++
		l.byAddr[ip]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, ip: ip}, nil
	}
}

// logRefusal logs refused connections at most once a second, with how many
// were refused since the last line.
func (l *limitListener) logRefusal(ip netip.Addr, total, fromAddr int) {
	n := l.refused.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(time.Second) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.refused.Add(-n)
	l.s.log.Warn("connections refused: over the connection limit", "remote", ip, "refused", n,
		"open", total, "open_from_addr", fromAddr, "max", l.max, "max_per_addr", l.perAddr)
}

func (l *limitListener) release(ip netip.Addr) {
	l.mu.Lock()
	l.total--
	if n := l.byAddr[ip] - 1; n > 0 {
		l.byAddr[ip] = n
	} else {
		delete(l.byAddr, ip)
	}
	l.mu.Unlock()
}

func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// limitedConn gives its slot back when closed.
type limitedConn struct {
	net.Conn
	l    *limitListener
	ip   netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}

// CloseWrite shuts the sending side, as net.TCPConn does.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// progressReader reads a request body with a read deadline renewed before
// each read: a client that stops sending is cut off after timeout, however
// long the body.
type progressReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	_ = p.rc.SetReadDeadline(time.Now().Add(p.timeout))
	return p.r.Read(b)
}
