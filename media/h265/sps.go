package h265

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"kvskit/media/h264"
	"kvskit/media/internal/rbsp"
)

// maxLumaDim bounds pic_width/height_in_luma_samples: four times what level
// 6.2 allows, and small enough for every derived value to fit an int on
// 32-bit machines.
const maxLumaDim = 1 << 16

// PTL is the profile, tier and level of one layer (H.265 clause 7.3.3).
type PTL struct {
	ProfileSpace uint8 // 0..3
	HighTier     bool  // tier_flag
	ProfileIDC   uint8 // 0..31: 1 Main, 2 Main 10, 3 Main Still Picture, 4 range extensions, ...
	// CompatibilityFlags holds profile_compatibility_flag[j] at bit 31-j.
	CompatibilityFlags uint32
	// ConstraintFlags holds the 48 bits from progressive_source_flag (bit 47)
	// to the inbld or reserved flag (bit 0).
	ConstraintFlags uint64
	LevelIDC        uint8 // 30 times the level number
}

// SubLayerPTL is the profile, tier and level of one temporal sub-layer; the
// PTL fields are meaningful only when the corresponding flag is set.
type SubLayerPTL struct {
	ProfilePresent bool
	LevelPresent   bool
	PTL
}

// ProfileTierLevel is profile_tier_level(1, sps_max_sub_layers_minus1).
type ProfileTierLevel struct {
	General   PTL
	SubLayers []SubLayerPTL // one per sub-layer below the highest
}

// SubLayerOrdering is one entry of the sub-layer ordering information.
type SubLayerOrdering struct {
	MaxDecPicBufferingMinus1 uint32
	MaxNumReorderPics        uint32
	MaxLatencyIncreasePlus1  uint32
}

// SPS holds the leading fields of a sequence parameter set (H.265 clause
// 7.3.2.2.1), up to the sub-layer ordering information: enough for picture
// dimensions, bit depths and the decoder configuration record.
type SPS struct {
	VPSID             uint8 // sps_video_parameter_set_id
	MaxSubLayers      uint8 // sps_max_sub_layers_minus1 + 1, 1..7
	TemporalIDNesting bool  // sps_temporal_id_nesting_flag
	ProfileTierLevel  ProfileTierLevel
	ID                uint32 // sps_seq_parameter_set_id

	ChromaFormatIDC     uint32 // 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4
	SeparateColourPlane bool
	PicWidth            uint32 // pic_width_in_luma_samples
	PicHeight           uint32 // pic_height_in_luma_samples

	// ConformanceWindow reports the conf_win offsets, which are in units of
	// SubWidthC and SubHeightC (chroma samples).
	ConformanceWindow bool
	ConfWinLeft       uint32
	ConfWinRight      uint32
	ConfWinTop        uint32
	ConfWinBottom     uint32

	BitDepthLuma          int // 8..16
	BitDepthChroma        int // 8..16
	Log2MaxPicOrderCntLsb uint32

	SubLayerOrderingInfoPresent bool
	// SubLayerOrdering has an entry per sub-layer when
	// SubLayerOrderingInfoPresent, otherwise one for the highest.
	SubLayerOrdering []SubLayerOrdering
}

// ParseSPS decodes the leading fields of an SPS NAL unit (2-byte header
// included, start code or length prefix excluded). Emulation prevention
// bytes are removed first; the fields after the sub-layer ordering
// information are not read.
func ParseSPS(nalu []byte) (SPS, error) {
	h, err := ParseHeader(nalu)
	if err != nil {
		return SPS{}, fmt.Errorf("h265: sps: %w", err)
	}
	if h.Type != NALUSPS {
		return SPS{}, fmt.Errorf("h265: sps: got NAL unit type %v: %w", h.Type, ErrNALType)
	}
	s, err := parseSPSRBSP(h264.RemoveEmulationPrevention(nalu[2:]))
	if err != nil {
		return SPS{}, fmt.Errorf("h265: sps: %w", err)
	}
	return s, nil
}

func parseSPSRBSP(rbspData []byte) (SPS, error) {
	f := rbsp.NewFields(rbsp.NewReader(rbspData, ErrTruncated, ErrInvalidValue))
	var s SPS
	s.VPSID = uint8(f.U(4, "sps_video_parameter_set_id"))
	maxSubLayersMinus1 := f.U(3, "sps_max_sub_layers_minus1")
	if !f.Failed() && maxSubLayersMinus1 == 7 {
		f.Fail("sps_max_sub_layers_minus1", fmt.Errorf("value 7: %w", ErrInvalidValue))
	}
	s.MaxSubLayers = uint8(maxSubLayersMinus1) + 1
	s.TemporalIDNesting = f.Flag("sps_temporal_id_nesting_flag")
	s.ProfileTierLevel = parsePTL(f, int(maxSubLayersMinus1))
	s.ID = f.UEMax("sps_seq_parameter_set_id", 15)
	s.ChromaFormatIDC = f.UEMax("chroma_format_idc", 3)
	if s.ChromaFormatIDC == 3 {
		s.SeparateColourPlane = f.Flag("separate_colour_plane_flag")
	}
	s.PicWidth = f.UEMax("pic_width_in_luma_samples", maxLumaDim)
	s.PicHeight = f.UEMax("pic_height_in_luma_samples", maxLumaDim)
	s.ConformanceWindow = f.Flag("conformance_window_flag")
	if s.ConformanceWindow {
		s.ConfWinLeft = f.UEMax("conf_win_left_offset", maxLumaDim)
		s.ConfWinRight = f.UEMax("conf_win_right_offset", maxLumaDim)
		s.ConfWinTop = f.UEMax("conf_win_top_offset", maxLumaDim)
		s.ConfWinBottom = f.UEMax("conf_win_bottom_offset", maxLumaDim)
	}
	s.BitDepthLuma = 8 + int(f.UEMax("bit_depth_luma_minus8", 8))
	s.BitDepthChroma = 8 + int(f.UEMax("bit_depth_chroma_minus8", 8))
	s.Log2MaxPicOrderCntLsb = 4 + f.UEMax("log2_max_pic_order_cnt_lsb_minus4", 12)
	s.SubLayerOrderingInfoPresent = f.Flag("sps_sub_layer_ordering_info_present_flag")
	first := maxSubLayersMinus1
	if s.SubLayerOrderingInfoPresent {
		first = 0
	}
	for i := first; i <= maxSubLayersMinus1 && !f.Failed(); i++ {
		s.SubLayerOrdering = append(s.SubLayerOrdering, SubLayerOrdering{
			MaxDecPicBufferingMinus1: f.UEMax("sps_max_dec_pic_buffering_minus1", 15),
			MaxNumReorderPics:        f.UEMax("sps_max_num_reorder_pics", 15),
			MaxLatencyIncreasePlus1:  f.UE("sps_max_latency_increase_plus1"),
		})
	}
	if err := f.Err(); err != nil {
		return SPS{}, err
	}
	if s.PicWidth == 0 || s.PicHeight == 0 {
		return SPS{}, fmt.Errorf("picture size %dx%d: %w", s.PicWidth, s.PicHeight, ErrInvalidValue)
	}
	if s.Width() <= 0 || s.Height() <= 0 {
		return SPS{}, fmt.Errorf("conformance window (%d,%d,%d,%d) leaves no picture of %dx%d: %w",
			s.ConfWinLeft, s.ConfWinRight, s.ConfWinTop, s.ConfWinBottom, s.PicWidth, s.PicHeight, ErrInvalidValue)
	}
	return s, nil
}

func readPTL(f *rbsp.Fields, p *PTL) {
	p.ProfileSpace = uint8(f.U(2, "profile_space"))
	p.HighTier = f.Flag("tier_flag")
	p.ProfileIDC = uint8(f.U(5, "profile_idc"))
	p.CompatibilityFlags = uint32(f.U(32, "profile_compatibility_flags"))
	p.ConstraintFlags = f.U(48, "constraint_flags")
}

func parsePTL(f *rbsp.Fields, maxSubLayersMinus1 int) ProfileTierLevel {
	var p ProfileTierLevel
	readPTL(f, &p.General)
	p.General.LevelIDC = uint8(f.U(8, "general_level_idc"))
	if maxSubLayersMinus1 == 0 || f.Failed() {
		return p
	}
	p.SubLayers = make([]SubLayerPTL, maxSubLayersMinus1)
	for i := range p.SubLayers {
		p.SubLayers[i].ProfilePresent = f.Flag("sub_layer_profile_present_flag")
		p.SubLayers[i].LevelPresent = f.Flag("sub_layer_level_present_flag")
	}
	for i := maxSubLayersMinus1; i < 8; i++ {
		f.U(2, "reserved_zero_2bits")
	}
	for i := range p.SubLayers {
		sl := &p.SubLayers[i]
		if sl.ProfilePresent {
			readPTL(f, &sl.PTL)
		}
		if sl.LevelPresent {
			sl.LevelIDC = uint8(f.U(8, "sub_layer_level_idc"))
		}
	}
	return p
}

// ChromaArrayType is 0 for monochrome or separately coded colour planes and
// chroma_format_idc otherwise.
func (s SPS) ChromaArrayType() uint32 {
	if s.SeparateColourPlane {
		return 0
	}
	return s.ChromaFormatIDC
}

// subWH returns SubWidthC and SubHeightC (Table 6-1), the units of the
// conformance window offsets.
func (s SPS) subWH() (w, h int) {
	switch s.ChromaArrayType() {
	case 1:
		return 2, 2
	case 2:
		return 2, 1
	default:
		return 1, 1
	}
}

// Width is the width in luma samples of the conformance window.
func (s SPS) Width() int {
	w, _ := s.subWH()
	return int(s.PicWidth) - w*(int(s.ConfWinLeft)+int(s.ConfWinRight))
}

// Height is the height in luma samples of the conformance window.
func (s SPS) Height() int {
	_, h := s.subWH()
	return int(s.PicHeight) - h*(int(s.ConfWinTop)+int(s.ConfWinBottom))
}

// MaxNumReorderPics is sps_max_num_reorder_pics of the highest sub-layer:
// how many pictures may precede another in decoding order and follow it in
// output order; 0 means there are no B-frame style reorderings.
func (s SPS) MaxNumReorderPics() uint32 {
	if len(s.SubLayerOrdering) == 0 {
		return 0
	}
	return s.SubLayerOrdering[len(s.SubLayerOrdering)-1].MaxNumReorderPics
}

// CodecString returns the RFC 6381 codecs parameter of the general profile,
// tier and level (ISO/IEC 14496-15 Annex E), e.g. "hvc1.1.6.L93.B0".
func (p PTL) CodecString() string {
	var sb strings.Builder
	sb.WriteString("hvc1.")
	if p.ProfileSpace > 0 {
		sb.WriteByte("ABC"[(p.ProfileSpace-1)&3])
	}
	sb.WriteString(strconv.Itoa(int(p.ProfileIDC)))
	sb.WriteByte('.')
	sb.WriteString(strconv.FormatUint(uint64(bits.Reverse32(p.CompatibilityFlags)), 16))
	if p.HighTier {
		sb.WriteString(".H")
	} else {
		sb.WriteString(".L")
	}
	sb.WriteString(strconv.Itoa(int(p.LevelIDC)))
	cf := [6]byte{}
	for i := range cf {
		cf[i] = byte(p.ConstraintFlags >> (40 - 8*i))
	}
	n := len(cf)
	for n > 0 && cf[n-1] == 0 {
		n--
	}
	for _, c := range cf[:n] {
		sb.WriteByte('.')
		sb.WriteString(strings.ToUpper(strconv.FormatUint(uint64(c), 16)))
	}
	return sb.String()
}
