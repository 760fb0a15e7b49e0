package aac

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"kvskit/internal/testenv"
)

// adtsCases drive both ParseADTSHeader and AppendBinary.
var adtsCases = []struct {
	name string
	hex  string
	hdr  ADTSHeader
}{
	{"ffmpeg LC 44100 mono", "fff15040213ffc",
		ADTSHeader{ProtectionAbsent: true, ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 1, FrameLength: 265, BufferFullness: 0x7ff, RawDataBlocks: 1}},
	{"ffmpeg LC 48000 stereo", "fff14c8024fffc",
		ADTSHeader{ProtectionAbsent: true, ObjectType: 2, FrequencyIndex: 3, ChannelConfig: 2, FrameLength: 295, BufferFullness: 0x7ff, RawDataBlocks: 1}},
	{"CRC", "fff050800120e8abcd",
		ADTSHeader{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 2, FrameLength: 9, BufferFullness: 0x3a, RawDataBlocks: 1, CRC: 0xabcd}},
	{"MPEG-2 Main 96000 7.1 with every flag", "fff903ffffffff",
		ADTSHeader{MPEG2: true, ProtectionAbsent: true, ObjectType: 1, FrequencyIndex: 0, Private: true, ChannelConfig: 7,
			Original: true, Home: true, CopyrightIDBit: true, CopyrightIDStart: true, FrameLength: 8191, BufferFullness: 0x7ff, RawDataBlocks: 4}},
	{"LTP 7350 channel configuration 0", "fff1f00000e000",
		ADTSHeader{ProtectionAbsent: true, ObjectType: 4, FrequencyIndex: 12, FrameLength: 7, RawDataBlocks: 1}},
}

func TestADTSHeaderTable(t *testing.T) {
	for _, c := range adtsCases {
		t.Run(c.name, func(t *testing.T) {
			in := testenv.MustHex(t, c.hex)
			h, err := ParseADTSHeader(in)
			if err != nil || h != c.hdr {
				t.Fatalf("ParseADTSHeader = %+v, %v\nwant %+v", h, err, c.hdr)
			}
			if h.HeaderLength() != len(in) {
				t.Errorf("HeaderLength %d for %d bytes", h.HeaderLength(), len(in))
			}
			got, err := c.hdr.AppendBinary([]byte("x"))
			if err != nil || !bytes.Equal(got[1:], in) || got[0] != 'x' {
				t.Errorf("AppendBinary = %x, %v", got, err)
			}
			for n := range len(in) {
				if _, err := ParseADTSHeader(in[:n]); !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseADTSHeader(first %d bytes): %v", n, err)
				}
			}
		})
	}
}

func TestADTSHeaderErrors(t *testing.T) {
	for _, c := range []struct {
		name, hex string
		want      error
	}{
		{"no sync", "fef15040213ffc", ErrSync},
		{"no sync 2", "ffe15040213ffc", ErrSync},
		{"layer 1", "fff35040213ffc", ErrInvalidValue},
		{"frequency index 13", "fff17440213ffc", ErrInvalidValue},
		{"frequency index 15", "fff17c40213ffc", ErrInvalidValue},
		{"frame length 6", "fff1504000dffc", ErrInvalidValue},
		{"CRC frame length 8", "fff05040011ffc0000", ErrInvalidValue},
	} {
		if _, err := ParseADTSHeader(testenv.MustHex(t, c.hex)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, h := range []ADTSHeader{
		{ObjectType: 5, FrequencyIndex: 4, FrameLength: 7, RawDataBlocks: 1, ProtectionAbsent: true},
		{ObjectType: 2, FrequencyIndex: 13, FrameLength: 7, RawDataBlocks: 1, ProtectionAbsent: true},
		{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 8, FrameLength: 7, RawDataBlocks: 1, ProtectionAbsent: true},
		{ObjectType: 2, FrequencyIndex: 4, FrameLength: 8192, RawDataBlocks: 1, ProtectionAbsent: true},
		{ObjectType: 2, FrequencyIndex: 4, FrameLength: 8, RawDataBlocks: 1},
		{ObjectType: 2, FrequencyIndex: 4, FrameLength: 7, RawDataBlocks: 5, ProtectionAbsent: true},
		{ObjectType: 2, FrequencyIndex: 4, FrameLength: 7, RawDataBlocks: 1, ProtectionAbsent: true, BufferFullness: 0x800},
	} {
		if b, err := h.AppendBinary(nil); !errors.Is(err, ErrInvalidValue) || len(b) != 0 {
			t.Errorf("AppendBinary(%+v) = %x, %v", h, b, err)
		}
	}
}

func TestSplitADTS(t *testing.T) {
	lc := AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 3, ChannelConfig: 2}
	raws := [][]byte{{0x21, 0x10, 0x04}, bytes.Repeat([]byte{0xa5}, 700), {}, {0x01}}
	var stream []byte
	for _, r := range raws {
		stream = AppendADTS(stream, lc, r)
	}
	frames, hdr, err := SplitADTS(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != len(raws) {
		t.Fatalf("%d frames", len(frames))
	}
	for i := range raws {
		if !bytes.Equal(frames[i], raws[i]) {
			t.Errorf("frame %d = %x", i, frames[i])
		}
	}
	if ConfigFromADTS(hdr) != lc || hdr.SampleRate() != 48000 || hdr.Channels() != 2 || hdr.FrameDuration() != 21333333 || hdr.PayloadLength() != 3 {
		t.Errorf("header %+v", hdr)
	}
	if f, h, err := SplitADTS(nil); f != nil || h != (ADTSHeader{}) || err != nil {
		t.Errorf("SplitADTS(nil) = %v, %v, %v", f, h, err)
	}

	withCRC := testenv.MustHex(t, "fff05080017ffcabcd"+"0102")
	if f, h, err := SplitADTS(withCRC); err != nil || !reflect.DeepEqual(f, [][]byte{{1, 2}}) || h.CRC != 0xabcd {
		t.Errorf("SplitADTS(CRC frame) = %x, %+v, %v", f, h, err)
	}

	other := AppendADTS(nil, AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 2}, []byte{1})
	blocks := testenv.MustHex(t, "fff15080013ffd"+"0000")
	for _, c := range []struct {
		name   string
		stream []byte
		want   error
		text   string
	}{
		{"truncated frame", stream[:len(stream)-1], ErrTruncated, "frame 3 at offset"},
		{"trailing garbage", append(bytes.Clone(stream), 0xff), ErrTruncated, "frame 4"},
		{"junk between frames", append(append(bytes.Clone(stream[:10]), 0x00, 0x11), stream[10:]...), ErrSync, "frame 1 at offset 10"},
		{"configuration change", append(bytes.Clone(stream), other...), ErrConfigChanged, "44100 Hz"},
		{"several raw data blocks", blocks, ErrUnsupported, "2 raw data blocks"},
	} {
		if _, _, err := SplitADTS(c.stream); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %v with %q", c.name, err, c.want, c.text)
		}
	}
}

func TestAppendADTS(t *testing.T) {
	raw := []byte{0xde, 0xad}
	cases := []struct {
		name string
		cfg  AudioSpecificConfig
		want string // "" when nothing can be appended
	}{
		{"LC", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 1}, "fff15040013ffc"},
		{"HE-AAC carries its core", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 6, ChannelConfig: 2,
			SBR: &SBR{Signalling: Hierarchical, Present: true, FrequencyIndex: 3}}, "fff15880013ffc"},
		{"explicit standard frequency", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 15, Frequency: 44100, ChannelConfig: 1}, "fff15040013ffc"},
		{"explicit odd frequency", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 15, Frequency: 12345, ChannelConfig: 1}, ""},
		{"object type 42", AudioSpecificConfig{ObjectType: 42, FrequencyIndex: 4, ChannelConfig: 1}, ""},
		{"channel configuration 11", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 11}, ""},
	}
	for _, c := range cases {
		got := AppendADTS([]byte{9}, c.cfg, raw)
		want := []byte{9}
		if c.want != "" {
			want = append(append(want, testenv.MustHex(t, c.want)...), raw...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: AppendADTS = %x, want %x", c.name, got, want)
		}
	}
	if got := AppendADTS(nil, cases[0].cfg, make([]byte, MaxADTSPayload+1)); got != nil {
		t.Errorf("oversized frame framed: %d bytes", len(got))
	}
	if got := AppendADTS(nil, cases[0].cfg, make([]byte, MaxADTSPayload)); len(got) != MaxADTSFrameLength {
		t.Errorf("largest frame: %d bytes", len(got))
	}
}
