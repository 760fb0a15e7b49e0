package media

import "slices"

// OutputOrder numbers the pictures of a video stream in output
// (presentation) order from their picture order counts, as a decoder's
// picture buffer outputs them (H.264 C.4.5.3, H.265 C.5.2.2): pictures are
// pushed in decoding order, and once more than the reordering depth of them
// wait, the one with the smallest order count is output next. A picture
// that begins a new sequence (an IDR picture, an H.264 picture with
// memory_management_control_operation 5, an H.265 IRAP picture with
// NoRaslOutputFlag) first outputs every picture still waiting.
//
// Pictures leave in decoding order, each with its output index, once that is
// known. A picture held back while more than MaxHeldPictures are pushed after
// it (a stream whose order counts run far ahead of its decoding order) is
// given the next output index at once, as a decoder with a full picture
// buffer outputs it; it counts as late. A value of type T travels with each
// picture. An OutputOrder is not safe for concurrent use.
type OutputOrder[T any] struct {
	depth int
	queue []ordered[T] // decoding order; head not yet popped
	head  int
	// waiting: positions (from seq0) of pictures without an output index,
	// sorted by order count, then by decoding order.
	waiting []int64
	seq0    int64 // decoding position of queue[0]
	pushed  int64
	next    int64 // the next output index
	// lastOut is the order count of the latest picture output in the
	// current sequence; late counts pictures that came after it in
	// decoding order with a smaller count (a reordering deeper than
	// depth).
	lastOut    int64
	hasLastOut bool
	late       int
	measured   int
}

// MaxHeldPictures bounds the pictures an OutputOrder holds: twice the
// largest reordering depth and two more, above what a stream whose order
// counts follow its reordering depth needs.
const MaxHeldPictures = 2*MaxReorderFrames + 2

type ordered[T any] struct {
	v     T
	order int64
	out   int64 // -1 until known
	seq   int64
}

// Ordered is a picture leaving an OutputOrder.
type Ordered[T any] struct {
	Value T
	// Decode and Output are the picture's positions in decoding and in
	// output order, from 0.
	Decode, Output int64
}

// NewOutputOrder returns an OutputOrder for a stream that reorders at most
// depth pictures (H.264 max_num_reorder_frames, H.265
// sps_max_num_reorder_pics), clamped to 0..MaxReorderFrames.
func NewOutputOrder[T any](depth int) *OutputOrder[T] {
	return &OutputOrder[T]{depth: min(max(depth, 0), MaxReorderFrames)}
}

// SetDepth changes the reordering depth (clamped as NewOutputOrder does),
// for the pictures pushed from now on: when a new sequence comes with an
// SPS of another depth.
func (o *OutputOrder[T]) SetDepth(depth int) {
	o.depth = min(max(depth, 0), MaxReorderFrames)
}

// Depth returns the reordering depth.
func (o *OutputOrder[T]) Depth() int { return o.depth }

// Late returns how many pictures arrived after a picture with a larger
// order count had been output: pictures the stream reordered deeper than its
// depth says, and that are therefore out of order.
func (o *OutputOrder[T]) Late() int { return o.late }

// Measured returns the deepest reordering seen so far: the largest number
// of pictures still waiting for output with a larger order count than a
// picture pushed after them.
func (o *OutputOrder[T]) Measured() int { return o.measured }

// Push adds the next picture in decoding order, with its order count;
// newSequence says that it begins a new sequence of order counts.
func (o *OutputOrder[T]) Push(order int64, newSequence bool, v T) {
	if newSequence {
		o.Flush()
		o.hasLastOut = false
	} else if o.hasLastOut && order < o.lastOut {
		o.late++
	}
	seq := o.pushed
	o.pushed++
	o.queue = append(o.queue, ordered[T]{v: v, order: order, out: -1, seq: seq})
	// Insert into waiting, keeping it sorted (it holds at most depth+1).
	i := len(o.waiting)
	o.waiting = append(o.waiting, seq)
	for i > 0 && o.at(o.waiting[i-1]).order > order {
		o.waiting[i] = o.waiting[i-1]
		i--
	}
	o.waiting[i] = seq
	if n := len(o.waiting) - 1 - i; n > o.measured {
		o.measured = n
	}
	for len(o.waiting) > o.depth {
		o.output(0)
	}
	for len(o.queue)-o.head > MaxHeldPictures && o.queue[o.head].out < 0 {
		o.late++
		o.output(slices.Index(o.waiting, o.queue[o.head].seq))
	}
}

// Flush gives every waiting picture its output index (at the end of the
// stream).
func (o *OutputOrder[T]) Flush() {
	for len(o.waiting) > 0 {
		o.output(0)
	}
}

func (o *OutputOrder[T]) at(seq int64) *ordered[T] { return &o.queue[seq-o.seq0] }

// output gives the i-th waiting picture (the one with the smallest order
// count for 0) the next output index.
func (o *OutputOrder[T]) output(i int) {
	p := o.at(o.waiting[i])
	o.waiting = slices.Delete(o.waiting, i, i+1)
	p.out = o.next
	o.next++
	o.lastOut, o.hasLastOut = p.order, true
}

// Pop returns the oldest picture in decoding order once its output index is
// known; ok is false when there is none.
func (o *OutputOrder[T]) Pop() (p Ordered[T], ok bool) {
	if o.head == len(o.queue) || o.queue[o.head].out < 0 {
		return p, false
	}
	q := o.queue[o.head]
	o.queue[o.head] = ordered[T]{}
	o.head++
	if o.head >= 32 && 2*o.head >= len(o.queue) {
		n := copy(o.queue, o.queue[o.head:])
		clear(o.queue[n:])
		o.queue = o.queue[:n]
		o.seq0 += int64(o.head)
		o.head = 0
	}
	return Ordered[T]{Value: q.v, Decode: q.seq, Output: q.out}, true
}
