// Package media is the shared vocabulary of kvs: tracks, frames and the codec
// identifiers that sources, packagers, uploaders and the local endpoint exchange.
//
// A Frame carries one access unit (a whole picture or audio frame) together with
// its presentation and decoding times and a key-frame flag. Video frames are in
// length-prefixed form (AVCC/HVCC, 4-byte big-endian NAL lengths); codec-specific
// helpers live in the subpackages h264, h265 and aac.
package media

import (
	"fmt"
	"time"
)

// Kind says whether a track carries video or audio.
type Kind uint8

// Track kinds. The values match Matroska's TrackType.
const (
	KindVideo Kind = 1
	KindAudio Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindVideo:
		return "video"
	case KindAudio:
		return "audio"
	default:
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
}

// Codec names a coding format.
type Codec string

// Codecs known to kvs.
const (
	CodecH264 Codec = "H264"
	CodecH265 Codec = "H265"
	CodecAAC  Codec = "AAC"
	CodecPCMA Codec = "PCMA"
	CodecPCMU Codec = "PCMU"
)

// Track describes one elementary stream.
type Track struct {
	// Number is the 1-based track number used in frames and in Matroska.
	Number uint64
	Kind   Kind
	Codec  Codec
	// CodecPrivate is the decoder configuration: an AVCDecoderConfigurationRecord,
	// an HEVCDecoderConfigurationRecord or an AudioSpecificConfig.
	CodecPrivate []byte
	Name         string

	// Video.
	Width, Height int

	// Audio.
	SampleRate int
	Channels   int
}

// Frame is one access unit of a track.
type Frame struct {
	Track uint64
	// PTS and DTS are measured from the source's time origin.
	PTS, DTS time.Duration
	Key      bool
	// Data is the access unit; for H.264 and H.265 in length-prefixed form.
	Data []byte
}
