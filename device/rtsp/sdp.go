package rtsp

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits on session descriptions.
const (
	maxSDPMedia = 32
	maxSDPLines = 4096
)

// sessionDescription is the part of an SDP (RFC 8866) session description an
// RTSP client uses: the session-level control URL and the media sections.
type sessionDescription struct {
	control string
	media   []mediaDescription
}

// mediaDescription is one m= section.
type mediaDescription struct {
	kind    string  // "video", "audio", "application", ...
	proto   string  // "RTP/AVP"
	formats []uint8 // RTP payload types, in order of preference
	control string  // a=control
	rtpmap  map[uint8]rtpMap
	fmtp    map[uint8]map[string]string // parameter names in lower case
}

// rtpMap is an a=rtpmap attribute: encoding name (upper case), clock rate and
// channels (0 when not given).
type rtpMap struct {
	encoding  string
	clockRate int
	channels  int
}

// parseSDP parses a session description. Unknown lines are skipped; only
// lines that cannot be what they claim to be are errors.
func parseSDP(b []byte) (*sessionDescription, error) {
	sd := &sessionDescription{}
	lines := strings.Split(string(b), "\n")
	if len(lines) > maxSDPLines {
		return nil, fmt.Errorf("%w: SDP of more than %d lines", ErrMalformed, maxSDPLines)
	}
	var cur *mediaDescription
	sawVersion := false
	for _, line := range lines {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return nil, fmt.Errorf("%w: SDP line %q", ErrMalformed, clip(line))
		}
		val := line[2:]
		switch line[0] {
		case 'v':
			sawVersion = true
		case 'm':
			if len(sd.media) >= maxSDPMedia {
				return nil, fmt.Errorf("%w: SDP with more than %d media", ErrMalformed, maxSDPMedia)
			}
			m, err := parseMediaLine(val)
			if err != nil {
				return nil, err
			}
			sd.media = append(sd.media, m)
			cur = &sd.media[len(sd.media)-1]
		case 'a':
			name, attr, _ := strings.Cut(val, ":")
			name = strings.ToLower(strings.TrimSpace(name))
			if cur == nil {
				if name == "control" {
					sd.control = strings.TrimSpace(attr)
				}
				continue
			}
			if err := cur.attribute(name, attr); err != nil {
				return nil, err
			}
		}
	}
	if !sawVersion && len(sd.media) == 0 {
		return nil, fmt.Errorf("%w: not a session description", ErrMalformed)
	}
	return sd, nil
}

// parseMediaLine parses "video 0 RTP/AVP 96 97".
func parseMediaLine(v string) (mediaDescription, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return mediaDescription{}, fmt.Errorf("%w: SDP media line %q", ErrMalformed, clip(v))
	}
	m := mediaDescription{
		kind:   strings.ToLower(f[0]),
		proto:  strings.ToUpper(f[2]),
		rtpmap: map[uint8]rtpMap{},
		fmtp:   map[uint8]map[string]string{},
	}
	for _, p := range f[3:] {
		n, err := strconv.ParseUint(p, 10, 7)
		if err != nil {
			continue // a non-RTP format list
		}
		m.formats = append(m.formats, uint8(n))
	}
	return m, nil
}

func (m *mediaDescription) attribute(name, v string) error {
	switch name {
	case "control":
		m.control = strings.TrimSpace(v)
	case "rtpmap":
		pt, rest, ok := cutPayloadType(v)
		if !ok {
			return fmt.Errorf("%w: SDP rtpmap %q", ErrMalformed, clip(v))
		}
		parts := strings.Split(strings.TrimSpace(rest), "/")
		if len(parts) < 2 {
			return fmt.Errorf("%w: SDP rtpmap %q", ErrMalformed, clip(v))
		}
		rate, err := strconv.Atoi(strings.TrimSpace(parts[1]))
		if err != nil || rate <= 0 || rate > 1<<24 {
			return fmt.Errorf("%w: SDP rtpmap clock rate %q", ErrMalformed, clip(v))
		}
		rm := rtpMap{encoding: strings.ToUpper(strings.TrimSpace(parts[0])), clockRate: rate}
		if len(parts) > 2 {
			if ch, err := strconv.Atoi(strings.TrimSpace(parts[2])); err == nil && ch > 0 && ch < 256 {
				rm.channels = ch
			}
		}
		m.rtpmap[pt] = rm
	case "fmtp":
		pt, rest, ok := cutPayloadType(v)
		if !ok {
			return fmt.Errorf("%w: SDP fmtp %q", ErrMalformed, clip(v))
		}
		params := map[string]string{}
		for _, kv := range strings.Split(rest, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
				params[k] = strings.TrimSpace(val)
			}
		}
		m.fmtp[pt] = params
	}
	return nil
}

// cutPayloadType splits "96 H264/90000" into 96 and the rest.
func cutPayloadType(v string) (uint8, string, bool) {
	ptStr, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return 0, "", false
	}
	n, err := strconv.ParseUint(ptStr, 10, 7)
	if err != nil {
		return 0, "", false
	}
	return uint8(n), rest, true
}
