package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"

	"kvskit/media"
)

// Record is one fragment as the spool keeps it.
type Record struct {
	// Stream is the name of the stream the fragment belongs to.
	Stream string
	// Timecode is the cluster timecode (the producer timestamp), in
	// milliseconds since the Unix epoch.
	Timecode int64
	// Duration runs from the cluster timecode to the end of the last frame.
	Duration time.Duration
	// Tracks describe the stream the frames belong to (1 to maxTracks).
	Tracks []media.Track
	// Frames in sending order. PTS and DTS are measured from the cluster
	// timecode (DTS may be negative). Frames read back share one buffer.
	Frames []media.Frame
}

// Size returns the sum of the frames' data sizes.
func (r *Record) Size() int64 {
	var n int64
	for i := range r.Frames {
		n += int64(len(r.Frames[i].Data))
	}
	return n
}

// File layout (all integers little endian):
//
//	0   magic "KVSSPL1\n"
//	8   payload length L (uint64)
//	16  payload (L bytes)
//	16+L CRC-32C (Castagnoli) of bytes [0, 16+L) (uint32)
//
// The payload is a sequence of varints (unsigned: uvarint; signed: zig-zag
// varint) and length-prefixed byte strings:
//
//	stream string, timecode varint, duration uvarint (ns),
//	track count uvarint, per track: number uvarint, kind byte, codec string,
//	  codec private string, name string, width, height, sample rate,
//	  channels (uvarints),
//	frame count uvarint, per frame: track uvarint, PTS varint (ns), DTS
//	  varint (ns), flags byte (bit 0: key frame), data string.
const (
	magic      = "KVSSPL1\n"
	headerSize = 16
	trailSize  = 4
	// Overhead is the bytes a file adds to its payload.
	Overhead  = headerSize + trailSize
	maxTracks = 16
	maxString = 1 << 16 // stream name, codec, codec private, track name
	maxInt    = 1 << 31 // width, height, sample rate, channels
	// MaxFrameSize bounds one frame's data.
	MaxFrameSize = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeMeta appends the payload without the frames' data to b; ends[i] is
// the end in b of frame i's header, ends[-1] (the first value) the end of
// the part before the frames.
func (r *Record) encodeMeta(b []byte, ends []int) ([]byte, []int) {
	str := func(s []byte) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str([]byte(r.Stream))
	b = binary.AppendVarint(b, r.Timecode)
	b = binary.AppendUvarint(b, uint64(max(r.Duration, 0)))
	b = binary.AppendUvarint(b, uint64(len(r.Tracks)))
	for i := range r.Tracks {
		t := &r.Tracks[i]
		b = binary.AppendUvarint(b, t.Number)
		b = append(b, byte(t.Kind))
		str([]byte(t.Codec))
		str(t.CodecPrivate)
		str([]byte(t.Name))
		for _, v := range [...]int{t.Width, t.Height, t.SampleRate, t.Channels} {
			b = binary.AppendUvarint(b, uint64(max(v, 0)))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.Frames)))
	ends = append(ends, len(b))
	for i := range r.Frames {
		f := &r.Frames[i]
		b = binary.AppendUvarint(b, f.Track)
		b = binary.AppendVarint(b, int64(f.PTS))
		b = binary.AppendVarint(b, int64(f.DTS))
		var flags byte
		if f.Key {
			flags = 1
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(len(f.Data)))
		ends = append(ends, len(b))
	}
	return b, ends
}

// validate checks what Decode would refuse, so that nothing is written that
// cannot be read back.
func (r *Record) validate() error {
	if len(r.Stream) > maxString {
		return fmt.Errorf("spool: stream name of %d bytes", len(r.Stream))
	}
	if len(r.Tracks) == 0 || len(r.Tracks) > maxTracks {
		return fmt.Errorf("spool: %d tracks (1 to %d)", len(r.Tracks), maxTracks)
	}
	for i := range r.Tracks {
		t := &r.Tracks[i]
		if t.Number == 0 {
			return fmt.Errorf("spool: track number 0")
		}
		for j := range i {
			if r.Tracks[j].Number == t.Number {
				return fmt.Errorf("spool: track number %d used twice", t.Number)
			}
		}
		if len(t.Codec) > maxString || len(t.CodecPrivate) > maxString || len(t.Name) > maxString {
			return fmt.Errorf("spool: track %d: description too long", t.Number)
		}
		for _, v := range [...]int{t.Width, t.Height, t.SampleRate, t.Channels} {
			if v < 0 || int64(v) >= maxInt {
				return fmt.Errorf("spool: track %d: dimension or rate %d out of range", t.Number, v)
			}
		}
	}
	if r.Duration < 0 {
		return fmt.Errorf("spool: negative duration")
	}
	for i := range r.Frames {
		f := &r.Frames[i]
		if !r.hasTrack(f.Track) {
			return fmt.Errorf("spool: frame %d of undeclared track %d", i, f.Track)
		}
		if len(f.Data) > MaxFrameSize {
			return fmt.Errorf("spool: frame %d of %d bytes", i, len(f.Data))
		}
	}
	return nil
}

func (r *Record) hasTrack(n uint64) bool {
	for i := range r.Tracks {
		if r.Tracks[i].Number == n {
			return true
		}
	}
	return false
}

// Encode writes the record in the spool's file layout to w and returns the
// number of bytes written. meta is scratch space, returned for reuse.
func Encode(w io.Writer, r *Record, meta []byte) (int64, []byte, error) {
	if err := r.validate(); err != nil {
		return 0, meta, err
	}
	var endsArr [64]int
	meta, ends := r.encodeMeta(meta[:0], endsArr[:0])
	payload := int64(len(meta)) + r.Size()
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w, crc)
	var n int64
	write := func(b []byte) error {
		k, err := out.Write(b)
		n += int64(k)
		return err
	}
	var head [headerSize]byte
	copy(head[:], magic)
	binary.LittleEndian.PutUint64(head[8:], uint64(payload))
	if err := write(head[:]); err != nil {
		return n, meta, err
	}
	if err := write(meta[:ends[0]]); err != nil {
		return n, meta, err
	}
	for i := range r.Frames {
		if err := write(meta[ends[i]:ends[i+1]]); err != nil {
			return n, meta, err
		}
		if err := write(r.Frames[i].Data); err != nil {
			return n, meta, err
		}
	}
	var trail [trailSize]byte
	binary.LittleEndian.PutUint32(trail[:], crc.Sum32())
	k, err := w.Write(trail[:])
	n += int64(k)
	return n, meta, err
}

// checkHeader checks the magic and that the payload length matches a file
// of size bytes.
func checkHeader(head []byte, size int64) error {
	if size < Overhead || len(head) < headerSize {
		return fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorrupt, size)
	}
	if string(head[:8]) != magic {
		return fmt.Errorf("%w: bad magic %q", ErrCorrupt, head[:8])
	}
	if l := binary.LittleEndian.Uint64(head[8:]); l > uint64(math.MaxInt64-Overhead) || int64(l)+Overhead != size {
		return fmt.Errorf("%w: payload length %d in a file of %d bytes", ErrCorrupt, l, size)
	}
	return nil
}

// Decode parses a whole fragment file. The frames' Data alias b.
func Decode(b []byte) (*Record, error) {
	if err := checkHeader(b, int64(len(b))); err != nil {
		return nil, err
	}
	end := len(b) - trailSize
	if got, want := crc32.Checksum(b[:end], castagnoli), binary.LittleEndian.Uint32(b[end:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	d := decoder{b: b[headerSize:end]}
	r := &Record{}
	r.Stream = string(d.str())
	r.Timecode = d.varint()
	dur := d.uvarint()
	if dur > math.MaxInt64 {
		d.fail("duration out of range")
	}
	r.Duration = time.Duration(dur)
	nt := d.uvarint()
	if nt == 0 || nt > maxTracks {
		d.fail("track count")
	}
	for i := uint64(0); i < nt && d.err == nil; i++ {
		var t media.Track
		t.Number = d.uvarint()
		t.Kind = media.Kind(d.byte())
		t.Codec = media.Codec(d.str())
		if cp := d.str(); len(cp) > 0 {
			t.CodecPrivate = cp
		}
		t.Name = string(d.str())
		for _, p := range [...]*int{&t.Width, &t.Height, &t.SampleRate, &t.Channels} {
			v := d.uvarint()
			if v >= maxInt {
				d.fail("dimension or rate out of range")
			}
			*p = int(v)
		}
		r.Tracks = append(r.Tracks, t)
	}
	nf := d.uvarint()
	if nf > uint64(len(d.b)-d.off)/5 { // a frame takes at least 5 bytes
		d.fail("frame count")
	}
	if d.err == nil && nf > 0 {
		r.Frames = make([]media.Frame, 0, nf)
	}
	for i := uint64(0); i < nf && d.err == nil; i++ {
		var f media.Frame
		f.Track = d.uvarint()
		f.PTS = time.Duration(d.varint())
		f.DTS = time.Duration(d.varint())
		flags := d.byte()
		if flags&^1 != 0 {
			d.fail("frame flags")
		}
		f.Key = flags&1 != 0
		f.Data = d.str()
		r.Frames = append(r.Frames, f)
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return r, nil
}

// decoder reads the payload; the first error sticks.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at payload offset %d", ErrCorrupt, what, d.off)
	}
	d.off = len(d.b)
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("short payload")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

// str reads a length-prefixed byte string, aliasing the payload (capacity
// limited so an append cannot overwrite what follows).
func (d *decoder) str() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("string longer than the payload")
		return nil
	}
	s := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return s
}
