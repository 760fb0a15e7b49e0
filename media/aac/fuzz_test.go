package aac

import (
	"bytes"
	"reflect"
	"testing"

	"kvskit/internal/testenv"
)

func TestFuzzCorpus(t *testing.T) {
	var adts [][]byte
	for _, c := range adtsCases {
		adts = append(adts, testenv.MustHex(t, c.hex))
	}
	lc := AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 3, ChannelConfig: 2}
	adts = append(adts, AppendADTS(AppendADTS(nil, lc, []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}), lc, []byte{0x01, 0x18}))
	testenv.CheckCorpus(t, "FuzzParseADTS", adts)
	var asc [][]byte
	for _, c := range ascCases {
		asc = append(asc, testenv.MustHex(t, c.hex))
	}
	testenv.CheckCorpus(t, "FuzzParseAudioSpecificConfig", asc)
}

func FuzzParseADTS(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if h, err := ParseADTSHeader(data); err == nil {
			b, err := h.AppendBinary(nil)
			if err != nil || !bytes.Equal(b, data[:h.HeaderLength()]) {
				t.Fatalf("AppendBinary(%+v) = %x, %v; parsed from %x", h, b, err, data[:h.HeaderLength()])
			}
		}
		frames, hdr, err := SplitADTS(data)
		if err != nil {
			return
		}
		var rebuilt []byte
		for _, f := range frames {
			h := hdr
			h.FrameLength = hdr.HeaderLength() + len(f)
			rebuilt, _ = h.AppendBinary(rebuilt)
			rebuilt = append(rebuilt, f...)
		}
		again, hdr2, err := SplitADTS(rebuilt)
		if err != nil || !reflect.DeepEqual(again, frames) || (len(frames) > 0 && ConfigFromADTS(hdr2) != ConfigFromADTS(hdr)) {
			t.Fatalf("re-framed stream splits as %x, %v", again, err)
		}
	})
}

func FuzzParseAudioSpecificConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseAudioSpecificConfig(data)
		if err != nil {
			return
		}
		_, _, _, _ = c.SampleRate(), c.OutputSampleRate(), c.Channels(), c.FrameDuration()
		again, err := ParseAudioSpecificConfig(c.Marshal())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip of %+v (SBR %+v) = %+v, %v", c, c.SBR, again, err)
		}
		AppendADTS(nil, c, data)
	})
}
