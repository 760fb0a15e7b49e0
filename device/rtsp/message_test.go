package rtsp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		code   int
		reason string
		header map[string]string
		body   string
		err    error
	}{
		{
			name:   "describe",
			in:     "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Base: rtsp://h/p/\r\nContent-Length: 4\r\n\r\nv=0\n",
			code:   200,
			reason: "OK",
			header: map[string]string{"cseq": "2", "content-base": "rtsp://h/p/", "content-type": "application/sdp"},
			body:   "v=0\n",
		},
		{
			name:   "bare LF and folded header",
			in:     "RTSP/1.0 401 Unauthorized\nCSeq: 3\nWWW-Authenticate: Digest realm=\"r\",\n  nonce=\"n\"\n\n",
			code:   401,
			reason: "Unauthorized",
			header: map[string]string{"www-authenticate": `Digest realm="r", nonce="n"`},
		},
		{
			name:   "leading empty lines, no reason",
			in:     "\r\n\r\nRTSP/1.0 454\r\nCSeq: 9\r\n\r\n",
			code:   454,
			header: map[string]string{"cseq": "9"},
		},
		{name: "bad status", in: "RTSP/1.0 2x0 OK\r\n\r\n", err: ErrMalformed},
		{name: "bad header", in: "RTSP/1.0 200 OK\r\nno colon\r\n\r\n", err: ErrMalformed},
		{name: "continuation first", in: "RTSP/1.0 200 OK\r\n x\r\n\r\n", err: ErrMalformed},
		{name: "negative length", in: "RTSP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", err: ErrMalformed},
		{name: "huge length", in: "RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", err: ErrMalformed},
		{name: "short body", in: "RTSP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: io.ErrUnexpectedEOF},
		{name: "cut header", in: "RTSP/1.0 200 OK\r\nCSeq: 1\r\n", err: io.ErrUnexpectedEOF},
		{name: "too many headers", in: "RTSP/1.0 200 OK\r\n" + strings.Repeat("A: b\r\n", maxHeaders+1) + "\r\n", err: ErrMalformed},
		{name: "long line", in: "RTSP/1.0 200 OK\r\nA: " + strings.Repeat("x", readerSize) + "\r\n\r\n", err: ErrMalformed},
		{name: "garbage", in: "HELLO\r\n\r\n", err: ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := readMessage(bufio.NewReaderSize(strings.NewReader(c.in), readerSize))
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := m.resp
			if r == nil {
				t.Fatalf("no response: %+v", m)
			}
			if r.code != c.code || r.reason != c.reason || string(r.body) != c.body {
				t.Errorf("got %d %q body %q", r.code, r.reason, r.body)
			}
			for k, v := range c.header {
				if got := r.header.get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestReadMessageStream reads a connection's mixed content after PLAY.
func TestReadMessageStream(t *testing.T) {
	var b []byte
	b = appendInterleaved(b, 0, []byte{1, 2, 3})
	b = append(b, "RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n"...)
	b = appendInterleaved(b, 3, nil)
	b = append(b, "OPTIONS rtsp://client/ RTSP/1.0\r\nCSeq: 1\r\n\r\n"...)
	b = appendInterleaved(b, 1, bytes.Repeat([]byte{9}, 65535))
	br := bufio.NewReaderSize(bytes.NewReader(b), readerSize)
	want := []string{"ch0:3", "resp:7", "ch3:0", "req:OPTIONS", "ch1:65535"}
	for i, w := range want {
		m, err := readMessage(br)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		var got string
		switch {
		case m.resp != nil:
			got = "resp:" + m.resp.header.get("cseq")
		case m.req != nil:
			got = "req:" + m.req.method
		default:
			got = "ch" + strconv.Itoa(m.channel) + ":" + strconv.Itoa(len(m.payload))
		}
		if got != w {
			t.Errorf("message %d = %s, want %s", i, got, w)
		}
	}
	if _, err := readMessage(br); err != io.EOF {
		t.Errorf("at end: %v, want EOF", err)
	}
	// A frame cut short is an unexpected EOF.
	cut := appendInterleaved(nil, 0, []byte{1, 2, 3, 4})[:6]
	if _, err := readMessage(bufio.NewReader(bytes.NewReader(cut))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut frame: %v", err)
	}
}

func TestAppendRequest(t *testing.T) {
	r := &request{method: "SETUP", url: "rtsp://h/p/stream=0", header: [][2]string{{"Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"}}}
	got := string(appendRequest(nil, r, 3))
	want := "SETUP rtsp://h/p/stream=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// The server side of this package's tests parses what the client writes.
	m, err := readMessage(bufio.NewReader(strings.NewReader(got)))
	if err != nil || m.req == nil || m.req.method != "SETUP" || m.req.hdr.get("cseq") != "3" {
		t.Fatalf("reparse: %+v %v", m, err)
	}
	if resp := string(appendResponse(nil, 501, "Not Implemented", "4")); resp != "RTSP/1.0 501 Not Implemented\r\nCSeq: 4\r\n\r\n" {
		t.Errorf("response %q", resp)
	}
}

func TestParseTransport(t *testing.T) {
	cases := []struct {
		in   string
		want transportHeader
		err  bool
	}{
		{in: "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=2CB5A0F1;mode=\"PLAY\"",
			want: transportHeader{clientPort: [2]int{5000, 5001}, serverPort: [2]int{6970, 6971}, ssrc: 0x2cb5a0f1, hasSSRC: true}},
		{in: "RTP/AVP/TCP;unicast;interleaved=2-3", want: transportHeader{tcp: true, interleaved: [2]int{2, 3}}},
		{in: "RTP/AVP/UDP;unicast;server_port=7000;source=10.0.0.2", want: transportHeader{serverPort: [2]int{7000, 7001}, source: "10.0.0.2"}},
		{in: "RTP/AVP/TCP;unicast", err: true},
		{in: "RAW/RAW/UDP;unicast", err: true},
		{in: "RTP/AVP;server_port=x-1", err: true},
		{in: "RTP/AVP/TCP;interleaved=300-301", err: true},
	}
	for _, c := range cases {
		got, err := parseTransport(c.in)
		if (err != nil) != c.err {
			t.Errorf("%q: err = %v", c.in, err)
			continue
		}
		if !c.err && got != c.want {
			t.Errorf("%q: got %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseSession(t *testing.T) {
	id, to, err := parseSession("12345678;timeout=30")
	if err != nil || id != "12345678" || to.Seconds() != 30 {
		t.Errorf("got %q %v %v", id, to, err)
	}
	id, to, err = parseSession(" abc ")
	if err != nil || id != "abc" || to.Seconds() != 60 {
		t.Errorf("default timeout: got %q %v %v", id, to, err)
	}
	if _, _, err := parseSession(";timeout=5"); err == nil {
		t.Error("empty id accepted")
	}
}

// TestReadMessageInto: interleaved payloads are read into the given buffer,
// reused from packet to packet, and still come out whole.
func TestReadMessageInto(t *testing.T) {
	var stream []byte
	stream = appendInterleaved(stream, 0, bytes.Repeat([]byte{1}, 1500))
	stream = appendInterleaved(stream, 1, []byte{2, 2, 2})
	stream = appendInterleaved(stream, 2, bytes.Repeat([]byte{3}, 3000))
	br := bufio.NewReaderSize(bytes.NewReader(stream), readerSize)
	var buf []byte
	var first *byte
	for i, want := range [][]byte{bytes.Repeat([]byte{1}, 1500), {2, 2, 2}, bytes.Repeat([]byte{3}, 3000)} {
		m, err := readMessageInto(br, &buf)
		if err != nil || m.channel != i || !bytes.Equal(m.payload, want) {
			t.Fatalf("packet %d: channel %d, %d bytes, %v", i, m.channel, len(m.payload), err)
		}
		if i == 0 {
			first = &m.payload[0]
		} else if i == 1 && &m.payload[0] != first {
			t.Error("the second payload did not reuse the buffer")
		}
	}
}
