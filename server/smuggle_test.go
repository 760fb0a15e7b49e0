package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"kvskit/internal/awsauth"
)

// rawPutMediaHead returns the request line and headers of a signed chunked
// PutMedia request for stream, as a producer writes them on the wire.
func rawPutMediaHead(t *testing.T, host, stream string, creds awsauth.Credentials) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/putMedia", nil)
	req.Header.Set("x-amzn-stream-name", stream)
	req.Header.Set("x-amzn-fragment-timecode-type", "ABSOLUTE")
	if err := awsauth.SignRequest(context.Background(), req, creds, "us-east-1", awsauth.UnsignedPayload, time.Now()); err != nil {
		t.Fatal(err)
	}
	var head strings.Builder
	fmt.Fprintf(&head, "POST /putMedia HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n", req.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	return head.String()
}

// rawSignedCall returns a complete signed JSON request, as bytes on the wire.
func rawSignedCall(t *testing.T, host, op, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/"+op, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if err := awsauth.SignRequest(context.Background(), req, testCreds, "us-east-1", sha256Hex([]byte(body)), time.Now()); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := req.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func chunk(b []byte) []byte {
	return append(append(fmt.Appendf(nil, "%x\r\n", len(b)), b...), "\r\n"...)
}

// readOneResponse reads one response from the connection, then requires the
// server to close it: nothing more may arrive, in particular no response to
// bytes that followed the abandoned body.
func readOneResponse(t *testing.T, conn net.Conn) (*http.Response, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("response body (status %d): %v; read so far: %s", resp.StatusCode, err, body)
	}
	rest, err := io.ReadAll(br)
	if len(rest) > 0 {
		t.Fatalf("after the response (status %d) the server sent more: %q", resp.StatusCode, rest)
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the response the connection gives %v, want it closed by the server", err)
	}
	return resp, string(body)
}

// TestPutMediaAbandonedBodyClosesConnection: the bytes of a PutMedia body
// that the server stops reading are never parsed as a request. The body here
// is a chunk of junk (invalid MKV, the session ends), a malformed chunk size,
// then a separately signed DeleteStream of another stream.
func TestPutMediaAbandonedBodyClosesConnection(t *testing.T) {
	e := newTestEnv(t, Limits{})
	e.createStream("cam", 1)
	victim := e.createStream("victim", 1)
	host := e.ts.Listener.Addr().String()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var wire bytes.Buffer
	wire.WriteString(rawPutMediaHead(t, host, "cam", testCreds))
	wire.Write(chunk(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 256)))
	wire.WriteString("zz\r\n")
	wire.Write(rawSignedCall(t, host, "deleteStream", `{"StreamARN":"`+victim+`"}`))
	if _, err := conn.Write(wire.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The session ends on the invalid MKV (ERROR 4006) or, should the
	// malformed chunk size arrive with the junk, on the failed read.
	resp, body := readOneResponse(t, conn)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PutMedia: status %d, want 200: %s", resp.StatusCode, body)
	}
	if code, typ := e.call("describeStream", map[string]string{"StreamName": "victim"}, nil); code != http.StatusOK {
		t.Fatalf("the other stream is gone: describeStream %d %s", code, typ)
	}
}

// TestPutMediaEarlyEndsCloseConnection: every way a session stops reading
// its body early ends the connection after the response, with nothing after
// it (no stray 400 for the rest of the body parsed as a request).
func TestPutMediaEarlyEndsCloseConnection(t *testing.T) {
	lim := Limits{IdleTimeout: 300 * time.Millisecond, IdleAckInterval: 100 * time.Millisecond}
	e := newTestEnv(t, lim)
	for _, name := range []string{"cam1", "cam2", "cam3", "cam4"} {
		e.createStream(name, 1)
	}
	victim := e.createStream("victim", 1)
	host := e.ts.Listener.Addr().String()
	clipHead := newClip(t).bytes()
	oneCluster := newClip(t).cluster(t, baseTC, 3).bytes()
	smuggled := rawSignedCall(t, host, "deleteStream", `{"StreamARN":"`+victim+`"}`)
	cases := []struct {
		name   string
		head   string
		first  []byte // sent at once
		later  []byte // sent after a pause
		pause  time.Duration
		status int
		want   string
	}{
		// The session ends on the idle timeout inside an unfinished cluster;
		// the body goes on afterwards.
		{"idle timeout", rawPutMediaHead(t, host, "cam1", testCreds), chunk(oneCluster), append(chunk([]byte{0x1f, 0x43}), smuggled...), 700 * time.Millisecond, 200, `"EventType":"IDLE"`},
		// A malformed chunk size ends the body reads.
		{"bad chunking", rawPutMediaHead(t, host, "cam2", testCreds), chunk(clipHead), append([]byte("zz\r\n"), smuggled...), 50 * time.Millisecond, 200, ""},
		{"cluster before tracks", rawPutMediaHead(t, host, "cam3", testCreds), chunk(oneCluster[len(clipHead):]), append([]byte("5\r\nhello\r\n"), smuggled...), 50 * time.Millisecond, 200, `"ErrorId":4006`},
		{"bad signature", rawPutMediaHead(t, host, "cam4", awsauth.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}), append(chunk(clipHead), smuggled...), nil, 0, 403, "InvalidSignatureException"},
		{"missing stream", rawPutMediaHead(t, host, "nostream", testCreds), append(chunk(clipHead), smuggled...), nil, 0, 404, "ResourceNotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write(append([]byte(tc.head), tc.first...)); err != nil {
				t.Fatal(err)
			}
			if tc.later != nil {
				time.Sleep(tc.pause)
				// The server may have closed the connection already.
				_, _ = conn.Write(tc.later)
			}
			resp, body := readOneResponse(t, conn)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, want %d with %s: %s", resp.StatusCode, tc.status, tc.want, body)
			}
			if code, typ := e.call("describeStream", map[string]string{"StreamName": "victim"}, nil); code != http.StatusOK {
				t.Fatalf("the other stream is gone: describeStream %d %s", code, typ)
			}
		})
	}
}
