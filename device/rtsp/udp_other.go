//go:build !linux

package rtsp

import "net"

// udpReader reads the datagrams of a UDP socket one at a time (batches are
// read on Linux only).
type udpReader struct {
	c    *net.UDPConn
	buf  []byte
	slot int
	pkts [1]udpPacket
}

func newUDPReader(c *net.UDPConn, _, slot int) (*udpReader, error) {
	r := &udpReader{c: c}
	r.resize(1, slot)
	return r, nil
}

func (r *udpReader) resize(_, slot int) {
	r.slot = slot
	r.buf = make([]byte, slot+1)
}

// read waits for a datagram and returns it.
func (r *udpReader) read() ([]udpPacket, error) {
	n, from, err := r.c.ReadFromUDPAddrPort(r.buf)
	if err != nil {
		return nil, err
	}
	r.pkts[0] = udpPacket{data: r.buf[:min(n, r.slot)], from: from.Addr().Unmap(), truncated: n > r.slot}
	return r.pkts[:], nil
}
