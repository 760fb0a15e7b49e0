package h264

import (
	"encoding/binary"
	"fmt"
)

// AVCConfig is an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 clause
// 5.3.3.1), the CodecPrivate of a Matroska V_MPEG4/ISO/AVC track and the
// payload of an MP4 avcC box.
type AVCConfig struct {
	ProfileIDC           uint8 // AVCProfileIndication
	ProfileCompatibility uint8 // the SPS constraint flags byte
	LevelIDC             uint8 // AVCLevelIndication
	// NALULengthSize is the size in bytes of the NAL unit length prefixes of
	// the samples: 1, 2 or 4 (lengthSizeMinusOne + 1).
	NALULengthSize int
	SPS            [][]byte
	PPS            [][]byte

	// HasExtension reports whether the fields below are present; records of
	// the High profiles (see HasChromaInfo) carry them.
	HasExtension         bool
	ChromaFormat         uint8 // chroma_format_idc
	BitDepthLumaMinus8   uint8
	BitDepthChromaMinus8 uint8
	SPSExt               [][]byte
}

// BuildAVCC returns the AVCDecoderConfigurationRecord for the given SPS and
// PPS NAL units (without start codes), with 4-byte NAL unit lengths. Profile,
// compatibility and level come from the first SPS; for the High profiles the
// record ends with chroma_format, bit depths and no SPS extensions.
func BuildAVCC(sps, pps [][]byte) ([]byte, error) {
	c, err := NewAVCConfig(sps, pps)
	if err != nil {
		return nil, err
	}
	return c.Marshal()
}

// NewAVCConfig is BuildAVCC before encoding: it checks the parameter sets and
// fills the record's fields.
func NewAVCConfig(sps, pps [][]byte) (AVCConfig, error) {
	if len(sps) == 0 || len(pps) == 0 {
		return AVCConfig{}, fmt.Errorf("h264: avcc: %d SPS and %d PPS: %w", len(sps), len(pps), ErrMissingParameterSets)
	}
	s, err := ParseSPS(sps[0])
	if err != nil {
		return AVCConfig{}, fmt.Errorf("h264: avcc: %w", err)
	}
	for i, p := range pps {
		if t := NALType(p); t != NALUPPS {
			return AVCConfig{}, fmt.Errorf("h264: avcc: PPS %d has NAL unit type %v: %w", i, t, ErrNALType)
		}
	}
	for i, p := range sps[1:] {
		if t := NALType(p); t != NALUSPS {
			return AVCConfig{}, fmt.Errorf("h264: avcc: SPS %d has NAL unit type %v: %w", i+1, t, ErrNALType)
		}
	}
	c := AVCConfig{
		ProfileIDC:           s.ProfileIDC,
		ProfileCompatibility: s.ConstraintFlags,
		LevelIDC:             s.LevelIDC,
		NALULengthSize:       4,
		SPS:                  sps,
		PPS:                  pps,
	}
	if HasChromaInfo(s.ProfileIDC) {
		c.HasExtension = true
		c.ChromaFormat = uint8(s.ChromaFormatIDC)
		c.BitDepthLumaMinus8 = uint8(s.BitDepthLuma - 8)
		c.BitDepthChromaMinus8 = uint8(s.BitDepthChroma - 8)
	}
	return c, nil
}

// Marshal encodes the record.
func (c AVCConfig) Marshal() ([]byte, error) {
	return c.AppendBinary(nil)
}

// AppendBinary appends the encoded record to b.
func (c AVCConfig) AppendBinary(b []byte) ([]byte, error) {
	var lsm1 byte
	switch c.NALULengthSize {
	case 1, 2, 4:
		lsm1 = byte(c.NALULengthSize - 1)
	default:
		return b, fmt.Errorf("h264: avcc: NAL unit length size %d: %w", c.NALULengthSize, ErrInvalidRecord)
	}
	if len(c.SPS) > 31 || len(c.PPS) > 255 || len(c.SPSExt) > 255 {
		return b, fmt.Errorf("h264: avcc: %d SPS, %d PPS, %d SPS extensions: %w", len(c.SPS), len(c.PPS), len(c.SPSExt), ErrInvalidRecord)
	}
	if c.ChromaFormat > 3 || c.BitDepthLumaMinus8 > 7 || c.BitDepthChromaMinus8 > 7 {
		return b, fmt.Errorf("h264: avcc: chroma format %d, bit depths %d/%d: %w", c.ChromaFormat, c.BitDepthLumaMinus8+8, c.BitDepthChromaMinus8+8, ErrInvalidRecord)
	}
	orig := len(b)
	b = append(b, 1, c.ProfileIDC, c.ProfileCompatibility, c.LevelIDC, 0xfc|lsm1, 0xe0|byte(len(c.SPS)))
	var err error
	if b, err = appendNALUs16(b, c.SPS, "SPS"); err != nil {
		return b[:orig], err
	}
	b = append(b, byte(len(c.PPS)))
	if b, err = appendNALUs16(b, c.PPS, "PPS"); err != nil {
		return b[:orig], err
	}
	if c.HasExtension {
		b = append(b, 0xfc|c.ChromaFormat, 0xf8|c.BitDepthLumaMinus8, 0xf8|c.BitDepthChromaMinus8, byte(len(c.SPSExt)))
		if b, err = appendNALUs16(b, c.SPSExt, "SPS extension"); err != nil {
			return b[:orig], err
		}
	}
	return b, nil
}

func appendNALUs16(b []byte, nalus [][]byte, what string) ([]byte, error) {
	for i, n := range nalus {
		if len(n) == 0 || len(n) > 0xffff {
			return b, fmt.Errorf("h264: avcc: %s %d has length %d: %w", what, i, len(n), ErrInvalidRecord)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return b, nil
}

// ParseAVCC decodes an AVCDecoderConfigurationRecord. The returned NAL units
// share memory with b. The High-profile extension is read when present;
// records that omit it entirely, as some writers do, are accepted, and
// bytes after the record of other profiles are ignored.
func ParseAVCC(b []byte) (AVCConfig, error) {
	if len(b) < 7 {
		return AVCConfig{}, fmt.Errorf("h264: avcc: %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0] != 1 {
		return AVCConfig{}, fmt.Errorf("h264: avcc: configurationVersion %d: %w", b[0], ErrInvalidRecord)
	}
	c := AVCConfig{
		ProfileIDC:           b[1],
		ProfileCompatibility: b[2],
		LevelIDC:             b[3],
		NALULengthSize:       int(b[4]&3) + 1,
	}
	if c.NALULengthSize == 3 {
		return AVCConfig{}, fmt.Errorf("h264: avcc: lengthSizeMinusOne 2: %w", ErrInvalidRecord)
	}
	p := b[5:]
	var err error
	nSPS := int(p[0] & 0x1f)
	if c.SPS, p, err = readNALUs16(p[1:], nSPS, "SPS"); err != nil {
		return AVCConfig{}, err
	}
	if len(p) < 1 {
		return AVCConfig{}, fmt.Errorf("h264: avcc: numOfPictureParameterSets: %w", ErrTruncated)
	}
	if c.PPS, p, err = readNALUs16(p[1:], int(p[0]), "PPS"); err != nil {
		return AVCConfig{}, err
	}
	if HasChromaInfo(c.ProfileIDC) && len(p) > 0 {
		if len(p) < 4 {
			return AVCConfig{}, fmt.Errorf("h264: avcc: %d bytes of High profile extension: %w", len(p), ErrTruncated)
		}
		c.HasExtension = true
		c.ChromaFormat = p[0] & 3
		c.BitDepthLumaMinus8 = p[1] & 7
		c.BitDepthChromaMinus8 = p[2] & 7
		if c.SPSExt, _, err = readNALUs16(p[4:], int(p[3]), "SPS extension"); err != nil {
			return AVCConfig{}, err
		}
	}
	return c, nil
}

func readNALUs16(p []byte, count int, what string) (nalus [][]byte, rest []byte, err error) {
	for i := 0; i < count; i++ {
		if len(p) < 2 {
			return nil, nil, fmt.Errorf("h264: avcc: %s %d length: %w", what, i, ErrTruncated)
		}
		n := int(binary.BigEndian.Uint16(p))
		if n == 0 {
			return nil, nil, fmt.Errorf("h264: avcc: %s %d is empty: %w", what, i, ErrInvalidRecord)
		}
		if n > len(p)-2 {
			return nil, nil, fmt.Errorf("h264: avcc: %s %d length %d exceeds the %d bytes left: %w", what, i, n, len(p)-2, ErrTruncated)
		}
		nalus = append(nalus, p[2:2+n:2+n])
		p = p[2+n:]
	}
	return nalus, p, nil
}

// CodecString returns the RFC 6381 codecs parameter, e.g. "avc1.64001f".
func (c AVCConfig) CodecString() string {
	return fmt.Sprintf("avc1.%02x%02x%02x", c.ProfileIDC, c.ProfileCompatibility, c.LevelIDC)
}
