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

// accessUnit is what a depacketizer yields: one picture, or one audio
// frame, with its RTP timestamp.
type accessUnit struct {
	ts     uint32
	broken bool // packets were lost or malformed: the unit is incomplete (and has no data)
	// avcc tells that data holds video NAL units, each behind a 4-byte
	// length (AVCC/HVCC), rather than one audio frame.
	avcc bool
	// data is the unit's bytes, in a buffer of the depacketizer's pool that
	// the unit owns: the frame's data as it is.
	data []byte
}

// appendUnits appends the unit's NAL units (for audio: its frame) to dst; they
// point into data.
func (au *accessUnit) appendUnits(dst [][]byte) [][]byte {
	if !au.avcc {
		if len(au.data) > 0 {
			dst = append(dst, au.data)
		}
		return dst
	}
	for b := au.data; len(b) >= 4; {
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			break // not written by videoAssembler
		}
		dst = append(dst, b[4:4+n:4+n])
		b = b[4+n:]
	}
	return dst
}

// units returns the unit's NAL units (for audio: its frame).
func (au *accessUnit) units() [][]byte { return au.appendUnits(nil) }

// depacketizer turns the RTP packets of one track, in sequence order, into
// access units.
type depacketizer interface {
	// push consumes a packet and returns the access units it completes, in a
	// slice that is reused by the next push (the units' data are not). An
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
//
// The NAL units are gathered behind 4-byte lengths in avcc, which is reused
// from unit to unit; a fragmented NAL unit is reassembled in place there.
// Each finished unit is copied out of it into a buffer of its exact size
// from pool, so that the frames handed on hold no spare room.
type videoAssembler struct {
	ts      uint32
	started bool
	broken  bool
	loss    bool // a loss was signalled before the packet being pushed
	nalus   int  // NAL units complete in avcc

	fragAt int // where the fragmented NAL unit being reassembled starts in avcc, after its length; 0 when none

	avcc []byte
	pool *media.BufferPool
	out  []accessUnit // returned by push, reused
}

// begin starts processing packet p and returns the unit p's timestamp change
// completes, if any.
func (a *videoAssembler) begin(p *rtp.Packet) (out []accessUnit) {
	out = a.out[:0]
	if a.started && p.Timestamp != a.ts && a.pending() {
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
	if p.Marker && a.pending() {
		out = append(out, a.flush())
	}
	a.out = out
	return out
}

// pending reports whether a unit is under way.
func (a *videoAssembler) pending() bool { return a.nalus > 0 || a.fragAt > 0 || a.broken }

func (a *videoAssembler) flush() accessUnit {
	au := accessUnit{ts: a.ts, broken: a.broken || a.fragAt > 0, avcc: true}
	if !au.broken && a.nalus > 0 {
		au.data = a.pool.Clone(a.avcc)
	}
	a.avcc, a.nalus, a.fragAt, a.broken = a.avcc[:0], 0, 0, false
	return au
}

func (a *videoAssembler) lost() { a.loss = true }

// fits checks that n more bytes keep the unit within the bounds; otherwise
// the unit is broken.
func (a *videoAssembler) fits(n int) error {
	if len(a.avcc)+n > maxAccessUnitSize || a.nalus >= maxNALUs {
		a.broken = true
		return fmt.Errorf("%w: access unit larger than %d bytes or %d NAL units", ErrMalformed, maxAccessUnitSize, maxNALUs)
	}
	return nil
}

// add appends a complete NAL unit, given in one or more parts, behind its
// length.
func (a *videoAssembler) add(parts ...[]byte) error {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	if size == 0 {
		return nil
	}
	if a.fragAt > 0 {
		// A fragmented NAL unit that never ended: the unit is broken.
		a.broken = true
		a.dropFragment()
	}
	if err := a.fits(4 + size); err != nil {
		return err
	}
	a.avcc = binary.BigEndian.AppendUint32(a.avcc, uint32(size))
	for _, p := range parts {
		a.avcc = append(a.avcc, p...)
	}
	a.nalus++
	return nil
}

// startFragment begins a fragmented NAL unit with the reconstructed header.
func (a *videoAssembler) startFragment(hdr []byte, data []byte) error {
	if a.fragAt > 0 {
		a.broken = true // the previous fragmented unit never ended
		a.dropFragment()
	}
	if err := a.fits(4 + len(hdr) + len(data)); err != nil {
		return err
	}
	a.avcc = append(a.avcc, 0, 0, 0, 0) // the length, once known
	a.fragAt = len(a.avcc)
	a.avcc = append(append(a.avcc, hdr...), data...)
	return nil
}

// continueFragment appends a middle or end fragment; without a start it marks
// the unit broken.
func (a *videoAssembler) continueFragment(data []byte, end bool) error {
	if a.fragAt == 0 {
		a.broken = true
		return nil // the start was lost: already accounted as loss
	}
	if len(a.avcc)+len(data) > maxAccessUnitSize {
		a.broken = true
		a.dropFragment()
		return fmt.Errorf("%w: fragmented NAL unit larger than %d bytes", ErrMalformed, maxAccessUnitSize)
	}
	a.avcc = append(a.avcc, data...)
	if end {
		binary.BigEndian.PutUint32(a.avcc[a.fragAt-4:], uint32(len(a.avcc)-a.fragAt))
		a.fragAt = 0
		a.nalus++
	}
	return nil
}

// dropFragment forgets the fragmented NAL unit under way, if any.
func (a *videoAssembler) dropFragment() {
	if a.fragAt > 0 {
		a.avcc = a.avcc[:a.fragAt-4]
		a.fragAt = 0
	}
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
			return d.a.startFragment([]byte{b[0]&0xe0 | b[1]&0x1f}, b[2:])
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
			return d.a.startFragment([]byte{b[0]&0x81 | (fu&0x3f)<<1, b[1]}, data)
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
			return d.a.add(b[:2], b[4:]) // the header without the DONL field
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
	return []accessUnit{{ts: p.Timestamp, data: append([]byte(nil), p.Payload...)}}, nil
}
