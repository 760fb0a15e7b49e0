package h265

import (
	"encoding/binary"
	"fmt"
)

// NALUArray is one array of an HEVCDecoderConfigurationRecord: the NAL units
// of one type.
type NALUArray struct {
	// Complete is array_completeness: all NAL units of this type are in the
	// array and none are in the stream.
	Complete bool
	Type     NALUType
	NALUs    [][]byte
}

// HEVCConfig is an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 clause
// 8.3.3.1), the CodecPrivate of a Matroska V_MPEGH/ISO/HEVC track and the
// payload of an MP4 hvcC box.
type HEVCConfig struct {
	General                   PTL    // general profile, tier and level
	MinSpatialSegmentationIDC uint16 // 12 bits
	ParallelismType           uint8  // 0 unknown, 1 slices, 2 tiles, 3 wavefront
	ChromaFormat              uint8  // chroma_format_idc
	BitDepthLumaMinus8        uint8
	BitDepthChromaMinus8      uint8
	AvgFrameRate              uint16 // frames per 256 seconds, 0 unspecified
	ConstantFrameRate         uint8  // 0..2
	NumTemporalLayers         uint8  // 0..7
	TemporalIDNested          bool
	// NALULengthSize is the size in bytes of the NAL unit length prefixes of
	// the samples: 1, 2 or 4 (lengthSizeMinusOne + 1).
	NALULengthSize int
	Arrays         []NALUArray
}

// BuildHVCC returns the HEVCDecoderConfigurationRecord for the given
// parameter sets (NAL units without start codes): profile, tier, level,
// chroma format, bit depths and temporal layering come from the first SPS;
// min_spatial_segmentation_idc, parallelismType, avgFrameRate and
// constantFrameRate are 0 (unknown); lengths are 4 bytes; the VPS, SPS and
// PPS arrays are marked complete.
func BuildHVCC(vps, sps, pps [][]byte) ([]byte, error) {
	c, err := NewHEVCConfig(vps, sps, pps)
	if err != nil {
		return nil, err
	}
	return c.Marshal()
}

// NewHEVCConfig is BuildHVCC before encoding: it checks the parameter sets
// and fills the record's fields.
func NewHEVCConfig(vps, sps, pps [][]byte) (HEVCConfig, error) {
	if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
		return HEVCConfig{}, fmt.Errorf("h265: hvcc: %d VPS, %d SPS, %d PPS: %w", len(vps), len(sps), len(pps), ErrMissingParameterSets)
	}
	s, err := ParseSPS(sps[0])
	if err != nil {
		return HEVCConfig{}, fmt.Errorf("h265: hvcc: %w", err)
	}
	for _, a := range []struct {
		t     NALUType
		nalus [][]byte
	}{{NALUVPS, vps}, {NALUSPS, sps}, {NALUPPS, pps}} {
		for i, n := range a.nalus {
			if got := NALType(n); got != a.t {
				return HEVCConfig{}, fmt.Errorf("h265: hvcc: %v %d has NAL unit type %v: %w", a.t, i, got, ErrNALType)
			}
		}
	}
	return HEVCConfig{
		General:              s.ProfileTierLevel.General,
		ChromaFormat:         uint8(s.ChromaFormatIDC),
		BitDepthLumaMinus8:   uint8(s.BitDepthLuma - 8),
		BitDepthChromaMinus8: uint8(s.BitDepthChroma - 8),
		NumTemporalLayers:    s.MaxSubLayers,
		TemporalIDNested:     s.TemporalIDNesting,
		NALULengthSize:       4,
		Arrays: []NALUArray{
			{Complete: true, Type: NALUVPS, NALUs: vps},
			{Complete: true, Type: NALUSPS, NALUs: sps},
			{Complete: true, Type: NALUPPS, NALUs: pps},
		},
	}, nil
}

// ParameterSets returns the NAL units of the VPS, SPS and PPS arrays.
func (c HEVCConfig) ParameterSets() (vps, sps, pps [][]byte) {
	for _, a := range c.Arrays {
		switch a.Type {
		case NALUVPS:
			vps = append(vps, a.NALUs...)
		case NALUSPS:
			sps = append(sps, a.NALUs...)
		case NALUPPS:
			pps = append(pps, a.NALUs...)
		}
	}
	return vps, sps, pps
}

// Marshal encodes the record.
func (c HEVCConfig) Marshal() ([]byte, error) { return c.AppendBinary(nil) }

// AppendBinary appends the encoded record to b.
func (c HEVCConfig) AppendBinary(b []byte) ([]byte, error) {
	g := c.General
	switch {
	case c.NALULengthSize != 1 && c.NALULengthSize != 2 && c.NALULengthSize != 4:
		return b, fmt.Errorf("h265: hvcc: NAL unit length size %d: %w", c.NALULengthSize, ErrInvalidRecord)
	case g.ProfileSpace > 3 || g.ProfileIDC > 31 || g.ConstraintFlags >= 1<<48:
		return b, fmt.Errorf("h265: hvcc: profile space %d, profile %d, constraint flags %#x: %w", g.ProfileSpace, g.ProfileIDC, g.ConstraintFlags, ErrInvalidRecord)
	case c.MinSpatialSegmentationIDC >= 1<<12 || c.ParallelismType > 3 || c.ChromaFormat > 3 ||
		c.BitDepthLumaMinus8 > 7 || c.BitDepthChromaMinus8 > 7 || c.ConstantFrameRate > 3 || c.NumTemporalLayers > 7:
		return b, fmt.Errorf("h265: hvcc: field out of range in %+v: %w", c, ErrInvalidRecord)
	case len(c.Arrays) > 255:
		return b, fmt.Errorf("h265: hvcc: %d arrays: %w", len(c.Arrays), ErrInvalidRecord)
	}
	orig := len(b)
	tier := byte(0)
	if g.HighTier {
		tier = 1
	}
	b = append(b, 1, g.ProfileSpace<<6|tier<<5|g.ProfileIDC)
	b = binary.BigEndian.AppendUint32(b, g.CompatibilityFlags)
	b = binary.BigEndian.AppendUint16(b, uint16(g.ConstraintFlags>>32))
	b = binary.BigEndian.AppendUint32(b, uint32(g.ConstraintFlags))
	b = append(b, g.LevelIDC)
	b = binary.BigEndian.AppendUint16(b, 0xf000|c.MinSpatialSegmentationIDC)
	b = append(b, 0xfc|c.ParallelismType, 0xfc|c.ChromaFormat, 0xf8|c.BitDepthLumaMinus8, 0xf8|c.BitDepthChromaMinus8)
	b = binary.BigEndian.AppendUint16(b, c.AvgFrameRate)
	nested := byte(0)
	if c.TemporalIDNested {
		nested = 1
	}
	b = append(b, c.ConstantFrameRate<<6|c.NumTemporalLayers<<3|nested<<2|byte(c.NALULengthSize-1))
	b = append(b, byte(len(c.Arrays)))
	for _, a := range c.Arrays {
		if a.Type > 63 || len(a.NALUs) > 0xffff {
			return b[:orig], fmt.Errorf("h265: hvcc: array of type %d with %d NAL units: %w", a.Type, len(a.NALUs), ErrInvalidRecord)
		}
		complete := byte(0)
		if a.Complete {
			complete = 0x80
		}
		b = append(b, complete|byte(a.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(len(a.NALUs)))
		for i, n := range a.NALUs {
			if len(n) == 0 || len(n) > 0xffff {
				return b[:orig], fmt.Errorf("h265: hvcc: %v %d has length %d: %w", a.Type, i, len(n), ErrInvalidRecord)
			}
			b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
			b = append(b, n...)
		}
	}
	return b, nil
}

// hvccHeaderSize is the size of the record before its arrays.
const hvccHeaderSize = 23

// ParseHVCC decodes an HEVCDecoderConfigurationRecord. The returned NAL
// units share memory with b; bytes after the last array are ignored.
func ParseHVCC(b []byte) (HEVCConfig, error) {
	if len(b) < hvccHeaderSize {
		return HEVCConfig{}, fmt.Errorf("h265: hvcc: %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0] != 1 {
		return HEVCConfig{}, fmt.Errorf("h265: hvcc: configurationVersion %d: %w", b[0], ErrInvalidRecord)
	}
	c := HEVCConfig{
		General: PTL{
			ProfileSpace:       b[1] >> 6,
			HighTier:           b[1]&0x20 != 0,
			ProfileIDC:         b[1] & 0x1f,
			CompatibilityFlags: binary.BigEndian.Uint32(b[2:]),
			ConstraintFlags:    uint64(binary.BigEndian.Uint16(b[6:]))<<32 | uint64(binary.BigEndian.Uint32(b[8:])),
			LevelIDC:           b[12],
		},
		MinSpatialSegmentationIDC: binary.BigEndian.Uint16(b[13:]) & 0xfff,
		ParallelismType:           b[15] & 3,
		ChromaFormat:              b[16] & 3,
		BitDepthLumaMinus8:        b[17] & 7,
		BitDepthChromaMinus8:      b[18] & 7,
		AvgFrameRate:              binary.BigEndian.Uint16(b[19:]),
		ConstantFrameRate:         b[21] >> 6,
		NumTemporalLayers:         b[21] >> 3 & 7,
		TemporalIDNested:          b[21]&4 != 0,
		NALULengthSize:            int(b[21]&3) + 1,
	}
	if c.NALULengthSize == 3 {
		return HEVCConfig{}, fmt.Errorf("h265: hvcc: lengthSizeMinusOne 2: %w", ErrInvalidRecord)
	}
	numArrays := int(b[22])
	p := b[hvccHeaderSize:]
	for i := 0; i < numArrays; i++ {
		if len(p) < 3 {
			return HEVCConfig{}, fmt.Errorf("h265: hvcc: array %d header: %w", i, ErrTruncated)
		}
		a := NALUArray{Complete: p[0]&0x80 != 0, Type: NALUType(p[0] & 0x3f)}
		n := int(binary.BigEndian.Uint16(p[1:]))
		p = p[3:]
		for j := 0; j < n; j++ {
			if len(p) < 2 {
				return HEVCConfig{}, fmt.Errorf("h265: hvcc: array %d (%v) NAL unit %d length: %w", i, a.Type, j, ErrTruncated)
			}
			l := int(binary.BigEndian.Uint16(p))
			if l == 0 {
				return HEVCConfig{}, fmt.Errorf("h265: hvcc: array %d (%v) NAL unit %d is empty: %w", i, a.Type, j, ErrInvalidRecord)
			}
			if l > len(p)-2 {
				return HEVCConfig{}, fmt.Errorf("h265: hvcc: array %d (%v) NAL unit %d length %d exceeds the %d bytes left: %w", i, a.Type, j, l, len(p)-2, ErrTruncated)
			}
			a.NALUs = append(a.NALUs, p[2:2+l:2+l])
			p = p[2+l:]
		}
		c.Arrays = append(c.Arrays, a)
	}
	return c, nil
}

// CodecString returns the RFC 6381 codecs parameter, e.g. "hvc1.1.6.L93.B0".
func (c HEVCConfig) CodecString() string { return c.General.CodecString() }
