package rbsp

// Writer builds an RBSP bit by bit, the inverse of Reader; the codec
// packages' tests use it to write parameter sets.
type Writer struct {
	buf  []byte
	nbit int
}

// U writes the low n bits of v.
func (w *Writer) U(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

// Flag writes one bit.
func (w *Writer) Flag(b bool) {
	if b {
		w.U(1, 1)
	} else {
		w.U(1, 0)
	}
}

// UE writes v as ue(v).
func (w *Writer) UE(v uint32) {
	x := uint64(v) + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.U(n, 0)
	w.U(n+1, x)
}

// SE writes v as se(v).
func (w *Writer) SE(v int32) {
	if v > 0 {
		w.UE(uint32(2*int64(v) - 1))
	} else {
		w.UE(uint32(-2 * int64(v)))
	}
}

// Trailing writes rbsp_trailing_bits: a one bit, then zero bits up to the
// next byte boundary.
func (w *Writer) Trailing() {
	w.U(1, 1)
	for w.nbit%8 != 0 {
		w.U(1, 0)
	}
}

// Bytes returns what was written; the last byte is zero-padded.
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of bits written.
func (w *Writer) Len() int { return w.nbit }
