package rtsp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what the client accepts from a server.
const (
	maxLineLength = 16 << 10 // one start or header line
	maxHeaders    = 128      // header lines per message
	maxBodyLength = 1 << 20  // Content-Length
	maxEmptyLines = 16       // blank lines tolerated before a start line
	readerSize    = 64 << 10 // bufio.Reader buffer of the RTSP connection
)

// header holds the header fields of a message, keyed by lower-case name, in
// the order they came.
type header map[string][]string

// get returns the first value of the field name (lower case).
func (h header) get(name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// request is an RTSP request, sent by the client or, rarely, by the server.
type request struct {
	method string
	url    string
	header [][2]string // in order; for requests the client sends
	hdr    header      // for requests the server sends
	body   []byte
}

// response is an RTSP response.
type response struct {
	code   int
	reason string
	header header
	body   []byte
}

// cseq returns the CSeq of the response, or -1 when it has none.
func (r *response) cseq() int {
	n, err := strconv.Atoi(strings.TrimSpace(r.header.get("cseq")))
	if err != nil {
		return -1
	}
	return n
}

// appendRequest appends the wire form of r, with the given CSeq, to b.
func appendRequest(b []byte, r *request, cseq int) []byte {
	b = append(b, r.method...)
	b = append(b, ' ')
	b = append(b, r.url...)
	b = append(b, " RTSP/1.0\r\nCSeq: "...)
	b = strconv.AppendInt(b, int64(cseq), 10)
	b = append(b, "\r\n"...)
	for _, f := range r.header {
		b = append(b, f[0]...)
		b = append(b, ": "...)
		b = append(b, f[1]...)
		b = append(b, "\r\n"...)
	}
	if len(r.body) > 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, r.body...)
}

// appendResponse appends a response without body to b, as the client answers
// requests of the server.
func appendResponse(b []byte, code int, reason, cseq string) []byte {
	b = append(b, "RTSP/1.0 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\n"...)
	if cseq != "" {
		b = append(b, "CSeq: "...)
		b = append(b, cseq...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendInterleaved appends an interleaved binary frame ($, channel, 16-bit
// length, payload) to b.
func appendInterleaved(b []byte, channel uint8, payload []byte) []byte {
	b = append(b, '$', channel)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

// message is one thing read from the RTSP connection: an interleaved frame,
// a response or a request of the server.
type message struct {
	channel int // interleaved channel, or -1
	payload []byte
	resp    *response
	req     *request
}

// readMessage reads the next message of an RTSP connection. Interleaved
// payloads are freshly allocated.
func readMessage(br *bufio.Reader) (message, error) { return readMessageInto(br, nil) }

// readMessageInto is readMessage reading an interleaved packet's payload into
// *buf (grown when too small) rather than a new slice: the payload is valid
// until the next call with the same buf. A nil buf allocates.
func readMessageInto(br *bufio.Reader, buf *[]byte) (message, error) {
	for empty := 0; ; empty++ {
		c, err := br.Peek(1)
		if err != nil {
			return message{}, err
		}
		if c[0] == '$' {
			return readInterleaved(br, buf)
		}
		if c[0] != '\r' && c[0] != '\n' {
			break
		}
		if empty >= maxEmptyLines {
			return message{}, fmt.Errorf("%w: too many empty lines", ErrMalformed)
		}
		if _, err := readLine(br); err != nil {
			return message{}, err
		}
	}
	line, err := readLine(br)
	if err != nil {
		return message{}, err
	}
	if strings.HasPrefix(line, "RTSP/") {
		r, err := parseStatusLine(line)
		if err != nil {
			return message{}, err
		}
		if r.header, r.body, err = readHeaderAndBody(br); err != nil {
			return message{}, err
		}
		return message{channel: -1, resp: r}, nil
	}
	r, err := parseRequestLine(line)
	if err != nil {
		return message{}, err
	}
	if r.hdr, r.body, err = readHeaderAndBody(br); err != nil {
		return message{}, err
	}
	return message{channel: -1, req: r}, nil
}

// readInterleaved reads one $-framed binary packet, into *buf when buf is not
// nil.
func readInterleaved(br *bufio.Reader, buf *[]byte) (message, error) {
	h, err := br.Peek(4) // not a local array: it would escape through io.ReadFull
	if err != nil {
		return message{}, unexpectedEOF(err)
	}
	ch, n := int(h[1]), int(binary.BigEndian.Uint16(h[2:]))
	_, _ = br.Discard(4)
	var p []byte
	switch {
	case buf == nil:
		p = make([]byte, n)
	case cap(*buf) < n:
		*buf = make([]byte, n, max(n, 2048))
		p = *buf
	default:
		p = (*buf)[:n]
	}
	if _, err := io.ReadFull(br, p); err != nil {
		return message{}, unexpectedEOF(err)
	}
	return message{channel: ch, payload: p}, nil
}

// readResponse reads messages until a response, skipping interleaved frames
// and answering nothing: it serves the request/response exchanges before PLAY.
// Requests of the server are returned to the caller through onRequest.
func readResponse(br *bufio.Reader, onRequest func(*request)) (*response, error) {
	for {
		m, err := readMessage(br)
		if err != nil {
			return nil, err
		}
		switch {
		case m.resp != nil:
			return m.resp, nil
		case m.req != nil && onRequest != nil:
			onRequest(m.req)
		}
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readLine reads one line ending in LF (CR LF or LF alone) and returns it
// without the line ending.
func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(b) > maxLineLength {
		return "", fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, maxLineLength)
	}
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	b = bytes.TrimSuffix(b[:len(b)-1], []byte{'\r'})
	return string(b), nil
}

// parseStatusLine parses "RTSP/1.0 200 OK".
func parseStatusLine(line string) (*response, error) {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "RTSP/") {
		return nil, fmt.Errorf("%w: status line %q", ErrMalformed, clip(line))
	}
	codeStr, reason, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || len(codeStr) != 3 || code < 100 {
		return nil, fmt.Errorf("%w: status line %q", ErrMalformed, clip(line))
	}
	return &response{code: code, reason: strings.TrimSpace(reason)}, nil
}

// parseRequestLine parses "OPTIONS rtsp://host/path RTSP/1.0".
func parseRequestLine(line string) (*request, error) {
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[2], "RTSP/") || !isToken(f[0]) {
		return nil, fmt.Errorf("%w: start line %q", ErrMalformed, clip(line))
	}
	return &request{method: f[0], url: f[1]}, nil
}

// readHeaderAndBody reads header lines up to the empty line, then the body
// announced by Content-Length.
func readHeaderAndBody(br *bufio.Reader) (header, []byte, error) {
	h := header{}
	last := ""
	for n := 0; ; n++ {
		line, err := readLine(br)
		if err != nil {
			return nil, nil, unexpectedEOF(err)
		}
		if line == "" {
			break
		}
		if n >= maxHeaders {
			return nil, nil, fmt.Errorf("%w: more than %d header lines", ErrMalformed, maxHeaders)
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A continuation of the previous field (obsolete line folding).
			if last == "" {
				return nil, nil, fmt.Errorf("%w: continuation line without a field", ErrMalformed)
			}
			v := h[last]
			v[len(v)-1] = strings.TrimSpace(v[len(v)-1] + " " + strings.TrimSpace(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || !isToken(name) {
			return nil, nil, fmt.Errorf("%w: header line %q", ErrMalformed, clip(line))
		}
		last = strings.ToLower(name)
		h[last] = append(h[last], strings.TrimSpace(value))
	}
	cl := h.get("content-length")
	if cl == "" {
		return h, nil, nil
	}
	n, err := strconv.Atoi(cl)
	if err != nil || n < 0 {
		return nil, nil, fmt.Errorf("%w: Content-Length %q", ErrMalformed, clip(cl))
	}
	if n > maxBodyLength {
		return nil, nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrMalformed, n, maxBodyLength)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, nil, unexpectedEOF(err)
	}
	return h, body, nil
}

// isToken reports whether s is an RFC 2616 token (method or header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 80
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
