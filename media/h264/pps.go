package h264

import (
	"fmt"
	"math/bits"

	"kvskit/media/internal/rbsp"
)

// PPS holds the leading fields of a picture parameter set (H.264 clause
// 7.3.2.2) up to redundant_pic_cnt_present_flag: what a slice header needs to
// be read as far as its reference picture marking.
type PPS struct {
	ID                     uint32 // pic_parameter_set_id, 0..255
	SPSID                  uint32 // seq_parameter_set_id, 0..31
	EntropyCodingMode      bool   // entropy_coding_mode_flag (CABAC)
	BottomFieldPicOrder    bool   // bottom_field_pic_order_in_frame_present_flag
	NumSliceGroups         uint32 // num_slice_groups_minus1 + 1, 1..8
	NumRefIdxL0Default     uint32 // num_ref_idx_l0_default_active_minus1 + 1
	NumRefIdxL1Default     uint32 // num_ref_idx_l1_default_active_minus1 + 1
	WeightedPred           bool   // weighted_pred_flag
	WeightedBipredIDC      uint8  // weighted_bipred_idc, 0..2
	DeblockingControl      bool   // deblocking_filter_control_present_flag
	ConstrainedIntraPred   bool   // constrained_intra_pred_flag
	RedundantPicCntPresent bool   // redundant_pic_cnt_present_flag
}

// maxMapUnits bounds pic_size_in_map_units_minus1 + 1 of slice group map
// type 6: the largest picture of maxMbsPerDim squared macroblocks.
const maxMapUnits = maxMbsPerDim * maxMbsPerDim

// ParsePPS decodes the leading fields of a PPS NAL unit (header byte
// included, start code or length prefix excluded). Emulation prevention
// bytes are removed first.
func ParsePPS(nalu []byte) (PPS, error) {
	if len(nalu) == 0 {
		return PPS{}, fmt.Errorf("h264: pps: empty NAL unit: %w", ErrTruncated)
	}
	if t := NALType(nalu); t != NALUPPS {
		return PPS{}, fmt.Errorf("h264: pps: got NAL unit type %v: %w", t, ErrNALType)
	}
	f := rbsp.NewFields(rbsp.NewReader(RemoveEmulationPrevention(nalu[1:]), ErrTruncated, ErrInvalidValue))
	var p PPS
	p.ID = f.UEMax("pic_parameter_set_id", 255)
	p.SPSID = f.UEMax("seq_parameter_set_id", 31)
	p.EntropyCodingMode = f.Flag("entropy_coding_mode_flag")
	p.BottomFieldPicOrder = f.Flag("bottom_field_pic_order_in_frame_present_flag")
	p.NumSliceGroups = 1 + f.UEMax("num_slice_groups_minus1", 7)
	if p.NumSliceGroups > 1 {
		switch mapType := f.UEMax("slice_group_map_type", 6); mapType {
		case 0:
			for i := uint32(0); i < p.NumSliceGroups && !f.Failed(); i++ {
				f.UE("run_length_minus1")
			}
		case 2:
			for i := uint32(0); i+1 < p.NumSliceGroups && !f.Failed(); i++ {
				f.UE("top_left")
				f.UE("bottom_right")
			}
		case 3, 4, 5:
			f.Flag("slice_group_change_direction_flag")
			f.UE("slice_group_change_rate_minus1")
		case 6:
			n := 1 + f.UEMax("pic_size_in_map_units_minus1", maxMapUnits-1)
			w := bits.Len32(p.NumSliceGroups - 1)
			for i := uint32(0); i < n && !f.Failed(); i++ {
				f.U(w, "slice_group_id")
			}
		}
	}
	p.NumRefIdxL0Default = 1 + f.UEMax("num_ref_idx_l0_default_active_minus1", 31)
	p.NumRefIdxL1Default = 1 + f.UEMax("num_ref_idx_l1_default_active_minus1", 31)
	p.WeightedPred = f.Flag("weighted_pred_flag")
	p.WeightedBipredIDC = uint8(f.U(2, "weighted_bipred_idc"))
	if !f.Failed() && p.WeightedBipredIDC == 3 {
		f.Fail("weighted_bipred_idc", fmt.Errorf("value 3: %w", ErrInvalidValue))
	}
	f.SE("pic_init_qp_minus26")
	f.SE("pic_init_qs_minus26")
	f.SE("chroma_qp_index_offset")
	p.DeblockingControl = f.Flag("deblocking_filter_control_present_flag")
	p.ConstrainedIntraPred = f.Flag("constrained_intra_pred_flag")
	p.RedundantPicCntPresent = f.Flag("redundant_pic_cnt_present_flag")
	if err := f.Err(); err != nil {
		return PPS{}, fmt.Errorf("h264: pps: %w", err)
	}
	return p, nil
}
