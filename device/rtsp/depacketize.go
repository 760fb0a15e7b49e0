package rtsp

import (
	"encoding/binary"
	"fmt"

	"kvskit/media"

	"github.com/pion/rtp"
)

// maxAccessUnitSize bounds the bytes a depacketizer collects for one access
// unit; a larger one is dropped as broken.
const maxAccessUnitSize = 16 << 20

// maxNALUs bounds the NAL units of one access unit.
const maxNALUs = 1024

// accessUnit is what a depacketizer yields: the NAL units of one picture, or
// one audio frame, with its RTP timestamp. The byte slices are owned by the
// access unit.
type accessUnit struct {
	ts     uint32
	nalus  [][]byte
	broken bool // packets were lost or malformed: the unit is incomplete
	// avcc holds the video units' NAL units in order, each behind a 4-byte
	// length: the frame's data when every NAL unit is kept.
	avcc []byte
}

// depacketizer turns the RTP packets of one track, in sequence order, into
// access units.
type depacketizer interface {
	// push consumes a packet and returns the access units it completes. An
	// error reports a malformed packet; the unit it belongs to is then
	// returned broken.
	push(p *rtp.Packet) ([]accessUnit, error)
	// lost tells that packets were lost just before the next push.
	lost()
}

// videoAssembler collects the NAL units of one access unit for the H.264 and
// H.265 depacketizers: a unit ends at the marker bit, or when the timestamp
// changes, and is broken if a packet inside it (or just before it) was lost
// or malformed.
type videoAssembler struct {
	nalus   [][]byte
	size    int
	ts      uint32
	started bool
	broken  bool
	loss    bool // a loss was signalled before the packet being pushed

	frag    []byte // a fragmented NAL unit being reassembled
	fragOn  bool
	fragBad bool

	// avcc gathers the unit's NAL units behind 4-byte lengths; it is reused
	// from unit to unit, and each finished unit is copied out of it into a
	// buffer of its exact size from pool. offs holds where each NAL unit
	// starts in it (nalus point into it meanwhile).
	avcc []byte
	offs []int
	pool *media.BufferPool
}

// begin starts processing packet p and returns the unit p's timestamp change
// completes, if any.
func (a *videoAssembler) begin(p *rtp.Packet) (out []accessUnit) {
	if a.started && p.Timestamp != a.ts && (len(a.nalus) > 0 || a.fragOn || a.broken) {
		out = append(out, a.flush())
	}
	a.ts, a.started = p.Timestamp, true
	if a.loss {
		// The lost packets may have belonged to the unit that just ended, to
		// this one, or to both: both are treated as broken.
		a.broken = true
		a.dropFragment()
		a.loss = false
	}
	return out
}

// end finishes processing packet p and returns the unit its marker bit
// completes, if any.
func (a *videoAssembler) end(p *rtp.Packet, out []accessUnit) []accessUnit {
	if p.Marker && (len(a.nalus) > 0 || a.fragOn || a.broken) {
		out = append(out, a.flush())
	}
	return out
}

func (a *videoAssembler) flush() accessUnit {
	au := accessUnit{ts: a.ts, broken: a.broken || a.fragOn}
	if !au.broken && len(a.nalus) > 0 {
		au.avcc = a.pool.Clone(a.avcc)
		au.nalus = make([][]byte, len(a.nalus))
		for i, o := range a.offs {
			end := o + len(a.nalus[i])
			au.nalus[i] = au.avcc[o:end:end]
		}
	}
	clear(a.nalus)
	a.nalus, a.offs, a.avcc = a.nalus[:0], a.offs[:0], a.avcc[:0]
	a.size, a.broken = 0, false
	a.dropFragment()
	return au
}

func (a *videoAssembler) lost() { a.loss = true }

// add appends a complete NAL unit, copying it behind its length into avcc.
func (a *videoAssembler) add(nalu []byte) error {
	if len(nalu) == 0 {
		return nil
	}
	if a.size+len(nalu) > maxAccessUnitSize || len(a.nalus) >= maxNALUs {
		a.broken = true
		return fmt.Errorf("%w: access unit larger than %d bytes or %d NAL units", ErrMalformed, maxAccessUnitSize, maxNALUs)
	}
	a.avcc = binary.BigEndian.AppendUint32(a.avcc, uint32(len(nalu)))
	a.offs = append(a.offs, len(a.avcc))
	a.avcc = append(a.avcc, nalu...)
	n := len(a.avcc)
	a.nalus = append(a.nalus, a.avcc[n-len(nalu):n:n])
	a.size += len(nalu)
	return nil
}

// startFragment begins a fragmented NAL unit with the reconstructed header.
func (a *videoAssembler) startFragment(hdr []byte, data []byte) {
	if a.fragOn {
		a.broken = true // the previous fragmented unit never ended
	}
	a.frag = append(append(a.frag[:0], hdr...), data...)
	a.fragOn, a.fragBad = true, false
}

// continueFragment appends a middle or end fragment; without a start it marks
// the unit broken.
func (a *videoAssembler) continueFragment(data []byte, end bool) error {
	if !a.fragOn {
		a.broken = true
		return nil // the start was lost: already accounted as loss
	}
	if len(a.frag)+len(data)+a.size > maxAccessUnitSize {
		a.broken = true
		a.dropFragment()
		return fmt.Errorf("%w: fragmented NAL unit larger than %d bytes", ErrMalformed, maxAccessUnitSize)
	}
	a.frag = append(a.frag, data...)
	if end {
		err := a.add(a.frag)
		a.dropFragment()
		return err
	}
	return nil
}

func (a *videoAssembler) dropFragment() {
	a.frag = a.frag[:0]
	a.fragOn = false
}

// h264Depacketizer implements RFC 6184 packetization modes 0 and 1: single NAL
// unit packets, STAP-A and FU-A.
type h264Depacketizer struct{ a videoAssembler }

func (d *h264Depacketizer) lost() { d.a.lost() }

func (d *h264Depacketizer) push(p *rtp.Packet) ([]accessUnit, error) {
	out := d.a.begin(p)
	err := d.parse(p.Payload)
	if err != nil {
		d.a.broken = true
	}
	return d.a.end(p, out), err
}

func (d *h264Depacketizer) parse(b []byte) error {
	if len(b) == 0 {
		return nil // an empty payload carries nothing (some senders pad with them)
	}
	switch typ := b[0] & 0x1f; {
	case typ >= 1 && typ <= 23:
		return d.a.add(b)
	case typ == 24: // STAP-A
		b = b[1:]
		for len(b) > 0 {
			if len(b) < 2 {
				return fmt.Errorf("%w: H.264 STAP-A truncated", ErrMalformed)
			}
			n := int(binary.BigEndian.Uint16(b))
			if n == 0 || 2+n > len(b) {
				return fmt.Errorf("%w: H.264 STAP-A unit of %d bytes in %d", ErrMalformed, n, len(b)-2)
			}
			if err := d.a.add(b[2 : 2+n]); err != nil {
				return err
			}
			b = b[2+n:]
		}
		return nil
	case typ == 28: // FU-A
		if len(b) < 2 {
			return fmt.Errorf("%w: H.264 FU-A truncated", ErrMalformed)
		}
		start, end := b[1]&0x80 != 0, b[1]&0x40 != 0
		if start && end {
			return fmt.Errorf("%w: H.264 FU-A with start and end bits", ErrMalformed)
		}
		if start {
			d.a.startFragment([]byte{b[0]&0xe0 | b[1]&0x1f}, b[2:])
			return nil
		}
		return d.a.continueFragment(b[2:], end)
	default: // 0, STAP-B, MTAP16, MTAP24, FU-B, reserved
		return fmt.Errorf("%w: H.264 packet type %d not supported", ErrMalformed, typ)
	}
}

// h265Depacketizer implements RFC 7798: single NAL unit packets, aggregation
// packets (AP) and fragmentation units (FU), with DONL/DOND fields when the
// stream declares sprop-max-don-diff > 0. PACI packets are skipped.
type h265Depacketizer struct {
	a    videoAssembler
	donl bool
}

func (d *h265Depacketizer) lost() { d.a.lost() }

func (d *h265Depacketizer) push(p *rtp.Packet) ([]accessUnit, error) {
	out := d.a.begin(p)
	err := d.parse(p.Payload)
	if err != nil {
		d.a.broken = true
	}
	return d.a.end(p, out), err
}

func (d *h265Depacketizer) parse(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if len(b) < 3 {
		return fmt.Errorf("%w: H.265 packet of %d bytes", ErrMalformed, len(b))
	}
	if b[0]&0x80 != 0 {
		return fmt.Errorf("%w: H.265 forbidden_zero_bit set", ErrMalformed)
	}
	switch typ := (b[0] >> 1) & 0x3f; typ {
	case 48: // aggregation packet
		b = b[2:]
		for i := 0; len(b) > 0; i++ {
			if d.donl {
				skip := 1 // DOND
				if i == 0 {
					skip = 2 // DONL
				}
				if len(b) < skip {
					return fmt.Errorf("%w: H.265 AP truncated", ErrMalformed)
				}
				b = b[skip:]
			}
			if len(b) < 2 {
				return fmt.Errorf("%w: H.265 AP truncated", ErrMalformed)
			}
			n := int(binary.BigEndian.Uint16(b))
			if n < 2 || 2+n > len(b) {
				return fmt.Errorf("%w: H.265 AP unit of %d bytes in %d", ErrMalformed, n, len(b)-2)
			}
			if err := d.a.add(b[2 : 2+n]); err != nil {
				return err
			}
			b = b[2+n:]
		}
		return nil
	case 49: // fragmentation unit
		fu := b[2]
		start, end := fu&0x80 != 0, fu&0x40 != 0
		data := b[3:]
		if d.donl && start { // only the first fragment carries DONL
			if len(data) < 2 {
				return fmt.Errorf("%w: H.265 FU truncated", ErrMalformed)
			}
			data = data[2:]
		}
		if start && end {
			return fmt.Errorf("%w: H.265 FU with start and end bits", ErrMalformed)
		}
		if start {
			hdr := []byte{b[0]&0x81 | (fu&0x3f)<<1, b[1]}
			d.a.startFragment(hdr, data)
			return nil
		}
		return d.a.continueFragment(data, end)
	case 50: // PACI: payload content information, not needed
		return nil
	default:
		if typ > 50 {
			return fmt.Errorf("%w: H.265 packet type %d not supported", ErrMalformed, typ)
		}
		if d.donl {
			if len(b) < 4 {
				return fmt.Errorf("%w: H.265 packet truncated", ErrMalformed)
			}
			nalu := make([]byte, 0, len(b)-2)
			nalu = append(append(nalu, b[:2]...), b[4:]...)
			return d.a.add(nalu)
		}
		return d.a.add(b)
	}
}

// g711Depacketizer passes each packet's payload on as one frame (RFC 3551
// PCMU/PCMA).
type g711Depacketizer struct{}

func (g711Depacketizer) lost() {}

func (g711Depacketizer) push(p *rtp.Packet) ([]accessUnit, error) {
	if len(p.Payload) == 0 {
		return nil, nil
	}
	return []accessUnit{{ts: p.Timestamp, nalus: [][]byte{append([]byte(nil), p.Payload...)}}}, nil
}
