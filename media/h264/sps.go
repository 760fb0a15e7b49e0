package h264

import (
	"fmt"

	"kvskit/media/internal/rbsp"
)

// maxMbsPerDim bounds the macroblocks per picture dimension (32768
// samples): far above what any level of Annex A allows, and small enough for
// every derived dimension to fit an int on 32-bit machines.
const maxMbsPerDim = 2048

// HasChromaInfo reports whether SPSs of the given profile_idc carry
// chroma_format_idc, bit depths and scaling matrices (the High profiles and
// their scalable, multiview and depth relatives, H.264 clause 7.3.2.1.1).
// The same profiles carry the extension fields of an
// AVCDecoderConfigurationRecord.
func HasChromaInfo(profileIDC uint8) bool {
	switch profileIDC {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		return true
	}
	return false
}

// SPS is a decoded sequence parameter set (H.264 clause 7.3.2.1.1).
type SPS struct {
	ProfileIDC uint8
	// ConstraintFlags is the byte holding constraint_set0_flag (bit 7)
	// through constraint_set5_flag (bit 2) and two reserved zero bits; it is
	// the profile_compatibility of an AVCDecoderConfigurationRecord.
	ConstraintFlags uint8
	LevelIDC        uint8
	ID              uint32 // seq_parameter_set_id

	ChromaFormatIDC     uint32 // 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
	SeparateColourPlane bool
	BitDepthLuma        int  // 8..14
	BitDepthChroma      int  // 8..14
	TransformBypass     bool // qpprime_y_zero_transform_bypass_flag
	ScalingMatrix       bool // seq_scaling_matrix_present_flag

	Log2MaxFrameNum       uint32 // log2_max_frame_num_minus4 + 4
	PicOrderCntType       uint32 // 0, 1 or 2
	Log2MaxPicOrderCntLsb uint32 // for type 0: log2_max_pic_order_cnt_lsb_minus4 + 4

	// Picture order count type 1.
	DeltaPicOrderAlwaysZero   bool
	OffsetForNonRefPic        int32
	OffsetForTopToBottomField int32
	OffsetForRefFrame         []int32

	MaxNumRefFrames       uint32
	GapsInFrameNumAllowed bool
	PicWidthInMbs         uint32 // pic_width_in_mbs_minus1 + 1
	PicHeightInMapUnits   uint32 // pic_height_in_map_units_minus1 + 1
	FrameMbsOnly          bool
	MbAdaptiveFrameField  bool
	Direct8x8Inference    bool

	FrameCropping   bool
	FrameCropLeft   uint32
	FrameCropRight  uint32
	FrameCropTop    uint32
	FrameCropBottom uint32

	VUI *VUI // nil when vui_parameters_present_flag is 0
}

// VUI holds the leading part of the video usability information (H.264
// Annex E.1.1) up to and including the timing information.
type VUI struct {
	AspectRatioIDC uint8 // 0 when not present; 255 is Extended_SAR
	SARWidth       uint16
	SARHeight      uint16

	OverscanInfoPresent bool
	OverscanAppropriate bool

	VideoSignalTypePresent   bool
	VideoFormat              uint8
	VideoFullRange           bool
	ColourDescriptionPresent bool
	ColourPrimaries          uint8
	TransferCharacteristics  uint8
	MatrixCoefficients       uint8

	ChromaLocInfoPresent  bool
	ChromaSampleLocTop    uint32
	ChromaSampleLocBottom uint32

	TimingInfoPresent bool
	NumUnitsInTick    uint32
	TimeScale         uint32
	FixedFrameRate    bool

	// The fields after the timing information. They are read only when the
	// whole rest of the VUI can be read; a VUI that ends early, or whose
	// HRD parameters are out of range, leaves them all zero (TailRead
	// false) without failing the SPS.
	TailRead             bool
	NALHRD, VCLHRD       bool // nal_ and vcl_hrd_parameters_present_flag (the HRD parameters are skipped)
	LowDelayHRD          bool
	PicStructPresent     bool
	BitstreamRestriction bool // bitstream_restriction_flag
	MaxNumReorderFrames  uint32
	MaxDecFrameBuffering uint32
}

// ParseSPS decodes an SPS NAL unit (header byte included, start code or
// length prefix excluded). Emulation prevention bytes are removed first.
// The VUI is read up to the bitstream restriction; an error after the timing
// information only leaves VUI.TailRead false.
func ParseSPS(nalu []byte) (SPS, error) {
	if len(nalu) == 0 {
		return SPS{}, fmt.Errorf("h264: sps: empty NAL unit: %w", ErrTruncated)
	}
	if t := NALType(nalu); t != NALUSPS {
		return SPS{}, fmt.Errorf("h264: sps: got NAL unit type %v: %w", t, ErrNALType)
	}
	s, err := parseSPSRBSP(RemoveEmulationPrevention(nalu[1:]))
	if err != nil {
		return SPS{}, fmt.Errorf("h264: sps: %w", err)
	}
	return s, nil
}

func parseSPSRBSP(rbspData []byte) (SPS, error) {
	r := rbsp.NewReader(rbspData, ErrTruncated, ErrInvalidValue)
	f := rbsp.NewFields(r)
	var s SPS
	s.ProfileIDC = uint8(f.U(8, "profile_idc"))
	s.ConstraintFlags = uint8(f.U(8, "constraint_set_flags"))
	s.LevelIDC = uint8(f.U(8, "level_idc"))
	s.ID = f.UEMax("seq_parameter_set_id", 31)
	s.ChromaFormatIDC = 1
	s.BitDepthLuma, s.BitDepthChroma = 8, 8
	if HasChromaInfo(s.ProfileIDC) {
		s.ChromaFormatIDC = f.UEMax("chroma_format_idc", 3)
		if s.ChromaFormatIDC == 3 {
			s.SeparateColourPlane = f.Flag("separate_colour_plane_flag")
		}
		s.BitDepthLuma = 8 + int(f.UEMax("bit_depth_luma_minus8", 6))
		s.BitDepthChroma = 8 + int(f.UEMax("bit_depth_chroma_minus8", 6))
		s.TransformBypass = f.Flag("qpprime_y_zero_transform_bypass_flag")
		s.ScalingMatrix = f.Flag("seq_scaling_matrix_present_flag")
		if s.ScalingMatrix {
			lists := 8
			if s.ChromaFormatIDC == 3 {
				lists = 12
			}
			for i := 0; i < lists && !f.Failed(); i++ {
				if f.Flag("seq_scaling_list_present_flag") {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(f, size)
				}
			}
		}
	}
	s.Log2MaxFrameNum = 4 + f.UEMax("log2_max_frame_num_minus4", 12)
	s.PicOrderCntType = f.UEMax("pic_order_cnt_type", 2)
	switch s.PicOrderCntType {
	case 0:
		s.Log2MaxPicOrderCntLsb = 4 + f.UEMax("log2_max_pic_order_cnt_lsb_minus4", 12)
	case 1:
		s.DeltaPicOrderAlwaysZero = f.Flag("delta_pic_order_always_zero_flag")
		s.OffsetForNonRefPic = f.SE("offset_for_non_ref_pic")
		s.OffsetForTopToBottomField = f.SE("offset_for_top_to_bottom_field")
		n := f.UEMax("num_ref_frames_in_pic_order_cnt_cycle", 255)
		for i := uint32(0); i < n && !f.Failed(); i++ {
			s.OffsetForRefFrame = append(s.OffsetForRefFrame, f.SE("offset_for_ref_frame"))
		}
	}
	s.MaxNumRefFrames = f.UE("max_num_ref_frames")
	s.GapsInFrameNumAllowed = f.Flag("gaps_in_frame_num_value_allowed_flag")
	s.PicWidthInMbs = 1 + f.UEMax("pic_width_in_mbs_minus1", maxMbsPerDim-1)
	s.PicHeightInMapUnits = 1 + f.UEMax("pic_height_in_map_units_minus1", maxMbsPerDim-1)
	s.FrameMbsOnly = f.Flag("frame_mbs_only_flag")
	if !s.FrameMbsOnly {
		s.MbAdaptiveFrameField = f.Flag("mb_adaptive_frame_field_flag")
	}
	s.Direct8x8Inference = f.Flag("direct_8x8_inference_flag")
	s.FrameCropping = f.Flag("frame_cropping_flag")
	if s.FrameCropping {
		s.FrameCropLeft = f.UEMax("frame_crop_left_offset", maxMbsPerDim*16)
		s.FrameCropRight = f.UEMax("frame_crop_right_offset", maxMbsPerDim*16)
		s.FrameCropTop = f.UEMax("frame_crop_top_offset", maxMbsPerDim*16)
		s.FrameCropBottom = f.UEMax("frame_crop_bottom_offset", maxMbsPerDim*16)
	}
	if f.Flag("vui_parameters_present_flag") {
		s.VUI = parseVUI(f)
		if !f.Failed() {
			s.VUI.parseTail(rbsp.NewFields(r))
		}
	}
	if err := f.Err(); err != nil {
		return SPS{}, err
	}
	if s.Width() <= 0 || s.Height() <= 0 {
		return SPS{}, fmt.Errorf("frame cropping (%d,%d,%d,%d) leaves no picture of %dx%d: %w",
			s.FrameCropLeft, s.FrameCropRight, s.FrameCropTop, s.FrameCropBottom,
			s.CodedWidth(), s.CodedHeight(), ErrInvalidValue)
	}
	return s, nil
}

// skipScalingList reads and discards scaling_list() (clause 7.3.2.1.1.1).
func skipScalingList(f *rbsp.Fields, size int) {
	last, next := int32(8), int32(8)
	for j := 0; j < size && !f.Failed(); j++ {
		if next != 0 {
			delta := f.SE("delta_scale")
			if !f.Failed() && (delta < -128 || delta > 127) {
				f.Fail("delta_scale", fmt.Errorf("value %d outside -128..127: %w", delta, ErrInvalidValue))
			}
			next = (last + delta + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

func parseVUI(f *rbsp.Fields) *VUI {
	v := &VUI{}
	if f.Flag("aspect_ratio_info_present_flag") {
		v.AspectRatioIDC = uint8(f.U(8, "aspect_ratio_idc"))
		if v.AspectRatioIDC == 255 {
			v.SARWidth = uint16(f.U(16, "sar_width"))
			v.SARHeight = uint16(f.U(16, "sar_height"))
		}
	}
	v.OverscanInfoPresent = f.Flag("overscan_info_present_flag")
	if v.OverscanInfoPresent {
		v.OverscanAppropriate = f.Flag("overscan_appropriate_flag")
	}
	v.VideoSignalTypePresent = f.Flag("video_signal_type_present_flag")
	if v.VideoSignalTypePresent {
		v.VideoFormat = uint8(f.U(3, "video_format"))
		v.VideoFullRange = f.Flag("video_full_range_flag")
		v.ColourDescriptionPresent = f.Flag("colour_description_present_flag")
		if v.ColourDescriptionPresent {
			v.ColourPrimaries = uint8(f.U(8, "colour_primaries"))
			v.TransferCharacteristics = uint8(f.U(8, "transfer_characteristics"))
			v.MatrixCoefficients = uint8(f.U(8, "matrix_coefficients"))
		}
	}
	v.ChromaLocInfoPresent = f.Flag("chroma_loc_info_present_flag")
	if v.ChromaLocInfoPresent {
		v.ChromaSampleLocTop = f.UEMax("chroma_sample_loc_type_top_field", 5)
		v.ChromaSampleLocBottom = f.UEMax("chroma_sample_loc_type_bottom_field", 5)
	}
	v.TimingInfoPresent = f.Flag("timing_info_present_flag")
	if v.TimingInfoPresent {
		v.NumUnitsInTick = uint32(f.U(32, "num_units_in_tick"))
		v.TimeScale = uint32(f.U(32, "time_scale"))
		v.FixedFrameRate = f.Flag("fixed_frame_rate_flag")
	}
	return v
}

// parseTail reads the VUI after the timing information (Annex E.1.1); on
// failure the tail fields stay zero.
func (v *VUI) parseTail(f *rbsp.Fields) {
	t := VUI{}
	t.NALHRD = f.Flag("nal_hrd_parameters_present_flag")
	if t.NALHRD {
		skipHRD(f)
	}
	t.VCLHRD = f.Flag("vcl_hrd_parameters_present_flag")
	if t.VCLHRD {
		skipHRD(f)
	}
	if t.NALHRD || t.VCLHRD {
		t.LowDelayHRD = f.Flag("low_delay_hrd_flag")
	}
	t.PicStructPresent = f.Flag("pic_struct_present_flag")
	t.BitstreamRestriction = f.Flag("bitstream_restriction_flag")
	if t.BitstreamRestriction {
		f.Flag("motion_vectors_over_pic_boundaries_flag")
		f.UEMax("max_bytes_per_pic_denom", 16)
		f.UEMax("max_bits_per_mb_denom", 16)
		f.UEMax("log2_max_mv_length_horizontal", 15)
		f.UEMax("log2_max_mv_length_vertical", 15)
		t.MaxNumReorderFrames = f.UEMax("max_num_reorder_frames", 16)
		t.MaxDecFrameBuffering = f.UEMax("max_dec_frame_buffering", 16)
	}
	if f.Failed() {
		return
	}
	v.TailRead = true
	v.NALHRD, v.VCLHRD, v.LowDelayHRD, v.PicStructPresent = t.NALHRD, t.VCLHRD, t.LowDelayHRD, t.PicStructPresent
	v.BitstreamRestriction, v.MaxNumReorderFrames, v.MaxDecFrameBuffering = t.BitstreamRestriction, t.MaxNumReorderFrames, t.MaxDecFrameBuffering
}

// skipHRD reads and discards hrd_parameters() (Annex E.1.2).
func skipHRD(f *rbsp.Fields) {
	n := f.UEMax("cpb_cnt_minus1", 31) + 1
	f.U(8, "bit_rate_scale and cpb_size_scale")
	for i := uint32(0); i < n && !f.Failed(); i++ {
		f.UE("bit_rate_value_minus1")
		f.UE("cpb_size_value_minus1")
		f.Flag("cbr_flag")
	}
	f.U(20, "delay and time offset lengths")
}

// ReorderFrames returns how many frames may precede a frame in decoding
// order and follow it in output order, and whether the SPS says: the VUI's
// max_num_reorder_frames when it has a bitstream restriction, else 0 when
// output order is decoding order by construction (pic_order_cnt_type 2, the
// Baseline profile, which has no B slices, and the intra profiles, for which
// Annex E.2.1 infers 0). Otherwise ok is false: up to MaxDpbFrames (at most
// 16) frames may be reordered.
func (s SPS) ReorderFrames() (n int, ok bool) {
	switch {
	case s.VUI != nil && s.VUI.BitstreamRestriction:
		return int(s.VUI.MaxNumReorderFrames), true
	case s.PicOrderCntType == 2, s.ProfileIDC == 66:
		return 0, true
	case s.ConstraintFlags&0x10 != 0:
		switch s.ProfileIDC {
		case 44, 86, 100, 110, 122, 244:
			return 0, true
		}
	case s.ProfileIDC == 44:
		return 0, true
	}
	return 0, false
}

// ChromaArrayType is 0 for monochrome or separately coded colour planes and
// chroma_format_idc otherwise.
func (s SPS) ChromaArrayType() uint32 {
	if s.SeparateColourPlane {
		return 0
	}
	return s.ChromaFormatIDC
}

// cropUnits returns CropUnitX and CropUnitY (equations 7-19 to 7-22).
func (s SPS) cropUnits() (x, y int) {
	fieldFactor := 1
	if !s.FrameMbsOnly {
		fieldFactor = 2
	}
	switch s.ChromaArrayType() {
	case 0:
		return 1, fieldFactor
	case 1:
		return 2, 2 * fieldFactor
	case 2:
		return 2, fieldFactor
	default:
		return 1, fieldFactor
	}
}

// CodedWidth is the width in luma samples before cropping.
func (s SPS) CodedWidth() int { return int(s.PicWidthInMbs) * 16 }

// CodedHeight is the frame height in luma samples before cropping.
func (s SPS) CodedHeight() int {
	h := int(s.PicHeightInMapUnits) * 16
	if !s.FrameMbsOnly {
		h *= 2
	}
	return h
}

// Width is the width in luma samples of the cropped (displayed) picture.
func (s SPS) Width() int {
	x, _ := s.cropUnits()
	return s.CodedWidth() - x*(int(s.FrameCropLeft)+int(s.FrameCropRight))
}

// Height is the frame height in luma samples of the cropped picture.
func (s SPS) Height() int {
	_, y := s.cropUnits()
	return s.CodedHeight() - y*(int(s.FrameCropTop)+int(s.FrameCropBottom))
}

// FrameRate returns the frame rate the VUI timing information implies,
// time_scale / (2 * num_units_in_tick), or 0 when it is absent or zero.
func (s SPS) FrameRate() float64 {
	if s.VUI == nil || !s.VUI.TimingInfoPresent || s.VUI.NumUnitsInTick == 0 {
		return 0
	}
	return float64(s.VUI.TimeScale) / (2 * float64(s.VUI.NumUnitsInTick))
}

// CodecString returns the RFC 6381 codecs parameter, e.g. "avc1.64001f".
func (s SPS) CodecString() string {
	return fmt.Sprintf("avc1.%02x%02x%02x", s.ProfileIDC, s.ConstraintFlags, s.LevelIDC)
}
