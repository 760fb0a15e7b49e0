package rtsp

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/pion/rtp"
)

// Packetizers for the tests: the sending side of RFC 6184, RFC 7798 and
// RFC 3640, written from the RFCs independently of the depacketizers.

// packetizeH264 splits the NAL units of one access unit into payloads of at
// most mtu bytes: single NAL unit packets, STAP-A for runs of small units
// when aggregate is set, FU-A for units larger than mtu.
func packetizeH264(au [][]byte, mtu int, aggregate bool) [][]byte {
	var out [][]byte
	var stap []byte
	nStap := 0
	flush := func() {
		switch nStap {
		case 0:
		case 1: // a single unit goes alone
			out = append(out, append([]byte(nil), stap[3:]...))
		default:
			out = append(out, stap)
		}
		stap, nStap = nil, 0
	}
	for _, n := range au {
		if len(n) > mtu {
			flush()
			hdr := n[0]
			data := n[1:]
			for first := true; len(data) > 0; first = false {
				k := min(len(data), mtu-2)
				fu := []byte{hdr&0xe0 | 28, hdr & 0x1f}
				if first {
					fu[1] |= 0x80
				}
				if k == len(data) {
					fu[1] |= 0x40
				}
				out = append(out, append(fu, data[:k]...))
				data = data[k:]
			}
			continue
		}
		if !aggregate {
			out = append(out, append([]byte(nil), n...))
			continue
		}
		if nStap > 0 && len(stap)+2+len(n) > mtu {
			flush()
		}
		if nStap == 0 {
			stap = []byte{0}
		}
		stap[0] = max(stap[0]&0x60, n[0]&0x60) | 24 // NRI: the highest of the units
		stap = binary.BigEndian.AppendUint16(stap, uint16(len(n)))
		stap = append(stap, n...)
		nStap++
	}
	flush()
	return out
}

// packetizeH265 is packetizeH264 for H.265: AP (type 48) and FU (type 49).
func packetizeH265(au [][]byte, mtu int, aggregate bool) [][]byte {
	var out [][]byte
	var ap []byte
	nAP := 0
	flush := func() {
		switch nAP {
		case 0:
		case 1:
			out = append(out, append([]byte(nil), ap[4:]...))
		default:
			out = append(out, ap)
		}
		ap, nAP = nil, 0
	}
	for _, n := range au {
		if len(n) > mtu {
			flush()
			typ := n[0] >> 1 & 0x3f
			data := n[2:]
			for first := true; len(data) > 0; first = false {
				k := min(len(data), mtu-3)
				p := []byte{n[0]&0x81 | 49<<1, n[1], typ}
				if first {
					p[2] |= 0x80
				}
				if k == len(data) {
					p[2] |= 0x40
				}
				out = append(out, append(p, data[:k]...))
				data = data[k:]
			}
			continue
		}
		if !aggregate {
			out = append(out, append([]byte(nil), n...))
			continue
		}
		if nAP > 0 && len(ap)+2+len(n) > mtu {
			flush()
		}
		if nAP == 0 {
			ap = []byte{48 << 1, 1} // layer 0, temporal ID 1
		}
		ap = binary.BigEndian.AppendUint16(ap, uint16(len(n)))
		ap = append(ap, n...)
		nAP++
	}
	flush()
	return out
}

// packetizeAAC puts AAC frames into RFC 3640 AAC-hbr payloads (13-bit sizes,
// 3-bit indexes) of at most mtu bytes: several frames per packet when they
// fit, a frame larger than a packet in fragments. It returns each payload
// with the index of its first frame and whether it ends a frame.
func packetizeAAC(frames [][]byte, mtu int) (payloads [][]byte, first []int, ends []bool) {
	for i := 0; i < len(frames); {
		// How many frames fit?
		n, size := 0, 2
		for i+n < len(frames) && size+2+len(frames[i+n]) <= mtu {
			size += 2 + len(frames[i+n])
			n++
		}
		if n == 0 { // fragment frame i
			f := frames[i]
			for off := 0; off < len(f); {
				k := min(len(f)-off, mtu-4)
				p := []byte{0, 16}
				p = binary.BigEndian.AppendUint16(p, uint16(len(f))<<3)
				p = append(p, f[off:off+k]...)
				off += k
				payloads, first, ends = append(payloads, p), append(first, i), append(ends, off == len(f))
			}
			i++
			continue
		}
		p := binary.BigEndian.AppendUint16(nil, uint16(16*n))
		for j := 0; j < n; j++ {
			p = binary.BigEndian.AppendUint16(p, uint16(len(frames[i+j]))<<3)
		}
		for j := 0; j < n; j++ {
			p = append(p, frames[i+j]...)
		}
		payloads, first, ends = append(payloads, p), append(first, i), append(ends, true)
		i += n
	}
	return payloads, first, ends
}

// toPackets wraps the payloads of consecutive access units into RTP
// packets: sequence numbers from seq, the unit's timestamp, the marker bit on
// each unit's last packet.
func toPackets(units [][][]byte, timestamps []uint32, seq uint16) []*rtp.Packet {
	var out []*rtp.Packet
	for i, payloads := range units {
		for j, p := range payloads {
			out = append(out, &rtp.Packet{
				Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: timestamps[i],
					Marker: j == len(payloads)-1, SSRC: 0x1234},
				Payload: p,
			})
			seq++
		}
	}
	return out
}

// randomNALU returns a NAL unit with header bytes hdr and n random payload
// bytes.
func randomNALU(r *rand.Rand, n int, hdr ...byte) []byte {
	b := append([]byte(nil), hdr...)
	for range n {
		b = append(b, byte(r.IntN(256)))
	}
	return b
}
