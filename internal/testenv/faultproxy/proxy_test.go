package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection and counts the bytes it received.
type echoServer struct {
	ln       net.Listener
	received atomic.Int64
	conns    atomic.Int64
	wg       sync.WaitGroup
}

func newEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	var mu sync.Mutex
	var open []net.Conn
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func newProxy(t *testing.T, target string, opts ...Option) *Proxy {
	t.Helper()
	p, err := New(target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back within a second.
func roundTrip(c net.Conn, msg []byte) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	defer c.SetReadDeadline(time.Time{})
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs")
	}
	return nil
}

// silent checks that nothing arrives on c for d, and that c is neither
// closed nor reset.
func silent(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	n, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, err %v; want silence", n, err)
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func TestPassForwardsAndTaps(t *testing.T) {
	e := newEcho(t)
	var tapped [2]atomic.Int64
	p := newProxy(t, e.ln.Addr().String(), WithTap(func(_ uint64, d Direction, b []byte) { tapped[d].Add(int64(len(b))) }))
	c := dial(t, p)
	msg := bytes.Repeat([]byte("kvs"), 10000)
	if err := roundTrip(c, msg); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.BytesUp != int64(len(msg)) || st.BytesDown != int64(len(msg)) || st.Accepted != 1 || st.Open != 1 {
		t.Fatalf("stats %+v after a %d-byte echo", st, len(msg))
	}
	if tapped[Upstream].Load() != int64(len(msg)) || tapped[Downstream].Load() != int64(len(msg)) {
		t.Fatalf("tap saw %d up, %d down", tapped[Upstream].Load(), tapped[Downstream].Load())
	}
	// A half close reaches the server, whose close reaches the client.
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after a half close: %d bytes, %v; want EOF", n, err)
	}
}

func TestResetAll(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	a, b := dial(t, p), dial(t, p)
	for _, c := range []net.Conn{a, b} {
		if err := roundTrip(c, []byte("hello")); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.ResetAll(); n != 2 {
		t.Fatalf("reset %d connections, want 2", n)
	}
	for _, c := range []net.Conn{a, b} {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); !isReset(err) {
			t.Fatalf("read after ResetAll: %v, want a reset", err)
		}
	}
	// New connections work.
	if err := roundTrip(dial(t, p), []byte("again")); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Reset != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBlackhole(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	old := dial(t, p)
	if err := roundTrip(old, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMode(Blackhole); err != nil {
		t.Fatal(err)
	}
	// A new connection is accepted but reaches nothing.
	fresh := dial(t, p)
	if _, err := fresh.Write([]byte("into the void")); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	silent(t, fresh, 300*time.Millisecond)
	silent(t, old, 300*time.Millisecond)
	if n := e.conns.Load(); n != 1 {
		t.Fatalf("the server saw %d connections, want only the one before the blackhole", n)
	}
	if n := e.received.Load(); n != int64(len("before")) {
		t.Fatalf("the server received %d bytes, want %d", n, len("before"))
	}
	// Blackholed connections stay dead; new ones pass again.
	if err := p.SetMode(Pass); err != nil {
		t.Fatal(err)
	}
	silent(t, old, 200*time.Millisecond)
	silent(t, fresh, 200*time.Millisecond)
	if err := roundTrip(dial(t, p), []byte("after")); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Blackholed != 2 || st.Open != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefuse(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	old := dial(t, p)
	if err := roundTrip(old, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := p.SetMode(Refuse); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if !isReset(err) {
			t.Fatalf("read on a refused connection: %v, want a reset", err)
		}
	} else if !isReset(err) {
		t.Fatalf("dial under Refuse: %v, want a reset", err)
	}
	if err := roundTrip(old, []byte("still")); err != nil {
		t.Fatalf("open connection under Refuse: %v", err)
	}
	_ = p.SetMode(Pass)
	if err := roundTrip(dial(t, p), []byte("after")); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Refused != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWithhold(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	if err := p.SetMode(Withhold); err != nil {
		t.Fatal(err)
	}
	msg := []byte("acknowledge me")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	silent(t, c, 300*time.Millisecond)
	if n := e.received.Load(); n != int64(len(msg)) {
		t.Fatalf("the server received %d bytes, want %d: upload bytes must pass", n, len(msg))
	}
	// The held response arrives once the mode changes.
	_ = p.SetMode(Pass)
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("after Withhold: %q, %v", got, err)
	}
}

func TestThrottle(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	const rate = 40 << 10
	if err := p.SetThrottle(rate); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	msg := bytes.Repeat([]byte{7}, 2*rate)
	began := time.Now()
	go func() { _, _ = c.Write(msg) }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
		t.Fatal(err)
	}
	// Two seconds' worth each way, the directions overlapping.
	took := time.Since(began)
	if took < 1800*time.Millisecond || took > 4*time.Second {
		t.Fatalf("%d bytes at %d B/s took %s", len(msg), rate, took)
	}
	_ = p.SetThrottle(0)
	began = time.Now()
	if err := roundTrip(c, msg); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Fatalf("unthrottled echo took %s", took)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	e := newEcho(t)
	p, err := New(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	if err := roundTrip(c, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = p.SetMode(Blackhole)
	dial(t, p)
	_ = p.SetMode(Withhold)
	time.Sleep(50 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.SetMode(Pass); !errors.Is(err, ErrClosed) {
		t.Fatalf("SetMode after Close: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); !isReset(err) && err != io.EOF {
		t.Fatalf("read after Close: %v", err)
	}
	// goleak in TestMain checks that no goroutine is left.
}

func TestBadArguments(t *testing.T) {
	if _, err := New("127.0.0.1:1", WithBufferSize(0)); err == nil {
		t.Fatal("buffer size 0 accepted")
	}
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	if err := p.SetMode(Mode(42)); err == nil {
		t.Fatal("mode 42 accepted")
	}
	if err := p.SetThrottle(-1); err == nil {
		t.Fatal("negative rate accepted")
	}
	// A target that refuses: the client's connection is reset, counted.
	q := newProxy(t, "127.0.0.1:1") // tcpmux: nothing listens there
	if _, err := net.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Skip("something listens on 127.0.0.1:1")
	}
	// On loopback the reset may come before the dial returns.
	if c, err := net.Dial("tcp", q.Addr()); err == nil {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
		if !isReset(err) && err != io.EOF {
			t.Fatalf("read through a proxy to nothing: %v", err)
		}
	} else if !isReset(err) {
		t.Fatalf("dial through a proxy to nothing: %v", err)
	}
	if st := q.Stats(); st.DialFailure != 1 {
		t.Fatalf("stats %+v", st)
	}
}
