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

// run waits for datagrams and hands each to fn, until fn returns false or
// reading fails (the socket closed, or its read deadline passed). The packet
// is valid during the call only.
func (r *udpReader) run(fn func([]udpPacket) bool) error {
	for {
		n, from, err := r.c.ReadFromUDPAddrPort(r.buf)
		if err != nil {
			return err
		}
		r.pkts[0] = udpPacket{data: r.buf[:min(n, r.slot)], from: from.Addr().Unmap(), truncated: n > r.slot}
		if !fn(r.pkts[:]) {
			return nil
		}
	}
}
