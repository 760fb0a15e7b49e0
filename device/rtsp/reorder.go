package rtsp

import (
	"time"

	"github.com/pion/rtp"
)

// Reordering limits for UDP.
const (
	reorderSize  = 64                    // packets held at most
	reorderDelay = 50 * time.Millisecond // how long a gap is waited for
)

// heldPacket is a packet with its arrival time.
type heldPacket struct {
	p  *rtp.Packet
	at time.Duration
}

// reorderer puts the RTP packets of a UDP track back in sequence order: a
// packet after a gap is held until the missing ones arrive, for at most
// reorderDelay or reorderSize packets; then the gap is given up (and counted
// as lost by the caller). Late and duplicate packets pass through for the
// caller to drop.
type reorderer struct {
	started bool
	next    uint16 // the sequence number expected
	held    [reorderSize]*heldPacket
	n       int
	oldest  time.Duration
}

// push takes packet p (whose payload may be reused after the call) and
// returns the packets that can be processed now, in order.
func (r *reorderer) push(p *rtp.Packet, at time.Duration, out []heldPacket) []heldPacket {
	if !r.started {
		r.started, r.next = true, p.SequenceNumber+1
		return append(out, heldPacket{p, at})
	}
	switch d := int16(p.SequenceNumber - r.next); {
	case d == 0:
		r.next++
		out = append(out, heldPacket{p, at})
		return r.drain(out)
	case d < 0:
		return append(out, heldPacket{p, at}) // late, duplicate, or a restarted sender
	case int(d) >= reorderSize:
		// Too far ahead to wait for: give the gap up.
		out = r.flush(out)
		r.next = p.SequenceNumber + 1
		return append(out, heldPacket{p, at})
	default:
		slot := &r.held[p.SequenceNumber%reorderSize]
		if *slot != nil {
			return out // a duplicate of a held packet
		}
		c := *p
		c.Payload = append([]byte(nil), p.Payload...)
		c.CSRC, c.Extensions = nil, nil
		*slot = &heldPacket{&c, at}
		if r.n == 0 {
			r.oldest = at
		}
		r.n++
		return r.expire(at, out)
	}
}

// expire gives the gap up when the held packets waited long enough.
func (r *reorderer) expire(now time.Duration, out []heldPacket) []heldPacket {
	if r.n > 0 && (now-r.oldest >= reorderDelay || r.n >= reorderSize/2) {
		out = r.flush(out)
	}
	return out
}

// drain returns the held packets that follow on without a gap.
func (r *reorderer) drain(out []heldPacket) []heldPacket {
	for r.n > 0 {
		slot := &r.held[r.next%reorderSize]
		h := *slot
		if h == nil || h.p.SequenceNumber != r.next {
			break
		}
		*slot = nil
		r.n--
		r.next++
		out = append(out, *h)
	}
	if r.n > 0 {
		r.oldest = r.oldestHeld()
	}
	return out
}

// flush returns all held packets in order, skipping the gaps.
func (r *reorderer) flush(out []heldPacket) []heldPacket {
	base := r.next
	for i := 0; r.n > 0 && i < reorderSize; i++ {
		slot := &r.held[(base+uint16(i))%reorderSize]
		if h := *slot; h != nil {
			*slot = nil
			r.n--
			out = append(out, *h)
			r.next = h.p.SequenceNumber + 1
		}
	}
	return out
}

func (r *reorderer) oldestHeld() time.Duration {
	first := true
	var oldest time.Duration
	for _, h := range r.held {
		if h != nil && (first || h.at < oldest) {
			oldest, first = h.at, false
		}
	}
	return oldest
}
