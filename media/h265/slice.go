package h265

import (
	"fmt"

	"kvskit/media/h264"
	"kvskit/media/internal/rbsp"
)

// PPS holds the leading fields of a picture parameter set (H.265 clause
// 7.3.2.3.1) that the start of a slice segment header depends on.
type PPS struct {
	ID                      uint32 // pps_pic_parameter_set_id, 0..63
	SPSID                   uint32 // pps_seq_parameter_set_id, 0..15
	DependentSliceSegments  bool   // dependent_slice_segments_enabled_flag
	OutputFlagPresent       bool   // output_flag_present_flag
	NumExtraSliceHeaderBits uint8  // num_extra_slice_header_bits, 0..7
}

// ParsePPS decodes the leading fields of a PPS NAL unit (2-byte header
// included, start code or length prefix excluded).
func ParsePPS(nalu []byte) (PPS, error) {
	h, err := ParseHeader(nalu)
	if err != nil {
		return PPS{}, fmt.Errorf("h265: pps: %w", err)
	}
	if h.Type != NALUPPS {
		return PPS{}, fmt.Errorf("h265: pps: got NAL unit type %v: %w", h.Type, ErrNALType)
	}
	head := nalu[2:]
	if len(head) > 64 {
		head = head[:64]
	}
	f := rbsp.NewFields(rbsp.NewReader(h264.RemoveEmulationPrevention(head), ErrTruncated, ErrInvalidValue))
	var p PPS
	p.ID = f.UEMax("pps_pic_parameter_set_id", 63)
	p.SPSID = f.UEMax("pps_seq_parameter_set_id", 15)
	p.DependentSliceSegments = f.Flag("dependent_slice_segments_enabled_flag")
	p.OutputFlagPresent = f.Flag("output_flag_present_flag")
	p.NumExtraSliceHeaderBits = uint8(f.U(3, "num_extra_slice_header_bits"))
	if err := f.Err(); err != nil {
		return PPS{}, fmt.Errorf("h265: pps: %w", err)
	}
	return p, nil
}

// ParamSets keeps the latest SPS and PPS of each identifier seen in a stream,
// for reading slice segment headers. The zero value is empty and ready to
// use.
type ParamSets struct {
	sps map[uint32]*SPS
	pps map[uint32]*PPS
}

// Add decodes nalu and keeps it if it is an SPS or a PPS of the base layer;
// other NAL units are ignored. An SPS or PPS that fails to decode is an
// error and leaves the set as it was.
func (ps *ParamSets) Add(nalu []byte) error {
	h, err := ParseHeader(nalu)
	if err != nil || h.LayerID != 0 {
		return nil
	}
	switch h.Type {
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

// SliceHeader holds the leading fields of the first slice segment header of
// a picture (H.265 clause 7.3.6.1), as far as its picture order count.
type SliceHeader struct {
	Header
	FirstSliceSegmentInPic bool
	NoOutputOfPriorPics    bool // IRAP pictures only
	PPSID                  uint32
	SliceType              uint32 // 0 B, 1 P, 2 I
	PicOutput              bool   // pic_output_flag, true when absent
	PicOrderCntLsb         uint32 // 0 for IDR pictures
}

// ParseSliceHeader decodes the start of the slice segment header of a VCL
// NAL unit (2-byte header included) that begins a picture
// (first_slice_segment_in_pic_flag 1), with the parameter sets in ps. It
// returns the SPS the slice refers to.
func ParseSliceHeader(nalu []byte, ps *ParamSets) (SliceHeader, *SPS, error) {
	sh, s, err := parseSliceHeader(nalu, ps)
	if err != nil {
		return SliceHeader{}, nil, fmt.Errorf("h265: slice header: %w", err)
	}
	return sh, s, nil
}

func parseSliceHeader(nalu []byte, ps *ParamSets) (SliceHeader, *SPS, error) {
	h, err := ParseHeader(nalu)
	if err != nil {
		return SliceHeader{}, nil, err
	}
	if !h.Type.IsVCL() {
		return SliceHeader{}, nil, fmt.Errorf("got NAL unit type %v: %w", h.Type, ErrNALType)
	}
	head := nalu[2:]
	if len(head) > 256 {
		head = head[:256]
	}
	f := rbsp.NewFields(rbsp.NewReader(h264.RemoveEmulationPrevention(head), ErrTruncated, ErrInvalidValue))
	sh := SliceHeader{Header: h, PicOutput: true}
	sh.FirstSliceSegmentInPic = f.Flag("first_slice_segment_in_pic_flag")
	if h.Type.IsIRAP() {
		sh.NoOutputOfPriorPics = f.Flag("no_output_of_prior_pics_flag")
	}
	sh.PPSID = f.UEMax("slice_pic_parameter_set_id", 63)
	if err := f.Err(); err != nil {
		return SliceHeader{}, nil, err
	}
	if !sh.FirstSliceSegmentInPic {
		return SliceHeader{}, nil, fmt.Errorf("first_slice_segment_in_pic_flag is 0: %w", ErrInvalidValue)
	}
	s, p, err := ps.Lookup(sh.PPSID)
	if err != nil {
		return SliceHeader{}, nil, err
	}
	f.U(int(p.NumExtraSliceHeaderBits), "slice_reserved_flag")
	sh.SliceType = f.UEMax("slice_type", 2)
	if p.OutputFlagPresent {
		sh.PicOutput = f.Flag("pic_output_flag")
	}
	if s.SeparateColourPlane {
		f.U(2, "colour_plane_id")
	}
	if h.Type != NALUIDRWRADL && h.Type != NALUIDRNLP {
		sh.PicOrderCntLsb = uint32(f.U(int(s.Log2MaxPicOrderCntLsb), "slice_pic_order_cnt_lsb"))
	}
	if err := f.Err(); err != nil {
		return SliceHeader{}, nil, err
	}
	return sh, s, nil
}
