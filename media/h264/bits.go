package h264

import "kvskit/media/internal/rbsp"

// BitReader reads a raw byte sequence payload (RBSP) most significant bit
// first, including the Exp-Golomb codes ue(v) and se(v) of H.264 clause 9.1,
// which H.265 shares. It never reads past its buffer: every method reports
// ErrTruncated instead, and ErrInvalidValue for a code of more than 32 bits.
// Emulation prevention bytes must already be removed (see
// RemoveEmulationPrevention).
type BitReader = rbsp.Reader

// NewBitReader returns a reader positioned at the first bit of b.
func NewBitReader(b []byte) *BitReader { return rbsp.NewReader(b, ErrTruncated, ErrInvalidValue) }
