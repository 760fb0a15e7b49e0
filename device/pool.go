package device

import (
	"sync"

	"kvskit/media"
)

// Recycler is implemented by the sources of OpenFile and OpenReader. A
// consumer that is done with a frame's Data (for the producer: once the
// frame's fragment is acknowledged) may hand the frame back with Recycle;
// the source then reads later frames into that memory instead of allocating,
// which keeps the garbage collector idle during long uploads. Nothing may
// read or write the Data after Recycle. Recycle may be called from any
// goroutine, also after Close.
type Recycler interface {
	Recycle(f media.Frame)
}

// Bounds of what a framePool keeps.
const (
	poolMaxBytes   = 16 << 20
	poolMaxBuffers = 1024
)

// framePool keeps the frame buffers a consumer gave back for the next frames
// of the same source. The zero value is ready; a nil pool allocates.
type framePool struct {
	mu    sync.Mutex
	free  [][]byte
	bytes int
}

// get returns a buffer of length n: a kept one whose capacity fits (at most
// about twice n), else a new one with some room to spare for a later, larger
// frame.
func (p *framePool) get(n int) []byte {
	if p != nil {
		p.mu.Lock()
		best := -1
		for i, b := range p.free {
			if c := cap(b); c >= n && c <= 2*n+4096 && (best < 0 || c < cap(p.free[best])) {
				best = i
			}
		}
		if best >= 0 {
			b := p.free[best]
			last := len(p.free) - 1
			p.free[best], p.free[last] = p.free[last], nil
			p.free = p.free[:last]
			p.bytes -= cap(b)
			p.mu.Unlock()
			return b[:n]
		}
		p.mu.Unlock()
	}
	return make([]byte, n, n+n/8)
}

// clone returns a copy of b in a buffer from the pool.
func (p *framePool) clone(b []byte) []byte {
	out := p.get(len(b))
	copy(out, b)
	return out
}

// put keeps b for a later get, unless the pool is full.
func (p *framePool) put(b []byte) {
	if p == nil || cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) >= poolMaxBuffers || p.bytes+cap(b) > poolMaxBytes {
		return
	}
	p.free = append(p.free, b[:0])
	p.bytes += cap(b)
}

// Recycle gives a frame's Data back to the source; see Recycler.
func (s *source) Recycle(f media.Frame) { s.pool.put(f.Data) }
