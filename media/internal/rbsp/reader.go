package rbsp

import "fmt"

// Reader reads an RBSP most significant bit first. It never reads past its
// buffer. Emulation prevention bytes must already be removed.
type Reader struct {
	buf       []byte
	pos       int // in bits
	truncated error
	invalid   error
}

// NewReader returns a reader positioned at the first bit of b. Reads past
// the end fail with truncated, out-of-range requests and Exp-Golomb codes of
// more than 32 bits with invalid (both wrapped with the details).
func NewReader(b []byte, truncated, invalid error) *Reader {
	return &Reader{buf: b, truncated: truncated, invalid: invalid}
}

// BitsLeft returns the number of unread bits.
func (r *Reader) BitsLeft() int { return len(r.buf)*8 - r.pos }

// Skip advances n bits.
func (r *Reader) Skip(n int) error {
	if n < 0 || n > r.BitsLeft() {
		return fmt.Errorf("skip %d bits with %d left: %w", n, r.BitsLeft(), r.truncated)
	}
	r.pos += n
	return nil
}

// ReadBits reads n bits, 0 <= n <= 64, as an unsigned number.
func (r *Reader) ReadBits(n int) (uint64, error) {
	if n < 0 || n > 64 {
		return 0, fmt.Errorf("read %d bits: %w", n, r.invalid)
	}
	if n > r.BitsLeft() {
		return 0, fmt.Errorf("read %d bits with %d left: %w", n, r.BitsLeft(), r.truncated)
	}
	var v uint64
	for n > 0 {
		byteIdx, bitOff := r.pos>>3, r.pos&7
		avail := 8 - bitOff
		take := min(avail, n)
		bits := uint64(r.buf[byteIdx]>>(avail-take)) & (1<<take - 1)
		v = v<<take | bits
		n -= take
		r.pos += take
	}
	return v, nil
}

// ReadFlag reads one bit.
func (r *Reader) ReadFlag() (bool, error) {
	v, err := r.ReadBits(1)
	return v == 1, err
}

// ReadUE reads an unsigned Exp-Golomb code (H.264 clause 9.1). Codes of more
// than 32 bits of value are rejected.
func (r *Reader) ReadUE() (uint32, error) {
	zeros := 0
	for {
		b, err := r.ReadBits(1)
		if err != nil {
			return 0, err
		}
		if b == 1 {
			break
		}
		zeros++
		if zeros > 31 {
			return 0, fmt.Errorf("exp-golomb code with more than 31 leading zeros: %w", r.invalid)
		}
	}
	rest, err := r.ReadBits(zeros)
	if err != nil {
		return 0, err
	}
	return uint32(1<<zeros - 1 + rest), nil
}

// ReadSE reads a signed Exp-Golomb code.
func (r *Reader) ReadSE() (int32, error) {
	k, err := r.ReadUE()
	if err != nil {
		return 0, err
	}
	if k&1 == 1 {
		return int32((int64(k) + 1) / 2), nil
	}
	return int32(-(int64(k) / 2)), nil
}
