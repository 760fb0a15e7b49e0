//go:build linux

package rtsp

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// udpReader reads the datagrams of a UDP socket in batches with recvmmsg.
type udpReader struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	buf   []byte
	slot  int
	pkts  []udpPacket

	err error
	// empty counts the reads that found no datagram.
	empty int
}

// newUDPReader prepares batches of n datagrams of up to slot bytes on c.
func newUDPReader(c *net.UDPConn, n, slot int) (*udpReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("rtsp: UDP socket: %w", err)
	}
	r := &udpReader{rc: rc}
	r.resize(n, slot)
	return r, nil
}

// resize lays out batches of n datagrams of up to slot bytes.
func (r *udpReader) resize(n, slot int) {
	r.slot = slot
	r.hdrs = make([]mmsghdr, n)
	r.iovs = make([]unix.Iovec, n)
	r.names = make([]unix.RawSockaddrInet6, n)
	r.buf = make([]byte, n*slot)
	r.pkts = make([]udpPacket, n)
	for i := range r.hdrs {
		r.iovs[i].Base = &r.buf[i*slot]
		r.iovs[i].SetLen(slot)
	}
}

// run waits for datagrams and hands each batch to fn, until fn returns false
// or reading fails (the socket closed, or its read deadline passed). The
// packets are valid during the call only.
//
// All of it runs in one call of the poller's read, so that a batch smaller
// than the room for it, which leaves the socket empty but for datagrams that
// came while fn ran, is followed by a wait for the next arrival rather than
// by a read that finds nothing: the poller remembers arrivals since the call
// began. A camera sending a picture's packets over a millisecond or two wakes
// the reader several times a picture, so this saves a system call a wake-up.
func (r *udpReader) run(fn func([]udpPacket) bool) error {
	r.err = nil
	if err := r.rc.Read(func(fd uintptr) bool { return r.batches(fd, fn) }); err != nil {
		return err
	}
	return r.err
}

// batches is the poller's read callback: false asks it to wait for data.
func (r *udpReader) batches(fd uintptr, fn func([]udpPacket) bool) bool {
	for {
		n, ok := r.recvmmsg(fd)
		if !ok {
			return false
		}
		if r.err != nil {
			return true
		}
		full := n == len(r.hdrs)
		pkts := r.pkts[:n]
		for i := range pkts {
			h := &r.hdrs[i]
			pkts[i] = udpPacket{
				data:      r.buf[i*r.slot : i*r.slot+min(int(h.n), r.slot)],
				from:      sockaddrAddr(&r.names[i]),
				truncated: h.hdr.Flags&unix.MSG_TRUNC != 0,
			}
		}
		if !fn(pkts) {
			return true
		}
		if !full {
			return false
		}
	}
}

// recvmmsg reads a batch: the number of datagrams, or false when there are
// none. The socket does not block (Go's sockets never do), so the call is
// made without the scheduler's system call bookkeeping.
func (r *udpReader) recvmmsg(fd uintptr) (int, bool) {
	for i := range r.hdrs {
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Flags = 0
		r.hdrs[i].n = 0
	}
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
		switch errno {
		case 0:
			return int(n), true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			r.empty++
			return 0, false
		}
		r.err = fmt.Errorf("rtsp: recvmmsg: %w", errno)
		return 0, true
	}
}

// sockaddrAddr returns the address of a sockaddr_in or sockaddr_in6.
func sockaddrAddr(sa *unix.RawSockaddrInet6) netip.Addr {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrFrom4(sa4.Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}
