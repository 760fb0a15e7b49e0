package device

import (
	"encoding/binary"
	"fmt"
)

// Limits of the MP4 reader.
const (
	// maxMP4BoxSize bounds the boxes read into memory (moov, moof).
	maxMP4BoxSize = 64 << 20
	// maxSampleSize bounds one sample.
	maxSampleSize = 64 << 20
	// maxEmptySamples bounds the zero-size samples skipped in a track.
	maxEmptySamples = 1 << 16
	// maxTrunSamples bounds the samples of one track run.
	maxTrunSamples = 1 << 24
)

// bin reads big-endian fields from a box body and records when it runs
// out of bytes, returning zero values from then on.
type bin struct {
	b     []byte
	short bool
}

func (r *bin) take(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.short = true
		r.b = nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *bin) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *bin) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *bin) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *bin) skip(n int) { r.take(n) }

// fullBox reads the version and flags of a FullBox.
func (r *bin) fullBox() (version uint8, flags uint32) {
	v := r.u32()
	return uint8(v >> 24), v & 0xFFFFFF
}

// mp4Box is a box held in memory.
type mp4Box struct {
	typ  string
	path string // e.g. "moov/trak/mdia"
	off  int64  // offset of the box's first byte in the file
	hdr  int    // header length; the body starts at off+hdr
	body []byte
}

// boxHeader returns the type, header length and total size of the box
// whose header starts b (size -1: up to the end of the enclosing data). need
// is non-zero when b is too short to tell, giving the bytes needed.
func boxHeader(b []byte) (typ string, hdr int, size int64, need int) {
	if len(b) < 8 {
		return "", 0, 0, 8
	}
	typ = boxType(b[4:8])
	hdr = 8
	size = int64(binary.BigEndian.Uint32(b))
	switch size {
	case 0:
		size = -1
	case 1:
		if len(b) < 16 {
			return typ, 0, 0, 16
		}
		u := binary.BigEndian.Uint64(b[8:])
		if u > 1<<62 {
			u = 1 << 62
		}
		size, hdr = int64(u), 16
	}
	if typ == "uuid" {
		hdr += 16
		if len(b) < hdr {
			return typ, 0, 0, hdr
		}
	}
	return typ, hdr, size, 0
}

// boxType returns a box type as text, escaping bytes that are not printable.
func boxType(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%q", b)
		}
	}
	return string(b)
}

// children splits the body of box p into its child boxes. Up to 7 trailing
// bytes (some writers end containers with a zero terminator) are ignored.
func children(p mp4Box, skipBytes int) ([]mp4Box, error) {
	b := p.body
	if skipBytes > len(b) {
		return nil, mp4Errorf(ErrInvalid, "%s box at offset %d is %d bytes, too short for its fields", p.path, p.off, len(b))
	}
	b = b[skipBytes:]
	pos := p.off + int64(p.hdr+skipBytes)
	var out []mp4Box
	for len(b) >= 8 {
		typ, hdr, size, need := boxHeader(b)
		if need > 0 {
			return nil, mp4Errorf(ErrInvalid, "%s box at offset %d: child box header at offset %d is cut short", p.path, p.off, pos)
		}
		if size < 0 {
			size = int64(len(b))
		}
		if size < int64(hdr) || size > int64(len(b)) {
			return nil, mp4Errorf(ErrInvalid, "%s box at offset %d: child %s box at offset %d declares %d bytes but %d remain", p.path, p.off, typ, pos, size, len(b))
		}
		out = append(out, mp4Box{typ: typ, path: p.path + "/" + typ, off: pos, hdr: hdr, body: b[hdr:size]})
		b = b[size:]
		pos += size
	}
	return out, nil
}

func mp4Errorf(kind error, format string, args ...any) error {
	return errorf(FormatMP4, kind, format, args...)
}

func mp4Short(b mp4Box) error {
	return mp4Errorf(ErrInvalid, "%s box at offset %d is %d bytes, too short for its fields", b.path, b.off, len(b.body))
}
