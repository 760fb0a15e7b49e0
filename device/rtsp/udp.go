package rtsp

import "net/netip"

// UDP reception: the RTP socket of a track is read in batches (recvmmsg on
// Linux), so that a wake-up of the reader takes all the packets that arrived
// (a camera sends a picture's packets back to back) with one system call.
const (
	// udpBatch is the number of packets one read takes at most.
	udpBatch = 32
	// udpSlot is the room for one packet in a batch: an Ethernet MTU with
	// room to spare. A larger packet (IP fragments reassembled) is lost and
	// makes the reader take one packet of up to udpMaxPacket bytes per read
	// from then on.
	udpSlot = 2048
	// udpMaxPacket is the largest UDP payload.
	udpMaxPacket = 65536
)

// udpPacket is a datagram of a batch: its bytes point into the reader's
// buffers, valid until the next read.
type udpPacket struct {
	data []byte
	from netip.Addr
	// truncated tells a datagram larger than its slot, of which data holds
	// the beginning only.
	truncated bool
}
