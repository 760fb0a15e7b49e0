package server

import (
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestPutMediaUnreadAcksEndSession: a producer that sends fragments but
// never reads its ACKs does not hold the session (its memory, the stream's
// newer connections) forever: once an ACK cannot be written for the idle
// timeout, the session ends and the connection closes.
func TestPutMediaUnreadAcksEndSession(t *testing.T) {
	e := newTestEnv(t, Limits{IdleTimeout: 500 * time.Millisecond, IdleAckInterval: 10 * time.Second, MaxFragmentsPerSecond: 100000})
	e.createStream("deaf", 0)
	host := e.ts.Listener.Addr().String()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
	}}
	conn, err := d.DialContext(context.Background(), "tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, rawPutMediaHead(t, host, "deaf", testCreds)); err != nil {
		t.Fatal(err)
	}
	c := newClip(t)
	if _, err := conn.Write(chunk(c.bytes())); err != nil {
		t.Fatal(err)
	}
	// Small fragments as fast as the server takes them; nothing is read.
	for i := int64(0); i < 2000; i++ {
		c.cluster(t, baseTC+i*10, 1)
	}
	burst := chunk(c.bytes())
	closed := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		for {
			_ = conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
			if _, err := conn.Write(burst); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	select {
	case d := <-closed:
		t.Logf("connection ended after %v", d)
	case <-time.After(15 * time.Second):
		t.Fatal("a session whose ACKs are never read is still open after 15 s")
	}
}
