package device

import (
	"time"

	"kvskit/media"
	"kvskit/media/aac"
	"kvskit/media/h264"
	"kvskit/media/h265"
)

// packet is a frame as a demuxer produces it: timestamps in nanoseconds on
// the container's clock (possibly negative), data owned by the packet and, for
// video, in 4-byte length-prefixed form.
type packet struct {
	track    int // index into the demuxer's tracks
	pts, dts int64
	key      bool
	data     []byte
}

// demuxer is what each format implements. It returns each track's packets in
// decoding order; packets of different tracks may come in any order.
type demuxer interface {
	format() Format
	// tracks returns the tracks, which may lack CodecPrivate until the
	// stream provides it; the source completes them (see trackInfo.resolve).
	// A demuxer may itself complete a track before it returns the track's
	// first packet.
	tracks() []*trackInfo
	// next returns the next packet, io.EOF at the end.
	next() (packet, error)
	// done reports whether track i will return no more packets.
	done(i int) bool
	close() error
}

// trackInfo is a track as a demuxer knows it.
type trackInfo struct {
	media.Track
}

// ready reports whether the track has what a consumer needs to decode it.
func (t *trackInfo) ready() bool {
	switch t.Codec {
	case media.CodecH264, media.CodecH265, media.CodecAAC:
		return len(t.CodecPrivate) > 0
	}
	return true
}

// resolve builds the decoder configuration of a video track from the
// parameter sets in data, a length-prefixed access unit, and reports
// whether it succeeded.
func (t *trackInfo) resolve(data []byte) bool {
	nalus, err := h264.SplitAVCC(data)
	if err != nil {
		return false
	}
	var rec []byte
	switch t.Codec {
	case media.CodecH264:
		sps, pps := h264.ParameterSets(nalus)
		if len(sps) == 0 || len(pps) == 0 {
			return false
		}
		rec, err = h264.BuildAVCC(sps, pps)
	case media.CodecH265:
		vps, sps, pps := h265.ParameterSets(nalus)
		if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
			return false
		}
		rec, err = h265.BuildHVCC(vps, sps, pps)
	default:
		return false
	}
	if err != nil {
		return false
	}
	t.CodecPrivate = rec
	return true
}

// complete fills the picture size or the audio parameters from the decoder
// configuration, keeping the container's values where it cannot be parsed.
func (t *trackInfo) complete() {
	switch t.Codec {
	case media.CodecH264:
		if c, err := h264.ParseAVCC(t.CodecPrivate); err == nil && len(c.SPS) > 0 {
			if sps, err := h264.ParseSPS(c.SPS[0]); err == nil {
				t.Width, t.Height = sps.Width(), sps.Height()
			}
		}
	case media.CodecH265:
		if c, err := h265.ParseHVCC(t.CodecPrivate); err == nil {
			if _, sps, _ := c.ParameterSets(); len(sps) > 0 {
				if s, err := h265.ParseSPS(sps[0]); err == nil {
					t.Width, t.Height = s.Width(), s.Height()
				}
			}
		}
	case media.CodecAAC:
		if c, err := aac.ParseAudioSpecificConfig(t.CodecPrivate); err == nil {
			if r := c.OutputSampleRate(); r > 0 {
				t.SampleRate = r
			}
			if n := c.Channels(); n > 0 {
				t.Channels = n
			}
		}
	}
}

// interleaver queues packets per output track and releases them in DTS
// order.
type interleaver struct {
	q     [][]packet
	head  []int
	bytes int
}

func (il *interleaver) init(n int) {
	il.q = make([][]packet, n)
	il.head = make([]int, n)
}

func (il *interleaver) push(o int, p packet) {
	il.q[o] = append(il.q[o], p)
	il.bytes += len(p.data)
}

func (il *interleaver) pop(o int) packet {
	p := il.q[o][il.head[o]]
	il.q[o][il.head[o]] = packet{}
	il.head[o]++
	if il.head[o] == len(il.q[o]) {
		il.q[o] = il.q[o][:0]
		il.head[o] = 0
	} else if il.head[o] > 64 && il.head[o] > len(il.q[o])/2 {
		n := copy(il.q[o], il.q[o][il.head[o]:])
		clear(il.q[o][n:])
		il.q[o] = il.q[o][:n]
		il.head[o] = 0
	}
	il.bytes -= len(p.data)
	return p
}

// pick returns the track whose queued head has the smallest DTS, provided
// no other track could still deliver an earlier one: every track with an
// empty queue must have ended, unless the queues exceed their limits.
func (il *interleaver) pick(ended bool, done func(int) bool) (int, bool) {
	best, waiting := -1, false
	var minHead, maxTail int64
	for o, q := range il.q {
		if il.head[o] == len(q) {
			if !ended && !done(o) {
				waiting = true
			}
			continue
		}
		h, t := q[il.head[o]].dts, q[len(q)-1].dts
		if best < 0 || h < minHead {
			best, minHead = o, h
		}
		if best < 0 || t > maxTail {
			maxTail = t
		}
	}
	if best < 0 {
		return 0, false
	}
	if waiting && il.bytes <= maxQueueBytes && maxTail-minHead <= maxQueueSpan {
		return 0, false
	}
	return best, true
}

// spanTracker follows the range of timestamps seen.
type spanTracker struct {
	min, max int64
	set      bool
}

func (s *spanTracker) add(v int64) {
	if !s.set {
		s.min, s.max, s.set = v, v, true
		return
	}
	s.min, s.max = min(s.min, v), max(s.max, v)
}

func (s *spanTracker) width() int64 { return s.max - s.min }

func dur(ns int64) time.Duration { return time.Duration(ns) }

func fmtDur(ns int64) string { return time.Duration(ns).String() }

// validAVCC reports whether b is a sequence of NAL units each preceded by a
// 4-byte big-endian length, without allocating (h264.SplitAVCC, which checks
// the same, returns the units).
func validAVCC(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 4 {
			return false
		}
		n := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		b = b[4:]
		if n > uint64(len(b)) {
			return false
		}
		b = b[n:]
	}
	return true
}

// hasStartCode reports whether b begins with an Annex-B start code.
func hasStartCode(b []byte) bool {
	return len(b) >= 3 && b[0] == 0 && b[1] == 0 && (b[2] == 1 || len(b) >= 4 && b[2] == 0 && b[3] == 1)
}

// videoPayload returns a fresh copy of the video sample b in 4-byte
// length-prefixed form, converting from lengthSize-byte prefixes or from
// Annex-B. ok is false when b is neither.
func videoPayload(pool *media.BufferPool, b []byte, lengthSize int) (out []byte, ok bool) {
	if lengthSize == 4 && validAVCC(b) {
		return pool.Clone(b), true
	}
	if lengthSize != 4 && lengthSize > 0 {
		if nalus, err := h264.SplitLengthPrefixed(b, lengthSize); err == nil {
			return h264.AppendLengthPrefixed(pool.Get(len(b) + 4*len(nalus))[:0], nalus...), true
		}
	}
	if hasStartCode(b) {
		return h264.AnnexBToAVCC(pool.Get(len(b) + len(b)/4 + 4)[:0], b), true
	}
	return nil, false
}

// packetQueue is the FIFO of packets a streaming demuxer has parsed but not
// yet returned. Its storage is reused once it has been drained.
type packetQueue struct {
	items []packet
	head  int
}

func (q *packetQueue) push(p packet) { q.items = append(q.items, p) }

func (q *packetQueue) pop() (packet, bool) {
	if q.head == len(q.items) {
		return packet{}, false
	}
	p := q.items[q.head]
	q.items[q.head] = packet{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return p, true
}
