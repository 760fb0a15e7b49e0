package rtsp

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"kvskit/media"

	"github.com/pion/rtp"
)

// aacDepacketizer implements RFC 3640 (mpeg4-generic) for AAC: AU headers
// with the sizes given in the fmtp parameters, several access units per
// packet, and access units fragmented over several packets.
type aacDepacketizer struct {
	pool              *media.BufferPool // where frames' buffers come from
	sizeLength        int
	indexLength       int
	indexDeltaLength  int
	ctsDeltaLength    int
	dtsDeltaLength    int
	randomAccess      bool
	streamStateLength int
	frameSamples      uint32 // samples per AAC frame: the RTP timestamp step between units

	out      []accessUnit // returned by push, reused
	sizes    []int        // of the units of a packet, reused
	frag     []byte
	fragSize int
	fragTS   uint32
	fragOn   bool
	loss     bool
}

// newAACDepacketizer configures a depacketizer from the fmtp parameters.
func newAACDepacketizer(fmtp map[string]string, frameSamples int) (*aacDepacketizer, error) {
	d := &aacDepacketizer{frameSamples: uint32(frameSamples)}
	mode := strings.ToLower(fmtp["mode"])
	if mode != "" && mode != "aac-hbr" && mode != "aac-lbr" && mode != "generic" {
		return nil, fmt.Errorf("%w: mpeg4-generic mode %q not supported", ErrNoTracks, fmtp["mode"])
	}
	fields := []struct {
		name string
		dst  *int
	}{
		{"sizelength", &d.sizeLength},
		{"indexlength", &d.indexLength},
		{"indexdeltalength", &d.indexDeltaLength},
		{"ctsdeltalength", &d.ctsDeltaLength},
		{"dtsdeltalength", &d.dtsDeltaLength},
		{"streamstateindication", &d.streamStateLength},
	}
	for _, f := range fields {
		v, ok := fmtp[f.name]
		if !ok || v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 32 {
			return nil, fmt.Errorf("%w: mpeg4-generic %s=%q", ErrMalformed, f.name, v)
		}
		*f.dst = n
	}
	if v := fmtp["randomaccessindication"]; v != "" && v != "0" {
		d.randomAccess = true
	}
	if d.sizeLength == 0 {
		return nil, fmt.Errorf("%w: mpeg4-generic without sizelength (constant-size units) not supported", ErrNoTracks)
	}
	return d, nil
}

func (d *aacDepacketizer) lost() { d.loss = true }

// bitReader reads big-endian bit fields of at most 32 bits.
type bitReader struct {
	b   []byte
	pos int // in bits
	end int // in bits
}

func (r *bitReader) read(n int) (uint32, bool) {
	if n == 0 {
		return 0, true
	}
	if r.pos+n > r.end {
		return 0, false
	}
	var v uint32
	for i := 0; i < n; i++ {
		bit := r.b[(r.pos+i)/8] >> (7 - uint((r.pos+i)%8)) & 1
		v = v<<1 | uint32(bit)
	}
	r.pos += n
	return v, true
}

func (d *aacDepacketizer) push(p *rtp.Packet) ([]accessUnit, error) {
	out, err := d.parse(p, d.out[:0])
	d.out = out
	return out, err
}

func (d *aacDepacketizer) parse(p *rtp.Packet, out []accessUnit) ([]accessUnit, error) {
	if d.loss {
		d.loss = false
		if d.fragOn {
			out = append(out, accessUnit{ts: d.fragTS, broken: true})
			d.fragOn = false
		}
	}
	if d.fragOn && p.Timestamp != d.fragTS {
		out = append(out, accessUnit{ts: d.fragTS, broken: true})
		d.fragOn = false
	}
	b := p.Payload
	if len(b) < 2 {
		return out, fmt.Errorf("%w: AAC packet of %d bytes", ErrMalformed, len(b))
	}
	headerBits := int(binary.BigEndian.Uint16(b))
	headerBytes := (headerBits + 7) / 8
	if 2+headerBytes > len(b) {
		return out, fmt.Errorf("%w: AAC AU headers of %d bits in %d bytes", ErrMalformed, headerBits, len(b)-2)
	}
	r := bitReader{b: b[2 : 2+headerBytes], end: headerBits}
	data := b[2+headerBytes:]
	sizes := d.sizes[:0]
	defer func() { d.sizes = sizes[:0] }()
	for r.pos < r.end {
		size, ok := r.read(d.sizeLength)
		idxLen := d.indexDeltaLength
		if len(sizes) == 0 {
			idxLen = d.indexLength
		}
		_, ok2 := r.read(idxLen)
		ok = ok && ok2
		if d.ctsDeltaLength > 0 {
			flag, ok3 := r.read(1)
			ok = ok && ok3
			if flag == 1 {
				_, ok3 = r.read(d.ctsDeltaLength)
				ok = ok && ok3
			}
		}
		if d.dtsDeltaLength > 0 {
			flag, ok3 := r.read(1)
			ok = ok && ok3
			if flag == 1 {
				_, ok3 = r.read(d.dtsDeltaLength)
				ok = ok && ok3
			}
		}
		if d.randomAccess {
			_, ok3 := r.read(1)
			ok = ok && ok3
		}
		if d.streamStateLength > 0 {
			_, ok3 := r.read(d.streamStateLength)
			ok = ok && ok3
		}
		if !ok {
			return out, fmt.Errorf("%w: AAC AU header truncated", ErrMalformed)
		}
		if len(sizes) >= maxNALUs {
			return out, fmt.Errorf("%w: more than %d AAC units in a packet", ErrMalformed, maxNALUs)
		}
		sizes = append(sizes, int(size))
	}
	if len(sizes) == 0 {
		return out, fmt.Errorf("%w: AAC packet without AU headers", ErrMalformed)
	}

	// A single unit larger than the payload is fragmented over packets with
	// the same timestamp; the last one carries the marker bit.
	if len(sizes) == 1 && (sizes[0] > len(data) || d.fragOn) {
		if !d.fragOn {
			d.frag, d.fragSize, d.fragTS, d.fragOn = append(d.frag[:0], data...), sizes[0], p.Timestamp, true
		} else {
			if sizes[0] != d.fragSize {
				d.fragOn = false
				return append(out, accessUnit{ts: d.fragTS, broken: true}),
					fmt.Errorf("%w: AAC fragment size %d, unit size was %d", ErrMalformed, sizes[0], d.fragSize)
			}
			d.frag = append(d.frag, data...)
		}
		switch {
		case len(d.frag) == d.fragSize:
			d.fragOn = false
			return append(out, accessUnit{ts: d.fragTS, data: d.pool.Clone(d.frag)}), nil
		case len(d.frag) > d.fragSize || p.Marker:
			d.fragOn = false
			return append(out, accessUnit{ts: d.fragTS, broken: true}),
				fmt.Errorf("%w: AAC fragments of %d bytes for a unit of %d", ErrMalformed, len(d.frag), d.fragSize)
		}
		return out, nil
	}

	for i, n := range sizes {
		if n > len(data) {
			return append(out, accessUnit{ts: p.Timestamp + uint32(i)*d.frameSamples, broken: true}),
				fmt.Errorf("%w: AAC unit of %d bytes, %d left", ErrMalformed, n, len(data))
		}
		if n > 0 {
			out = append(out, accessUnit{
				ts:   p.Timestamp + uint32(i)*d.frameSamples,
				data: d.pool.Clone(data[:n]),
			})
		}
		data = data[n:]
	}
	return out, nil
}
