package h264

import "fmt"

// NALUType is nal_unit_type, the low five bits of a NAL unit's first byte
// (H.264 Table 7-1).
type NALUType uint8

// NAL unit types.
const (
	NALUUnspecified   NALUType = 0
	NALUNonIDR        NALUType = 1  // coded slice of a non-IDR picture
	NALUPartitionA    NALUType = 2  // coded slice data partition A
	NALUPartitionB    NALUType = 3  // coded slice data partition B
	NALUPartitionC    NALUType = 4  // coded slice data partition C
	NALUIDR           NALUType = 5  // coded slice of an IDR picture
	NALUSEI           NALUType = 6  // supplemental enhancement information
	NALUSPS           NALUType = 7  // sequence parameter set
	NALUPPS           NALUType = 8  // picture parameter set
	NALUAUD           NALUType = 9  // access unit delimiter
	NALUEndOfSequence NALUType = 10 // end of sequence
	NALUEndOfStream   NALUType = 11 // end of stream
	NALUFiller        NALUType = 12 // filler data
	NALUSPSExt        NALUType = 13 // sequence parameter set extension
	NALUPrefix        NALUType = 14 // prefix NAL unit
	NALUSubsetSPS     NALUType = 15 // subset sequence parameter set
	NALUDPS           NALUType = 16 // depth parameter set
	NALUAuxSlice      NALUType = 19 // coded slice of an auxiliary picture
	NALUSliceExt      NALUType = 20 // coded slice extension
	NALUSliceExtDepth NALUType = 21 // coded slice extension for depth view
)

var naluNames = [...]string{
	NALUUnspecified:   "Unspecified",
	NALUNonIDR:        "NonIDR",
	NALUPartitionA:    "PartitionA",
	NALUPartitionB:    "PartitionB",
	NALUPartitionC:    "PartitionC",
	NALUIDR:           "IDR",
	NALUSEI:           "SEI",
	NALUSPS:           "SPS",
	NALUPPS:           "PPS",
	NALUAUD:           "AUD",
	NALUEndOfSequence: "EndOfSequence",
	NALUEndOfStream:   "EndOfStream",
	NALUFiller:        "Filler",
	NALUSPSExt:        "SPSExt",
	NALUPrefix:        "Prefix",
	NALUSubsetSPS:     "SubsetSPS",
	NALUDPS:           "DPS",
	NALUAuxSlice:      "AuxSlice",
	NALUSliceExt:      "SliceExt",
	NALUSliceExtDepth: "SliceExtDepth",
}

func (t NALUType) String() string {
	if int(t) < len(naluNames) && naluNames[t] != "" {
		return naluNames[t]
	}
	return fmt.Sprintf("NALUType(%d)", uint8(t))
}

// IsVCL reports whether units of this type carry coded slice data.
func (t NALUType) IsVCL() bool {
	return (t >= NALUNonIDR && t <= NALUIDR) || t == NALUAuxSlice || t == NALUSliceExt || t == NALUSliceExtDepth
}

// NALType returns the type of NAL unit n (without start code or length
// prefix); an empty n yields NALUUnspecified.
func NALType(n []byte) NALUType {
	if len(n) == 0 {
		return NALUUnspecified
	}
	return NALUType(n[0] & 0x1f)
}

// IsKeyFrame reports whether the access unit au contains a slice of an IDR
// picture, from which decoding can start.
func IsKeyFrame(au [][]byte) bool {
	for _, n := range au {
		if NALType(n) == NALUIDR {
			return true
		}
	}
	return false
}

// ParameterSets returns the SPS and PPS NAL units of the access unit au, in
// order. The returned slices share memory with au.
func ParameterSets(au [][]byte) (sps, pps [][]byte) {
	for _, n := range au {
		switch NALType(n) {
		case NALUSPS:
			sps = append(sps, n)
		case NALUPPS:
			pps = append(pps, n)
		}
	}
	return sps, pps
}

// RemoveEmulationPrevention converts a NAL unit (or any part of one) to its
// raw byte sequence payload by dropping each emulation_prevention_three_byte,
// the 0x03 of a 0x00 0x00 0x03 sequence (H.264 clause 7.4.1, identical in
// H.265). It returns b itself when there is nothing to remove, and a new
// slice otherwise.
func RemoveEmulationPrevention(b []byte) []byte {
	first := findEmulation(b)
	if first < 0 {
		return b
	}
	out := make([]byte, 0, len(b)-1)
	out = append(out, b[:first]...)
	zeros := 0
	for _, c := range b[first+1:] {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// findEmulation returns the index of the first emulation prevention byte in
// b, or -1.
func findEmulation(b []byte) int {
	zeros := 0
	for i, c := range b {
		if zeros >= 2 && c == 3 {
			return i
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return -1
}

// AddEmulationPrevention appends rbsp to dst, inserting an
// emulation_prevention_three_byte wherever two zero bytes are followed by a
// byte of 0x03 or less, so that the result contains no start code. It is the
// inverse of RemoveEmulationPrevention.
func AddEmulationPrevention(dst, rbsp []byte) []byte {
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}
