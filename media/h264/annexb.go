package h264

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

var startCode = []byte{0, 0, 1}

// NextNALU finds the first NAL unit in the Annex-B byte stream b and returns
// it without its start code, together with the rest of the stream, which
// begins at the following start code. Bytes before the first start code are
// skipped, as are empty NAL units; trailing zero bytes (trailing_zero_8bits
// and the leading zero of a 4-byte start code) are trimmed. When b holds no
// further NAL unit, nalu is nil. NextNALU does not allocate:
//
//	for nalu, rest := h264.NextNALU(b); nalu != nil; nalu, rest = h264.NextNALU(rest) {
//		...
//	}
func NextNALU(b []byte) (nalu, rest []byte) {
	for {
		i := bytes.Index(b, startCode)
		if i < 0 {
			return nil, nil
		}
		b = b[i+len(startCode):]
		j := bytes.Index(b, startCode)
		if j < 0 {
			nalu, rest = b, nil
		} else {
			nalu, rest = b[:j], b[j:]
		}
		for len(nalu) > 0 && nalu[len(nalu)-1] == 0 {
			nalu = nalu[:len(nalu)-1]
		}
		if len(nalu) > 0 {
			return nalu, rest
		}
		if rest == nil {
			return nil, nil
		}
		b = rest
	}
}

// SplitAnnexB returns the NAL units of the Annex-B byte stream b (3- or
// 4-byte start codes) without their start codes, as NextNALU finds them. The
// NAL units share memory with b. Input without a start code yields none.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	for nalu, rest := NextNALU(b); nalu != nil; nalu, rest = NextNALU(rest) {
		out = append(out, nalu)
	}
	return out
}

// AnnexBToAVCC appends the NAL units of the Annex-B byte stream annexb to dst,
// each preceded by its length as a 4-byte big-endian number, and returns the
// extended slice. It does not allocate when dst has enough capacity: each
// 3-byte start code grows to a 4-byte length, so len(annexb)*5/4 bytes
// always suffice, and len(annexb) when every start code has four bytes.
// dst must not overlap annexb.
func AnnexBToAVCC(dst, annexb []byte) []byte {
	for nalu, rest := NextNALU(annexb); nalu != nil; nalu, rest = NextNALU(rest) {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(nalu)))
		dst = append(dst, nalu...)
	}
	return dst
}

// AVCCToAnnexB appends the NAL units of avcc, each preceded by a 4-byte
// big-endian length, to dst with 4-byte start codes (00 00 00 01) and returns
// the extended slice. Empty NAL units are dropped. A malformed length yields
// an error wrapping ErrInvalidLength and dst unchanged.
func AVCCToAnnexB(dst, avcc []byte) ([]byte, error) {
	if err := checkLengthPrefixed(avcc, 4); err != nil {
		return dst, err
	}
	for b := avcc; len(b) > 0; {
		n := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		if n > 0 {
			dst = append(dst, 0, 0, 0, 1)
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst, nil
}

// SplitAVCC returns the NAL units of b, each preceded by a 4-byte big-endian
// length, as used in Frame.Data, MP4 and Matroska. The NAL units share memory
// with b; empty ones are dropped.
func SplitAVCC(b []byte) ([][]byte, error) {
	return SplitLengthPrefixed(b, 4)
}

// SplitLengthPrefixed is SplitAVCC for a length prefix of lengthSize bytes
// (1, 2, 3 or 4; see AVCConfig.NALULengthSize).
func SplitLengthPrefixed(b []byte, lengthSize int) ([][]byte, error) {
	if err := checkLengthPrefixed(b, lengthSize); err != nil {
		return nil, err
	}
	var out [][]byte
	for len(b) > 0 {
		n := int(readLength(b, lengthSize))
		b = b[lengthSize:]
		if n > 0 {
			out = append(out, b[:n:n])
		}
		b = b[n:]
	}
	return out, nil
}

// AppendLengthPrefixed appends each NAL unit of nalus to dst preceded by its
// 4-byte big-endian length. It is the inverse of SplitAVCC.
func AppendLengthPrefixed(dst []byte, nalus ...[]byte) []byte {
	for _, n := range nalus {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(n)))
		dst = append(dst, n...)
	}
	return dst
}

func readLength(b []byte, size int) uint64 {
	var n uint64
	for _, c := range b[:size] {
		n = n<<8 | uint64(c)
	}
	return n
}

// checkLengthPrefixed validates every length prefix of b before anything is
// written, so that callers fail without partial output.
func checkLengthPrefixed(b []byte, size int) error {
	if size < 1 || size > 4 {
		return fmt.Errorf("h264: length size %d: %w", size, ErrInvalidLength)
	}
	for off := 0; off < len(b); {
		if len(b)-off < size {
			return fmt.Errorf("h264: offset %d: %d bytes left for a %d-byte length: %w", off, len(b)-off, size, ErrInvalidLength)
		}
		n := readLength(b[off:], size)
		if n > uint64(len(b)-off-size) {
			return fmt.Errorf("h264: offset %d: NAL unit length %d exceeds the %d bytes left: %w", off, n, len(b)-off-size, ErrInvalidLength)
		}
		off += size + int(n)
	}
	return nil
}
