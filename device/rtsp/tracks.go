package rtsp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"kvskit/media"
	"kvskit/media/aac"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// trackSpec is a track chosen from the session description.
type trackSpec struct {
	kind      media.Kind
	codec     media.Codec
	pt        uint8
	clockRate int
	control   string // absolute URL for SETUP
	fmtp      map[string]string

	vps, sps, pps [][]byte // video parameter sets from the SDP (may be empty)
	asc           []byte   // AAC AudioSpecificConfig
	frameSamples  int      // AAC: RTP timestamp step per frame
	channels      int
	sampleRate    int
	donl          bool // H.265: DONL/DOND fields present
}

// selectTracks picks the first supported video media and the first
// supported audio media (AAC preferred over G.711) of sd. base is the URL
// relative control attributes are resolved against. Media it cannot use are
// reported in skipped.
func selectTracks(sd *sessionDescription, base string) (tracks []trackSpec, skipped []string, err error) {
	var video, audio *trackSpec
	for i := range sd.media {
		m := &sd.media[i]
		if m.proto != "RTP/AVP" {
			skipped = append(skipped, fmt.Sprintf("%s %s", m.kind, m.proto))
			continue
		}
		for _, pt := range m.formats {
			t, err := specFor(m, pt)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s payload %d: %v", m.kind, pt, err))
				continue
			}
			t.control = controlURL(base, m.control)
			switch {
			case t.kind == media.KindVideo && video == nil:
				video = &t
			case t.kind == media.KindAudio && (audio == nil || audio.codec != media.CodecAAC && t.codec == media.CodecAAC):
				audio = &t
			default:
				continue
			}
			break
		}
	}
	if video != nil {
		tracks = append(tracks, *video)
	}
	if audio != nil {
		tracks = append(tracks, *audio)
	}
	if len(tracks) == 0 {
		return nil, skipped, fmt.Errorf("%w (offered: %s)", ErrNoTracks, strings.Join(skipped, "; "))
	}
	return tracks, skipped, nil
}

// specFor describes payload type pt of m, or fails for an unsupported one.
func specFor(m *mediaDescription, pt uint8) (trackSpec, error) {
	rm, ok := m.rtpmap[pt]
	if !ok {
		switch pt { // static payload types of RFC 3551
		case 0:
			rm = rtpMap{encoding: "PCMU", clockRate: 8000, channels: 1}
		case 8:
			rm = rtpMap{encoding: "PCMA", clockRate: 8000, channels: 1}
		default:
			return trackSpec{}, fmt.Errorf("no rtpmap")
		}
	}
	fmtp := m.fmtp[pt]
	if fmtp == nil {
		fmtp = map[string]string{}
	}
	t := trackSpec{pt: pt, clockRate: rm.clockRate, fmtp: fmtp}
	switch {
	case m.kind == "video" && rm.encoding == "H264":
		t.kind, t.codec = media.KindVideo, media.CodecH264
		if mode := fmtp["packetization-mode"]; mode != "" && mode != "0" && mode != "1" {
			return t, fmt.Errorf("H.264 packetization-mode %s not supported", mode)
		}
		for _, n := range decodeParameterSets(fmtp["sprop-parameter-sets"]) {
			switch h264.NALType(n) {
			case h264.NALUSPS:
				t.sps = append(t.sps, n)
			case h264.NALUPPS:
				t.pps = append(t.pps, n)
			}
		}
	case m.kind == "video" && rm.encoding == "H265":
		t.kind, t.codec = media.KindVideo, media.CodecH265
		t.vps = decodeParameterSets(fmtp["sprop-vps"])
		t.sps = decodeParameterSets(fmtp["sprop-sps"])
		t.pps = decodeParameterSets(fmtp["sprop-pps"])
		if v := fmtp["sprop-max-don-diff"]; v != "" && v != "0" {
			t.donl = true
		}
	case m.kind == "audio" && rm.encoding == "MPEG4-GENERIC":
		t.kind, t.codec = media.KindAudio, media.CodecAAC
		if err := t.aacConfig(rm); err != nil {
			return t, err
		}
		if _, err := newAACDepacketizer(fmtp, t.frameSamples); err != nil {
			return t, err
		}
	case m.kind == "audio" && (rm.encoding == "PCMU" || rm.encoding == "PCMA"):
		t.kind, t.codec = media.KindAudio, media.CodecPCMU
		if rm.encoding == "PCMA" {
			t.codec = media.CodecPCMA
		}
		t.sampleRate, t.channels = rm.clockRate, max(rm.channels, 1)
	default:
		return t, fmt.Errorf("%s %s not supported", m.kind, rm.encoding)
	}
	return t, nil
}

// aacConfig reads the AudioSpecificConfig from the fmtp config parameter, or
// makes an AAC-LC one from the rtpmap when it is missing.
func (t *trackSpec) aacConfig(rm rtpMap) error {
	var cfg aac.AudioSpecificConfig
	if s := t.fmtp["config"]; s != "" {
		b, err := hex.DecodeString(s)
		if err != nil {
			return fmt.Errorf("AAC config %q: %v", clip(s), err)
		}
		if cfg, err = aac.ParseAudioSpecificConfig(b); err != nil {
			return fmt.Errorf("AAC config %q: %w", clip(s), err)
		}
		t.asc = b
	} else {
		idx, ok := aac.FrequencyIndex(rm.clockRate)
		if !ok {
			return fmt.Errorf("AAC without config at %d Hz", rm.clockRate)
		}
		cfg = aac.AudioSpecificConfig{ObjectType: aac.ObjectTypeAACLC, FrequencyIndex: idx, ChannelConfig: uint8(max(rm.channels, 1))}
		t.asc = cfg.Marshal()
	}
	core := cfg.SampleRate()
	if core <= 0 {
		return fmt.Errorf("AAC config with a reserved sampling frequency")
	}
	// The RTP clock may run at the core rate or, for HE-AAC, at the output
	// rate; the timestamp advances by one frame's samples at that rate.
	t.frameSamples = cfg.SamplesPerFrame() * rm.clockRate / core
	if t.frameSamples <= 0 {
		return fmt.Errorf("AAC clock rate %d for a %d Hz core", rm.clockRate, core)
	}
	t.sampleRate, t.channels = cfg.OutputSampleRate(), cfg.Channels()
	return nil
}

// decodeParameterSets decodes a comma-separated list of base64 NAL units,
// with or without padding; undecodable entries are skipped.
func decodeParameterSets(v string) [][]byte {
	var out [][]byte
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
				continue
			}
		}
		if len(b) > 0 {
			out = append(out, b)
		}
	}
	return out
}

// newDepacketizer returns the depacketizer for the track's payload format;
// video access units and AAC frames take their buffers from pool (nil:
// allocate).
func (t *trackSpec) newDepacketizer(pool *media.BufferPool) depacketizer {
	switch t.codec {
	case media.CodecH264:
		return &h264Depacketizer{a: videoAssembler{pool: pool}}
	case media.CodecH265:
		return &h265Depacketizer{a: videoAssembler{pool: pool}, donl: t.donl}
	case media.CodecAAC:
		d, err := newAACDepacketizer(t.fmtp, t.frameSamples)
		if err != nil { // checked by specFor
			return g711Depacketizer{}
		}
		d.pool = pool
		return d
	}
	return g711Depacketizer{}
}

// controlURL resolves a media control attribute against the base URL the
// way cameras expect: an absolute URL is taken as is, "*" or nothing means
// the base, and a relative one is appended to the base with a slash.
func controlURL(base, control string) string {
	switch {
	case control == "" || control == "*":
		return base
	case hasRTSPScheme(control):
		return stripUserinfo(control)
	case strings.HasPrefix(control, "/"):
		// An absolute path: keep scheme and authority of the base.
		if i := strings.Index(base, "://"); i >= 0 {
			if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
				return base[:i+3+j] + control
			}
			return base + control
		}
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + control
}

func hasRTSPScheme(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "rtsp://") || strings.HasPrefix(l, "rtsps://") || strings.HasPrefix(l, "rtspu://")
}

// stripUserinfo removes user:password@ from an absolute URL string.
func stripUserinfo(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		return u[:i+3] + rest[at+1:]
	}
	return u
}

// videoConfig builds the CodecPrivate and picture size from parameter sets,
// and reads what the SPS says about frame reordering.
func videoConfig(codec media.Codec, vps, sps, pps [][]byte) (cp []byte, width, height int, ri reorderInfo, err error) {
	switch codec {
	case media.CodecH264:
		if cp, err = h264.BuildAVCC(sps, pps); err != nil {
			return nil, 0, 0, ri, err
		}
		s, err := h264.ParseSPS(sps[0])
		if err != nil {
			return nil, 0, 0, ri, err
		}
		ri.frames, ri.known = s.ReorderFrames()
		return cp, s.Width(), s.Height(), ri, nil
	case media.CodecH265:
		if cp, err = h265.BuildHVCC(vps, sps, pps); err != nil {
			return nil, 0, 0, ri, err
		}
		s, err := h265.ParseSPS(sps[0])
		if err != nil {
			return nil, 0, 0, ri, err
		}
		ri = reorderInfo{frames: int(min(s.MaxNumReorderPics(), media.MaxReorderFrames)), known: true}
		return cp, s.Width(), s.Height(), ri, nil
	}
	return nil, 0, 0, ri, fmt.Errorf("%w: codec %s has no parameter sets", ErrNoTracks, codec)
}

// sameNALUs reports whether two lists of NAL units are equal.
func sameNALUs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// describeTrack is a short description for logs.
func describeTrack(t media.Track) string {
	switch t.Kind {
	case media.KindVideo:
		return fmt.Sprintf("#%d %s %dx%d", t.Number, t.Codec, t.Width, t.Height)
	default:
		return fmt.Sprintf("#%d %s %d Hz %d ch", t.Number, t.Codec, t.SampleRate, t.Channels)
	}
}
