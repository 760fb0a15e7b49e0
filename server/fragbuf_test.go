package server

import (
	"fmt"
	"testing"

	"kvskit/server/store"
)

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

func (p *fragBufs) keptBytes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// TestHubReleasesUnstoredBuffers: the buffer of a fragment that is not
// stored comes back to the free list once neither the hub nor a reader
// holds it, and not before.
func TestHubReleasesUnstoredBuffers(t *testing.T) {
	var bufs fragBufs
	h := newHub()
	const arn = "arn:test"
	num := func(i int) string { return fmt.Sprintf("%020d", i) }
	publish := func(i int) {
		b := bufs.get(8, 64<<10)
		h.publish(arn, liveFragment{rec: store.Fragment{Number: num(i)}, data: b, ref: newFragRef(&bufs, b)})
	}
	for i := range recentKept {
		publish(i)
	}
	held := h.recentAfter(arn, num(recentKept-3)) // a reader holds the last two
	if len(held) != 2 {
		t.Fatalf("recentAfter: %d fragments", len(held))
	}
	for i := recentKept; i < recentKept+recentKept; i++ {
		publish(i) // evicts all the first ones
	}
	// The six evicted ones the reader does not hold came back and were
	// taken again by the later publishes; the two held ones did not.
	for _, f := range h.recentAfter(arn, "") {
		for _, g := range held {
			if &f.data[:1][0] == &g.data[:1][0] {
				t.Fatalf("fragment %s reuses the buffer of %s, which a reader holds", f.rec.Number, g.rec.Number)
			}
		}
		f.ref.release()
	}
	before := bufs.keptBytes()
	releaseAll(held)
	if got := bufs.keptBytes(); got != before+2*(64<<10) {
		t.Fatalf("after the reader released: %d bytes kept, want %d", got, before+2*(64<<10))
	}
	h.drop(arn)
	if got := bufs.keptBytes(); got != before+(2+recentKept)*(64<<10) {
		t.Fatalf("after the stream was dropped: %d bytes kept, want %d", got, before+(2+recentKept)*(64<<10))
	}
	var nilRef *fragRef // stored fragments have none
	nilRef.retain()
	nilRef.release()
}
