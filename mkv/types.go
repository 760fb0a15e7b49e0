package mkv

import (
	"encoding/binary"
	"math"
	"strings"

	"kvskit/media"
)

// DefaultTimecodeScale is the Matroska default TimecodeScale: 1 ms in ns.
const DefaultTimecodeScale = 1000000

// Matroska CodecIDs written and recognised by this package.
const (
	CodecIDH264  = "V_MPEG4/ISO/AVC"
	CodecIDH265  = "V_MPEGH/ISO/HEVC"
	CodecIDAAC   = "A_AAC"
	CodecIDMSACM = "A_MS/ACM"
)

// WAVEFORMATEX format tags used with A_MS/ACM for G.711.
const (
	waveFormatALaw  = 0x0006
	waveFormatMuLaw = 0x0007
)

// Info is the content of a Segment's Info element.
type Info struct {
	// TimecodeScale is the length of one timecode unit in nanoseconds
	// (DefaultTimecodeScale when absent).
	TimecodeScale uint64
	SegmentUID    []byte
	Title         string
	MuxingApp     string
	WritingApp    string
	// Duration is in timecode units (0 when absent).
	Duration float64
}

// TrackEntry is one entry of a Tracks element: the media.Track it describes
// plus the Matroska fields that have no place there.
type TrackEntry struct {
	media.Track
	// CodecID is the Matroska codec identifier; Track.Codec is left empty
	// for codecs media does not know.
	CodecID  string
	TrackUID uint64
	// TrackType is the raw Matroska TrackType (1 video, 2 audio, ...).
	TrackType uint64
	// DefaultDuration is the nominal frame duration in ns (0 when absent).
	DefaultDuration uint64
	// CodecDelay in ns (0 when absent).
	CodecDelay uint64
	// SamplingFrequency is the exact audio sampling rate; Track.SampleRate
	// holds it rounded.
	SamplingFrequency float64
}

// ToMedia returns the media.Track part of the entry.
func (t TrackEntry) ToMedia() media.Track { return t.Track }

// Block is one SimpleBlock or BlockGroup.
type Block struct {
	Track uint64
	// Timecode is relative to the cluster Timecode, in timecode units.
	Timecode int16
	// Key is the SimpleBlock key-frame flag, or for a BlockGroup the absence
	// of a ReferenceBlock.
	Key         bool
	Invisible   bool
	Discardable bool
	// Duration is the BlockDuration of a BlockGroup (0 when absent).
	Duration uint64
	// Frames holds the frames of the block: one, or several when laced.
	// The slices are valid until the next call to Reader.Next.
	Frames [][]byte
}

// Tag is one SimpleTag. Nested SimpleTags are flattened into a list.
type Tag struct {
	Name   string
	Value  string
	Binary []byte
}

// CodecFromID maps a Matroska CodecID (and, for A_MS/ACM, the WAVEFORMATEX
// in CodecPrivate) to a media.Codec; it returns "" for other codecs.
func CodecFromID(codecID string, codecPrivate []byte) media.Codec {
	switch {
	case codecID == CodecIDH264:
		return media.CodecH264
	case codecID == CodecIDH265:
		return media.CodecH265
	case strings.HasPrefix(codecID, CodecIDAAC):
		return media.CodecAAC
	case codecID == CodecIDMSACM && len(codecPrivate) >= 2:
		switch binary.LittleEndian.Uint16(codecPrivate) {
		case waveFormatALaw:
			return media.CodecPCMA
		case waveFormatMuLaw:
			return media.CodecPCMU
		}
	}
	return ""
}

// CodecIDFor returns the Matroska CodecID for a media.Codec, or "" if the
// codec has none.
func CodecIDFor(c media.Codec) string {
	switch c {
	case media.CodecH264:
		return CodecIDH264
	case media.CodecH265:
		return CodecIDH265
	case media.CodecAAC:
		return CodecIDAAC
	case media.CodecPCMA, media.CodecPCMU:
		return CodecIDMSACM
	}
	return ""
}

// waveFormatEx builds the 18-byte WAVEFORMATEX that A_MS/ACM carries in
// CodecPrivate for 8-bit G.711.
func waveFormatEx(c media.Codec, rate, channels int) []byte {
	tag := uint16(waveFormatALaw)
	if c == media.CodecPCMU {
		tag = waveFormatMuLaw
	}
	if channels <= 0 {
		channels = 1
	}
	b := make([]byte, 18)
	binary.LittleEndian.PutUint16(b[0:], tag)
	binary.LittleEndian.PutUint16(b[2:], uint16(channels))
	binary.LittleEndian.PutUint32(b[4:], uint32(rate))
	binary.LittleEndian.PutUint32(b[8:], uint32(rate*channels))
	binary.LittleEndian.PutUint16(b[12:], uint16(channels))
	binary.LittleEndian.PutUint16(b[14:], 8)
	return b
}

func roundRate(f float64) int {
	if f <= 0 || math.IsNaN(f) || f > math.MaxInt32 {
		return 0
	}
	return int(math.Round(f))
}
