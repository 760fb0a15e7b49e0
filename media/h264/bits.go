package h264

import "fmt"

// BitReader reads a raw byte sequence payload (RBSP) most significant bit
// first, including the Exp-Golomb codes ue(v) and se(v) of H.264 clause 9.1,
// which H.265 shares. It never reads past its buffer: every method reports
// ErrTruncated instead. Emulation prevention bytes must already be removed
// (see RemoveEmulationPrevention).
type BitReader struct {
	buf []byte
	pos int // in bits
}

// NewBitReader returns a reader positioned at the first bit of b.
func NewBitReader(b []byte) *BitReader { return &BitReader{buf: b} }

// BitsLeft returns the number of unread bits.
func (r *BitReader) BitsLeft() int { return len(r.buf)*8 - r.pos }

// Skip advances n bits.
func (r *BitReader) Skip(n int) error {
	if n < 0 || n > r.BitsLeft() {
		return fmt.Errorf("skip %d bits with %d left: %w", n, r.BitsLeft(), ErrTruncated)
	}
	r.pos += n
	return nil
}

// ReadBits reads n bits, 0 <= n <= 64, as an unsigned number.
func (r *BitReader) ReadBits(n int) (uint64, error) {
	if n < 0 || n > 64 {
		return 0, fmt.Errorf("read %d bits: %w", n, ErrInvalidValue)
	}
	if n > r.BitsLeft() {
		return 0, fmt.Errorf("read %d bits with %d left: %w", n, r.BitsLeft(), ErrTruncated)
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
func (r *BitReader) ReadFlag() (bool, error) {
	v, err := r.ReadBits(1)
	return v == 1, err
}

// ReadUE reads an unsigned Exp-Golomb code. Codes longer than 32 bits of
// value are rejected with ErrInvalidValue.
func (r *BitReader) ReadUE() (uint32, error) {
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
			return 0, fmt.Errorf("exp-golomb code with more than 31 leading zeros: %w", ErrInvalidValue)
		}
	}
	rest, err := r.ReadBits(zeros)
	if err != nil {
		return 0, err
	}
	return uint32(1<<zeros - 1 + rest), nil
}

// ReadSE reads a signed Exp-Golomb code.
func (r *BitReader) ReadSE() (int32, error) {
	k, err := r.ReadUE()
	if err != nil {
		return 0, err
	}
	if k&1 == 1 {
		return int32((int64(k) + 1) / 2), nil
	}
	return int32(-(int64(k) / 2)), nil
}

// fields wraps a BitReader for syntax parsers: the first failure is kept
// together with the name of the syntax element being read, and later reads
// return zero values. Loops driven by decoded counts stay bounded because a
// failed read yields zero.
type fields struct {
	r     *BitReader
	err   error
	field string
}

func (f *fields) fail(name string, err error) {
	if f.err == nil {
		f.err, f.field = err, name
	}
}

func (f *fields) u(n int, name string) uint64 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadBits(n)
	if err != nil {
		f.fail(name, err)
	}
	return v
}

func (f *fields) flag(name string) bool { return f.u(1, name) == 1 }

func (f *fields) ue(name string) uint32 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadUE()
	if err != nil {
		f.fail(name, err)
	}
	return v
}

// ueMax reads ue(v) and fails with ErrInvalidValue when it exceeds limit.
func (f *fields) ueMax(name string, limit uint32) uint32 {
	v := f.ue(name)
	if f.err == nil && v > limit {
		f.fail(name, fmt.Errorf("value %d exceeds %d: %w", v, limit, ErrInvalidValue))
		return 0
	}
	return v
}

func (f *fields) se(name string) int32 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadSE()
	if err != nil {
		f.fail(name, err)
	}
	return v
}

// wrapErr returns the kept error prefixed with the element name, or nil.
func (f *fields) wrapErr() error {
	if f.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", f.field, f.err)
}
