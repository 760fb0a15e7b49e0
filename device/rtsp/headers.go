package rtsp

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// transportHeader is the Transport header of a SETUP response (RFC 2326
// clause 12.39), reduced to what a unicast RTP client needs.
type transportHeader struct {
	tcp         bool   // lower transport TCP (interleaved)
	interleaved [2]int // RTP and RTCP channels, when tcp
	serverPort  [2]int // RTP and RTCP ports of the server; 0 when absent
	clientPort  [2]int
	source      string
	ssrc        uint32
	hasSSRC     bool
}

// parseTransport parses the first transport specification of a Transport
// header value.
func parseTransport(v string) (transportHeader, error) {
	var t transportHeader
	spec, _, _ := strings.Cut(v, ",")
	parts := strings.Split(spec, ";")
	proto := strings.ToUpper(strings.TrimSpace(parts[0]))
	switch proto {
	case "RTP/AVP", "RTP/AVP/UDP":
	case "RTP/AVP/TCP":
		t.tcp = true
	default:
		return t, fmt.Errorf("%w: transport %q", ErrTransport, clip(v))
	}
	haveChannels := false
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch strings.ToLower(k) {
		case "interleaved":
			t.interleaved, err = parseRange(val, 255)
			haveChannels = err == nil
		case "server_port":
			t.serverPort, err = parseRange(val, 65535)
		case "client_port":
			t.clientPort, err = parseRange(val, 65535)
		case "source":
			t.source = strings.TrimSpace(val)
		case "ssrc":
			var n uint64
			n, err = strconv.ParseUint(strings.TrimSpace(val), 16, 32)
			t.ssrc, t.hasSSRC = uint32(n), err == nil
		}
		if err != nil {
			return t, fmt.Errorf("%w: transport %q: %s: %v", ErrTransport, clip(v), k, err)
		}
	}
	if t.tcp && !haveChannels {
		return t, fmt.Errorf("%w: transport %q has no interleaved channels", ErrTransport, clip(v))
	}
	return t, nil
}

// parseRange parses "a-b" or "a" (meaning a-(a+1)), each at most max.
func parseRange(v string, max int) ([2]int, error) {
	a, b, hasB := strings.Cut(strings.TrimSpace(v), "-")
	x, err := strconv.Atoi(a)
	if err != nil || x < 0 || x > max {
		return [2]int{}, fmt.Errorf("bad range %q", clip(v))
	}
	y := x + 1
	if hasB {
		if y, err = strconv.Atoi(b); err != nil || y < 0 || y > max {
			return [2]int{}, fmt.Errorf("bad range %q", clip(v))
		}
	}
	return [2]int{x, y}, nil
}

// parseSession parses a Session header: the session ID and the timeout
// (default 60 s, RFC 2326 clause 12.37).
func parseSession(v string) (id string, timeout time.Duration, err error) {
	parts := strings.Split(v, ";")
	id = strings.TrimSpace(parts[0])
	if id == "" || !isToken(id) {
		return "", 0, fmt.Errorf("%w: Session %q", ErrMalformed, clip(v))
	}
	timeout = 60 * time.Second
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "timeout") {
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err == nil && n > 0 && n < 1<<20 {
				timeout = time.Duration(n) * time.Second
			}
		}
	}
	return id, timeout, nil
}

// splitParams splits a comma-separated list of name=value pairs, values
// possibly quoted with backslash escapes, as in WWW-Authenticate. Names are
// returned in lower case.
func splitParams(s string) map[string]string {
	out := map[string]string{}
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == ',' || s[i] == '\t') {
			i++
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ',' {
			i++
		}
		name := strings.ToLower(strings.TrimSpace(s[start:i]))
		if i >= len(s) || s[i] == ',' {
			if name != "" {
				out[name] = ""
			}
			continue
		}
		i++ // '='
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				val.WriteByte(s[i])
				i++
			}
			i++ // closing quote
		} else {
			start := i
			for i < len(s) && s[i] != ',' {
				i++
			}
			val.WriteString(strings.TrimSpace(s[start:i]))
		}
		if name != "" {
			out[name] = val.String()
		}
	}
	return out
}
