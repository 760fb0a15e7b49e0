package server

import (
	"sync"
	"sync/atomic"
)

// fragBufKept bounds the bytes of fragment buffers kept for reuse.
const fragBufKept = 32 << 20

// fragBufs keeps the buffers of stored fragments for the next fragments of
// any session: a fresh buffer of a megabyte or more is zeroed, faulted in
// page by page and later collected, which for a fast stream costs more CPU
// than parsing it. Safe for concurrent use; the zero value is ready.
type fragBufs struct {
	mu    sync.Mutex
	free  [][]byte
	bytes int
}

// get returns a buffer of length n and capacity at least c.
func (p *fragBufs) get(n, c int) []byte {
	p.mu.Lock()
	for i := len(p.free) - 1; i >= 0; i-- {
		b := p.free[i]
		// Not much larger than wanted either, so that small fragments do
		// not pin large buffers.
		if cap(b) >= c && cap(b) <= 2*c+(64<<10) {
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.bytes -= cap(b)
			p.mu.Unlock()
			return b[:n]
		}
	}
	p.mu.Unlock()
	return make([]byte, n, c)
}

// put keeps b for a later get, unless that would exceed fragBufKept (then
// the oldest kept buffers are dropped). Nothing may use b afterwards.
func (p *fragBufs) put(b []byte) {
	if cap(b) == 0 || cap(b) > fragBufKept/4 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.bytes+cap(b) > fragBufKept && len(p.free) > 0 {
		p.bytes -= cap(p.free[0])
		p.free[0] = nil
		p.free = p.free[1:]
	}
	p.free = append(p.free, b[:0])
	p.bytes += cap(b)
}

// fragRef counts the holders of the buffer of a fragment that is not
// stored (retention 0): the hub while it keeps the fragment for live
// readers, and each reader while it writes it. The last release gives the
// buffer back to the free list. A nil fragRef (a stored fragment, read
// from the store) does nothing.
type fragRef struct {
	n    atomic.Int32
	buf  []byte
	bufs *fragBufs
}

// newFragRef returns a reference to buf held once.
func newFragRef(bufs *fragBufs, buf []byte) *fragRef {
	r := &fragRef{buf: buf, bufs: bufs}
	r.n.Store(1)
	return r
}

func (r *fragRef) retain() {
	if r != nil {
		r.n.Add(1)
	}
}

func (r *fragRef) release() {
	if r == nil {
		return
	}
	if r.n.Add(-1) == 0 {
		r.bufs.put(r.buf)
		r.buf = nil
	}
}
