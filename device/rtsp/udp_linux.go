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

	recv func(fd uintptr) bool // r.recvmmsg, bound once
	n    int
	err  error
}

// newUDPReader prepares batches of n datagrams of up to slot bytes on c.
func newUDPReader(c *net.UDPConn, n, slot int) (*udpReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("rtsp: UDP socket: %w", err)
	}
	r := &udpReader{rc: rc}
	r.recv = r.recvmmsg
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

// read waits for datagrams and returns those there are, up to a batch.
func (r *udpReader) read() ([]udpPacket, error) {
	for i := range r.hdrs {
		h := &r.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Flags = 0
		r.hdrs[i].n = 0
	}
	r.n, r.err = 0, nil
	if err := r.rc.Read(r.recv); err != nil {
		return nil, err
	}
	if r.err != nil {
		return nil, r.err
	}
	pkts := r.pkts[:r.n]
	for i := range pkts {
		h := &r.hdrs[i]
		pkts[i] = udpPacket{
			data:      r.buf[i*r.slot : i*r.slot+min(int(h.n), r.slot)],
			from:      sockaddrAddr(&r.names[i]),
			truncated: h.hdr.Flags&unix.MSG_TRUNC != 0,
		}
	}
	return pkts, nil
}

// recvmmsg is the read callback: false asks the poller to wait for data.
// The socket does not block (Go's sockets never do), so the call is made
// without the scheduler's system call bookkeeping.
func (r *udpReader) recvmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
		switch errno {
		case 0:
			r.n = int(n)
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.err = fmt.Errorf("rtsp: recvmmsg: %w", errno)
		return true
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
