package server

import "testing"

func TestFragBufs(t *testing.T) {
	var p fragBufs
	a := p.get(24, 1<<20)
	if len(a) != 24 || cap(a) != 1<<20 {
		t.Fatalf("get: len %d cap %d", len(a), cap(a))
	}
	a[0] = 7
	p.put(a)
	b := p.get(24, 900<<10)
	if &b[:1][0] != &a[:1][0] {
		t.Fatal("a kept buffer that fits was not reused")
	}
	p.put(b)
	if c := p.get(24, 100<<10); cap(c) == 1<<20 {
		t.Fatal("a buffer ten times the size asked for was handed out")
	}
	if c := p.get(24, 2<<20); cap(c) < 2<<20 {
		t.Fatalf("get of 2 MB capacity returned %d", cap(c))
	}
	// The kept bytes stay bounded, oldest buffers dropped first.
	var p2 fragBufs
	for range 100 {
		p2.put(make([]byte, 0, 4<<20))
	}
	if p2.bytes > fragBufKept || p2.bytes != len(p2.free)*(4<<20) {
		t.Fatalf("%d bytes in %d buffers kept, bound %d", p2.bytes, len(p2.free), fragBufKept)
	}
	p2.put(make([]byte, 0, fragBufKept)) // too large to keep
	if p2.bytes > fragBufKept {
		t.Fatalf("%d bytes kept after a huge buffer, bound %d", p2.bytes, fragBufKept)
	}
}
