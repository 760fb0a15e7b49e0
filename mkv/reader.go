package mkv

import (
	"bufio"
	"fmt"
	"io"
	"math"
)

// DefaultMaxElementSize is the default limit on an element body the Reader
// has to hold in memory (Info, Tracks, Tags, SimpleBlock, BlockGroup).
const DefaultMaxElementSize = 64 << 20

// maxEBMLHeaderSize bounds the EBML header body, which is a few dozen bytes
// in practice.
const maxEBMLHeaderSize = 4096

const readBufferSize = 64 << 10

// EventType says what an Event reports.
type EventType int

// Event types, in the order they typically appear.
const (
	// EventHeader: an EBML header was read and a Segment started; DocType is set.
	EventHeader EventType = iota + 1
	// EventInfo: Info is set; Raw holds the whole Info element.
	EventInfo
	// EventTracks: Tracks is set; Raw holds the whole Tracks element.
	EventTracks
	// EventTags: Tags is set; Raw holds the whole Tags element.
	EventTags
	// EventClusterStart: the cluster's Timecode element was read; Timecode
	// is set and Offset is the offset of the Cluster element.
	EventClusterStart
	// EventBlock: Block is set; Raw holds the whole SimpleBlock or
	// BlockGroup element.
	EventBlock
	// EventClusterEnd: the cluster that EventClusterStart announced ended;
	// Offset is where it ended.
	EventClusterEnd
	// EventSegmentEnd: a Segment ended (known size reached, next EBML
	// header or Segment, or end of stream); Offset is where it ended.
	EventSegmentEnd
)

var eventTypeNames = [...]string{
	EventHeader:       "Header",
	EventInfo:         "Info",
	EventTracks:       "Tracks",
	EventTags:         "Tags",
	EventClusterStart: "ClusterStart",
	EventBlock:        "Block",
	EventClusterEnd:   "ClusterEnd",
	EventSegmentEnd:   "SegmentEnd",
}

func (t EventType) String() string {
	if t > 0 && int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is one step of a Matroska stream. The Event returned by Reader.Next,
// and the Raw and Block.Frames slices in it, are valid only until the next
// call to Next; Info, Tracks and Tags are freshly allocated and may be kept.
type Event struct {
	Type     EventType
	DocType  string
	Info     Info
	Tracks   []TrackEntry
	Tags     []Tag
	Timecode int64
	Block    Block
	// Raw is the whole element (ID, size and body) for Info, Tracks, Tags
	// and Block events.
	Raw []byte
	// Offset is the stream offset of the element's first byte (for
	// EventClusterEnd and EventSegmentEnd: the offset where it ended).
	Offset int64
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// WithBlockSpace has the Reader read each SimpleBlock and BlockGroup
// element straight into memory of the caller's: before reading an element
// of n bytes (ID, size and body) it calls space(n), which returns a slice
// of length n to read it into, or nil to have the Reader use its own
// buffer. The element is then not copied once more: the event's Raw is
// that slice and Block.Frames point into it. The Reader writes nothing
// else into the slice and keeps no reference to it after the call to Next
// that returned the event. A failed read leaves the slice partly written.
// A slice of length 0 that is not nil has the Reader skip the element: its
// bytes are discarded as they are read and no event is returned for it.
func WithBlockSpace(space func(n int) []byte) ReaderOption {
	return func(r *Reader) { r.blockSpace = space }
}

// WithMaxElementSize sets the largest element body the Reader reads into
// memory (default DefaultMaxElementSize, 64 MiB). A larger element that
// must be read fails with an error wrapping ErrElementTooLarge; larger
// elements that are skipped are not limited.
func WithMaxElementSize(n int64) ReaderOption {
	return func(r *Reader) {
		if n > 0 {
			r.maxSize = n
		}
	}
}

// WithMaxMetadataSize sets the largest body of an Info, Tracks or Tags
// element the Reader reads into memory (default: the maximum element
// size). A larger one fails with an error wrapping ErrElementTooLarge.
func WithMaxMetadataSize(n int64) ReaderOption {
	return func(r *Reader) {
		if n > 0 {
			r.maxMeta = n
		}
	}
}

type readerState int

const (
	stateTop     readerState = iota // expecting an EBML header or the end
	stateSegment                    // inside a Segment, at level 1
	stateCluster                    // inside a Cluster
)

// elemHeader is an element's ID and size as read from the stream.
type elemHeader struct {
	id   uint32
	size uint64 // UnknownSize if unknown
	off  int64
	hdr  [12]byte
	hlen int
}

func (h *elemHeader) end() int64 { return h.off + int64(h.hlen) + int64(h.size) }

func (h *elemHeader) known() bool { return h.size != UnknownSize }

// Reader reads a Matroska stream event by event. It is not safe for
// concurrent use.
type Reader struct {
	src     io.Reader
	br      *bufio.Reader
	off     int64
	maxSize int64
	maxMeta int64 // 0: maxSize
	err     error // sticky
	eof     bool  // the input ended at an element boundary

	state      readerState
	pending    elemHeader
	hasPending bool

	segEnd      int64 // -1 when unknown
	clusterEnd  int64 // -1 when unknown
	clusterOff  int64
	clusterOpen bool // EventClusterStart was sent for the current cluster

	docType string
	info    Info
	tracks  []TrackEntry

	buf        []byte
	blockSpace func(n int) []byte
	frames     [][]byte
	ev         Event
}

// NewReader returns a Reader that reads a Matroska stream from r.
func NewReader(r io.Reader, opts ...ReaderOption) *Reader {
	rd := &Reader{
		src:     r,
		br:      bufio.NewReaderSize(r, readBufferSize),
		maxSize: DefaultMaxElementSize,
		info:    Info{TimecodeScale: DefaultTimecodeScale},
	}
	for _, o := range opts {
		o(rd)
	}
	return rd
}

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int64 { return r.off }

// DocType returns the DocType of the current segment's EBML header.
func (r *Reader) DocType() string { return r.docType }

// Info returns the current segment's Info (defaults until one is read).
func (r *Reader) Info() Info { return r.info }

// Tracks returns the current segment's tracks (nil until a Tracks element is read).
func (r *Reader) Tracks() []TrackEntry { return r.tracks }

// Next returns the next event. It returns io.EOF at the clean end of the
// stream. After an error every call returns the same error.
func (r *Reader) Next() (*Event, error) {
	if r.err != nil {
		return nil, r.err
	}
	ev, err := r.next()
	if err != nil {
		r.err = err
		return nil, err
	}
	return ev, nil
}

func (r *Reader) event(t EventType, off int64) *Event {
	r.ev = Event{Type: t, Offset: off}
	return &r.ev
}

func (r *Reader) next() (*Event, error) {
	for {
		switch r.state {
		case stateTop:
			return r.nextTop()
		case stateSegment:
			ev, err := r.nextSegment()
			if ev != nil || err != nil {
				return ev, err
			}
		default:
			ev, err := r.nextCluster()
			if ev != nil || err != nil {
				return ev, err
			}
		}
	}
}

// nextTop reads an EBML header and the Segment start after it.
func (r *Reader) nextTop() (*Event, error) {
	var h elemHeader
	for {
		var err error
		if h, err = r.header(); err != nil {
			return nil, err // io.EOF: clean end between segments
		}
		if h.id == IDSegment && r.docType != "" {
			// A Segment following a Segment without a new EBML header.
			return r.startSegment(h, h.off)
		}
		if (h.id == IDVoid || h.id == IDCRC32) && h.off > 0 {
			if err := r.skip(&h); err != nil {
				return nil, err
			}
			continue
		}
		break
	}
	if h.id != IDEBML {
		return nil, formatErr(h.off, "expected an EBML header, found element 0x%X", h.id)
	}
	if !h.known() {
		return nil, formatErr(h.off, "EBML header of unknown size")
	}
	if h.size > maxEBMLHeaderSize {
		return nil, formatErr(h.off, "EBML header of %d bytes", h.size)
	}
	if err := r.readBody(&h, false); err != nil {
		return nil, err
	}
	docType, err := parseEBMLHeader(r.buf[h.hlen:], h.off+int64(h.hlen))
	if err != nil {
		return nil, err
	}
	r.docType = docType
	headerOff := h.off
	for {
		s, err := r.header()
		if err != nil {
			return nil, r.unexpected(err, "after the EBML header")
		}
		switch s.id {
		case IDVoid, IDCRC32:
			if err := r.skip(&s); err != nil {
				return nil, err
			}
			continue
		case IDSegment:
			return r.startSegment(s, headerOff)
		}
		return nil, formatErr(s.off, "expected a Segment after the EBML header, found element 0x%X", s.id)
	}
}

func (r *Reader) startSegment(s elemHeader, evOff int64) (*Event, error) {
	r.segEnd = -1
	if s.known() {
		r.segEnd = s.end()
	}
	r.info = Info{TimecodeScale: DefaultTimecodeScale}
	r.tracks = nil
	r.state = stateSegment
	ev := r.event(EventHeader, evOff)
	ev.DocType = r.docType
	return ev, nil
}

func (r *Reader) endSegment(off int64) *Event {
	r.state = stateTop
	return r.event(EventSegmentEnd, off)
}

// nextSegment handles one level-1 element. It returns (nil, nil) when it
// only changed state.
func (r *Reader) nextSegment() (*Event, error) {
	if r.segEnd >= 0 && r.off >= r.segEnd && !r.hasPending {
		return r.endSegment(r.off), nil
	}
	h, err := r.header()
	if err == io.EOF {
		if r.segEnd >= 0 {
			return nil, r.unexpected(err, "inside a Segment of known size")
		}
		return r.endSegment(r.off), nil
	}
	if err != nil {
		return nil, err
	}
	if h.id == IDEBML || h.id == IDSegment {
		if r.segEnd >= 0 {
			return nil, formatErr(h.off, "element 0x%X inside a Segment of known size", h.id)
		}
		r.unread(h)
		return r.endSegment(h.off), nil
	}
	if r.segEnd >= 0 && h.known() && h.end() > r.segEnd {
		return nil, formatErr(h.off, "element 0x%X (size %d) overruns its Segment", h.id, h.size)
	}
	switch h.id {
	case IDCluster:
		r.state = stateCluster
		r.clusterOff = h.off
		r.clusterOpen = false
		r.clusterEnd = -1
		if h.known() {
			r.clusterEnd = h.end()
		}
		return nil, nil
	case IDInfo, IDTracks, IDTags:
		if r.maxMeta > 0 && h.known() && h.size > uint64(r.maxMeta) {
			return nil, fmt.Errorf("mkv: element 0x%X at offset %d has %d bytes, limit %d: %w",
				h.id, h.off, h.size, r.maxMeta, ErrElementTooLarge)
		}
		if err := r.readBody(&h, true); err != nil {
			return nil, err
		}
		body, base := r.buf[h.hlen:], h.off+int64(h.hlen)
		var ev *Event
		switch h.id {
		case IDInfo:
			info, err := parseInfo(body, base)
			if err != nil {
				return nil, err
			}
			r.info = info
			ev = r.event(EventInfo, h.off)
			ev.Info = info
		case IDTracks:
			tracks, err := parseTracks(body, base)
			if err != nil {
				return nil, err
			}
			r.tracks = tracks
			ev = r.event(EventTracks, h.off)
			ev.Tracks = tracks
		default:
			tags, err := parseTags(body, base)
			if err != nil {
				return nil, err
			}
			ev = r.event(EventTags, h.off)
			ev.Tags = tags
		}
		ev.Raw = r.buf
		return ev, nil
	}
	// SeekHead, Cues, Chapters, Attachments, Void, CRC-32, unknown.
	return nil, r.skip(&h)
}

func (r *Reader) endCluster(off int64) *Event {
	r.state = stateSegment
	if !r.clusterOpen {
		return nil
	}
	r.clusterOpen = false
	return r.event(EventClusterEnd, off)
}

// nextCluster handles one Cluster child.
func (r *Reader) nextCluster() (*Event, error) {
	end := r.clusterEnd
	if end < 0 {
		end = r.segEnd
	}
	if end >= 0 && r.off >= end {
		return r.endCluster(r.off), nil
	}
	h, err := r.header()
	if err == io.EOF {
		if end >= 0 {
			return nil, r.unexpected(err, "inside a Cluster")
		}
		return r.endCluster(r.off), nil
	}
	if err != nil {
		return nil, err
	}
	if isLevel1(h.id) {
		if r.clusterEnd >= 0 {
			return nil, formatErr(h.off, "element 0x%X inside a Cluster of known size", h.id)
		}
		r.unread(h)
		return r.endCluster(h.off), nil
	}
	if !h.known() {
		return nil, formatErr(h.off, "Cluster child 0x%X of unknown size", h.id)
	}
	if end >= 0 && h.end() > end {
		return nil, formatErr(h.off, "element 0x%X (size %d) overruns its Cluster", h.id, h.size)
	}
	switch h.id {
	case IDTimecode:
		if h.size > 8 {
			return nil, formatErr(h.off, "cluster Timecode of %d bytes", h.size)
		}
		if err := r.readBody(&h, false); err != nil {
			return nil, err
		}
		if r.clusterOpen {
			return nil, formatErr(h.off, "second Timecode in a Cluster")
		}
		tc, _ := decodeUint(r.buf[h.hlen:])
		if tc > math.MaxInt64 {
			return nil, formatErr(h.off, "cluster Timecode %d out of range", tc)
		}
		r.clusterOpen = true
		ev := r.event(EventClusterStart, r.clusterOff)
		ev.Timecode = int64(tc)
		return ev, nil
	case IDSimpleBlock, IDBlockGroup:
		if !r.clusterOpen {
			return nil, formatErr(h.off, "block before the cluster Timecode")
		}
		raw, err := r.readBlock(&h)
		if err != nil {
			return nil, err
		}
		if raw == nil { // skipped at the caller's request
			return nil, nil
		}
		blk := Block{Frames: r.frames[:0]}
		body, base := raw[h.hlen:], h.off+int64(h.hlen)
		if h.id == IDSimpleBlock {
			err = parseBlock(&blk, body, base, true)
		} else {
			err = parseBlockGroup(&blk, body, base)
		}
		r.frames = blk.Frames[:0]
		if err != nil {
			return nil, err
		}
		ev := r.event(EventBlock, h.off)
		ev.Block = blk
		ev.Raw = raw
		return ev, nil
	}
	// Position, PrevSize, SilentTracks, EncryptedBlock, Void, CRC-32, unknown.
	return nil, r.skip(&h)
}

func parseBlockGroup(blk *Block, body []byte, base int64) error {
	c := children{b: body, base: base}
	seen := false
	hasRef := false
	for c.next() {
		switch c.id {
		case IDBlock:
			if seen {
				return formatErr(c.off, "second Block in a BlockGroup")
			}
			seen = true
			if err := parseBlock(blk, c.val, c.base+int64(c.pos-len(c.val)), false); err != nil {
				return err
			}
		case IDReferenceBlock:
			hasRef = true
		case IDBlockDuration:
			d, err := c.uint()
			if err != nil {
				return err
			}
			blk.Duration = d
		}
	}
	if c.err != nil {
		return c.err
	}
	if !seen {
		return formatErr(base, "BlockGroup without a Block")
	}
	blk.Key = !hasRef
	return nil
}

// isLevel1 reports whether id ends an unknown-size Cluster: a top-level or
// Segment-level element.
func isLevel1(id uint32) bool {
	switch id {
	case IDEBML, IDSegment, IDSeekHead, IDInfo, IDTracks, IDCluster, IDCues,
		IDChapters, IDAttachments, IDTags:
		return true
	}
	return false
}

func (r *Reader) unread(h elemHeader) {
	r.pending = h
	r.hasPending = true
}

// unexpected turns an end of input into a wrapped io.ErrUnexpectedEOF.
func (r *Reader) unexpected(err error, where string) error {
	if err == io.EOF {
		return fmt.Errorf("mkv: stream ends %s at offset %d: %w", where, r.off, io.ErrUnexpectedEOF)
	}
	return err
}

func (r *Reader) readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("mkv: stream ends inside an element at offset %d: %w", r.off, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("mkv: read at offset %d: %w", r.off, err)
}

// header reads an element header. It returns io.EOF (unwrapped) only when
// the input ends exactly before the element.
func (r *Reader) header() (elemHeader, error) {
	if r.hasPending {
		r.hasPending = false
		return r.pending, nil
	}
	var h elemHeader
	if r.eof {
		return h, io.EOF
	}
	h.off = r.off
	b, err := r.br.ReadByte()
	if err != nil {
		if err == io.EOF {
			r.eof = true
			return h, io.EOF
		}
		return h, r.readErr(err)
	}
	r.off++
	if b < 0x10 {
		return h, formatErr(h.off, "bad element ID byte 0x%02X", b)
	}
	n := vintLen(b)
	h.hdr[0] = b
	if err := r.readBytes(h.hdr[1:n]); err != nil {
		return h, err
	}
	s, err := r.br.ReadByte()
	if err != nil {
		return h, r.readErr(err)
	}
	r.off++
	if s == 0 {
		return h, formatErr(h.off, "bad element size")
	}
	m := vintLen(s)
	h.hdr[n] = s
	if err := r.readBytes(h.hdr[n+1 : n+m]); err != nil {
		return h, err
	}
	h.hlen = n + m
	h.id, _, _ = readID(h.hdr[:n])
	h.size, _, _ = ReadVint(h.hdr[n:h.hlen])
	return h, nil
}

// readBytes fills the few bytes of p one at a time, which keeps the caller's
// array off the heap.
func (r *Reader) readBytes(p []byte) error {
	for i := range p {
		c, err := r.br.ReadByte()
		if err != nil {
			return r.readErr(err)
		}
		r.off++
		p[i] = c
	}
	return nil
}

// directReadMin is the size from which readFull reads what the buffer does
// not hold straight from the source into p, instead of through the buffer,
// which would cost a copy of every byte of large blocks.
const directReadMin = 16 << 10

func (r *Reader) readFull(p []byte) error {
	if len(p) >= directReadMin {
		if b := r.br.Buffered(); b < len(p) {
			if b > 0 {
				n, _ := r.br.Read(p[:b]) // buffered bytes: no error
				r.off += int64(n)
				p = p[n:]
			}
			n, err := io.ReadFull(r.src, p)
			r.off += int64(n)
			if err != nil {
				return r.readErr(err)
			}
			return nil
		}
	}
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	if err != nil {
		return r.readErr(err)
	}
	return nil
}

// readBody reads the element's header and body into r.buf. With limit set,
// the body must not exceed the maximum element size.
func (r *Reader) readBody(h *elemHeader, limit bool) error {
	if !h.known() {
		return formatErr(h.off, "element 0x%X of unknown size", h.id)
	}
	if limit && h.size > uint64(r.maxSize) {
		return fmt.Errorf("mkv: element 0x%X at offset %d has %d bytes, limit %d: %w",
			h.id, h.off, h.size, r.maxSize, ErrElementTooLarge)
	}
	need := h.hlen + int(h.size)
	if need <= cap(r.buf) {
		r.buf = append(r.buf[:0], h.hdr[:h.hlen]...)
		r.buf = r.buf[:need]
		return r.readFull(r.buf[h.hlen:])
	}
	// Grow while the data arrives so a large declared size on a short
	// stream does not allocate the whole size up front.
	b := append(make([]byte, 0, max(min(need, 2*cap(r.buf)), readBufferSize, h.hlen)), h.hdr[:h.hlen]...)
	for len(b) < need {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(need, 2*cap(b)))
			copy(nb, b)
			b = nb
		}
		top := min(cap(b), need)
		n, err := io.ReadFull(r.br, b[len(b):top])
		r.off += int64(n)
		b = b[:len(b)+n]
		if err != nil {
			r.buf = b[:0]
			return r.readErr(err)
		}
	}
	r.buf = b
	return nil
}

// readBlock reads a block element whole, into the caller's space if it
// gives some, else into r.buf.
func (r *Reader) readBlock(h *elemHeader) ([]byte, error) {
	if r.blockSpace != nil && h.known() && h.size <= uint64(r.maxSize) {
		need := h.hlen + int(h.size)
		if dst := r.blockSpace(need); dst != nil {
			if len(dst) == 0 {
				return nil, r.skip(h)
			}
			if len(dst) != need {
				return nil, fmt.Errorf("mkv: block space of %d bytes for an element of %d", len(dst), need)
			}
			copy(dst, h.hdr[:h.hlen])
			if err := r.readFull(dst[h.hlen:]); err != nil {
				return nil, err
			}
			return dst, nil
		}
	}
	if err := r.readBody(h, true); err != nil {
		return nil, err
	}
	return r.buf, nil
}

// skip discards the element body.
func (r *Reader) skip(h *elemHeader) error {
	if !h.known() {
		return formatErr(h.off, "element 0x%X of unknown size cannot be skipped", h.id)
	}
	size := h.size
	for size > 0 {
		n := int(min(size, 1<<30))
		d, err := r.br.Discard(n)
		r.off += int64(d)
		size -= uint64(d)
		if err != nil {
			return r.readErr(err)
		}
	}
	return nil
}
