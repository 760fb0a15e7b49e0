package media

import "sync"

// Bounds of what a BufferPool keeps.
const (
	poolMaxBytes   = 4 << 20
	poolMaxBuffers = 1024
)

// BufferPool keeps frame buffers that a consumer gave back, for the next
// frames of the same source: sources allocate frames' Data from it, and a
// consumer done with a frame (the producer, once its fragment is
// acknowledged) returns the Data with Put. It keeps at most 4 MB in 1024
// buffers. The zero value is ready; a nil *BufferPool allocates and keeps
// nothing. It is safe for concurrent use.
type BufferPool struct {
	mu    sync.Mutex
	free  [][]byte
	bytes int
}

// Get returns a buffer of length n: a kept one whose capacity fits (at most
// about twice n), else a new one with an eighth to spare for a later, larger
// frame.
func (p *BufferPool) Get(n int) []byte {
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

// Clone returns a copy of b in a buffer from the pool.
func (p *BufferPool) Clone(b []byte) []byte {
	out := p.Get(len(b))
	copy(out, b)
	return out
}

// Put keeps b for a later Get, unless the pool is full. Nothing may use b
// afterwards.
func (p *BufferPool) Put(b []byte) {
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
