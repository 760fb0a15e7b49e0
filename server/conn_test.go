package server

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveLimited serves a new Server with connection limits on a loopback
// listener, as kvs serve does, and returns its address.
func serveLimited(t *testing.T, conns ConnLimits) (string, *Server) {
	t.Helper()
	srv, err := New(Config{
		DataDir:     t.TempDir(),
		Credentials: map[string]string{testCreds.AccessKeyID: testCreds.SecretAccessKey},
		Conns:       conns,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		NoSync:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(srv.LimitListener(ln))
	}()
	t.Cleanup(func() {
		hs.Close()
		<-done
		srv.Close()
	})
	return ln.Addr().String(), srv
}

// closedWithin requires the server to close conn within d, after any
// response it sends.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection not closed by the server within %v: %v", d, err)
	}
}

func TestConnectionCaps(t *testing.T) {
	addr, _ := serveLimited(t, ConnLimits{MaxConns: 5, MaxConnsPerAddr: 3})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // accepted
	// A fourth from the same address is closed at once.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closedWithin(t, c, 2*time.Second)
	// Once one closes, the address may connect again and is served.
	held[0].Close()
	held = held[1:]
	time.Sleep(100 * time.Millisecond)
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	held = append(held, c2)
	if _, err := c2.Write(rawSignedCall(t, addr, "listStreams", "{}")); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after a slot was freed: %v %v", resp, err)
	}
}

func TestConnectionTotalCap(t *testing.T) {
	addr, _ := serveLimited(t, ConnLimits{MaxConns: 2, MaxConnsPerAddr: 10})
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closedWithin(t, c, 2*time.Second)
}

// TestUnauthenticatedConnectionClosed: a refused request ends its
// connection after the answer.
func TestUnauthenticatedConnectionClosed(t *testing.T) {
	addr, _ := serveLimited(t, ConnLimits{})
	for _, req := range []string{
		"POST /listStreams HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
		"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, req+req); err != nil {
			t.Fatal(err)
		}
		resp, body := readOneResponse(t, c)
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%q: status %d: %s", strings.SplitN(req, "\r", 2)[0], resp.StatusCode, body)
		}
		c.Close()
	}
}

// TestHeaderAndBodyTimeouts: a client that stops sending headers, or a
// JSON body, is cut off after the timeout; one that keeps making progress
// is not.
func TestHeaderAndBodyTimeouts(t *testing.T) {
	addr, _ := serveLimited(t, ConnLimits{HeaderTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "POST /listStreams HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	closedWithin(t, c, 3*time.Second)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("unfinished headers held %v", d)
	}

	// A signed body sent slowly, each byte within the timeout: served.
	full := rawSignedCall(t, addr, "listStreams", `{"MaxResults": 10}`)
	head, body, _ := strings.Cut(string(full), "\r\n\r\n")
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_, _ = io.WriteString(c2, head+"\r\n\r\n")
	for i := range body {
		time.Sleep(50 * time.Millisecond)
		if _, err := io.WriteString(c2, body[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("slow but steady body (%v total): %v %v", time.Duration(len(body))*50*time.Millisecond, resp, err)
	}

	// A body that stops: cut off.
	c3, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_, _ = io.WriteString(c3, head+"\r\n\r\n"+body[:3])
	resp3, body3 := readOneResponse(t, c3)
	if resp3.StatusCode != http.StatusBadRequest {
		t.Fatalf("stalled body: status %d %s", resp3.StatusCode, body3)
	}
}
