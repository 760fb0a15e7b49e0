package h265

import (
	"errors"
	"testing"

	"kvskit/internal/testenv"
	"kvskit/media/h264"
)

// pocStream is an Annex-B stream of parameter sets and slices for the
// picture order fuzz test.
func pocStream() []byte {
	units := [][]byte{encodeSPS(pocSPS), encodePPS(pocPPS)}
	for _, sh := range []SliceHeader{
		{Header: Header{Type: NALUCRA, TemporalIDPlus1: 1}, FirstSliceSegmentInPic: true, PPSID: 9, SliceType: 2, PicOutput: true, PicOrderCntLsb: 8},
		{Header: Header{Type: NALURASLN, TemporalIDPlus1: 2}, FirstSliceSegmentInPic: true, PPSID: 9, PicOrderCntLsb: 6},
		{Header: Header{Type: NALUTrailR, TemporalIDPlus1: 1}, FirstSliceSegmentInPic: true, PPSID: 9, SliceType: 1, PicOrderCntLsb: 12},
		{Header: Header{Type: NALUIDRWRADL, TemporalIDPlus1: 1}, FirstSliceSegmentInPic: true, PPSID: 9, SliceType: 2, PicOutput: true},
	} {
		units = append(units, encodeSlice(sh, pocSPS, pocPPS))
	}
	units = append(units, []byte{byte(NALUEOS) << 1, 1})
	var b []byte
	for _, u := range units {
		b = append(append(b, 0, 0, 0, 1), u...)
	}
	return b
}

func TestPOCFuzzCorpus(t *testing.T) {
	testenv.CheckCorpus(t, "FuzzPictureOrder", [][]byte{pocStream()})
}

// FuzzPictureOrder reads an Annex-B stream as a source does: parameter sets
// are kept, the headers of the first slice segments read and the order
// counts computed; nothing panics and every error is of a documented kind.
func FuzzPictureOrder(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		var (
			ps  ParamSets
			poc POC
		)
		for _, n := range h264.SplitAnnexB(stream) {
			switch tp := NALType(n); {
			case tp == NALUSPS, tp == NALUPPS:
				if err := ps.Add(n); err != nil && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) {
					t.Fatalf("Add: unexpected error kind: %v", err)
				}
			case tp == NALUEOS:
				poc.EndOfSequence()
			case tp.IsVCL():
				sh, s, err := ParseSliceHeader(n, &ps)
				if err != nil {
					if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) &&
						!errors.Is(err, ErrMissingParameterSets) {
						t.Fatalf("ParseSliceHeader: unexpected error kind: %v", err)
					}
					continue
				}
				poc.Next(sh, s)
			}
		}
	})
}
