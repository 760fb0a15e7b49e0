package rbsp

import (
	"errors"
	"math/rand/v2"
	"testing"
)

var (
	errShort = errors.New("short")
	errBad   = errors.New("bad")
)

type field struct {
	kind int // 0 u(n), 1 ue, 2 se
	n    int
	u    uint64
	s    int32
}

// TestRoundTrip writes random fields with Writer and reads them back.
func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 2000; iter++ {
		var w Writer
		var fs []field
		for range 1 + rng.IntN(20) {
			f := field{kind: rng.IntN(3)}
			switch f.kind {
			case 0:
				f.n = rng.IntN(65)
				if f.n > 0 {
					f.u = rng.Uint64() >> (64 - f.n)
				}
				w.U(f.n, f.u)
			case 1:
				f.u = uint64(rng.Uint32() >> rng.IntN(33))
				if f.u == 1<<32-1 {
					f.u-- // 2^32-1 needs 32 leading zeros
				}
				w.UE(uint32(f.u))
			case 2:
				f.s = int32(rng.Uint32()>>(1+rng.IntN(32))) * int32(1-2*rng.IntN(2))
				w.SE(f.s)
			}
			fs = append(fs, f)
		}
		bits := w.Len()
		w.Trailing()
		r := NewReader(w.Bytes(), errShort, errBad)
		for i, f := range fs {
			switch f.kind {
			case 0:
				if v, err := r.ReadBits(f.n); err != nil || v != f.u {
					t.Fatalf("iter %d field %d: u(%d) = %d, %v; want %d", iter, i, f.n, v, err, f.u)
				}
			case 1:
				if v, err := r.ReadUE(); err != nil || uint64(v) != f.u {
					t.Fatalf("iter %d field %d: ue = %d, %v; want %d", iter, i, v, err, f.u)
				}
			case 2:
				if v, err := r.ReadSE(); err != nil || v != f.s {
					t.Fatalf("iter %d field %d: se = %d, %v; want %d", iter, i, v, err, f.s)
				}
			}
		}
		if used := len(w.Bytes())*8 - r.BitsLeft(); used != bits {
			t.Fatalf("iter %d: read %d bits, wrote %d", iter, used, bits)
		}
		if stop, err := r.ReadFlag(); err != nil || !stop {
			t.Fatalf("iter %d: trailing stop bit = %v, %v", iter, stop, err)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	r := NewReader([]byte{0xff}, errShort, errBad)
	if _, err := r.ReadBits(9); !errors.Is(err, errShort) {
		t.Fatalf("ReadBits past the end: %v", err)
	}
	if _, err := r.ReadBits(65); !errors.Is(err, errBad) {
		t.Fatalf("ReadBits(65): %v", err)
	}
	if err := r.Skip(-1); !errors.Is(err, errShort) {
		t.Fatalf("Skip(-1): %v", err)
	}
	if err := r.Skip(8); err != nil || r.BitsLeft() != 0 {
		t.Fatalf("Skip(8) = %v, %d left", err, r.BitsLeft())
	}
	// 32 leading zeros: a value beyond 32 bits.
	r = NewReader([]byte{0, 0, 0, 0, 0x80, 0, 0, 0, 0}, errShort, errBad)
	if _, err := r.ReadUE(); !errors.Is(err, errBad) {
		t.Fatalf("ReadUE of 32 leading zeros: %v", err)
	}
	// A code cut off in its suffix.
	r = NewReader([]byte{0x01}, errShort, errBad)
	if _, err := r.ReadSE(); !errors.Is(err, errShort) {
		t.Fatalf("ReadSE of a cut code: %v", err)
	}
}

func TestFieldsKeepFirstFailure(t *testing.T) {
	var w Writer
	w.U(4, 9)
	w.UE(300)
	w.SE(-7)
	f := NewFields(NewReader(w.Bytes(), errShort, errBad))
	if v := f.U(4, "a"); v != 9 {
		t.Fatalf("a = %d", v)
	}
	if v := f.UEMax("b", 299); v != 0 || !f.Failed() {
		t.Fatalf("b over its limit = %d, failed %v", v, f.Failed())
	}
	if v := f.SE("c"); v != 0 {
		t.Fatalf("read after a failure = %d, want 0", v)
	}
	f.Fail("d", errShort)
	err := f.Err()
	if !errors.Is(err, errBad) || err.Error() != "b: value 300 exceeds 299: bad" {
		t.Fatalf("Err() = %v", err)
	}

	f = NewFields(NewReader(w.Bytes(), errShort, errBad))
	f.U(4, "a")
	if f.UE("b") != 300 || f.SE("c") != -7 || f.Err() != nil {
		t.Fatalf("clean read: %v", f.Err())
	}
	if f.U(16, "past the end"); !errors.Is(f.Err(), errShort) {
		t.Fatalf("Err() after reading past the end = %v", f.Err())
	}
}
