package h265

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"kvskit/internal/testenv"
)

// main is the general PTL libx265 writes for Main profile level 2.
var mainPTL = PTL{ProfileIDC: 1, CompatibilityFlags: 0x60000000, ConstraintFlags: 0x900000000000, LevelIDC: 60}

// spsCases drive both the test encoder and ParseSPS.
var spsCases = []struct {
	name  string
	sps   SPS
	w, h  int
	codec string
}{
	{
		name: "main 1920x1080",
		sps: SPS{MaxSubLayers: 1, TemporalIDNesting: true, ProfileTierLevel: ProfileTierLevel{General: PTL{ProfileIDC: 1,
			CompatibilityFlags: 0x60000000, ConstraintFlags: 0x900000000000, LevelIDC: 120}},
			ChromaFormatIDC: 1, PicWidth: 1920, PicHeight: 1088, ConformanceWindow: true, ConfWinBottom: 4,
			BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 8,
			SubLayerOrdering: []SubLayerOrdering{{MaxDecPicBufferingMinus1: 4, MaxNumReorderPics: 2}}},
		w: 1920, h: 1080, codec: "hvc1.1.6.L120.90",
	},
	{
		name: "main 320x240",
		sps: SPS{MaxSubLayers: 1, TemporalIDNesting: true, ProfileTierLevel: ProfileTierLevel{General: mainPTL},
			ChromaFormatIDC: 1, PicWidth: 320, PicHeight: 240, BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 4,
			SubLayerOrderingInfoPresent: true, SubLayerOrdering: []SubLayerOrdering{{}}},
		w: 320, h: 240, codec: "hvc1.1.6.L60.90",
	},
	{
		name: "main10 318x238",
		sps: SPS{VPSID: 3, MaxSubLayers: 1, ProfileTierLevel: ProfileTierLevel{General: PTL{ProfileIDC: 2,
			CompatibilityFlags: 0x20000000, ConstraintFlags: 0xb00000000000, LevelIDC: 63}}, ID: 15,
			ChromaFormatIDC: 1, PicWidth: 320, PicHeight: 240, ConformanceWindow: true, ConfWinRight: 1, ConfWinBottom: 1,
			BitDepthLuma: 10, BitDepthChroma: 10, Log2MaxPicOrderCntLsb: 16,
			SubLayerOrdering: []SubLayerOrdering{{MaxDecPicBufferingMinus1: 15, MaxNumReorderPics: 15, MaxLatencyIncreasePlus1: 1 << 20}}},
		w: 318, h: 238, codec: "hvc1.2.4.L63.B0",
	},
	{
		name: "rext 4:4:4 317x237",
		sps: SPS{MaxSubLayers: 1, TemporalIDNesting: true, ProfileTierLevel: ProfileTierLevel{General: PTL{ProfileIDC: 4,
			CompatibilityFlags: 0x08000000, ConstraintFlags: 0x9e0800000000, LevelIDC: 60}},
			ChromaFormatIDC: 3, PicWidth: 320, PicHeight: 240, ConformanceWindow: true, ConfWinRight: 3, ConfWinBottom: 3,
			BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 8, SubLayerOrdering: []SubLayerOrdering{{}}},
		w: 317, h: 237, codec: "hvc1.4.10.L60.9E.8",
	},
	{
		name: "rext 4:2:2 318x238",
		sps: SPS{MaxSubLayers: 1, ProfileTierLevel: ProfileTierLevel{General: PTL{ProfileIDC: 4,
			CompatibilityFlags: 0x08000000, ConstraintFlags: 0x9d0800000000, LevelIDC: 60}},
			ChromaFormatIDC: 2, PicWidth: 320, PicHeight: 240, ConformanceWindow: true, ConfWinRight: 1, ConfWinBottom: 2,
			BitDepthLuma: 10, BitDepthChroma: 10, Log2MaxPicOrderCntLsb: 8, SubLayerOrdering: []SubLayerOrdering{{}}},
		w: 318, h: 238, codec: "hvc1.4.10.L60.9D.8",
	},
	{
		name: "monochrome 16-bit",
		sps: SPS{MaxSubLayers: 1, ProfileTierLevel: ProfileTierLevel{General: PTL{ProfileIDC: 4, LevelIDC: 30}},
			ChromaFormatIDC: 0, PicWidth: 64, PicHeight: 64, ConformanceWindow: true, ConfWinLeft: 1, ConfWinTop: 3,
			BitDepthLuma: 16, BitDepthChroma: 16, Log2MaxPicOrderCntLsb: 4, SubLayerOrdering: []SubLayerOrdering{{}}},
		w: 63, h: 61, codec: "hvc1.4.0.L30",
	},
	{
		name: "separate colour planes",
		sps: SPS{MaxSubLayers: 1, ProfileTierLevel: ProfileTierLevel{General: PTL{ProfileIDC: 4, LevelIDC: 30}},
			ChromaFormatIDC: 3, SeparateColourPlane: true, PicWidth: 64, PicHeight: 64, ConformanceWindow: true, ConfWinRight: 5,
			BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 4, SubLayerOrdering: []SubLayerOrdering{{}}},
		w: 59, h: 64, codec: "hvc1.4.0.L30",
	},
	{
		name: "three sub-layers, high tier, profile space 1",
		sps: SPS{MaxSubLayers: 3, ProfileTierLevel: ProfileTierLevel{
			General: PTL{ProfileSpace: 1, HighTier: true, ProfileIDC: 1, CompatibilityFlags: 0x40000000, ConstraintFlags: 0x800000000001, LevelIDC: 153},
			SubLayers: []SubLayerPTL{
				{ProfilePresent: true, LevelPresent: true, PTL: PTL{ProfileIDC: 1, CompatibilityFlags: 0x40000000, ConstraintFlags: 0xffffffffffff, LevelIDC: 90}},
				{LevelPresent: true, PTL: PTL{LevelIDC: 120}},
			}},
			ChromaFormatIDC: 1, PicWidth: 3840, PicHeight: 2160, BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 8,
			SubLayerOrderingInfoPresent: true,
			SubLayerOrdering:            []SubLayerOrdering{{0, 0, 0}, {1, 0, 0}, {3, 2, 1}}},
		w: 3840, h: 2160, codec: "hvc1.A1.2.H153.80.0.0.0.0.1",
	},
	{
		name: "two sub-layers without sub-layer PTL",
		sps: SPS{MaxSubLayers: 2, ProfileTierLevel: ProfileTierLevel{General: mainPTL, SubLayers: []SubLayerPTL{{}}},
			ChromaFormatIDC: 1, PicWidth: 320, PicHeight: 240, BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 8,
			SubLayerOrdering: []SubLayerOrdering{{MaxDecPicBufferingMinus1: 2, MaxNumReorderPics: 1}}},
		w: 320, h: 240, codec: "hvc1.1.6.L60.90",
	},
}

func TestSPSTable(t *testing.T) {
	for _, c := range spsCases {
		t.Run(c.name, func(t *testing.T) {
			nalu := encodeSPS(c.sps)
			got, err := ParseSPS(nalu)
			if err != nil {
				t.Fatalf("ParseSPS(%x): %v", nalu, err)
			}
			if !reflect.DeepEqual(got, c.sps) {
				t.Errorf("ParseSPS:\n got %+v\nwant %+v", got, c.sps)
			}
			if got.Width() != c.w || got.Height() != c.h {
				t.Errorf("size %dx%d, want %dx%d", got.Width(), got.Height(), c.w, c.h)
			}
			if cs := got.ProfileTierLevel.General.CodecString(); cs != c.codec {
				t.Errorf("CodecString = %q, want %q", cs, c.codec)
			}
			for n := range len(nalu) - 1 {
				if _, err := ParseSPS(nalu[:n]); !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseSPS(first %d bytes): %v, want ErrTruncated", n, err)
				}
			}
		})
	}
}

// Parameter sets written by libx265 3.5 (ffmpeg 5.1) for testsrc2 clips.
var x265SPS = []struct {
	name, hex string
	profile   uint8
	chroma    uint32
	depth     int
	subLayers uint8
	w, h      int
}{
	{"main 320x240", "42010101600000030090000003000003003ca00a080f165ba4a4c2f0168080000003008000000f04", 1, 1, 8, 1, 320, 240},
	{"main 1920x1080", "420101016000000300900000030000030078a003c0801107cb96e92930bc05a020000003002000000303c1", 1, 1, 8, 1, 1920, 1080},
	{"main 2 sub-layers", "42010201600000030090000003000003003c0000a00a080f165911488a94985e02d010000003001000000301e080", 1, 1, 8, 2, 320, 240},
	{"main10 318x238", "42010102200000030090000003000003003ca00a080f1d5365ba4a4c2f016808000003000800000300f040", 2, 1, 10, 1, 318, 238},
	{"rext 4:4:4 317x237", "4201010408000003009e0800000300003c90014101e3924cb7494985e02d010000030001000003001e08", 4, 3, 8, 1, 317, 237},
	{"rext 4:2:2 10-bit 318x238", "4201010408000003009d0800000300003cb00a080f1d5b65ba4a4c2f016808000003000800000300f040", 4, 2, 10, 1, 318, 238},
}

func TestParseSPSx265(t *testing.T) {
	for _, c := range x265SPS {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSPS(testenv.MustHex(t, c.hex))
			if err != nil {
				t.Fatal(err)
			}
			if s.ProfileTierLevel.General.ProfileIDC != c.profile || s.ChromaFormatIDC != c.chroma || s.BitDepthLuma != c.depth ||
				s.MaxSubLayers != c.subLayers || s.Width() != c.w || s.Height() != c.h {
				t.Errorf("got %+v (%dx%d)", s, s.Width(), s.Height())
			}
		})
	}
}

func TestParseSPSErrors(t *testing.T) {
	base := spsCases[0].sps
	mod := func(f func(*SPS)) []byte {
		s := base
		f(&s)
		return encodeSPS(s)
	}
	cases := []struct {
		name  string
		nalu  []byte
		want  error
		field string
	}{
		{"empty", nil, ErrTruncated, "header"},
		{"header only", []byte{0x42, 0x01}, ErrTruncated, "sps_video_parameter_set_id"},
		{"forbidden bit", []byte{0xc2, 0x01, 0x01}, ErrInvalidValue, "forbidden_zero_bit"},
		{"temporal id 0", []byte{0x42, 0x00, 0x01}, ErrInvalidValue, "nuh_temporal_id_plus1"},
		{"pps", []byte{0x44, 0x01, 0xc1}, ErrNALType, "PPS"},
		{"8 sub-layers", mod(func(s *SPS) { s.MaxSubLayers = 8 }), ErrInvalidValue, "sps_max_sub_layers_minus1"},
		{"sps id 16", mod(func(s *SPS) { s.ID = 16 }), ErrInvalidValue, "sps_seq_parameter_set_id"},
		{"chroma_format_idc 4", mod(func(s *SPS) { s.ChromaFormatIDC = 4 }), ErrInvalidValue, "chroma_format_idc"},
		{"width 0", mod(func(s *SPS) { s.PicWidth = 0 }), ErrInvalidValue, "picture size 0x1088"},
		{"huge height", mod(func(s *SPS) { s.PicHeight = 1 << 17 }), ErrInvalidValue, "pic_height_in_luma_samples"},
		{"window too large", mod(func(s *SPS) { s.ConfWinLeft = 480; s.ConfWinRight = 480 }), ErrInvalidValue, "conformance window"},
		{"bit depth 17", mod(func(s *SPS) { s.BitDepthChroma = 17 }), ErrInvalidValue, "bit_depth_chroma_minus8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSPS(c.nalu)
			if !errors.Is(err, c.want) {
				t.Fatalf("ParseSPS(%x) error %v, want %v", c.nalu, err, c.want)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error %q does not name %q", err, c.field)
			}
		})
	}
}

func TestNALUnits(t *testing.T) {
	cases := []struct {
		n    []byte
		want Header
		name string
		vcl  bool
		irap bool
	}{
		{[]byte{0x40, 0x01}, Header{NALUVPS, 0, 1}, "VPS", false, false},
		{[]byte{0x42, 0x01}, Header{NALUSPS, 0, 1}, "SPS", false, false},
		{[]byte{0x44, 0x01}, Header{NALUPPS, 0, 1}, "PPS", false, false},
		{[]byte{0x46, 0x01}, Header{NALUAUD, 0, 1}, "AUD", false, false},
		{[]byte{0x4e, 0x01}, Header{NALUPrefixSEI, 0, 1}, "PREFIX_SEI", false, false},
		{[]byte{0x26, 0x01}, Header{NALUIDRWRADL, 0, 1}, "IDR_W_RADL", true, true},
		{[]byte{0x28, 0x01}, Header{NALUIDRNLP, 0, 1}, "IDR_N_LP", true, true},
		{[]byte{0x2a, 0x01}, Header{NALUCRA, 0, 1}, "CRA_NUT", true, true},
		{[]byte{0x20, 0x01}, Header{NALUBLAWLP, 0, 1}, "BLA_W_LP", true, true},
		{[]byte{0x24, 0x01}, Header{NALUBLANLP, 0, 1}, "BLA_N_LP", true, true},
		{[]byte{0x2e, 0x01}, Header{23, 0, 1}, "NALUType(23)", true, true},
		{[]byte{0x02, 0x01}, Header{NALUTrailR, 0, 1}, "TRAIL_R", true, false},
		{[]byte{0x00, 0x02}, Header{NALUTrailN, 0, 2}, "TRAIL_N", true, false},
		{[]byte{0x10, 0x0b}, Header{NALURASLN, 1, 3}, "RASL_N", true, false},
		{[]byte{0x03, 0xf9}, Header{NALUTrailR, 63, 1}, "TRAIL_R", true, false},
	}
	for _, c := range cases {
		h, err := ParseHeader(c.n)
		if err != nil || h != c.want || h.Type.String() != c.name || h.Type.IsVCL() != c.vcl || h.Type.IsIRAP() != c.irap ||
			NALType(c.n) != c.want.Type || IsKeyFrame([][]byte{c.n}) != c.irap {
			t.Errorf("%x: %+v %v %v (vcl %v irap %v)", c.n, h, err, h.Type, h.Type.IsVCL(), h.Type.IsIRAP())
		}
	}
	if NALType([]byte{0x40}) != NALUInvalid || NALUInvalid.IsVCL() || NALUInvalid.IsIRAP() {
		t.Error("short NAL unit")
	}
	au := [][]byte{{0x46, 0x01, 0x10}, {0x40, 0x01, 1}, {0x42, 0x01, 2}, {0x44, 0x01, 3}, {0x44, 0x01, 4}, {0x26, 0x01, 0xaf}}
	vps, sps, pps := ParameterSets(au)
	if !reflect.DeepEqual(vps, au[1:2]) || !reflect.DeepEqual(sps, au[2:3]) || !reflect.DeepEqual(pps, au[3:5]) {
		t.Errorf("ParameterSets = %x %x %x", vps, sps, pps)
	}
	if !IsKeyFrame(au) || IsKeyFrame(au[:5]) {
		t.Error("IsKeyFrame")
	}
}
