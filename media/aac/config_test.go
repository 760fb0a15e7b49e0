package aac

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// ascCases drive both ParseAudioSpecificConfig and Marshal.
var ascCases = []struct {
	name      string
	hex       string
	cfg       AudioSpecificConfig
	marshaled string // when Marshal writes another encoding of cfg
	rate      int
	outRate   int
	channels  int
	duration  time.Duration
	codec     string
}{
	{"LC 44100 stereo", "1210", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 2}, "",
		44100, 44100, 2, 23219954, "mp4a.40.2"},
	{"LC 48000 stereo", "1190", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 3, ChannelConfig: 2}, "",
		48000, 48000, 2, 21333333, "mp4a.40.2"},
	{"LC 8000 mono", "1588", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 11, ChannelConfig: 1}, "",
		8000, 8000, 1, 128 * time.Millisecond, "mp4a.40.2"},
	{"ffmpeg encoder: LC 44100 mono, SBR sync extension absent", "120856e500",
		AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 1, SBR: &SBR{Signalling: SyncExtension}}, "",
		44100, 44100, 1, 23219954, "mp4a.40.2"},
	{"HE-AAC hierarchical", "2b118800",
		AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 6, ChannelConfig: 2, SBR: &SBR{Signalling: Hierarchical, Present: true, FrequencyIndex: 3}}, "",
		24000, 48000, 2, 42666666, "mp4a.40.5"},
	{"HE-AAC v2 hierarchical", "eb098800",
		AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 6, ChannelConfig: 1, SBR: &SBR{Signalling: Hierarchical, Present: true, FrequencyIndex: 3, PS: true}}, "",
		24000, 48000, 1, 42666666, "mp4a.40.29"},
	{"HE-AAC hierarchical explicit frequencies", "2f802ee017805dc00800",
		AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 15, Frequency: 24000, ChannelConfig: 2,
			SBR: &SBR{Signalling: Hierarchical, Present: true, FrequencyIndex: 15, Frequency: 48000}}, "",
		24000, 48000, 2, 42666666, "mp4a.40.5"},
	{"HE-AAC v2 sync extensions", "130856e59d4880",
		AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 6, ChannelConfig: 1, SBR: &SBR{Signalling: SyncExtension, Present: true, FrequencyIndex: 3, PS: true, PSSync: true}}, "",
		24000, 48000, 1, 42666666, "mp4a.40.29"},
	{"HE-AAC sync extension", "139056e5a0",
		AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 7, ChannelConfig: 2, SBR: &SBR{Signalling: SyncExtension, Present: true, FrequencyIndex: 4}}, "",
		22050, 44100, 2, 46439909, "mp4a.40.5"},
	{"explicit frequency", "1780181c90", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 15, Frequency: 12345, ChannelConfig: 2}, "",
		12345, 12345, 2, 82948562, "mp4a.40.2"},
	{"Main 960 samples with core coder delay", "09b755e0",
		AudioSpecificConfig{ObjectType: 1, FrequencyIndex: 3, ChannelConfig: 6, FrameLength960: true, DependsOnCoreCoder: true, CoreCoderDelay: 0x2abc}, "",
		48000, 48000, 6, 20 * time.Millisecond, "mp4a.40.1"},
	{"LTP 7.1", "2438", AudioSpecificConfig{ObjectType: 4, FrequencyIndex: 8, ChannelConfig: 7}, "",
		16000, 16000, 8, 64 * time.Millisecond, "mp4a.40.4"},
	{"extension flag ignored", "121180", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 2}, "1210",
		44100, 44100, 2, 23219954, "mp4a.40.2"},
	{"unknown sync extension ignored", "121056e1", AudioSpecificConfig{ObjectType: 2, FrequencyIndex: 4, ChannelConfig: 2}, "1210",
		44100, 44100, 2, 23219954, "mp4a.40.2"},
}

func TestAudioSpecificConfigTable(t *testing.T) {
	for _, c := range ascCases {
		t.Run(c.name, func(t *testing.T) {
			in := testenv.MustHex(t, c.hex)
			cfg, err := ParseAudioSpecificConfig(in)
			if err != nil || !reflect.DeepEqual(cfg, c.cfg) {
				t.Fatalf("Parse(%x) = %+v %+v, %v\nwant %+v %+v", in, cfg, cfg.SBR, err, c.cfg, c.cfg.SBR)
			}
			want := in
			if c.marshaled != "" {
				want = testenv.MustHex(t, c.marshaled)
			}
			if got := c.cfg.Marshal(); !bytes.Equal(got, want) {
				t.Errorf("Marshal = %x, want %x", got, want)
			}
			if cfg.SampleRate() != c.rate || cfg.OutputSampleRate() != c.outRate || cfg.Channels() != c.channels ||
				cfg.FrameDuration() != c.duration || cfg.CodecString() != c.codec {
				t.Errorf("rate %d, output rate %d, channels %d, duration %v, codec %s", cfg.SampleRate(), cfg.OutputSampleRate(),
					cfg.Channels(), cfg.FrameDuration(), cfg.CodecString())
			}
		})
	}
}

func TestAudioSpecificConfigErrors(t *testing.T) {
	cases := []struct {
		name, hex string
		want      error
		text      string
	}{
		{"empty", "", ErrTruncated, "audioObjectType"},
		{"one byte", "12", ErrTruncated, "samplingFrequencyIndex"},
		{"reserved frequency", "1690", ErrInvalidValue, "samplingFrequencyIndex 13"},
		{"explicit frequency truncated", "1780", ErrTruncated, "samplingFrequency"},
		{"escaped object type 42", "f94640", ErrUnsupported, "audio object type 42"},
		{"SBR over SBR", "2b1194", ErrUnsupported, "audio object type 5"},
		{"program config element", "1200", ErrUnsupported, "program config element"},
		{"core coder delay truncated", "09b7", ErrTruncated, "coreCoderDelay"},
		{"reserved extension frequency", "2b1688", ErrInvalidValue, "extensionSamplingFrequencyIndex 13"},
	}
	for _, c := range cases {
		in := testenv.MustHex(t, c.hex)
		_, err := ParseAudioSpecificConfig(in)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: Parse(%x) error %v, want %v with %q", c.name, in, err, c.want, c.text)
		}
	}
}

func TestTables(t *testing.T) {
	for i := range uint8(16) {
		r := SampleRateOf(i)
		j, ok := FrequencyIndex(r)
		if (r != 0) != ok || (ok && j != i) {
			t.Errorf("index %d: rate %d, back %d %v", i, r, j, ok)
		}
	}
	want := []int{0, 1, 2, 3, 4, 5, 6, 8, 0, 0, 0, 7, 8, 24, 8, 0}
	for c, w := range want {
		if got := ChannelsOf(uint8(c)); got != w {
			t.Errorf("ChannelsOf(%d) = %d, want %d", c, got, w)
		}
	}
	if FrameDuration(1024, 0) != 0 || FrameDuration(1024, 48000) != 21333333 {
		t.Error("FrameDuration")
	}
	if ObjectTypeAACLC.String() != "AAC LC" || ObjectType(42).String() != "ObjectType(42)" {
		t.Error("ObjectType.String")
	}
}
