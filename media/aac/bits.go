package aac

import "fmt"

// bitReader reads MSB first and keeps the first error; later reads return 0.
type bitReader struct {
	buf []byte
	pos int
	err error
}

func (r *bitReader) left() int { return len(r.buf)*8 - r.pos }

func (r *bitReader) u(n int, field string) uint32 {
	if r.err != nil {
		return 0
	}
	if n > r.left() {
		r.err = fmt.Errorf("%s: %d bits needed, %d left: %w", field, n, r.left(), ErrTruncated)
		return 0
	}
	var v uint32
	for range n {
		v = v<<1 | uint32(r.buf[r.pos>>3]>>(7-r.pos&7)&1)
		r.pos++
	}
	return v
}

func (r *bitReader) flag(field string) bool { return r.u(1, field) == 1 }

// peek returns the next n bits without consuming them, or false when fewer
// are left.
func (r *bitReader) peek(n int) (uint32, bool) {
	if r.err != nil || n > r.left() {
		return 0, false
	}
	save := r.pos
	v := r.u(n, "")
	r.pos = save
	return v, true
}

type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) u(n int, v uint32) {
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

func (w *bitWriter) flag(b bool) {
	if b {
		w.u(1, 1)
	} else {
		w.u(1, 0)
	}
}
