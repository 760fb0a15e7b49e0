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
