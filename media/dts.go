package media

import (
	"slices"
	"time"
)

// MaxReorderFrames is the largest number of frames that may precede a frame
// in decoding order and follow it in presentation order in H.264 and H.265
// (the largest decoded picture buffer, 16 frames).
const MaxReorderFrames = 16

// DTSDeriver assigns decoding timestamps to the frames of a video track that
// carries only presentation timestamps (Matroska blocks, RTP timestamps).
// Frames are pushed in decoding order with their PTS and leave in the same
// order with a DTS; a value of type T travels with each frame.
//
// Frames are held in a window of a fixed number of frames, which must be at
// least the stream's reordering depth (H.264 max_num_reorder_frames, H.265
// sps_max_num_reorder_pics; MaxReorderFrames covers any stream). The k-th
// frame's DTS is the k-th smallest PTS of the track minus the reordering
// delay: the largest amount by which a sorted PTS has so far exceeded the PTS
// of the frame at its position, estimated from the first half of the window
// when it first fills and only ever raised. DTS therefore equals PTS when the
// track has no reordering, never exceeds PTS and never decreases (a DTS
// repeats the previous one only when the delay had to be raised, or when
// PTS themselves go back). A window of 0 holds nothing: each frame leaves at
// once with its PTS as DTS, raised to the previous DTS should the PTS go
// back.
//
// A DTSDeriver is not safe for concurrent use.
type DTSDeriver[T any] struct {
	window   int
	buf      []held[T] // decoding order from head on, DTS not yet assigned
	head     int
	pts      ptsHeap // PTS not yet assigned to a decoding position
	delay    time.Duration
	primed   bool
	flushing bool
	last     time.Duration
	hasLast  bool
}

type held[T any] struct {
	v   T
	pts time.Duration
}

// Derived is a frame leaving a DTSDeriver.
type Derived[T any] struct {
	Value    T
	PTS, DTS time.Duration
}

// NewDTSDeriver returns a deriver holding window frames (negative counts as
// 0).
func NewDTSDeriver[T any](window int) *DTSDeriver[T] {
	return &DTSDeriver[T]{window: max(window, 0)}
}

// Window returns the number of frames the deriver holds.
func (d *DTSDeriver[T]) Window() int { return d.window }

// Len returns the number of frames pushed and not yet popped.
func (d *DTSDeriver[T]) Len() int { return len(d.buf) - d.head }

// Push adds the next frame in decoding order.
func (d *DTSDeriver[T]) Push(pts time.Duration, v T) {
	d.buf = append(d.buf, held[T]{v: v, pts: pts})
	d.pts.push(pts)
}

// Flush releases the frames held: Pop returns all of them (at the end of the
// stream, or before a discontinuity). The delay and the last DTS are kept,
// so frames pushed afterwards go on from them.
func (d *DTSDeriver[T]) Flush() {
	if d.Len() > 0 {
		d.flushing = true
	}
}

// Pop returns the oldest frame whose DTS is known: once more than window
// frames are held, or after Flush. ok is false when there is none.
func (d *DTSDeriver[T]) Pop() (f Derived[T], ok bool) {
	n := d.Len()
	if n == 0 || n <= d.window && !d.flushing {
		return f, false
	}
	if !d.primed {
		if n > d.window {
			d.prime(n/2 + 1)
		} else {
			d.prime(n)
		}
	}
	h := d.buf[d.head]
	d.buf[d.head] = held[T]{}
	d.head++
	switch {
	case d.head == len(d.buf):
		d.buf, d.head, d.flushing = d.buf[:0], 0, false
	case d.head >= 64 && 2*d.head >= len(d.buf):
		k := copy(d.buf, d.buf[d.head:])
		clear(d.buf[k:])
		d.buf, d.head = d.buf[:k], 0
	}
	s := d.pts.pop()
	d.delay = max(d.delay, s-h.pts)
	dts := min(s-d.delay, h.pts)
	if d.hasLast && dts < d.last {
		dts = d.last
	}
	d.last, d.hasLast = dts, true
	return Derived[T]{Value: h.v, PTS: h.pts, DTS: dts}, true
}

// prime estimates the reordering delay from the first frames: for the
// first n decoding positions, how far the sorted PTS lies above the PTS of
// the frame at that position.
func (d *DTSDeriver[T]) prime(n int) {
	d.primed = true
	q := d.buf[d.head:]
	sorted := make([]time.Duration, len(q))
	for i, h := range q {
		sorted[i] = h.pts
	}
	slices.Sort(sorted)
	for i := 0; i < n && i < len(sorted); i++ {
		d.delay = max(d.delay, sorted[i]-q[i].pts)
	}
}

// ptsHeap is a min-heap of timestamps.
type ptsHeap []time.Duration

func (h *ptsHeap) push(v time.Duration) {
	*h = append(*h, v)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

// pop removes and returns the smallest timestamp; the heap must not be
// empty.
func (h *ptsHeap) pop() time.Duration {
	a := *h
	v := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && a[l] < a[m] {
			m = l
		}
		if r < n && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return v
}
