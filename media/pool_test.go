package media

import "testing"

func TestBufferPool(t *testing.T) {
	var p BufferPool
	a := p.Get(1000)
	if len(a) != 1000 || cap(a) < 1000 {
		t.Fatalf("Get(1000): len %d cap %d", len(a), cap(a))
	}
	p.Put(a)
	if b := p.Get(900); &b[0] != &a[0] || len(b) != 900 {
		t.Fatal("Get(900) did not reuse the kept 1000-byte buffer")
	}
	// A kept buffer far larger than asked for is not handed out.
	big := make([]byte, 1<<20)
	p.Put(big)
	if b := p.Get(100); &b[0] == &big[0] {
		t.Fatal("a 1 MB buffer was used for 100 bytes")
	}
	// Nor one too small.
	if b := p.Get(2 << 20); &b[0] == &big[0] {
		t.Fatal("a 1 MB buffer was used for 2 MB")
	}
	// Clone copies into a pooled buffer.
	p.Put(make([]byte, 64))
	if c := p.Clone([]byte("abc")); string(c) != "abc" {
		t.Fatalf("Clone = %q", c)
	}
	// The pool keeps at most poolMaxBytes.
	var q BufferPool
	for range 2 * poolMaxBytes / (1 << 20) {
		q.Put(make([]byte, 1<<20))
	}
	if q.bytes > poolMaxBytes || len(q.free) != poolMaxBytes/(1<<20) {
		t.Fatalf("pool keeps %d bytes in %d buffers", q.bytes, len(q.free))
	}
	var nilPool *BufferPool
	nilPool.Put(make([]byte, 10))
	if b := nilPool.Get(10); len(b) != 10 {
		t.Fatal("nil pool Get")
	}
}

// TestBufferPoolShrink: what stayed unused between two calls is dropped, what
// was taken meanwhile is not counted as unused.
func TestBufferPoolShrink(t *testing.T) {
	var p BufferPool
	for range 8 {
		p.Put(make([]byte, 1000))
	}
	if n := p.Shrink(); n != 0 || p.bytes != 8000 {
		t.Fatalf("first Shrink dropped %d bytes, keeps %d", n, p.bytes)
	}
	// Three buffers are taken and given back: the pool went down to five.
	var out [][]byte
	for range 3 {
		out = append(out, p.Get(1000))
	}
	for _, b := range out {
		p.Put(b)
	}
	if n := p.Shrink(); n != 5000 || p.bytes != 3000 || len(p.free) != 3 {
		t.Fatalf("Shrink dropped %d bytes, keeps %d in %d buffers; want 5000, 3000 in 3", n, p.bytes, len(p.free))
	}
	// All three were needed in the next cycle: nothing more goes.
	out = append(out[:0], p.Get(1000), p.Get(1000), p.Get(1000))
	for _, b := range out {
		p.Put(b)
	}
	if n := p.Shrink(); n != 0 || p.bytes != 3000 {
		t.Fatalf("Shrink dropped %d bytes of buffers in use, keeps %d", n, p.bytes)
	}
	// Buffers that do not add up to the surplus exactly: no more than it.
	var q BufferPool
	q.Put(make([]byte, 3000))
	q.Put(make([]byte, 2000))
	q.Shrink()
	if b := q.Get(2500); cap(b) != 3000 {
		t.Fatalf("Get(2500) cap %d", cap(b))
	}
	q.Put(make([]byte, 1000)) // the pool went down to 2000 bytes: no more goes
	if n := q.Shrink(); n != 2000 || q.bytes != 1000 {
		t.Fatalf("Shrink dropped %d, keeps %d; want 2000, 1000", n, q.bytes)
	}
	var nilPool *BufferPool
	if nilPool.Shrink() != 0 {
		t.Fatal("nil pool Shrink")
	}
}
