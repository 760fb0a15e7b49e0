package h264

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"kvskit/internal/testenv"
)

func ones(n int, v int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// spsCases drive both the test encoder and ParseSPS.
var spsCases = []struct {
	name    string
	sps     SPS
	scaling [][]int32
	w, h    int
	fps     float64
}{
	{
		name: "baseline 640x480",
		sps: SPS{ProfileIDC: 66, ConstraintFlags: 0xc0, LevelIDC: 30, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 2, MaxNumRefFrames: 1, PicWidthInMbs: 40, PicHeightInMapUnits: 30,
			FrameMbsOnly: true, Direct8x8Inference: true},
		w: 640, h: 480,
	},
	{
		name: "high 1920x1080 timing",
		sps: SPS{ProfileIDC: 100, LevelIDC: 40, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 8, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 6, MaxNumRefFrames: 4, PicWidthInMbs: 120, PicHeightInMapUnits: 68,
			FrameMbsOnly: true, Direct8x8Inference: true, FrameCropping: true, FrameCropBottom: 4,
			VUI: &VUI{TimingInfoPresent: true, NumUnitsInTick: 1, TimeScale: 60, FixedFrameRate: true}},
		w: 1920, h: 1080, fps: 30,
	},
	{
		name: "high interlaced 1920x1080",
		sps: SPS{ProfileIDC: 100, LevelIDC: 40, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 5, MaxNumRefFrames: 2, PicWidthInMbs: 120, PicHeightInMapUnits: 34,
			FrameMbsOnly: false, MbAdaptiveFrameField: true, Direct8x8Inference: true, FrameCropping: true, FrameCropBottom: 2,
			VUI: &VUI{TimingInfoPresent: true, NumUnitsInTick: 1001, TimeScale: 60000}},
		w: 1920, h: 1080, fps: 60000.0 / 2002,
	},
	{
		name: "high444 317x237 scaling lists",
		sps: SPS{ProfileIDC: 244, LevelIDC: 21, ChromaFormatIDC: 3, BitDepthLuma: 8, BitDepthChroma: 8, ScalingMatrix: true,
			Log2MaxFrameNum: 16, PicOrderCntType: 2, MaxNumRefFrames: 3, PicWidthInMbs: 20, PicHeightInMapUnits: 15,
			FrameMbsOnly: true, FrameCropping: true, FrameCropRight: 3, FrameCropBottom: 3},
		scaling: [][]int32{ones(16, 1), nil, {-8}, ones(16, 0), nil, nil, ones(8, -1), {3, -11}, nil, ones(64, 2), nil, {-8}},
		w:       317, h: 237,
	},
	{
		name: "high422 10-bit 1366x768",
		sps: SPS{ProfileIDC: 122, LevelIDC: 31, ChromaFormatIDC: 2, BitDepthLuma: 10, BitDepthChroma: 10, ScalingMatrix: true,
			Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 16, MaxNumRefFrames: 1, PicWidthInMbs: 86, PicHeightInMapUnits: 48,
			FrameMbsOnly: true, FrameCropping: true, FrameCropRight: 5},
		scaling: [][]int32{nil, nil, nil, nil, nil, nil, ones(64, 5), nil},
		w:       1366, h: 768,
	},
	{
		name: "monochrome 100x100",
		sps: SPS{ProfileIDC: 100, LevelIDC: 10, ChromaFormatIDC: 0, BitDepthLuma: 12, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 2, PicWidthInMbs: 7, PicHeightInMapUnits: 7,
			FrameMbsOnly: true, FrameCropping: true, FrameCropRight: 12, FrameCropBottom: 12},
		w: 100, h: 100,
	},
	{
		name: "monochrome field 100x100",
		sps: SPS{ProfileIDC: 110, LevelIDC: 10, ChromaFormatIDC: 0, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 4, PicWidthInMbs: 7, PicHeightInMapUnits: 4,
			FrameCropping: true, FrameCropLeft: 6, FrameCropRight: 6, FrameCropTop: 3, FrameCropBottom: 3},
		w: 100, h: 116,
	},
	{
		name: "separate colour planes",
		sps: SPS{ProfileIDC: 244, LevelIDC: 51, ChromaFormatIDC: 3, SeparateColourPlane: true, BitDepthLuma: 14, BitDepthChroma: 14, TransformBypass: true,
			Log2MaxFrameNum: 4, PicOrderCntType: 2, PicWidthInMbs: 20, PicHeightInMapUnits: 10,
			FrameMbsOnly: true, FrameCropping: true, FrameCropLeft: 1, FrameCropTop: 1},
		w: 319, h: 159,
	},
	{
		name: "main poc type 1 and full VUI",
		sps: SPS{ProfileIDC: 77, ConstraintFlags: 0x40, LevelIDC: 31, ID: 31, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 5, PicOrderCntType: 1, DeltaPicOrderAlwaysZero: false, OffsetForNonRefPic: -2, OffsetForTopToBottomField: 1,
			OffsetForRefFrame: []int32{2, -3, 0, 1 << 20}, MaxNumRefFrames: 16, GapsInFrameNumAllowed: true, PicWidthInMbs: 80, PicHeightInMapUnits: 23,
			FrameMbsOnly: false, FrameCropping: true, FrameCropTop: 1, FrameCropBottom: 3,
			VUI: &VUI{AspectRatioIDC: 255, SARWidth: 4, SARHeight: 3, OverscanInfoPresent: true, OverscanAppropriate: true,
				VideoSignalTypePresent: true, VideoFormat: 5, VideoFullRange: true, ColourDescriptionPresent: true,
				ColourPrimaries: 1, TransferCharacteristics: 1, MatrixCoefficients: 1, ChromaLocInfoPresent: true, ChromaSampleLocTop: 1, ChromaSampleLocBottom: 2,
				TimingInfoPresent: true, NumUnitsInTick: 1, TimeScale: 50}},
		w: 1280, h: 720, fps: 25,
	},
	{
		name: "vui without timing",
		sps: SPS{ProfileIDC: 66, LevelIDC: 13, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 2, PicWidthInMbs: 22, PicHeightInMapUnits: 18, FrameMbsOnly: true,
			VUI: &VUI{AspectRatioIDC: 1, TailRead: true}},
		w: 352, h: 288,
	},
	{
		name: "high with HRD and bitstream restriction",
		sps: SPS{ProfileIDC: 100, LevelIDC: 31, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 6, MaxNumRefFrames: 3, PicWidthInMbs: 80, PicHeightInMapUnits: 45,
			FrameMbsOnly: true, Direct8x8Inference: true,
			VUI: &VUI{TimingInfoPresent: true, NumUnitsInTick: 1, TimeScale: 50, FixedFrameRate: true,
				TailRead: true, NALHRD: true, VCLHRD: true, LowDelayHRD: false, PicStructPresent: true,
				BitstreamRestriction: true, MaxNumReorderFrames: 2, MaxDecFrameBuffering: 3}},
		w: 1280, h: 720, fps: 25,
	},
	{
		name: "main with bitstream restriction, no reordering",
		sps: SPS{ProfileIDC: 77, LevelIDC: 30, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
			Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 5, MaxNumRefFrames: 1, PicWidthInMbs: 40, PicHeightInMapUnits: 30,
			FrameMbsOnly: true, Direct8x8Inference: true,
			VUI: &VUI{TailRead: true, BitstreamRestriction: true, MaxDecFrameBuffering: 1}},
		w: 640, h: 480,
	},
}

func TestSPSTable(t *testing.T) {
	sawEmulation := false
	for _, c := range spsCases {
		t.Run(c.name, func(t *testing.T) {
			nalu := encodeSPS(c.sps, c.scaling)
			if findEmulation(nalu) >= 0 {
				sawEmulation = true
			}
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
			if got.FrameRate() != c.fps {
				t.Errorf("frame rate %v, want %v", got.FrameRate(), c.fps)
			}
			// Every truncation fails cleanly or, when it only removes bits
			// ParseSPS does not read, yields the same result.
			for n := range len(nalu) {
				s, err := ParseSPS(nalu[:n])
				if err == nil && !reflect.DeepEqual(s, got) && !reflect.DeepEqual(s, withoutTail(got)) {
					t.Errorf("ParseSPS(first %d bytes) = %+v without error", n, s)
				}
				if err != nil && !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseSPS(first %d bytes): %v, want ErrTruncated", n, err)
				}
			}
		})
	}
	if !sawEmulation {
		t.Error("no case exercises emulation prevention")
	}
}

// withoutTail returns s as ParseSPS gives it when the VUI ends after the
// timing information.
func withoutTail(s SPS) SPS {
	if s.VUI != nil {
		v := *s.VUI
		v.TailRead, v.NALHRD, v.VCLHRD, v.LowDelayHRD, v.PicStructPresent = false, false, false, false, false
		v.BitstreamRestriction, v.MaxNumReorderFrames, v.MaxDecFrameBuffering = false, 0, 0
		s.VUI = &v
	}
	return s
}

// Parameter sets written by libx264 (ffmpeg 5.1) for testsrc2 clips.
var x264SPS = []struct {
	name, hex string
	profile   uint8
	w, h      int
	fps       float64
}{
	{"baseline 318x238", "6742c00dda0507faac0440000003004000000f03c50aa8", 66, 318, 238, 30},
	{"main 318x238", "674d400dda0507faac0440000003004000000f03c50aa8", 77, 318, 238, 30},
	{"high 318x238", "6764000dacb40a0ff5580880000003008000001e078a1550", 100, 318, 238, 30},
	{"high interlaced 1920x1080", "67640028ace8078044fde022000003000200000300783e2c5d40", 100, 1920, 1080, 30},
}

func TestParseSPSx264(t *testing.T) {
	for _, c := range x264SPS {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSPS(testenv.MustHex(t, c.hex))
			if err != nil {
				t.Fatal(err)
			}
			if s.ProfileIDC != c.profile || s.Width() != c.w || s.Height() != c.h || s.FrameRate() != c.fps {
				t.Errorf("got profile %d %dx%d %v fps, want %d %dx%d %v fps", s.ProfileIDC, s.Width(), s.Height(), s.FrameRate(), c.profile, c.w, c.h, c.fps)
			}
		})
	}
}

func TestParseSPSErrors(t *testing.T) {
	base := spsCases[1].sps
	mod := func(f func(*SPS)) []byte {
		s := base
		f(&s)
		return encodeSPS(s, nil)
	}
	cases := []struct {
		name  string
		nalu  []byte
		want  error
		field string
	}{
		{"empty", nil, ErrTruncated, ""},
		{"header only", []byte{0x67}, ErrTruncated, "profile_idc"},
		{"pps", []byte{0x68, 0xee, 0x3c, 0x80}, ErrNALType, ""},
		{"chroma_format_idc 4", mod(func(s *SPS) { s.ChromaFormatIDC = 4 }), ErrInvalidValue, "chroma_format_idc"},
		{"bit depth 15", mod(func(s *SPS) { s.BitDepthLuma = 15 }), ErrInvalidValue, "bit_depth_luma_minus8"},
		{"poc type 3", mod(func(s *SPS) { s.PicOrderCntType = 3 }), ErrInvalidValue, "pic_order_cnt_type"},
		{"sps id 32", mod(func(s *SPS) { s.ID = 32 }), ErrInvalidValue, "seq_parameter_set_id"},
		{"huge width", mod(func(s *SPS) { s.PicWidthInMbs = 1 << 20 }), ErrInvalidValue, "pic_width_in_mbs_minus1"},
		{"crop everything", mod(func(s *SPS) { s.FrameCropTop = 300; s.FrameCropBottom = 244 }), ErrInvalidValue, "frame cropping"},
		{"exp-golomb too long", []byte{0x67, 66, 0, 30, 0, 0, 0, 0, 0x80}, ErrInvalidValue, "seq_parameter_set_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSPS(c.nalu)
			if !errors.Is(err, c.want) {
				t.Fatalf("ParseSPS(%x) error %v, want %v", c.nalu, err, c.want)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(c.field)) {
				t.Errorf("error %q does not name %q", err, c.field)
			}
		})
	}
}

func TestEmulationPrevention(t *testing.T) {
	cases := []struct{ rbsp, nalu string }{
		{"", ""},
		{"0102", "0102"},
		{"000000", "00000300"},
		{"000001", "00000301"},
		{"000002", "00000302"},
		{"000003", "00000303"},
		{"000004", "000004"},
		{"00000000", "0000030000"},
		{"0000000000", "00000300000300"},
		{"ff0000010000", "ff000003010000"},
	}
	for _, c := range cases {
		rbsp, nalu := testenv.MustHex(t, c.rbsp), testenv.MustHex(t, c.nalu)
		if got := AddEmulationPrevention(nil, rbsp); !bytes.Equal(got, nalu) {
			t.Errorf("AddEmulationPrevention(%x) = %x, want %x", rbsp, got, nalu)
		}
		if got := RemoveEmulationPrevention(nalu); !bytes.Equal(got, rbsp) {
			t.Errorf("RemoveEmulationPrevention(%x) = %x, want %x", nalu, got, rbsp)
		}
	}
	in := []byte{1, 2, 3, 0, 0, 4}
	if out := RemoveEmulationPrevention(in); &out[0] != &in[0] {
		t.Error("RemoveEmulationPrevention copied input without emulation prevention bytes")
	}
}

func TestCodecString(t *testing.T) {
	s, err := ParseSPS(testenv.MustHex(t, x264SPS[2].hex))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CodecString(); got != "avc1.64000d" {
		t.Errorf("CodecString = %q", got)
	}
}

func TestReorderFrames(t *testing.T) {
	high := spsCases[1].sps // High, pic_order_cnt_type 0, VUI without the tail
	with := func(f func(*SPS)) SPS {
		s := high
		v := *s.VUI
		s.VUI = &v
		f(&s)
		return s
	}
	cases := []struct {
		name string
		sps  SPS
		n    int
		ok   bool
	}{
		{"high without bitstream restriction", high, 0, false},
		{"no VUI", with(func(s *SPS) { s.VUI = nil }), 0, false},
		{"bitstream restriction 2", with(func(s *SPS) {
			s.VUI.TailRead, s.VUI.BitstreamRestriction, s.VUI.MaxNumReorderFrames = true, true, 2
		}), 2, true},
		{"bitstream restriction 0", with(func(s *SPS) { s.VUI.TailRead, s.VUI.BitstreamRestriction = true, true }), 0, true},
		{"poc type 2", with(func(s *SPS) { s.PicOrderCntType = 2 }), 0, true},
		{"baseline", with(func(s *SPS) { s.ProfileIDC = 66 }), 0, true},
		{"high intra", with(func(s *SPS) { s.ConstraintFlags = 0x10 }), 0, true},
		{"main with constraint_set3", with(func(s *SPS) { s.ProfileIDC, s.ConstraintFlags = 77, 0x10 }), 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Through the bitstream, so that the fields are the parsed ones.
			s, err := ParseSPS(encodeSPS(c.sps, nil))
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := s.ReorderFrames(); n != c.n || ok != c.ok {
				t.Errorf("ReorderFrames() = %d, %v; want %d, %v", n, ok, c.n, c.ok)
			}
		})
	}
	for _, c := range x264SPS {
		s, err := ParseSPS(testenv.MustHex(t, c.hex))
		if err != nil {
			t.Fatal(err)
		}
		// These clips were encoded without B-frames; libx264 says so in the
		// bitstream restriction.
		if n, ok := s.ReorderFrames(); n != 0 || !ok {
			t.Errorf("%s: ReorderFrames() = %d, %v; want 0, true", c.name, n, ok)
		}
	}
}
