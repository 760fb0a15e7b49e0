package device

import (
	"bytes"
	"fmt"
	"strings"

	"kvskit/media/h264"
	"kvskit/media/h265"
)

// Detect returns the format of a stream from its first bytes (a few KiB are
// best; MPEG-TS needs at least 189). An unrecognised stream yields an error
// wrapping ErrUnknownFormat that names what was seen, a recognised but
// unsupported one (AVI, Ogg, FLV, MP3, ...) an error wrapping ErrUnsupported,
// and no bytes at all ErrEmptyInput.
func Detect(head []byte) (Format, error) {
	if len(head) == 0 {
		return "", ErrEmptyInput
	}
	switch {
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return FormatMKV, nil
	case isMP4(head):
		return FormatMP4, nil
	case isTS(head):
		return FormatTS, nil
	}
	if f, ok := detectAnnexB(head); ok {
		return f, nil
	}
	if name := knownUnsupported(head); name != "" {
		return "", fmt.Errorf("%w: %s is not supported (want Matroska/WebM, MP4, MPEG-TS or an H.264/H.265 Annex-B stream)", ErrUnsupported, name)
	}
	return "", fmt.Errorf("%w: first bytes %s", ErrUnknownFormat, describeBytes(head))
}

// mp4TopLevel lists box types that begin MP4 files and fragments.
var mp4TopLevel = map[string]bool{
	"ftyp": true, "styp": true, "moov": true, "moof": true, "mdat": true,
	"free": true, "skip": true, "wide": true, "sidx": true, "pdin": true,
	"uuid": true, "prft": true, "emsg": true, "meta": true,
}

func isMP4(b []byte) bool {
	if len(b) < 8 || !mp4TopLevel[string(b[4:8])] {
		return false
	}
	size := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return size == 0 || size == 1 || size >= 8
}

// isTS reports a transport stream of 188-byte packets: a sync byte at the
// start of each packet in head (at least the first two when head is long
// enough).
func isTS(b []byte) bool {
	if b[0] != 0x47 {
		return false
	}
	if len(b) < 188 {
		return false
	}
	if len(b) == 188 {
		return b[1]&0x80 == 0 // transport_error_indicator clear
	}
	for i := 188; i < len(b); i += 188 {
		if b[i] != 0x47 {
			return false
		}
	}
	return true
}

// detectAnnexB recognises an Annex-B byte stream (a start code, possibly
// after leading zero bytes) and tells H.264 from H.265 by the NAL unit
// headers: a parameter set or delimiter of one codec that parses decides;
// otherwise the codec whose header rules all units obey.
func detectAnnexB(b []byte) (Format, bool) {
	i := 0
	for i < len(b) && b[i] == 0 {
		i++
	}
	if i < 2 || i >= len(b) || b[i] != 1 {
		return "", false
	}
	nalus := h264.SplitAnnexB(b)
	if len(nalus) == 0 {
		return "", false
	}
	// Leave out the last unit, which head may cut short, unless it is the
	// only one.
	complete := nalus
	if len(nalus) > 1 {
		complete = nalus[:len(nalus)-1]
	}
	for _, n := range complete {
		if h265.NALType(n) == h265.NALUSPS && plausible265(n) {
			if _, err := h265.ParseSPS(n); err == nil {
				return FormatH265, true
			}
		}
		if h264.NALType(n) == h264.NALUSPS && plausible264(n) {
			if _, err := h264.ParseSPS(n); err == nil {
				return FormatH264, true
			}
		}
	}
	all264, all265 := true, true
	for _, n := range nalus {
		all264 = all264 && plausible264(n)
		all265 = all265 && plausible265(n)
	}
	if all265 && !all264 {
		return FormatH265, true
	}
	// H.264 also when both or neither fit: its reader reports what is
	// missing.
	return FormatH264, true
}

// plausible264 checks an H.264 NAL unit header: forbidden bit clear, a type
// in use, nal_ref_idc zero where the standard requires it and non-zero for
// IDR slices and parameter sets.
func plausible264(n []byte) bool {
	if len(n) == 0 || n[0]&0x80 != 0 {
		return false
	}
	ref := n[0] >> 5 & 3
	switch t := h264.NALType(n); t {
	case h264.NALUSEI, h264.NALUAUD, h264.NALUEndOfSequence, h264.NALUEndOfStream, h264.NALUFiller:
		return ref == 0
	case h264.NALUIDR, h264.NALUSPS, h264.NALUPPS:
		return ref != 0
	case h264.NALUNonIDR, h264.NALUPartitionA, h264.NALUPartitionB, h264.NALUPartitionC,
		h264.NALUSPSExt, h264.NALUPrefix, h264.NALUSubsetSPS, h264.NALUDPS,
		h264.NALUAuxSlice, h264.NALUSliceExt, h264.NALUSliceExtDepth:
		return true
	}
	return false
}

// plausible265 checks an H.265 NAL unit header: forbidden bit clear,
// nuh_temporal_id_plus1 non-zero and a type in use.
func plausible265(n []byte) bool {
	if len(n) < 2 || n[0]&0x80 != 0 || n[1]&7 == 0 {
		return false
	}
	t := h265.NALType(n)
	return t <= h265.NALURASLR || t >= h265.NALUBLAWLP && t <= h265.NALUCRA || t >= h265.NALUVPS && t <= h265.NALUSuffixSEI
}

// knownUnsupported names common formats this package does not read.
func knownUnsupported(b []byte) string {
	has := func(off int, s string) bool { return len(b) >= off+len(s) && string(b[off:off+len(s)]) == s }
	switch {
	case has(0, "RIFF") && has(8, "AVI "):
		return "AVI"
	case has(0, "RIFF") && has(8, "WAVE"):
		return "WAV"
	case has(0, "RIFF"):
		return "RIFF"
	case has(0, "OggS"):
		return "Ogg"
	case has(0, "FLV"):
		return "FLV"
	case has(0, "ID3"):
		return "MP3 (ID3)"
	case has(0, "fLaC"):
		return "FLAC"
	case has(0, "#EXTM3U"):
		return "an HLS playlist (m3u8)"
	case has(0, "GIF8"):
		return "GIF"
	case has(0, "\x89PNG"):
		return "PNG"
	case has(0, "\xFF\xD8\xFF"):
		return "JPEG"
	case has(0, "\x1F\x8B"):
		return "gzip-compressed data"
	case has(0, "\x00\x00\x01\xBA"):
		return "MPEG program stream"
	case len(b) >= 2 && b[0] == 0xFF && b[1]&0xF6 == 0xF0:
		return "raw AAC (ADTS)"
	case len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0:
		return "MPEG audio (MP3)"
	case len(b) >= 5 && b[4] == 0x47 && len(b) > 196 && b[196] == 0x47:
		return "M2TS (192-byte packets)"
	}
	return ""
}

// describeBytes shows the first bytes in hex, with their text when they are
// printable.
func describeBytes(b []byte) string {
	n := min(len(b), 16)
	var sb strings.Builder
	for i, c := range b[:n] {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	printable := true
	for _, c := range b[:n] {
		if c < 0x20 || c > 0x7e {
			printable = false
			break
		}
	}
	if printable {
		fmt.Fprintf(&sb, " (%q)", b[:n])
	}
	if len(b) < 8 {
		fmt.Fprintf(&sb, ", only %d bytes", len(b))
	}
	return sb.String()
}
