package h264

import (
	"errors"
	"testing"

	"kvskit/media/internal/rbsp"
)

// encodePPS writes a PPS NAL unit with the fields of p (slice groups of map
// type 6 when NumSliceGroups > 1).
func encodePPS(p PPS) []byte {
	w := &rbsp.Writer{}
	w.UE(p.ID)
	w.UE(p.SPSID)
	w.Flag(p.EntropyCodingMode)
	w.Flag(p.BottomFieldPicOrder)
	w.UE(p.NumSliceGroups - 1)
	if p.NumSliceGroups > 1 {
		w.UE(6)
		w.UE(3) // pic_size_in_map_units_minus1
		for i := 0; i < 4; i++ {
			w.U(2, uint64(i)%uint64(p.NumSliceGroups))
		}
	}
	w.UE(p.NumRefIdxL0Default - 1)
	w.UE(p.NumRefIdxL1Default - 1)
	w.Flag(p.WeightedPred)
	w.U(2, uint64(p.WeightedBipredIDC))
	w.SE(-3)
	w.SE(0)
	w.SE(2)
	w.Flag(p.DeblockingControl)
	w.Flag(p.ConstrainedIntraPred)
	w.Flag(p.RedundantPicCntPresent)
	w.Flag(true) // transform_8x8_mode_flag and more, not read
	w.Trailing()
	return AddEmulationPrevention([]byte{0x68}, w.Bytes())
}

// testSlice is a slice header to write, with what ParseSliceHeader skips.
type testSlice struct {
	SliceHeader
	modifications []uint32 // modification_of_pic_nums_idc of list 0 (then 3)
	override      uint32   // num_ref_idx_l0_active_minus1 + 1 when > 0
	mmco          []uint32 // operations before the final 0
}

// encodeSlice writes the slice header sh for s and p, followed by a few
// bytes of slice data.
func encodeSlice(sh testSlice, s SPS, p PPS) []byte {
	w := &rbsp.Writer{}
	w.UE(sh.FirstMbInSlice)
	w.UE(sh.SliceType + 5)
	w.UE(sh.PPSID)
	if s.SeparateColourPlane {
		w.U(2, 1)
	}
	w.U(int(s.Log2MaxFrameNum), uint64(sh.FrameNum))
	if !s.FrameMbsOnly {
		w.Flag(sh.FieldPic)
		if sh.FieldPic {
			w.Flag(sh.BottomField)
		}
	}
	if sh.IDR {
		w.UE(sh.IDRPicID)
	}
	switch s.PicOrderCntType {
	case 0:
		w.U(int(s.Log2MaxPicOrderCntLsb), uint64(sh.PicOrderCntLsb))
		if p.BottomFieldPicOrder && !sh.FieldPic {
			w.SE(sh.DeltaPicOrderCntBottom)
		}
	case 1:
		if !s.DeltaPicOrderAlwaysZero {
			w.SE(sh.DeltaPicOrderCnt[0])
			if p.BottomFieldPicOrder && !sh.FieldPic {
				w.SE(sh.DeltaPicOrderCnt[1])
			}
		}
	}
	if p.RedundantPicCntPresent {
		w.UE(0)
	}
	if sh.SliceType == SliceB {
		w.Flag(true)
	}
	l0, l1 := p.NumRefIdxL0Default, p.NumRefIdxL1Default
	if sh.SliceType == SliceP || sh.SliceType == SliceB {
		w.Flag(sh.override > 0)
		if sh.override > 0 {
			l0, l1 = sh.override, sh.override
			w.UE(l0 - 1)
			if sh.SliceType == SliceB {
				w.UE(l1 - 1)
			}
		}
	}
	if sh.SliceType != SliceI {
		lists := 1
		if sh.SliceType == SliceB {
			lists = 2
		}
		for range lists {
			w.Flag(len(sh.modifications) > 0)
			if len(sh.modifications) > 0 {
				for _, idc := range sh.modifications {
					w.UE(idc)
					w.UE(1)
				}
				w.UE(3)
			}
		}
	}
	if p.WeightedPred && sh.SliceType == SliceP || p.WeightedBipredIDC == 1 && sh.SliceType == SliceB {
		w.UE(5)
		w.UE(4)
		lists := []uint32{l0}
		if sh.SliceType == SliceB {
			lists = append(lists, l1)
		}
		for _, n := range lists {
			for i := uint32(0); i < n; i++ {
				w.Flag(i%2 == 0)
				if i%2 == 0 {
					w.SE(-7)
					w.SE(3)
				}
				w.Flag(true)
				for range 4 {
					w.SE(1)
				}
			}
		}
	}
	if sh.NALRefIDC != 0 {
		if sh.IDR {
			w.Flag(sh.NoOutputOfPriorPics)
			w.Flag(false)
		} else {
			w.Flag(len(sh.mmco) > 0)
			if len(sh.mmco) > 0 {
				for _, op := range sh.mmco {
					w.UE(op)
					switch op {
					case 1, 2, 4, 6:
						w.UE(2)
					case 3:
						w.UE(1)
						w.UE(0)
					}
				}
				w.UE(0)
			}
		}
	}
	w.SE(-2)        // slice_qp_delta
	w.U(16, 0xbeef) // slice data
	w.Trailing()
	t := NALUNonIDR
	if sh.IDR {
		t = NALUIDR
	}
	return AddEmulationPrevention([]byte{sh.NALRefIDC<<5 | byte(t)}, w.Bytes())
}

// ueNALU returns a NAL unit of header byte h holding ue(v) v.
func ueNALU(h byte, v uint32) []byte {
	w := &rbsp.Writer{}
	w.UE(v)
	w.Trailing()
	return AddEmulationPrevention([]byte{h}, w.Bytes())
}

func testParamSets(t *testing.T, s SPS, p PPS) *ParamSets {
	t.Helper()
	ps := &ParamSets{}
	if err := ps.Add(encodeSPS(s, nil)); err != nil {
		t.Fatal(err)
	}
	if err := ps.Add(encodePPS(p)); err != nil {
		t.Fatal(err)
	}
	return ps
}

var (
	pocSPS0 = SPS{ProfileIDC: 100, LevelIDC: 30, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8,
		Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 4, MaxNumRefFrames: 4,
		PicWidthInMbs: 20, PicHeightInMapUnits: 15, FrameMbsOnly: true, Direct8x8Inference: true}
	pocPPS = PPS{ID: 3, NumSliceGroups: 1, NumRefIdxL0Default: 3, NumRefIdxL1Default: 2, WeightedPred: true,
		WeightedBipredIDC: 1, BottomFieldPicOrder: true, EntropyCodingMode: true}
)

func TestParsePPS(t *testing.T) {
	for _, p := range []PPS{
		pocPPS,
		{ID: 255, SPSID: 31, NumSliceGroups: 4, NumRefIdxL0Default: 32, NumRefIdxL1Default: 1, WeightedBipredIDC: 2,
			DeblockingControl: true, ConstrainedIntraPred: true, RedundantPicCntPresent: true},
	} {
		got, err := ParsePPS(encodePPS(p))
		if err != nil {
			t.Fatal(err)
		}
		if got != p {
			t.Errorf("got %+v, want %+v", got, p)
		}
	}
	bad := encodePPS(pocPPS)
	for _, c := range []struct {
		nalu []byte
		want error
	}{
		{nil, ErrTruncated},
		{bad[:3], ErrTruncated},
		{[]byte{0x67, 0x80}, ErrNALType},
		{ueNALU(0x68, 256), ErrInvalidValue}, // pic_parameter_set_id beyond 255
	} {
		if _, err := ParsePPS(c.nalu); !errors.Is(err, c.want) {
			t.Errorf("ParsePPS(%x): %v, want %v", c.nalu, err, c.want)
		}
	}
}

// TestParseSliceHeader writes slice headers with every part that precedes
// the reference picture marking and reads them back.
func TestParseSliceHeader(t *testing.T) {
	field := pocSPS0
	field.FrameMbsOnly = false
	field.ChromaFormatIDC, field.SeparateColourPlane = 3, true
	field.ProfileIDC = 244
	ps := testParamSets(t, pocSPS0, pocPPS)
	cases := []struct {
		name string
		s    SPS
		sh   testSlice
	}{
		{"idr", pocSPS0, testSlice{SliceHeader: SliceHeader{NALType: NALUIDR, NALRefIDC: 3, IDR: true, SliceType: SliceI, PPSID: 3, IDRPicID: 7, NoOutputOfPriorPics: true}}},
		{"p weighted", pocSPS0, testSlice{SliceHeader: SliceHeader{NALType: NALUNonIDR, NALRefIDC: 2, SliceType: SliceP, PPSID: 3, FrameNum: 5, PicOrderCntLsb: 9, DeltaPicOrderCntBottom: -1}, override: 5, modifications: []uint32{0, 1, 2}}},
		{"b weighted non-reference", pocSPS0, testSlice{SliceHeader: SliceHeader{NALType: NALUNonIDR, SliceType: SliceB, PPSID: 3, FrameNum: 6, PicOrderCntLsb: 15, FirstMbInSlice: 40}, modifications: []uint32{1}}},
		{"mmco 5", pocSPS0, testSlice{SliceHeader: SliceHeader{NALType: NALUNonIDR, NALRefIDC: 1, SliceType: SliceP, PPSID: 3, FrameNum: 2, PicOrderCntLsb: 4, MMCO5: true}, mmco: []uint32{1, 2, 3, 6, 4, 5}}},
		{"mmco without 5", pocSPS0, testSlice{SliceHeader: SliceHeader{NALType: NALUNonIDR, NALRefIDC: 1, SliceType: SliceB, PPSID: 3, FrameNum: 2, PicOrderCntLsb: 4}, mmco: []uint32{1, 3}, override: 2}},
		{"field, colour planes", field, testSlice{SliceHeader: SliceHeader{NALType: NALUNonIDR, NALRefIDC: 1, SliceType: SliceP, PPSID: 3, FrameNum: 2, FieldPic: true, BottomField: true, PicOrderCntLsb: 5}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := ps
			if c.s.FrameMbsOnly != pocSPS0.FrameMbsOnly {
				ps = testParamSets(t, c.s, pocPPS)
			}
			nalu := encodeSlice(c.sh, c.s, pocPPS)
			got, s, err := ParseSliceHeader(nalu, ps)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.sh.SliceHeader {
				t.Errorf("got %+v\nwant %+v", got, c.sh.SliceHeader)
			}
			if s.ID != c.s.ID || s.FrameMbsOnly != c.s.FrameMbsOnly {
				t.Errorf("sps %+v", s)
			}
			// Every truncation fails cleanly; none panics.
			for n := 0; n < len(nalu)-2; n++ {
				if _, _, err := ParseSliceHeader(nalu[:n], ps); err == nil && n < 3 {
					t.Errorf("%d bytes: no error", n)
				}
			}
		})
	}
	if _, _, err := ParseSliceHeader(encodeSlice(cases[1].sh, pocSPS0, pocPPS), &ParamSets{}); !errors.Is(err, ErrMissingParameterSets) {
		t.Errorf("without parameter sets: %v", err)
	}
	if _, _, err := ParseSliceHeader([]byte{0x67, 0x88}, ps); !errors.Is(err, ErrNALType) {
		t.Errorf("SPS as slice: %v", err)
	}
}

// pic is one picture of a POC test: the slice fields that matter and the
// order count it must get.
type pic struct {
	idr, ref, mmco5 bool
	frameNum, lsb   uint32
	bottom          int32 // delta_pic_order_cnt_bottom or delta_pic_order_cnt[1]
	delta0          int32 // delta_pic_order_cnt[0]
	want            int64
}

func runPOC(t *testing.T, s SPS, pics []pic) {
	t.Helper()
	var c POC
	for i, p := range pics {
		sh := SliceHeader{IDR: p.idr, FrameNum: p.frameNum, PicOrderCntLsb: p.lsb, MMCO5: p.mmco5,
			DeltaPicOrderCntBottom: p.bottom, DeltaPicOrderCnt: [2]int32{p.delta0, p.bottom}}
		if p.ref || p.idr {
			sh.NALRefIDC = 1
		}
		got, err := c.Next(sh, &s)
		if err != nil {
			t.Fatalf("picture %d: %v", i, err)
		}
		if got.Order != p.want || got.NewSequence != (p.idr || p.mmco5 || i == 0) {
			t.Fatalf("picture %d (%+v): got %+v, want order %d", i, p, got, p.want)
		}
	}
}

// TestPOCType0 follows an IBBP stream across the wraps of
// pic_order_cnt_lsb (16 values) and through an IDR picture and
// memory_management_control_operation 5.
func TestPOCType0(t *testing.T) {
	s := pocSPS0
	var pics []pic
	pics = append(pics, pic{idr: true, want: 0})
	// P at 6k, then B at 6k-4 and 6k-2, in decoding order; lsb = poc % 16.
	for k := int64(1); k <= 12; k++ {
		pics = append(pics,
			pic{ref: true, frameNum: uint32(k % 16), lsb: uint32(6 * k % 16), want: 6 * k},
			pic{frameNum: uint32((k + 1) % 16), lsb: uint32((6*k - 4) % 16), want: 6*k - 4},
			pic{frameNum: uint32((k + 1) % 16), lsb: uint32((6*k - 2) % 16), want: 6*k - 2})
	}
	// A bottom field before its top field: the frame's count is the
	// smaller one.
	pics = append(pics, pic{ref: true, frameNum: 14, lsb: 78 % 16, bottom: -3, want: 75})
	// IDR: counts start over.
	pics = append(pics, pic{idr: true, lsb: 0, want: 0}, pic{ref: true, frameNum: 1, lsb: 4, want: 4}, pic{frameNum: 2, lsb: 2, want: 2})
	// MMCO5 at count 8: the picture becomes 0, the next ones count from
	// its top field's count after the reset (0).
	pics = append(pics, pic{ref: true, mmco5: true, frameNum: 2, lsb: 8, want: 0},
		pic{ref: true, frameNum: 1, lsb: 4, want: 4}, pic{frameNum: 2, lsb: 2, want: 2})
	// MMCO5 on a frame whose bottom field comes first: its top field keeps
	// the difference (2), and the next lsb counts from it: 10 is 8 ahead,
	// not behind.
	pics = append(pics, pic{ref: true, mmco5: true, frameNum: 2, lsb: 10, bottom: -2, want: 0},
		pic{ref: true, frameNum: 1, lsb: 10, want: 10}, pic{ref: true, frameNum: 2, lsb: 1, want: 17})
	runPOC(t, s, pics)
}

// TestPOCType1 follows an IBP stream whose counts come from the SPS's
// cycle of reference frame offsets, across the wrap of frame_num.
func TestPOCType1(t *testing.T) {
	s := pocSPS0
	s.PicOrderCntType = 1
	s.OffsetForRefFrame = []int32{4, 6} // a cycle of two reference frames: 10 counts
	s.OffsetForNonRefPic = -3
	s.OffsetForTopToBottomField = 1
	var pics []pic
	pics = append(pics, pic{idr: true, want: 0})
	// The k-th reference frame (frame_num k mod 16) is at
	// ExpectedPicOrderCnt(k) = 10*((k-1)/2) + (4 or 10); the B frame
	// after it (frame_num k+1, non-reference) at that count - 3.
	expected := func(k int64) int64 {
		e := 10 * ((k - 1) / 2)
		if (k-1)%2 == 0 {
			return e + 4
		}
		return e + 10
	}
	for k := int64(1); k <= 40; k++ {
		pics = append(pics,
			pic{ref: true, frameNum: uint32(k % 16), want: expected(k)},
			pic{frameNum: uint32((k + 1) % 16), want: expected(k) - 3})
	}
	// delta_pic_order_cnt[0] moves the frame, [1] only its bottom field
	// (the frame takes the smaller count).
	pics = append(pics, pic{ref: true, frameNum: 41 % 16, delta0: 2, want: expected(41) + 2})
	pics = append(pics, pic{ref: true, frameNum: 42 % 16, bottom: -5, want: expected(42) + 1 - 5})
	// MMCO5 resets frame number offsets and counts.
	pics = append(pics, pic{ref: true, mmco5: true, frameNum: 43 % 16, want: 0},
		pic{ref: true, frameNum: 1, want: expected(1)}, pic{frameNum: 2, want: expected(1) - 3})
	runPOC(t, s, pics)

	// An SPS without a cycle: every reference frame at 0.
	s.OffsetForRefFrame = nil
	runPOC(t, s, []pic{{idr: true, want: 0}, {ref: true, frameNum: 1, want: 0}, {frameNum: 2, want: -3}})
}

// TestPOCType2: output order is decoding order, counts 2*FrameNumOffset+
// frame_num for reference frames, one less for the others.
func TestPOCType2(t *testing.T) {
	s := pocSPS0
	s.PicOrderCntType = 2
	pics := []pic{{idr: true, want: 0}}
	fn := int64(0)
	for i := 1; i < 50; i++ {
		if i%3 == 2 {
			pics = append(pics, pic{frameNum: uint32((fn + 1) % 16), want: 2*(fn+1) - 1})
			continue
		}
		fn++
		pics = append(pics, pic{ref: true, frameNum: uint32(fn % 16), want: 2 * fn})
	}
	pics = append(pics, pic{ref: true, mmco5: true, frameNum: uint32((fn + 1) % 16), want: 0},
		pic{ref: true, frameNum: 1, want: 2}, pic{idr: true, want: 0}, pic{frameNum: 1, want: 1})
	runPOC(t, s, pics)
}

func TestPOCFieldPicture(t *testing.T) {
	var c POC
	s := pocSPS0
	s.FrameMbsOnly = false
	if _, err := c.Next(SliceHeader{IDR: true, NALRefIDC: 1}, &s); err != nil {
		t.Fatal(err)
	}
	_, err := c.Next(SliceHeader{NALRefIDC: 1, FrameNum: 1, FieldPic: true}, &s)
	if !errors.Is(err, ErrFieldPicture) {
		t.Fatalf("field picture: %v", err)
	}
}
