// Package rbsp reads and writes the bit fields of a raw byte sequence payload
// (RBSP), the syntax that H.264 and H.265 parameter sets are written in:
// fixed-width fields u(n), flags and the Exp-Golomb codes ue(v) and se(v).
// The codec packages of media share it (AAC writes its AudioSpecificConfig
// with Writer); each passes its own sentinel errors, so callers see
// h264.ErrTruncated or h265.ErrTruncated.
package rbsp
