package aac

import (
	"fmt"
	"time"

	"kvskit/media/internal/rbsp"
)

// Signalling says where an AudioSpecificConfig announces SBR.
type Signalling uint8

// SBR signalling methods (ISO/IEC 14496-3 clause 1.6.5).
const (
	// Hierarchical: the configuration starts with object type 5 (SBR) or
	// 29 (PS) and the extension frequency, followed by the core object type.
	Hierarchical Signalling = 1
	// SyncExtension: a backward-compatible extension (syncExtensionType
	// 0x2b7) after the core configuration.
	SyncExtension Signalling = 2
)

// SBR describes the spectral band replication (HE-AAC) and parametric
// stereo (HE-AAC v2) signalled by an AudioSpecificConfig.
type SBR struct {
	Signalling Signalling
	// Present is sbrPresentFlag; always true with Hierarchical signalling.
	Present bool
	// FrequencyIndex and Frequency give the output sampling frequency when
	// Present, like the fields of AudioSpecificConfig.
	FrequencyIndex uint8
	Frequency      uint32
	// PS is psPresentFlag.
	PS bool
	// PSSync records a PS sync extension (0x548) after an SBR sync
	// extension; with it PS may be false.
	PSSync bool
}

// AudioSpecificConfig is the MPEG-4 audio decoder configuration (ISO/IEC
// 14496-3 clause 1.6.2.1), the CodecPrivate of a Matroska A_AAC track and the
// payload of an MP4 esds decoder specific info. This package handles AAC
// cores (object types 1 to 4) with GASpecificConfig and a standard channel
// configuration, optionally with SBR and PS.
type AudioSpecificConfig struct {
	// ObjectType is the core audio object type, e.g. ObjectTypeAACLC, also
	// when SBR signalling precedes it.
	ObjectType ObjectType
	// FrequencyIndex is samplingFrequencyIndex; when it is
	// FrequencyIndexExplicit, Frequency holds the rate in Hz (24 bits).
	FrequencyIndex uint8
	Frequency      uint32
	// ChannelConfig is channelConfiguration, 1 to 15.
	ChannelConfig uint8

	// GASpecificConfig.
	FrameLength960     bool   // frameLengthFlag: 960-sample frames
	DependsOnCoreCoder bool   // dependsOnCoreCoder
	CoreCoderDelay     uint16 // 14 bits, when DependsOnCoreCoder

	// SBR is nil unless SBR or PS is signalled.
	SBR *SBR
}

// ParseAudioSpecificConfig decodes an AudioSpecificConfig. Bits after the
// parts described by AudioSpecificConfig are ignored.
func ParseAudioSpecificConfig(b []byte) (AudioSpecificConfig, error) {
	c, err := parseASC(&bitReader{buf: b})
	if err != nil {
		return AudioSpecificConfig{}, fmt.Errorf("aac: AudioSpecificConfig %x: %w", b, err)
	}
	return c, nil
}

func readObjectType(r *bitReader, field string) ObjectType {
	t := r.u(5, field)
	if t == uint32(ObjectTypeEscape) {
		t = 32 + r.u(6, field+"Ext")
	}
	return ObjectType(t)
}

func readFrequency(r *bitReader, prefix string) (uint8, uint32) {
	i := uint8(r.u(4, prefix+"FrequencyIndex"))
	if i == FrequencyIndexExplicit {
		return i, r.u(24, prefix+"Frequency")
	}
	if r.err == nil && SampleRateOf(i) == 0 {
		r.err = fmt.Errorf("%sFrequencyIndex %d is reserved: %w", prefix, i, ErrInvalidValue)
	}
	return i, 0
}

func parseASC(r *bitReader) (AudioSpecificConfig, error) {
	var c AudioSpecificConfig
	c.ObjectType = readObjectType(r, "audioObjectType")
	c.FrequencyIndex, c.Frequency = readFrequency(r, "sampling")
	c.ChannelConfig = uint8(r.u(4, "channelConfiguration"))
	if c.ObjectType == ObjectTypeSBR || c.ObjectType == ObjectTypePS {
		s := &SBR{Signalling: Hierarchical, Present: true, PS: c.ObjectType == ObjectTypePS}
		s.FrequencyIndex, s.Frequency = readFrequency(r, "extensionSampling")
		c.SBR = s
		c.ObjectType = readObjectType(r, "audioObjectType")
	}
	if r.err != nil {
		return c, r.err
	}
	switch c.ObjectType {
	case ObjectTypeAACMain, ObjectTypeAACLC, ObjectTypeAACSSR, ObjectTypeAACLTP:
	default:
		return c, fmt.Errorf("audio object type %d: %w", c.ObjectType, ErrUnsupported)
	}
	if c.ChannelConfig == 0 {
		return c, fmt.Errorf("channel configuration 0 (program config element): %w", ErrUnsupported)
	}
	c.FrameLength960 = r.flag("frameLengthFlag")
	c.DependsOnCoreCoder = r.flag("dependsOnCoreCoder")
	if c.DependsOnCoreCoder {
		c.CoreCoderDelay = uint16(r.u(14, "coreCoderDelay"))
	}
	if r.flag("extensionFlag") {
		r.flag("extensionFlag3")
	}
	if r.err != nil {
		return c, r.err
	}
	if c.SBR == nil && r.left() >= 16 {
		if v, _ := r.peek(11); v == 0x2b7 {
			r.u(11, "syncExtensionType")
			if readObjectType(r, "extensionAudioObjectType") == ObjectTypeSBR {
				s := &SBR{Signalling: SyncExtension}
				s.Present = r.flag("sbrPresentFlag")
				if s.Present {
					s.FrequencyIndex, s.Frequency = readFrequency(r, "extensionSampling")
					if v, ok := r.peek(11); ok && v == 0x548 && r.left() >= 12 {
						r.u(11, "syncExtensionType")
						s.PSSync = true
						s.PS = r.flag("psPresentFlag")
					}
				}
				if r.err == nil {
					c.SBR = s
				}
			}
			// Other extension types (e.g. ER BSAC) and truncated
			// extensions are ignored: a decoder that does not know them
			// still decodes the core.
			r.err = nil
		}
	}
	return c, nil
}

// Marshal encodes the configuration, padded with zero bits to whole bytes.
// Fields are truncated to their widths in the bitstream.
func (c AudioSpecificConfig) Marshal() []byte {
	w := &rbsp.Writer{}
	writeObjectType := func(t ObjectType) {
		if t >= 32 {
			w.U(5, uint64(ObjectTypeEscape))
			w.U(6, uint64(t-32))
		} else {
			w.U(5, uint64(t))
		}
	}
	writeFrequency := func(i uint8, f uint32) {
		w.U(4, uint64(i))
		if i&0xf == FrequencyIndexExplicit {
			w.U(24, uint64(f))
		}
	}
	hier := c.SBR != nil && c.SBR.Signalling == Hierarchical
	switch {
	case hier && c.SBR.PS:
		writeObjectType(ObjectTypePS)
	case hier:
		writeObjectType(ObjectTypeSBR)
	default:
		writeObjectType(c.ObjectType)
	}
	writeFrequency(c.FrequencyIndex, c.Frequency)
	w.U(4, uint64(c.ChannelConfig))
	if hier {
		writeFrequency(c.SBR.FrequencyIndex, c.SBR.Frequency)
		writeObjectType(c.ObjectType)
	}
	w.Flag(c.FrameLength960)
	w.Flag(c.DependsOnCoreCoder)
	if c.DependsOnCoreCoder {
		w.U(14, uint64(c.CoreCoderDelay))
	}
	w.U(1, 0) // extensionFlag
	if s := c.SBR; s != nil && s.Signalling == SyncExtension {
		w.U(11, 0x2b7)
		writeObjectType(ObjectTypeSBR)
		w.Flag(s.Present)
		if s.Present {
			writeFrequency(s.FrequencyIndex, s.Frequency)
			if s.PSSync || s.PS {
				w.U(11, 0x548)
				w.Flag(s.PS)
			}
		}
	}
	return w.Bytes()
}

// SampleRate is the sampling frequency of the AAC core in Hz, the rate at
// which each frame holds SamplesPerFrame() samples; 0 if reserved.
func (c AudioSpecificConfig) SampleRate() int {
	if c.FrequencyIndex == FrequencyIndexExplicit {
		return int(c.Frequency)
	}
	return SampleRateOf(c.FrequencyIndex)
}

// OutputSampleRate is the decoded sampling frequency: twice the core's, or
// as signalled, when SBR is present, and the core's otherwise.
func (c AudioSpecificConfig) OutputSampleRate() int {
	if c.SBR == nil || !c.SBR.Present {
		return c.SampleRate()
	}
	if c.SBR.FrequencyIndex == FrequencyIndexExplicit {
		return int(c.SBR.Frequency)
	}
	if r := SampleRateOf(c.SBR.FrequencyIndex); r != 0 {
		return r
	}
	return 2 * c.SampleRate()
}

// Channels is the number of channels of the channel configuration (before
// any parametric stereo upmix).
func (c AudioSpecificConfig) Channels() int { return ChannelsOf(c.ChannelConfig) }

// SamplesPerFrame is 960 with FrameLength960 and 1024 otherwise.
func (c AudioSpecificConfig) SamplesPerFrame() int {
	if c.FrameLength960 {
		return 960
	}
	return SamplesPerFrame
}

// FrameDuration is the duration of one frame, see FrameDuration.
func (c AudioSpecificConfig) FrameDuration() time.Duration {
	return FrameDuration(c.SamplesPerFrame(), c.SampleRate())
}

// Codec string returns the RFC 6381 codecs parameter, e.g. "mp4a.40.2".
// Configurations with SBR are announced as object type 5 (HE-AAC) or 29
// (HE-AAC v2) when SBR is present.
func (c AudioSpecificConfig) CodecString() string {
	t := c.ObjectType
	if s := c.SBR; s != nil && s.Present {
		t = ObjectTypeSBR
		if s.PS {
			t = ObjectTypePS
		}
	}
	return fmt.Sprintf("mp4a.40.%d", t)
}

// ConfigFromADTS returns the configuration an ADTS header describes: the
// object type, sampling frequency index and channel configuration.
func ConfigFromADTS(h ADTSHeader) AudioSpecificConfig {
	return AudioSpecificConfig{
		ObjectType:     h.ObjectType,
		FrequencyIndex: h.FrequencyIndex,
		ChannelConfig:  h.ChannelConfig,
	}
}
