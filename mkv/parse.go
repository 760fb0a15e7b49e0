package mkv

import (
	"encoding/binary"
	"math"

	"kvskit/media"
)

// maxTagDepth bounds SimpleTag nesting.
const maxTagDepth = 16

// children iterates over the child elements of a master element body held
// in memory. base is the stream offset of body[0].
type children struct {
	b    []byte
	pos  int
	base int64
	// current child
	id  uint32
	off int64
	val []byte
	err error
}

func (c *children) next() bool {
	if c.err != nil || c.pos >= len(c.b) {
		return false
	}
	rest := c.b[c.pos:]
	off := c.base + int64(c.pos)
	id, n, ok := readID(rest)
	if !ok {
		c.err = formatErr(off, "bad element ID")
		return false
	}
	size, m, ok := ReadVint(rest[n:])
	if !ok {
		c.err = formatErr(off, "bad size of element 0x%X", id)
		return false
	}
	if size == UnknownSize {
		c.err = formatErr(off, "unknown size of nested element 0x%X", id)
		return false
	}
	hl := n + m
	if size > uint64(len(rest)-hl) {
		c.err = formatErr(off, "element 0x%X (size %d) overruns its parent", id, size)
		return false
	}
	c.id, c.off, c.val = id, off, rest[hl:hl+int(size)]
	c.pos += hl + int(size)
	return true
}

func (c *children) uint() (uint64, error) {
	v, ok := decodeUint(c.val)
	if !ok {
		return 0, formatErr(c.off, "bad unsigned integer in element 0x%X", c.id)
	}
	return v, nil
}

func (c *children) float() (float64, error) {
	v, ok := decodeFloat(c.val)
	if !ok {
		return 0, formatErr(c.off, "bad float in element 0x%X", c.id)
	}
	return v, nil
}

// subAt returns an iterator over the current child's body.
func (c *children) subAt() children {
	return children{b: c.val, base: c.base + int64(c.pos-len(c.val))}
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// parseEBMLHeader returns the DocType of an EBML header body.
func parseEBMLHeader(body []byte, base int64) (string, error) {
	c := children{b: body, base: base}
	docType := "matroska" // the EBML default for Matroska readers
	for c.next() {
		switch c.id {
		case IDDocType:
			docType = decodeString(c.val)
		case IDEBMLMaxIDLength:
			v, err := c.uint()
			if err != nil {
				return "", err
			}
			if v > 4 {
				return "", formatErr(c.off, "EBMLMaxIDLength %d not supported", v)
			}
		case IDEBMLMaxSizeLength:
			v, err := c.uint()
			if err != nil {
				return "", err
			}
			if v > 8 {
				return "", formatErr(c.off, "EBMLMaxSizeLength %d not supported", v)
			}
		}
	}
	if c.err != nil {
		return "", c.err
	}
	if docType != "matroska" && docType != "webm" {
		return "", formatErr(base, "DocType %q is not matroska or webm", docType)
	}
	return docType, nil
}

func parseInfo(body []byte, base int64) (Info, error) {
	info := Info{TimecodeScale: DefaultTimecodeScale}
	c := children{b: body, base: base}
	var err error
	for c.next() {
		switch c.id {
		case IDTimecodeScale:
			if info.TimecodeScale, err = c.uint(); err != nil {
				return info, err
			}
			if info.TimecodeScale == 0 {
				return info, formatErr(c.off, "TimecodeScale is zero")
			}
		case IDSegmentUID:
			info.SegmentUID = cloneBytes(c.val)
		case IDTitle:
			info.Title = decodeString(c.val)
		case IDMuxingApp:
			info.MuxingApp = decodeString(c.val)
		case IDWritingApp:
			info.WritingApp = decodeString(c.val)
		case IDDuration:
			if info.Duration, err = c.float(); err != nil {
				return info, err
			}
		}
	}
	return info, c.err
}

func parseTracks(body []byte, base int64) ([]TrackEntry, error) {
	var tracks []TrackEntry
	c := children{b: body, base: base}
	for c.next() {
		if c.id != IDTrackEntry {
			continue
		}
		t, err := parseTrackEntry(c.subAt())
		if err != nil {
			return nil, err
		}
		tracks = append(tracks, t)
	}
	return tracks, c.err
}

func parseTrackEntry(c children) (TrackEntry, error) {
	var t TrackEntry
	var err error
	for c.next() {
		switch c.id {
		case IDTrackNumber:
			if t.Number, err = c.uint(); err != nil {
				return t, err
			}
		case IDTrackUID:
			if t.TrackUID, err = c.uint(); err != nil {
				return t, err
			}
		case IDTrackType:
			if t.TrackType, err = c.uint(); err != nil {
				return t, err
			}
		case IDCodecID:
			t.CodecID = decodeString(c.val)
		case IDCodecPrivate:
			t.CodecPrivate = cloneBytes(c.val)
		case IDName:
			t.Name = decodeString(c.val)
		case IDDefaultDuration:
			if t.DefaultDuration, err = c.uint(); err != nil {
				return t, err
			}
		case IDCodecDelay:
			if t.CodecDelay, err = c.uint(); err != nil {
				return t, err
			}
		case IDVideo:
			v := c.subAt()
			for v.next() {
				var x uint64
				switch v.id {
				case IDPixelWidth, IDPixelHeight:
					if x, err = v.uint(); err != nil {
						return t, err
					}
					if x > math.MaxInt32 {
						return t, formatErr(v.off, "pixel dimension %d too large", x)
					}
					if v.id == IDPixelWidth {
						t.Width = int(x)
					} else {
						t.Height = int(x)
					}
				}
			}
			if v.err != nil {
				return t, v.err
			}
		case IDAudio:
			a := c.subAt()
			for a.next() {
				switch a.id {
				case IDSamplingFrequency:
					if t.SamplingFrequency, err = a.float(); err != nil {
						return t, err
					}
				case IDChannels:
					x, err := a.uint()
					if err != nil {
						return t, err
					}
					if x > math.MaxInt32 {
						return t, formatErr(a.off, "channel count %d too large", x)
					}
					t.Channels = int(x)
				}
			}
			if a.err != nil {
				return t, a.err
			}
		}
	}
	if c.err != nil {
		return t, c.err
	}
	if t.TrackType <= 0xFF {
		t.Kind = media.Kind(t.TrackType)
	}
	t.SampleRate = roundRate(t.SamplingFrequency)
	t.Codec = CodecFromID(t.CodecID, t.CodecPrivate)
	return t, nil
}

func parseTags(body []byte, base int64) ([]Tag, error) {
	tags := []Tag{}
	c := children{b: body, base: base}
	for c.next() {
		if c.id != IDTag {
			continue
		}
		t := c.subAt()
		for t.next() {
			if t.id != IDSimpleTag {
				continue // Targets and anything unknown
			}
			var err error
			if tags, err = parseSimpleTag(tags, t.subAt(), 1); err != nil {
				return nil, err
			}
		}
		if t.err != nil {
			return nil, t.err
		}
	}
	return tags, c.err
}

// parseSimpleTag appends the SimpleTag in c, then its nested SimpleTags.
func parseSimpleTag(tags []Tag, c children, depth int) ([]Tag, error) {
	if depth > maxTagDepth {
		return nil, formatErr(c.base, "SimpleTag nested deeper than %d", maxTagDepth)
	}
	idx := len(tags)
	tags = append(tags, Tag{})
	for c.next() {
		switch c.id {
		case IDTagName:
			tags[idx].Name = decodeString(c.val)
		case IDTagString:
			tags[idx].Value = decodeString(c.val)
		case IDTagBinary:
			tags[idx].Binary = cloneBytes(c.val)
		case IDSimpleTag:
			var err error
			if tags, err = parseSimpleTag(tags, c.subAt(), depth+1); err != nil {
				return nil, err
			}
		}
	}
	return tags, c.err
}

// parseBlock decodes a SimpleBlock or Block body into blk, reusing
// blk.Frames. For a Block (simple=false) the caller sets Key.
func parseBlock(blk *Block, body []byte, base int64, simple bool) error {
	track, n, ok := ReadVint(body)
	if !ok || track == UnknownSize {
		return formatErr(base, "bad block track number")
	}
	if len(body) < n+3 {
		return formatErr(base, "block header truncated")
	}
	blk.Track = track
	blk.Timecode = int16(binary.BigEndian.Uint16(body[n:]))
	flags := body[n+2]
	blk.Invisible = flags&0x08 != 0
	if simple {
		blk.Key = flags&0x80 != 0
		blk.Discardable = flags&0x01 != 0
	}
	data := body[n+3:]
	frames := blk.Frames[:0]
	lacing := (flags >> 1) & 3
	if lacing == 0 {
		blk.Frames = append(frames, data)
		return nil
	}
	if len(data) < 1 {
		return formatErr(base, "lacing header truncated")
	}
	count := int(data[0]) + 1
	p := 1
	lacePos := base + int64(n+3)
	switch lacing {
	case 2: // fixed-size
		rest := len(data) - p
		if rest%count != 0 {
			return formatErr(lacePos, "fixed-size lacing: %d bytes do not split into %d frames", rest, count)
		}
		sz := rest / count
		for i := 0; i < count; i++ {
			frames = append(frames, data[p:p+sz])
			p += sz
		}
		blk.Frames = frames
		return nil
	case 1: // Xiph
		var sizes [256]int
		total := 0
		for i := 0; i < count-1; i++ {
			s := 0
			for {
				if p >= len(data) {
					return formatErr(lacePos, "Xiph lacing sizes truncated")
				}
				b := data[p]
				p++
				s += int(b)
				if b != 0xFF {
					break
				}
			}
			sizes[i] = s
			total += s
			if total > len(data) {
				return formatErr(lacePos, "Xiph lacing sizes exceed the block")
			}
		}
		return sliceLaced(blk, frames, data, p, sizes[:count], total, lacePos)
	default: // 3: EBML
		var sizes [256]int
		total := 0
		prev := 0
		for i := 0; i < count-1; i++ {
			v, m, ok := ReadVint(data[p:])
			if !ok || v == UnknownSize {
				return formatErr(lacePos, "bad EBML lacing size")
			}
			p += m
			s := 0
			if i == 0 {
				if v > uint64(len(data)) {
					return formatErr(lacePos, "EBML lacing sizes exceed the block")
				}
				s = int(v)
			} else {
				// Signed difference: subtract the bias 2^(7m-1)-1.
				bias := int64(1)<<(7*uint(m)-1) - 1
				s = prev + int(int64(v)-bias)
			}
			if s < 0 || s > len(data) {
				return formatErr(lacePos, "bad EBML lacing size")
			}
			sizes[i] = s
			prev = s
			total += s
			if total > len(data) {
				return formatErr(lacePos, "EBML lacing sizes exceed the block")
			}
		}
		return sliceLaced(blk, frames, data, p, sizes[:count], total, lacePos)
	}
}

// sliceLaced cuts data[p:] into frames of the given sizes, the last one
// taking what remains after the first len(sizes)-1.
func sliceLaced(blk *Block, frames [][]byte, data []byte, p int, sizes []int, total int, off int64) error {
	if total > len(data)-p {
		return formatErr(off, "laced frame sizes exceed the block")
	}
	sizes[len(sizes)-1] = len(data) - p - total
	for _, s := range sizes {
		frames = append(frames, data[p:p+s])
		p += s
	}
	blk.Frames = frames
	return nil
}
