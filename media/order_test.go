package media

import (
	"slices"
	"testing"
)

// outputIndices pushes pictures with the given order counts (those in newSeq
// begin a sequence) and returns each one's output position, in decoding
// order.
func outputIndices(t *testing.T, depth int, orders []int64, newSeq map[int]bool) []int64 {
	t.Helper()
	o := NewOutputOrder[int](depth)
	var out []int64
	pop := func() {
		for p, ok := o.Pop(); ok; p, ok = o.Pop() {
			if p.Value != len(out) || p.Decode != int64(p.Value) {
				t.Fatalf("popped picture %d (decode %d), want %d", p.Value, p.Decode, len(out))
			}
			out = append(out, p.Output)
		}
	}
	for i, ord := range orders {
		o.Push(ord, newSeq[i], i)
		pop()
		if held := i + 1 - len(out); held > MaxHeldPictures {
			t.Fatalf("after picture %d: %d held", i, held)
		}
	}
	o.Flush()
	pop()
	if len(out) != len(orders) {
		t.Fatalf("%d of %d pictures left", len(out), len(orders))
	}
	return out
}

func TestOutputOrder(t *testing.T) {
	// I0 P8 B4 b2 b6 P16 B12 b10 b14, then an IDR picture and I0 P2 B1.
	orders := []int64{0, 8, 4, 2, 6, 16, 12, 10, 14, 0, 2, 1}
	want := []int64{0, 4, 2, 1, 3, 8, 6, 5, 7, 9, 11, 10}
	for _, depth := range []int{2, 3, MaxReorderFrames} {
		got := outputIndices(t, depth, orders, map[int]bool{0: true, 9: true})
		if !slices.Equal(got, want) {
			t.Errorf("depth %d: %v, want %v", depth, got, want)
		}
	}
	o := NewOutputOrder[int](MaxReorderFrames)
	for i, ord := range orders {
		o.Push(ord, i == 0 || i == 9, i)
	}
	if o.Measured() != 2 || o.Late() != 0 {
		t.Errorf("measured %d late %d, want 2 and 0", o.Measured(), o.Late())
	}

	// Depth 0: decoding order, whatever the counts.
	if got := outputIndices(t, 0, []int64{0, 4, 2}, nil); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Errorf("depth 0: %v", got)
	}
	// A stream that reorders deeper than it says: the late picture is
	// counted and output after the one it should precede.
	o = NewOutputOrder[int](1)
	for i, ord := range []int64{0, 6, 4, 2} {
		o.Push(ord, i == 0, i)
	}
	if o.Late() != 1 {
		t.Errorf("late %d, want 1", o.Late())
	}
	if o := NewOutputOrder[int](99); o.Depth() != MaxReorderFrames {
		t.Errorf("depth %d", o.Depth())
	}
	o = NewOutputOrder[int](0)
	if o.SetDepth(3); o.Depth() != 3 {
		t.Errorf("depth %d after SetDepth(3)", o.Depth())
	}
	if o.SetDepth(-1); o.Depth() != 0 {
		t.Errorf("depth %d after SetDepth(-1)", o.Depth())
	}
	// A picture whose count runs far ahead is let out once
	// MaxHeldPictures follow it.
	run := []int64{0, 1000}
	for i := int64(1); i < 60; i++ {
		run = append(run, i)
	}
	got := outputIndices(t, 2, run, map[int]bool{0: true})
	if got[1] != MaxHeldPictures || got[2] != 1 || got[len(got)-1] != int64(len(run)-1) {
		t.Errorf("run ahead: %v", got)
	}
	// Long runs keep the queue bounded and the positions right.
	var long []int64
	var wantLong []int64
	for g := int64(0); g < 500; g++ {
		long = append(long, 4*g+3, 4*g+1, 4*g, 4*g+2)
		wantLong = append(wantLong, 4*g+3, 4*g+1, 4*g, 4*g+2)
	}
	if got := outputIndices(t, 3, long, nil); !slices.Equal(got, wantLong) {
		t.Errorf("long run differs")
	}
}
