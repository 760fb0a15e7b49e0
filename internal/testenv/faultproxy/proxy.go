// Package faultproxy is a TCP proxy for tests that puts network faults
// between a client and a server: it listens on 127.0.0.1 and forwards every
// connection to a target address, and its faults are switched while it runs.
//
// The faults are those a camera behind Wi-Fi, NAT and routers meets:
//   - Pass forwards both ways.
//   - Blackhole accepts new connections and forwards nothing on them, and
//     stops forwarding on the open ones, without closing or resetting
//     anything: as a NAT that lost its state, a blackholed connection never
//     carries a byte again, even after the mode changes back.
//   - Refuse resets every new connection as soon as it is accepted; open
//     connections go on.
//   - Withhold forwards the client's bytes and holds back the server's (its
//     responses and acknowledgements) until the mode changes.
//   - SetThrottle caps the bytes per second forwarded in each direction.
//   - ResetAll resets every open connection (RST, not FIN) on both sides.
//
// Held bytes are not read from the socket, so TCP flow control, not the
// proxy's memory, holds them back: each connection uses two goroutines and
// two fixed buffers. Close resets every connection and returns once every
// goroutine of the proxy has ended.
package faultproxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is the fault applied to connections.
type Mode int

// Modes.
const (
	Pass Mode = iota
	Blackhole
	Refuse
	Withhold
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Blackhole:
		return "blackhole"
	case Refuse:
		return "refuse"
	case Withhold:
		return "withhold"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ErrClosed is returned by the methods of a closed Proxy.
var ErrClosed = errors.New("faultproxy: closed")

// Direction names one way of a connection.
type Direction int

// Directions.
const (
	// Upstream is client to server.
	Upstream Direction = iota
	// Downstream is server to client.
	Downstream
)

// Stats counts what the proxy did.
type Stats struct {
	Accepted    int64 // connections accepted
	Refused     int64 // connections reset at accept (Refuse)
	Blackholed  int64 // connections that were blackholed
	Reset       int64 // connections reset by ResetAll
	Open        int64 // connections open now
	BytesUp     int64 // bytes forwarded client to server
	BytesDown   int64 // bytes forwarded server to client
	DialFailure int64 // connections closed because the target refused them
}

// Option configures a Proxy.
type Option func(*Proxy) error

// WithTap calls f with every chunk forwarded, from the goroutine that
// forwards it, before it is written on. f must be quick and must not keep b.
func WithTap(f func(conn uint64, d Direction, b []byte)) Option {
	return func(p *Proxy) error {
		p.tap = f
		return nil
	}
}

// WithBufferSize sets the size of each direction's forwarding buffer
// (default 32 KiB).
func WithBufferSize(n int) Option {
	return func(p *Proxy) error {
		if n <= 0 {
			return fmt.Errorf("faultproxy: buffer size %d", n)
		}
		p.bufSize = n
		return nil
	}
}

// Proxy forwards TCP connections to a target, with faults.
type Proxy struct {
	target  string
	ln      net.Listener
	tap     func(uint64, Direction, []byte)
	bufSize int

	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu       sync.Mutex
	mode     Mode
	rate     int64         // bytes per second per direction; 0: unlimited
	changed  chan struct{} // closed and replaced on every change
	conns    map[uint64]*conn
	nextID   uint64
	closed   bool
	accepted int64
	refused  int64
	blackhs  int64
	resets   int64
	dialFail int64

	up, down atomic.Int64
}

// conn is one proxied connection.
type conn struct {
	id     uint64
	client *net.TCPConn
	dead   bool // blackholed: never forwards again (guarded by Proxy.mu)
	gone   chan struct{}

	mu     sync.Mutex
	server *net.TCPConn // nil until dialled (never, when blackholed from the start)
	closed bool
}

// close closes both sides, with a reset (RST) when reset is set.
func (c *conn) close(reset bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	server := c.server
	c.mu.Unlock()
	close(c.gone)
	for _, tc := range []*net.TCPConn{c.client, server} {
		if tc == nil {
			continue
		}
		if reset {
			_ = tc.SetLinger(0)
		}
		_ = tc.Close()
	}
}

// setServer records the dialled server side; false when the connection was
// closed meanwhile (the caller then closes sc).
func (c *conn) setServer(sc *net.TCPConn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.server = sc
	return true
}

// New listens on 127.0.0.1 (an ephemeral port) and forwards to target
// (host:port) in Pass mode.
func New(target string, opts ...Option) (*Proxy, error) {
	p := &Proxy{
		target:  target,
		bufSize: 32 << 10,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		conns:   map[uint64]*conn{},
	}
	for _, o := range opts {
		if err := o(p); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.ln = ln
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address (127.0.0.1:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is http://Addr.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetMode switches the fault. Blackhole also blackholes every open
// connection for good.
func (p *Proxy) SetMode(m Mode) error {
	if m < Pass || m > Withhold {
		return fmt.Errorf("faultproxy: unknown mode %d", int(m))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.mode = m
	if m == Blackhole {
		for _, c := range p.conns {
			if !c.dead {
				c.dead = true
				p.blackhs++
			}
		}
	}
	p.changedLocked()
	return nil
}

// SetThrottle caps each direction of each connection at bytesPerSecond
// (0 removes the cap).
func (p *Proxy) SetThrottle(bytesPerSecond int64) error {
	if bytesPerSecond < 0 {
		return fmt.Errorf("faultproxy: negative rate %d", bytesPerSecond)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.rate = bytesPerSecond
	p.changedLocked()
	return nil
}

// ResetAll resets every open connection on both sides (RST) and returns how
// many there were.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	var cs []*conn
	for _, c := range p.conns {
		cs = append(cs, c)
	}
	p.resets += int64(len(cs))
	p.mu.Unlock()
	for _, c := range cs {
		c.close(true)
	}
	return len(cs)
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Accepted: p.accepted, Refused: p.refused, Blackholed: p.blackhs, Reset: p.resets,
		Open: int64(len(p.conns)), BytesUp: p.up.Load(), BytesDown: p.down.Load(), DialFailure: p.dialFail,
	}
}

// Close stops listening, resets every connection and waits for every
// goroutine of the proxy to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	close(p.done)
	var cs []*conn
	for _, c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	err := p.ln.Close()
	for _, c := range cs {
		c.close(true)
	}
	p.wg.Wait()
	return err
}

func (p *Proxy) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// A transient accept error (out of descriptors): back off a little.
			select {
			case <-p.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.handle(nc.(*net.TCPConn))
	}
}

// handle starts forwarding one accepted connection, as the mode says.
func (p *Proxy) handle(client *net.TCPConn) {
	p.mu.Lock()
	mode := p.mode
	p.accepted++
	if p.closed || mode == Refuse {
		if mode == Refuse {
			p.refused++
		}
		p.mu.Unlock()
		_ = client.SetLinger(0)
		_ = client.Close()
		return
	}
	p.nextID++
	c := &conn{id: p.nextID, client: client, gone: make(chan struct{})}
	if mode == Blackhole {
		c.dead = true
		p.blackhs++
	}
	p.conns[c.id] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go p.serve(c)
}

func (p *Proxy) serve(c *conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c.id)
		p.mu.Unlock()
	}()
	p.mu.Lock()
	dead := c.dead
	p.mu.Unlock()
	if dead {
		// Blackholed from the start: hold it open, dial nothing.
		select {
		case <-c.gone:
		case <-p.done:
		}
		c.close(true)
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	sc, err := d.Dial("tcp", p.target)
	if err != nil {
		p.mu.Lock()
		p.dialFail++
		p.mu.Unlock()
		c.close(true)
		return
	}
	server := sc.(*net.TCPConn)
	select {
	case <-p.done:
		c.close(true)
	default:
	}
	if !c.setServer(server) {
		_ = server.SetLinger(0)
		_ = server.Close()
		return
	}
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); p.pump(c, Upstream, c.client, server) }()
	go func() { defer pumps.Done(); p.pump(c, Downstream, server, c.client) }()
	pumps.Wait()
	c.close(false)
}

// gate waits until the connection may forward in direction d, and returns
// the rate cap in force; false when the connection or the proxy ends first.
func (p *Proxy) gate(c *conn, d Direction) (int64, bool) {
	for {
		p.mu.Lock()
		ok := !c.dead && !(d == Downstream && p.mode == Withhold)
		rate, changed := p.rate, p.changed
		p.mu.Unlock()
		if ok {
			return rate, true
		}
		select {
		case <-changed:
		case <-c.gone:
			return 0, false
		case <-p.done:
			return 0, false
		}
	}
}

// pump forwards one direction. It ends the other side's writing half when
// its source ends, and closes the connection on any error.
func (p *Proxy) pump(c *conn, d Direction, src, dst *net.TCPConn) {
	buf := make([]byte, p.bufSize)
	counter := &p.up
	if d == Downstream {
		counter = &p.down
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		rate, ok := p.gate(c, d)
		if !ok {
			return
		}
		n := len(buf)
		if rate > 0 {
			// At most a tenth of a second's worth per write, so a cap holds
			// over short spans too.
			n = int(max(1, min(int64(n), rate/10)))
		}
		start := time.Now()
		m, err := src.Read(buf[:n])
		if m > 0 {
			// The mode may have changed while the read waited.
			if rate, ok = p.gate(c, d); !ok {
				return
			}
			if p.tap != nil {
				p.tap(c.id, d, buf[:m])
			}
			// Counted before the write, so that a peer that has read them
			// finds them counted.
			counter.Add(int64(m))
			if _, werr := dst.Write(buf[:m]); werr != nil {
				c.close(true)
				return
			}
			if rate > 0 {
				wait := time.Duration(float64(m)/float64(rate)*float64(time.Second)) - time.Since(start)
				if wait > 0 {
					if timer == nil {
						timer = time.NewTimer(wait)
					} else {
						timer.Reset(wait)
					}
					select {
					case <-timer.C:
					case <-c.gone:
						return
					case <-p.done:
						return
					}
				}
			}
		}
		if err != nil {
			// The source ended (FIN) or failed: pass the end on.
			if m == 0 && isEOF(err) {
				_ = dst.CloseWrite()
				return
			}
			c.close(true)
			return
		}
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
