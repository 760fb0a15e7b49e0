package h265

import (
	"errors"
	"fmt"

	"kvskit/media/h264"
)

// fields wraps the shared RBSP bit reader for the syntax parsers: the first
// failure is kept with the name of the element being read and later reads
// return zero, which keeps loops over decoded counts bounded.
type fields struct {
	r     *h264.BitReader
	err   error
	field string
}

func (f *fields) fail(name string, err error) {
	if f.err == nil {
		f.err, f.field = err, name
	}
}

// readErr restates an error of the shared bit reader with this package's
// sentinels.
func (f *fields) readErr(name string, err error) {
	switch {
	case errors.Is(err, h264.ErrTruncated):
		err = fmt.Errorf("%d bits left: %w", f.r.BitsLeft(), ErrTruncated)
	case errors.Is(err, h264.ErrInvalidValue):
		err = fmt.Errorf("exp-golomb code longer than 32 bits: %w", ErrInvalidValue)
	}
	f.fail(name, err)
}

func (f *fields) u(n int, name string) uint64 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadBits(n)
	if err != nil {
		f.readErr(name, err)
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
		f.readErr(name, err)
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

func (f *fields) wrapErr() error {
	if f.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", f.field, f.err)
}
