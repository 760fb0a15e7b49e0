package media

import "sync"

// Bounds of what a BufferPool keeps.
const (
	poolMaxBytes   = 16 << 20
	poolMaxBuffers = 1024
)

// BufferPool keeps frame buffers that a consumer gave back, for the next
// frames of the same source: sources allocate frames' Data from it, and a
// consumer done with a frame (the producer, once its fragment is
// acknowledged) returns the Data with Put. It keeps at most 16 MB in 1024
// buffers; Shrink lets a source drop what it kept without needing it. The
// zero value is ready; a nil *BufferPool allocates and keeps nothing. It is
// safe for concurrent use.
type BufferPool struct {
	mu    sync.Mutex
	free  [][]byte
	bytes int
	low   int // the fewest bytes kept since the last Shrink
}

// Get returns a buffer of length n: a kept one whose capacity fits (at most
// about twice n), else a new one with an eighth to spare for a later, larger
// frame.
func (p *BufferPool) Get(n int) []byte {
	if p != nil {
		p.mu.Lock()
		// The most recently kept buffer that fits closely, else the
		// smallest that fits at all.
		best := -1
		for i := len(p.free) - 1; i >= 0; i-- {
			c := cap(p.free[i])
			if c < n || c > 2*n+4096 {
				continue
			}
			if best < 0 || c < cap(p.free[best]) {
				best = i
			}
			if c <= n+n/4+256 {
				break
			}
		}
		if best >= 0 {
			b := p.free[best]
			last := len(p.free) - 1
			p.free[best], p.free[last] = p.free[last], nil
			p.free = p.free[:last]
			p.bytes -= cap(b)
			p.low = min(p.low, p.bytes)
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

// Shrink drops kept buffers, up to as many bytes as the pool never went
// below since the previous Shrink: buffers that stayed unused all that time.
// Called at intervals longer than the consumer's recycling cycle (the
// producer's: a fragment's duration), it keeps the pool at what the frames
// of one cycle need instead of the most it ever held. The first call only
// starts the measurement. It returns the bytes dropped.
func (p *BufferPool) Shrink() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	surplus, dropped := p.low, 0
	kept := p.free[:0]
	for _, b := range p.free {
		if dropped+cap(b) <= surplus {
			dropped += cap(b)
			continue
		}
		kept = append(kept, b)
	}
	clear(p.free[len(kept):])
	p.free = kept
	p.bytes -= dropped
	p.low = p.bytes
	return dropped
}
