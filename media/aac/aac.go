package aac

import (
	"fmt"
	"time"
)

// ObjectType is an MPEG-4 audio object type (ISO/IEC 14496-3 Table 1.1).
type ObjectType uint8

// Audio object types.
const (
	ObjectTypeAACMain ObjectType = 1
	ObjectTypeAACLC   ObjectType = 2
	ObjectTypeAACSSR  ObjectType = 3
	ObjectTypeAACLTP  ObjectType = 4
	ObjectTypeSBR     ObjectType = 5  // HE-AAC
	ObjectTypePS      ObjectType = 29 // HE-AAC v2
	ObjectTypeEscape  ObjectType = 31
)

func (t ObjectType) String() string {
	switch t {
	case ObjectTypeAACMain:
		return "AAC Main"
	case ObjectTypeAACLC:
		return "AAC LC"
	case ObjectTypeAACSSR:
		return "AAC SSR"
	case ObjectTypeAACLTP:
		return "AAC LTP"
	case ObjectTypeSBR:
		return "SBR"
	case ObjectTypePS:
		return "PS"
	}
	return fmt.Sprintf("ObjectType(%d)", uint8(t))
}

// SamplesPerFrame is the number of samples per channel in an AAC frame
// (960 when AudioSpecificConfig.FrameLength960 is set).
const SamplesPerFrame = 1024

// sampleRates maps samplingFrequencyIndex to Hz (ISO/IEC 14496-3 Table 1.18).
var sampleRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// FrequencyIndexExplicit is the samplingFrequencyIndex that announces an
// explicit 24-bit frequency.
const FrequencyIndexExplicit = 15

// SampleRateOf returns the frequency of samplingFrequencyIndex i, or 0 for a
// reserved or explicit index.
func SampleRateOf(i uint8) int {
	if int(i) < len(sampleRates) {
		return sampleRates[i]
	}
	return 0
}

// FrequencyIndex returns the samplingFrequencyIndex of rate, and false when
// the rate has none and must be written explicitly.
func FrequencyIndex(rate int) (uint8, bool) {
	for i, r := range sampleRates {
		if r == rate {
			return uint8(i), true
		}
	}
	return FrequencyIndexExplicit, false
}

// ChannelsOf returns the number of channels of channelConfiguration c
// (ISO/IEC 14496-3 Table 1.19 and its amendments), or 0 when a program
// config element defines them (c = 0) or c is reserved.
func ChannelsOf(c uint8) int {
	switch {
	case c >= 1 && c <= 6:
		return int(c)
	case c == 7, c == 12, c == 14:
		return 8
	case c == 11:
		return 7
	case c == 13:
		return 24
	}
	return 0
}

// FrameDuration returns the duration of one frame of samples samples at rate
// Hz, truncated to the nanosecond, or 0 when rate is not positive. Timestamps
// of consecutive frames are best derived from a running sample count, which
// does not accumulate the truncation.
func FrameDuration(samples, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(samples) * time.Second / time.Duration(rate)
}
