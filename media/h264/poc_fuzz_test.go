package h264

import (
	"errors"
	"testing"

	"kvskit/internal/testenv"
)

// pocStreams are Annex-B streams of parameter sets and slices for the
// picture order fuzz test, one per pic_order_cnt_type and one of fields.
func pocStreams() [][]byte {
	annexB := func(units ...[]byte) []byte {
		var b []byte
		for _, u := range units {
			b = append(append(b, 0, 0, 0, 1), u...)
		}
		return b
	}
	stream := func(s SPS) []byte {
		p := pocPPS
		units := [][]byte{encodeSPS(s, nil), encodePPS(p)}
		slice := func(sh testSlice) { units = append(units, encodeSlice(sh, s, p)) }
		slice(testSlice{SliceHeader: SliceHeader{NALRefIDC: 3, IDR: true, SliceType: SliceI, PPSID: 3}})
		slice(testSlice{SliceHeader: SliceHeader{NALRefIDC: 2, SliceType: SliceP, PPSID: 3, FrameNum: 1, PicOrderCntLsb: 6, FieldPic: !s.FrameMbsOnly}, override: 2})
		slice(testSlice{SliceHeader: SliceHeader{SliceType: SliceB, PPSID: 3, FrameNum: 2, PicOrderCntLsb: 2, DeltaPicOrderCnt: [2]int32{1, -1}}, modifications: []uint32{0}})
		slice(testSlice{SliceHeader: SliceHeader{NALRefIDC: 1, SliceType: SliceP, PPSID: 3, FrameNum: 2, PicOrderCntLsb: 12}, mmco: []uint32{1, 5}})
		return annexB(units...)
	}
	var out [][]byte
	for _, typ := range []uint32{0, 1, 2} {
		s := pocSPS0
		s.PicOrderCntType = typ
		if typ == 1 {
			s.OffsetForRefFrame = []int32{2, 4}
			s.OffsetForNonRefPic = -1
		}
		out = append(out, stream(s))
	}
	s := pocSPS0
	s.FrameMbsOnly = false
	out = append(out, stream(s))
	return out
}

func TestPOCFuzzCorpus(t *testing.T) {
	testenv.CheckCorpus(t, "FuzzPictureOrder", pocStreams())
	pps := [][]byte{encodePPS(pocPPS), encodePPS(PPS{ID: 1, NumSliceGroups: 3, NumRefIdxL0Default: 1, NumRefIdxL1Default: 1})}
	testenv.CheckCorpus(t, "FuzzParsePPS", pps)
}

func FuzzParsePPS(f *testing.F) {
	f.Fuzz(func(t *testing.T, nalu []byte) {
		p, err := ParsePPS(nalu)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrNALType) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if p.ID > 255 || p.SPSID > 31 || p.NumSliceGroups > 8 || p.NumRefIdxL0Default > 32 || p.WeightedBipredIDC > 2 {
			t.Fatalf("out of range: %+v", p)
		}
	})
}

// FuzzPictureOrder reads an Annex-B stream as a source does: parameter sets
// are kept, the slice headers read and the order counts computed; nothing
// panics and every error is of a documented kind.
func FuzzPictureOrder(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		var (
			ps  ParamSets
			poc POC
		)
		for _, n := range SplitAnnexB(stream) {
			switch NALType(n) {
			case NALUSPS, NALUPPS:
				if err := ps.Add(n); err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) {
					t.Fatalf("Add: unexpected error kind: %v", err)
				}
			case NALUNonIDR, NALUPartitionA, NALUIDR:
				sh, s, err := ParseSliceHeader(n, &ps)
				if err != nil {
					if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrMissingParameterSets) {
						t.Fatalf("ParseSliceHeader: unexpected error kind: %v", err)
					}
					continue
				}
				if _, err := poc.Next(sh, s); err != nil && !errors.Is(err, ErrFieldPicture) {
					t.Fatalf("POC: unexpected error: %v", err)
				}
			}
		}
	})
}
