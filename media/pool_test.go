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
