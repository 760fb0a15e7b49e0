package rbsp

import "fmt"

// Fields reads the syntax elements of a parameter set by name. The first
// failure is kept with the name of the element being read and every later
// read returns zero, so a parser reads straight through and checks Err once;
// loops driven by decoded counts stay bounded because a failed read yields
// zero.
type Fields struct {
	r     *Reader
	err   error
	field string
}

// NewFields reads the elements from r.
func NewFields(r *Reader) *Fields { return &Fields{r: r} }

// Failed reports whether a read or a check has failed.
func (f *Fields) Failed() bool { return f.err != nil }

// Fail records err for element name unless a failure is already recorded.
func (f *Fields) Fail(name string, err error) {
	if f.err == nil {
		f.err, f.field = err, name
	}
}

// U reads the n-bit unsigned element name.
func (f *Fields) U(n int, name string) uint64 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadBits(n)
	if err != nil {
		f.Fail(name, err)
	}
	return v
}

// Flag reads the one-bit element name.
func (f *Fields) Flag(name string) bool { return f.U(1, name) == 1 }

// UE reads the ue(v) element name.
func (f *Fields) UE(name string) uint32 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadUE()
	if err != nil {
		f.Fail(name, err)
	}
	return v
}

// UEMax reads the ue(v) element name and fails, with the reader's invalid
// error, when it exceeds limit.
func (f *Fields) UEMax(name string, limit uint32) uint32 {
	v := f.UE(name)
	if f.err == nil && v > limit {
		f.Fail(name, fmt.Errorf("value %d exceeds %d: %w", v, limit, f.r.invalid))
		return 0
	}
	return v
}

// SE reads the se(v) element name.
func (f *Fields) SE(name string) int32 {
	if f.err != nil {
		return 0
	}
	v, err := f.r.ReadSE()
	if err != nil {
		f.Fail(name, err)
	}
	return v
}

// Err returns the first failure prefixed with its element's name, or nil.
func (f *Fields) Err() error {
	if f.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", f.field, f.err)
}
