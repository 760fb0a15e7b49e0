package aac

import (
	"fmt"
	"time"
)

// ADTS framing limits.
const (
	// MaxADTSFrameLength is the largest aac_frame_length (13 bits), header
	// included.
	MaxADTSFrameLength = 1<<13 - 1
	// MaxADTSPayload is the largest raw frame AppendADTS can frame.
	MaxADTSPayload = MaxADTSFrameLength - 7
)

// ADTSHeader is the header of an ADTS frame (ISO/IEC 14496-3 clause 1.A.2.2,
// ISO/IEC 13818-7 clause 6.2).
type ADTSHeader struct {
	MPEG2            bool // ID: MPEG-2 AAC rather than MPEG-4
	ProtectionAbsent bool // no CRC follows the fixed 7 bytes
	// ObjectType is profile_ObjectType + 1: 1 Main, 2 LC, 3 SSR, 4 LTP.
	ObjectType       ObjectType
	FrequencyIndex   uint8 // sampling_frequency_index, 0..12
	Private          bool  // private_bit
	ChannelConfig    uint8 // channel_configuration, 0..7
	Original         bool  // original_copy
	Home             bool
	CopyrightIDBit   bool   // copyright_identification_bit
	CopyrightIDStart bool   // copyright_identification_start
	FrameLength      int    // aac_frame_length: header, CRC and payload in bytes
	BufferFullness   uint16 // adts_buffer_fullness, 0x7FF for variable bit rate
	RawDataBlocks    int    // number_of_raw_data_blocks_in_frame + 1
	CRC              uint16 // crc_check, when !ProtectionAbsent
}

// HeaderLength is 7, or 9 with a CRC.
func (h ADTSHeader) HeaderLength() int {
	if h.ProtectionAbsent {
		return 7
	}
	return 9
}

// PayloadLength is the length of the raw data after the header.
func (h ADTSHeader) PayloadLength() int { return h.FrameLength - h.HeaderLength() }

// SampleRate is the sampling frequency in Hz.
func (h ADTSHeader) SampleRate() int { return SampleRateOf(h.FrequencyIndex) }

// Channels is the number of channels, 0 when a program config element in the
// payload defines them.
func (h ADTSHeader) Channels() int { return ChannelsOf(h.ChannelConfig) }

// FrameDuration is the duration of the frame's RawDataBlocks frames of 1024
// samples.
func (h ADTSHeader) FrameDuration() time.Duration {
	return FrameDuration(SamplesPerFrame*max(h.RawDataBlocks, 1), h.SampleRate())
}

// ParseADTSHeader decodes the ADTS header at the start of b.
func ParseADTSHeader(b []byte) (ADTSHeader, error) {
	if len(b) < 7 {
		return ADTSHeader{}, fmt.Errorf("aac: ADTS header of %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0] != 0xff || b[1]&0xf0 != 0xf0 {
		return ADTSHeader{}, fmt.Errorf("aac: ADTS header %x: %w", b[:2], ErrSync)
	}
	if layer := b[1] >> 1 & 3; layer != 0 {
		return ADTSHeader{}, fmt.Errorf("aac: ADTS layer %d: %w", layer, ErrInvalidValue)
	}
	h := ADTSHeader{
		MPEG2:            b[1]&0x08 != 0,
		ProtectionAbsent: b[1]&0x01 != 0,
		ObjectType:       ObjectType(b[2]>>6) + 1,
		FrequencyIndex:   b[2] >> 2 & 0xf,
		Private:          b[2]&0x02 != 0,
		ChannelConfig:    (b[2]&1)<<2 | b[3]>>6,
		Original:         b[3]&0x20 != 0,
		Home:             b[3]&0x10 != 0,
		CopyrightIDBit:   b[3]&0x08 != 0,
		CopyrightIDStart: b[3]&0x04 != 0,
		FrameLength:      int(b[3]&3)<<11 | int(b[4])<<3 | int(b[5]>>5),
		BufferFullness:   uint16(b[5]&0x1f)<<6 | uint16(b[6]>>2),
		RawDataBlocks:    int(b[6]&3) + 1,
	}
	if SampleRateOf(h.FrequencyIndex) == 0 {
		return ADTSHeader{}, fmt.Errorf("aac: ADTS sampling_frequency_index %d: %w", h.FrequencyIndex, ErrInvalidValue)
	}
	if !h.ProtectionAbsent {
		if len(b) < 9 {
			return ADTSHeader{}, fmt.Errorf("aac: ADTS header with CRC of %d bytes: %w", len(b), ErrTruncated)
		}
		h.CRC = uint16(b[7])<<8 | uint16(b[8])
	}
	if h.FrameLength < h.HeaderLength() {
		return ADTSHeader{}, fmt.Errorf("aac: ADTS aac_frame_length %d shorter than the %d-byte header: %w", h.FrameLength, h.HeaderLength(), ErrInvalidValue)
	}
	return h, nil
}

// AppendBinary appends the encoded header (7 or 9 bytes) to b.
func (h ADTSHeader) AppendBinary(b []byte) ([]byte, error) {
	switch {
	case h.ObjectType < 1 || h.ObjectType > 4:
		return b, fmt.Errorf("aac: ADTS cannot carry object type %d: %w", h.ObjectType, ErrInvalidValue)
	case SampleRateOf(h.FrequencyIndex) == 0:
		return b, fmt.Errorf("aac: ADTS sampling_frequency_index %d: %w", h.FrequencyIndex, ErrInvalidValue)
	case h.ChannelConfig > 7:
		return b, fmt.Errorf("aac: ADTS channel_configuration %d: %w", h.ChannelConfig, ErrInvalidValue)
	case h.FrameLength < h.HeaderLength() || h.FrameLength > MaxADTSFrameLength:
		return b, fmt.Errorf("aac: ADTS aac_frame_length %d: %w", h.FrameLength, ErrInvalidValue)
	case h.BufferFullness > 0x7ff || h.RawDataBlocks < 1 || h.RawDataBlocks > 4:
		return b, fmt.Errorf("aac: ADTS buffer fullness %#x, %d raw data blocks: %w", h.BufferFullness, h.RawDataBlocks, ErrInvalidValue)
	}
	bit := func(v bool, mask byte) byte {
		if v {
			return mask
		}
		return 0
	}
	b = append(b,
		0xff,
		0xf0|bit(h.MPEG2, 0x08)|bit(h.ProtectionAbsent, 0x01),
		byte(h.ObjectType-1)<<6|h.FrequencyIndex<<2|bit(h.Private, 0x02)|h.ChannelConfig>>2,
		h.ChannelConfig<<6|bit(h.Original, 0x20)|bit(h.Home, 0x10)|bit(h.CopyrightIDBit, 0x08)|bit(h.CopyrightIDStart, 0x04)|byte(h.FrameLength>>11),
		byte(h.FrameLength>>3),
		byte(h.FrameLength<<5)|byte(h.BufferFullness>>6),
		byte(h.BufferFullness<<2)|byte(h.RawDataBlocks-1),
	)
	if !h.ProtectionAbsent {
		b = append(b, byte(h.CRC>>8), byte(h.CRC))
	}
	return b, nil
}

// ADTSHeaderFor returns the 7-byte header AppendADTS writes for a raw frame
// of payloadLength bytes: the AAC core of cfg (ADTS signals SBR only
// implicitly), MPEG-4, no CRC, buffer fullness 0x7FF (variable bit rate) and
// one raw data block. An explicit frequency with a standard index is written
// as that index.
func ADTSHeaderFor(cfg AudioSpecificConfig, payloadLength int) (ADTSHeader, error) {
	fi := cfg.FrequencyIndex
	if fi == FrequencyIndexExplicit {
		i, ok := FrequencyIndex(int(cfg.Frequency))
		if !ok {
			return ADTSHeader{}, fmt.Errorf("aac: ADTS cannot carry an explicit frequency of %d Hz: %w", cfg.Frequency, ErrInvalidValue)
		}
		fi = i
	}
	if payloadLength < 0 || payloadLength > MaxADTSPayload {
		return ADTSHeader{}, fmt.Errorf("aac: raw frame of %d bytes exceeds ADTS's %d: %w", payloadLength, MaxADTSPayload, ErrInvalidValue)
	}
	h := ADTSHeader{
		ProtectionAbsent: true,
		ObjectType:       cfg.ObjectType,
		FrequencyIndex:   fi,
		ChannelConfig:    cfg.ChannelConfig,
		FrameLength:      7 + payloadLength,
		BufferFullness:   0x7ff,
		RawDataBlocks:    1,
	}
	if _, err := h.AppendBinary(make([]byte, 0, 9)); err != nil {
		return ADTSHeader{}, err
	}
	return h, nil
}

// AppendADTS appends raw, one raw AAC frame, to dst behind the ADTS header
// ADTSHeaderFor describes. When cfg or raw cannot be framed in ADTS (see
// ADTSHeaderFor; valid AAC frames always fit), it returns dst unchanged.
func AppendADTS(dst []byte, cfg AudioSpecificConfig, raw []byte) []byte {
	h, err := ADTSHeaderFor(cfg, len(raw))
	if err != nil {
		return dst
	}
	dst, _ = h.AppendBinary(dst)
	return append(dst, raw...)
}

// NextADTS decodes the ADTS frame at the start of b and returns its header,
// its raw AAC payload (sharing memory with b) and the bytes after it.
// Frames with several raw data blocks are rejected with ErrUnsupported.
func NextADTS(b []byte) (h ADTSHeader, raw, rest []byte, err error) {
	h, err = ParseADTSHeader(b)
	if err != nil {
		return ADTSHeader{}, nil, nil, err
	}
	if h.RawDataBlocks != 1 {
		return ADTSHeader{}, nil, nil, fmt.Errorf("aac: ADTS frame with %d raw data blocks: %w", h.RawDataBlocks, ErrUnsupported)
	}
	if h.FrameLength > len(b) {
		return ADTSHeader{}, nil, nil, fmt.Errorf("aac: ADTS frame of %d bytes with %d left: %w", h.FrameLength, len(b), ErrTruncated)
	}
	return h, b[h.HeaderLength():h.FrameLength:h.FrameLength], b[h.FrameLength:], nil
}

// SplitADTS returns the raw AAC frames of the ADTS stream b, which share
// memory with b, and the header of the first frame. Every frame must have the
// first one's object type, sampling frequency and channel configuration.
// Empty input yields no frames and no error.
func SplitADTS(b []byte) (frames [][]byte, hdr ADTSHeader, err error) {
	for off := 0; off < len(b); {
		h, raw, rest, err := NextADTS(b[off:])
		if err != nil {
			return nil, ADTSHeader{}, fmt.Errorf("frame %d at offset %d: %w", len(frames), off, err)
		}
		if len(frames) == 0 {
			hdr = h
		} else if h.ObjectType != hdr.ObjectType || h.FrequencyIndex != hdr.FrequencyIndex || h.ChannelConfig != hdr.ChannelConfig {
			return nil, ADTSHeader{}, fmt.Errorf("frame %d at offset %d: %v %d Hz config %d after %v %d Hz config %d: %w",
				len(frames), off, h.ObjectType, h.SampleRate(), h.ChannelConfig, hdr.ObjectType, hdr.SampleRate(), hdr.ChannelConfig, ErrConfigChanged)
		}
		frames = append(frames, raw)
		off = len(b) - len(rest)
	}
	return frames, hdr, nil
}
