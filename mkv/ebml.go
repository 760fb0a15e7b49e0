package mkv

import (
	"encoding/binary"
	"math"
)

// Element IDs (with their length marker bits, as written in the Matroska
// specification).
const (
	IDEBML               uint32 = 0x1A45DFA3
	IDEBMLVersion        uint32 = 0x4286
	IDEBMLReadVersion    uint32 = 0x42F7
	IDEBMLMaxIDLength    uint32 = 0x42F2
	IDEBMLMaxSizeLength  uint32 = 0x42F3
	IDDocType            uint32 = 0x4282
	IDDocTypeVersion     uint32 = 0x4287
	IDDocTypeReadVersion uint32 = 0x4285
	IDVoid               uint32 = 0xEC
	IDCRC32              uint32 = 0xBF

	IDSegment     uint32 = 0x18538067
	IDSeekHead    uint32 = 0x114D9B74
	IDInfo        uint32 = 0x1549A966
	IDTracks      uint32 = 0x1654AE6B
	IDCluster     uint32 = 0x1F43B675
	IDCues        uint32 = 0x1C53BB6B
	IDChapters    uint32 = 0x1043A770
	IDAttachments uint32 = 0x1941A469
	IDTags        uint32 = 0x1254C367

	// Info children.
	IDTimecodeScale uint32 = 0x2AD7B1
	IDSegmentUID    uint32 = 0x73A4
	IDTitle         uint32 = 0x7BA9
	IDMuxingApp     uint32 = 0x4D80
	IDWritingApp    uint32 = 0x5741
	IDDuration      uint32 = 0x4489

	// Tracks children.
	IDTrackEntry        uint32 = 0xAE
	IDTrackNumber       uint32 = 0xD7
	IDTrackUID          uint32 = 0x73C5
	IDTrackType         uint32 = 0x83
	IDCodecID           uint32 = 0x86
	IDCodecPrivate      uint32 = 0x63A2
	IDName              uint32 = 0x536E
	IDDefaultDuration   uint32 = 0x23E383
	IDCodecDelay        uint32 = 0x56AA
	IDVideo             uint32 = 0xE0
	IDPixelWidth        uint32 = 0xB0
	IDPixelHeight       uint32 = 0xBA
	IDAudio             uint32 = 0xE1
	IDSamplingFrequency uint32 = 0xB5
	IDChannels          uint32 = 0x9F

	// Cluster children.
	IDTimecode       uint32 = 0xE7
	IDPosition       uint32 = 0xA7
	IDPrevSize       uint32 = 0xAB
	IDSilentTracks   uint32 = 0x5854
	IDSimpleBlock    uint32 = 0xA3
	IDBlockGroup     uint32 = 0xA0
	IDBlock          uint32 = 0xA1
	IDBlockDuration  uint32 = 0x9B
	IDReferenceBlock uint32 = 0xFB

	// Tags children.
	IDTag       uint32 = 0x7373
	IDTargets   uint32 = 0x63C0
	IDSimpleTag uint32 = 0x67C8
	IDTagName   uint32 = 0x45A3
	IDTagString uint32 = 0x4487
	IDTagBinary uint32 = 0x4485
)

// UnknownSize is the element size ReadVint reports for an all-ones size
// vint, and the value AppendVint encodes as the 8-byte unknown size.
const UnknownSize = ^uint64(0)

// MaxVint is the largest value a vint (8 bytes at most) can carry.
const MaxVint = 1<<56 - 2

// ReadVint decodes the variable-length integer (element size or block track
// number) at the start of b, without its length marker. It returns the value,
// the number of bytes used, and ok=false when b is too short or the first
// byte is zero (a length above 8). A vint whose value bits are all ones
// (the reserved "unknown size") is returned as UnknownSize.
func ReadVint(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = vintLen(b[0])
	if len(b) < n {
		return 0, 0, false
	}
	v = uint64(b[0]) & (0xFF >> n)
	allOnes := v == 0xFF>>n
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
		if b[i] != 0xFF {
			allOnes = false
		}
	}
	if allOnes {
		return UnknownSize, n, true
	}
	return v, n, true
}

// vintLen returns the total length of a vint from its first byte (1..8);
// first must be non-zero.
func vintLen(first byte) int {
	n := 1
	for mask := byte(0x80); first&mask == 0; mask >>= 1 {
		n++
	}
	return n
}

// VintSize returns the number of bytes AppendVint uses for v.
func VintSize(v uint64) int {
	if v == UnknownSize {
		return 8
	}
	n := 1
	// A length-n vint carries 7n value bits; the all-ones value is reserved.
	for n < 8 && v >= 1<<(7*uint(n))-1 {
		n++
	}
	return n
}

// AppendVint appends v as a vint of the shortest length. UnknownSize is
// written as the 8-byte all-ones size; other values above MaxVint cannot be
// represented and are written as MaxVint.
func AppendVint(dst []byte, v uint64) []byte {
	if v == UnknownSize {
		return append(dst, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	}
	if v > MaxVint {
		v = MaxVint
	}
	n := VintSize(v)
	return appendVintN(dst, v, n)
}

func appendVintN(dst []byte, v uint64, n int) []byte {
	v |= 1 << (7 * uint(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*uint(i))))
	}
	return dst
}

// AppendID appends an element ID (given with its marker bits, as the ID*
// constants are).
func AppendID(dst []byte, id uint32) []byte {
	switch {
	case id >= 1<<24:
		return append(dst, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	case id >= 1<<16:
		return append(dst, byte(id>>16), byte(id>>8), byte(id))
	case id >= 1<<8:
		return append(dst, byte(id>>8), byte(id))
	default:
		return append(dst, byte(id))
	}
}

func idSize(id uint32) int {
	switch {
	case id >= 1<<24:
		return 4
	case id >= 1<<16:
		return 3
	case id >= 1<<8:
		return 2
	default:
		return 1
	}
}

// AppendElement appends a whole element: ID, size and body.
func AppendElement(dst []byte, id uint32, body []byte) []byte {
	dst = AppendID(dst, id)
	dst = AppendVint(dst, uint64(len(body)))
	return append(dst, body...)
}

// AppendUint appends an unsigned integer element in the fewest bytes.
func AppendUint(dst []byte, id uint32, v uint64) []byte {
	n := uintSize(v)
	dst = AppendID(dst, id)
	dst = append(dst, 0x80|byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*uint(i))))
	}
	return dst
}

func uintSize(v uint64) int {
	n := 1
	for n < 8 && v >= 1<<(8*uint(n)) {
		n++
	}
	return n
}

// AppendString appends a string element.
func AppendString(dst []byte, id uint32, s string) []byte {
	dst = AppendID(dst, id)
	dst = AppendVint(dst, uint64(len(s)))
	return append(dst, s...)
}

// readID decodes an element ID (1 to 4 bytes, marker bits kept) at the start
// of b.
func readID(b []byte) (id uint32, n int, ok bool) {
	if len(b) == 0 || b[0] < 0x10 {
		return 0, 0, false
	}
	n = vintLen(b[0])
	if len(b) < n {
		return 0, 0, false
	}
	for i := 0; i < n; i++ {
		id = id<<8 | uint32(b[i])
	}
	return id, n, true
}

func decodeUint(b []byte) (uint64, bool) {
	if len(b) > 8 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, true
}

func decodeFloat(b []byte) (float64, bool) {
	switch len(b) {
	case 0:
		return 0, true
	case 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), true
	case 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), true
	}
	return 0, false
}

// decodeString returns a Matroska string, which may be padded with zeros.
func decodeString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
