package h264

import (
	"fmt"

	"kvskit/media/internal/rbsp"
)

// Slice types (slice_type modulo 5, H.264 Table 7-6).
const (
	SliceP  = 0
	SliceB  = 1
	SliceI  = 2
	SliceSP = 3
	SliceSI = 4
)

// maxMMCO bounds the memory management control operations of one slice
// header: one per reference frame and field and a few more, far above what a
// conforming stream needs.
const maxMMCO = 66

// SliceHeader holds the fields of a slice header (H.264 clause 7.3.3) that
// picture order counts and output order depend on.
type SliceHeader struct {
	NALType   NALUType
	NALRefIDC uint8 // nal_ref_idc, 0 for a non-reference picture
	IDR       bool  // IdrPicFlag

	FirstMbInSlice uint32
	SliceType      uint32 // slice_type modulo 5: SliceP, SliceB, ...
	PPSID          uint32
	FrameNum       uint32
	FieldPic       bool // field_pic_flag
	BottomField    bool // bottom_field_flag
	IDRPicID       uint32

	PicOrderCntLsb         uint32 // pic_order_cnt_type 0
	DeltaPicOrderCntBottom int32  // pic_order_cnt_type 0
	DeltaPicOrderCnt       [2]int32

	// NoOutputOfPriorPics is no_output_of_prior_pics_flag of an IDR picture.
	NoOutputOfPriorPics bool
	// MMCO5 reports a memory_management_control_operation equal to 5: the
	// picture resets frame numbers and picture order counts as an IDR does.
	MMCO5 bool
}

// ParamSets keeps the latest SPS and PPS of each identifier seen in a stream,
// for reading slice headers. The zero value is empty and ready to use.
type ParamSets struct {
	sps map[uint32]*SPS
	pps map[uint32]*PPS
}

// Add decodes nalu and keeps it if it is an SPS or a PPS; other NAL units
// are ignored. An SPS or PPS that fails to decode is an error and leaves the
// set as it was.
func (ps *ParamSets) Add(nalu []byte) error {
	switch NALType(nalu) {
	case NALUSPS:
		s, err := ParseSPS(nalu)
		if err != nil {
			return err
		}
		if ps.sps == nil {
			ps.sps = make(map[uint32]*SPS)
		}
		ps.sps[s.ID] = &s
	case NALUPPS:
		p, err := ParsePPS(nalu)
		if err != nil {
			return err
		}
		if ps.pps == nil {
			ps.pps = make(map[uint32]*PPS)
		}
		ps.pps[p.ID] = &p
	}
	return nil
}

// Lookup returns the PPS of the given identifier and the SPS it refers to.
func (ps *ParamSets) Lookup(ppsID uint32) (*SPS, *PPS, error) {
	p := ps.pps[ppsID]
	if p == nil {
		return nil, nil, fmt.Errorf("pps %d not seen: %w", ppsID, ErrMissingParameterSets)
	}
	s := ps.sps[p.SPSID]
	if s == nil {
		return nil, nil, fmt.Errorf("sps %d of pps %d not seen: %w", p.SPSID, ppsID, ErrMissingParameterSets)
	}
	return s, p, nil
}

// ParseSliceHeader decodes the slice header of a coded slice NAL unit (types
// 1, 2 and 5; header byte included) up to and including its reference picture
// marking, with the parameter sets in ps. It returns the SPS the slice
// refers to.
func ParseSliceHeader(nalu []byte, ps *ParamSets) (SliceHeader, *SPS, error) {
	sh, s, err := parseSliceHeader(nalu, ps)
	if err != nil {
		return SliceHeader{}, nil, fmt.Errorf("h264: slice header: %w", err)
	}
	return sh, s, nil
}

func parseSliceHeader(nalu []byte, ps *ParamSets) (SliceHeader, *SPS, error) {
	if len(nalu) < 2 {
		return SliceHeader{}, nil, fmt.Errorf("%d bytes: %w", len(nalu), ErrTruncated)
	}
	var sh SliceHeader
	sh.NALType = NALType(nalu)
	switch sh.NALType {
	case NALUNonIDR, NALUPartitionA, NALUIDR:
	default:
		return SliceHeader{}, nil, fmt.Errorf("got NAL unit type %v: %w", sh.NALType, ErrNALType)
	}
	sh.NALRefIDC = nalu[0] >> 5 & 3
	sh.IDR = sh.NALType == NALUIDR
	// The header lies within the first bytes; a bounded prefix keeps the
	// emulation prevention removal from copying a whole slice.
	head := nalu[1:]
	if len(head) > 4096 {
		head = head[:4096]
	}
	f := rbsp.NewFields(rbsp.NewReader(RemoveEmulationPrevention(head), ErrTruncated, ErrInvalidValue))
	sh.FirstMbInSlice = f.UEMax("first_mb_in_slice", maxMapUnits)
	st := f.UEMax("slice_type", 9)
	sh.SliceType = st % 5
	sh.PPSID = f.UEMax("pic_parameter_set_id", 255)
	if err := f.Err(); err != nil {
		return SliceHeader{}, nil, err
	}
	s, p, err := ps.Lookup(sh.PPSID)
	if err != nil {
		return SliceHeader{}, nil, err
	}
	if sh.IDR && sh.SliceType != SliceI && sh.SliceType != SliceSI {
		return SliceHeader{}, nil, fmt.Errorf("slice_type %d in an IDR picture: %w", st, ErrInvalidValue)
	}
	if s.SeparateColourPlane {
		f.U(2, "colour_plane_id")
	}
	sh.FrameNum = uint32(f.U(int(s.Log2MaxFrameNum), "frame_num"))
	if !s.FrameMbsOnly {
		sh.FieldPic = f.Flag("field_pic_flag")
		if sh.FieldPic {
			sh.BottomField = f.Flag("bottom_field_flag")
		}
	}
	if sh.IDR {
		sh.IDRPicID = f.UEMax("idr_pic_id", 65535)
	}
	switch s.PicOrderCntType {
	case 0:
		sh.PicOrderCntLsb = uint32(f.U(int(s.Log2MaxPicOrderCntLsb), "pic_order_cnt_lsb"))
		if p.BottomFieldPicOrder && !sh.FieldPic {
			sh.DeltaPicOrderCntBottom = f.SE("delta_pic_order_cnt_bottom")
		}
	case 1:
		if !s.DeltaPicOrderAlwaysZero {
			sh.DeltaPicOrderCnt[0] = f.SE("delta_pic_order_cnt[0]")
			if p.BottomFieldPicOrder && !sh.FieldPic {
				sh.DeltaPicOrderCnt[1] = f.SE("delta_pic_order_cnt[1]")
			}
		}
	}
	if p.RedundantPicCntPresent {
		f.UEMax("redundant_pic_cnt", 127)
	}
	if sh.SliceType == SliceB {
		f.Flag("direct_spatial_mv_pred_flag")
	}
	l0, l1 := p.NumRefIdxL0Default, p.NumRefIdxL1Default
	if sh.SliceType == SliceP || sh.SliceType == SliceSP || sh.SliceType == SliceB {
		if f.Flag("num_ref_idx_active_override_flag") {
			l0 = 1 + f.UEMax("num_ref_idx_l0_active_minus1", 31)
			if sh.SliceType == SliceB {
				l1 = 1 + f.UEMax("num_ref_idx_l1_active_minus1", 31)
			}
		}
	}
	if sh.SliceType != SliceI && sh.SliceType != SliceSI {
		skipRefPicListModification(f, "l0")
		if sh.SliceType == SliceB {
			skipRefPicListModification(f, "l1")
		}
	}
	if p.WeightedPred && (sh.SliceType == SliceP || sh.SliceType == SliceSP) ||
		p.WeightedBipredIDC == 1 && sh.SliceType == SliceB {
		skipPredWeightTable(f, s.ChromaArrayType() != 0, l0, l1, sh.SliceType == SliceB)
	}
	if sh.NALRefIDC != 0 {
		if sh.IDR {
			sh.NoOutputOfPriorPics = f.Flag("no_output_of_prior_pics_flag")
			f.Flag("long_term_reference_flag")
		} else if f.Flag("adaptive_ref_pic_marking_mode_flag") {
			sh.MMCO5 = readMMCO(f)
		}
	}
	if err := f.Err(); err != nil {
		return SliceHeader{}, nil, err
	}
	return sh, s, nil
}

// skipRefPicListModification reads ref_pic_list_modification() for one list
// (clause 7.3.3.1).
func skipRefPicListModification(f *rbsp.Fields, list string) {
	if !f.Flag("ref_pic_list_modification_flag_" + list) {
		return
	}
	for i := 0; !f.Failed(); i++ {
		if i > 2*maxMMCO {
			f.Fail("modification_of_pic_nums_idc", fmt.Errorf("more than %d modifications: %w", 2*maxMMCO, ErrInvalidValue))
			return
		}
		switch idc := f.UEMax("modification_of_pic_nums_idc", 5); idc {
		case 0, 1:
			f.UE("abs_diff_pic_num_minus1")
		case 2:
			f.UE("long_term_pic_num")
		case 3:
			return
		}
	}
}

// skipPredWeightTable reads pred_weight_table() (clause 7.3.3.2).
func skipPredWeightTable(f *rbsp.Fields, chroma bool, l0, l1 uint32, b bool) {
	f.UEMax("luma_log2_weight_denom", 7)
	if chroma {
		f.UEMax("chroma_log2_weight_denom", 7)
	}
	lists := []uint32{l0}
	if b {
		lists = append(lists, l1)
	}
	for _, n := range lists {
		for i := uint32(0); i < n && !f.Failed(); i++ {
			if f.Flag("luma_weight_flag") {
				f.SE("luma_weight")
				f.SE("luma_offset")
			}
			if chroma && f.Flag("chroma_weight_flag") {
				for j := 0; j < 2; j++ {
					f.SE("chroma_weight")
					f.SE("chroma_offset")
				}
			}
		}
	}
}

// readMMCO reads the memory management control operations of
// dec_ref_pic_marking() (clause 7.3.3.3) and reports whether one of them is
// 5.
func readMMCO(f *rbsp.Fields) bool {
	five := false
	for i := 0; !f.Failed(); i++ {
		if i > maxMMCO {
			f.Fail("memory_management_control_operation", fmt.Errorf("more than %d operations: %w", maxMMCO, ErrInvalidValue))
			return false
		}
		op := f.UEMax("memory_management_control_operation", 6)
		switch op {
		case 0:
			return five
		case 1:
			f.UE("difference_of_pic_nums_minus1")
		case 2:
			f.UE("long_term_pic_num")
		case 3:
			f.UE("difference_of_pic_nums_minus1")
			f.UE("long_term_frame_idx")
		case 4:
			f.UE("max_long_term_frame_idx_plus1")
		case 5:
			five = true
		case 6:
			f.UE("long_term_frame_idx")
		}
	}
	return false
}
