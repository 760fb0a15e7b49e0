package h265

import (
	"fmt"
)

// NALUType is nal_unit_type, bits 1 to 6 of a NAL unit's 2-byte header
// (H.265 Table 7-1).
type NALUType uint8

// NAL unit types.
const (
	NALUTrailN    NALUType = 0
	NALUTrailR    NALUType = 1
	NALUTSAN      NALUType = 2
	NALUTSAR      NALUType = 3
	NALUSTSAN     NALUType = 4
	NALUSTSAR     NALUType = 5
	NALURADLN     NALUType = 6
	NALURADLR     NALUType = 7
	NALURASLN     NALUType = 8
	NALURASLR     NALUType = 9
	NALUBLAWLP    NALUType = 16
	NALUBLAWRADL  NALUType = 17
	NALUBLANLP    NALUType = 18
	NALUIDRWRADL  NALUType = 19
	NALUIDRNLP    NALUType = 20
	NALUCRA       NALUType = 21
	NALUVPS       NALUType = 32
	NALUSPS       NALUType = 33
	NALUPPS       NALUType = 34
	NALUAUD       NALUType = 35
	NALUEOS       NALUType = 36
	NALUEOB       NALUType = 37
	NALUFD        NALUType = 38
	NALUPrefixSEI NALUType = 39
	NALUSuffixSEI NALUType = 40
	// NALUInvalid is what NALType returns for input shorter than a header.
	NALUInvalid NALUType = 64
)

var naluNames = map[NALUType]string{
	NALUTrailN: "TRAIL_N", NALUTrailR: "TRAIL_R", NALUTSAN: "TSA_N", NALUTSAR: "TSA_R",
	NALUSTSAN: "STSA_N", NALUSTSAR: "STSA_R", NALURADLN: "RADL_N", NALURADLR: "RADL_R",
	NALURASLN: "RASL_N", NALURASLR: "RASL_R", NALUBLAWLP: "BLA_W_LP", NALUBLAWRADL: "BLA_W_RADL",
	NALUBLANLP: "BLA_N_LP", NALUIDRWRADL: "IDR_W_RADL", NALUIDRNLP: "IDR_N_LP", NALUCRA: "CRA_NUT",
	NALUVPS: "VPS", NALUSPS: "SPS", NALUPPS: "PPS", NALUAUD: "AUD", NALUEOS: "EOS", NALUEOB: "EOB",
	NALUFD: "FD", NALUPrefixSEI: "PREFIX_SEI", NALUSuffixSEI: "SUFFIX_SEI", NALUInvalid: "Invalid",
}

func (t NALUType) String() string {
	if s, ok := naluNames[t]; ok {
		return s
	}
	return fmt.Sprintf("NALUType(%d)", uint8(t))
}

// IsVCL reports whether units of this type carry coded slice segments.
func (t NALUType) IsVCL() bool { return t < 32 }

// IsIRAP reports whether the type marks an intra random access point (BLA,
// IDR, CRA and the reserved IRAP types 22 and 23), where decoding can start.
func (t NALUType) IsIRAP() bool { return t >= NALUBLAWLP && t <= 23 }

// Header is the 2-byte NAL unit header (H.265 clause 7.3.1.2).
type Header struct {
	Type            NALUType
	LayerID         uint8 // nuh_layer_id
	TemporalIDPlus1 uint8 // nuh_temporal_id_plus1
}

// ParseHeader decodes the header of NAL unit n.
func ParseHeader(n []byte) (Header, error) {
	if len(n) < 2 {
		return Header{}, fmt.Errorf("h265: NAL unit header of %d bytes: %w", len(n), ErrTruncated)
	}
	if n[0]&0x80 != 0 {
		return Header{}, fmt.Errorf("h265: forbidden_zero_bit set: %w", ErrInvalidValue)
	}
	h := Header{
		Type:            NALUType(n[0] >> 1 & 0x3f),
		LayerID:         (n[0]&1)<<5 | n[1]>>3,
		TemporalIDPlus1: n[1] & 7,
	}
	if h.TemporalIDPlus1 == 0 {
		return Header{}, fmt.Errorf("h265: nuh_temporal_id_plus1 is 0: %w", ErrInvalidValue)
	}
	return h, nil
}

// NALType returns the type of NAL unit n (without start code or length
// prefix), or NALUInvalid when n is shorter than the 2-byte header.
func NALType(n []byte) NALUType {
	if len(n) < 2 {
		return NALUInvalid
	}
	return NALUType(n[0] >> 1 & 0x3f)
}

// IsKeyFrame reports whether the access unit au contains an IRAP picture
// (NAL unit types 16 to 23).
func IsKeyFrame(au [][]byte) bool {
	for _, n := range au {
		if NALType(n).IsIRAP() {
			return true
		}
	}
	return false
}

// ParameterSets returns the VPS, SPS and PPS NAL units of the access unit au,
// in order. The returned slices share memory with au.
func ParameterSets(au [][]byte) (vps, sps, pps [][]byte) {
	for _, n := range au {
		switch NALType(n) {
		case NALUVPS:
			vps = append(vps, n)
		case NALUSPS:
			sps = append(sps, n)
		case NALUPPS:
			pps = append(pps, n)
		}
	}
	return vps, sps, pps
}
