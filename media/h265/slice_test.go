package h265

import (
	"errors"
	"testing"

	"kvskit/media/h264"
	"kvskit/media/internal/rbsp"
)

func encodePPS(p PPS) []byte {
	w := &rbsp.Writer{}
	w.UE(p.ID)
	w.UE(p.SPSID)
	w.Flag(p.DependentSliceSegments)
	w.Flag(p.OutputFlagPresent)
	w.U(3, uint64(p.NumExtraSliceHeaderBits))
	w.U(9, 0x1a5) // stands for the remaining PPS fields
	w.Trailing()
	return h264.AddEmulationPrevention([]byte{0x44, 0x01}, w.Bytes())
}

// encodeSlice writes the start of a slice segment header and some slice
// data, the NAL unit header from sh.
func encodeSlice(sh SliceHeader, s SPS, p PPS) []byte {
	w := &rbsp.Writer{}
	w.Flag(sh.FirstSliceSegmentInPic)
	if sh.Type.IsIRAP() {
		w.Flag(sh.NoOutputOfPriorPics)
	}
	w.UE(sh.PPSID)
	w.U(int(p.NumExtraSliceHeaderBits), 0)
	w.UE(sh.SliceType)
	if p.OutputFlagPresent {
		w.Flag(sh.PicOutput)
	}
	if s.SeparateColourPlane {
		w.U(2, 2)
	}
	if sh.Type != NALUIDRWRADL && sh.Type != NALUIDRNLP {
		w.U(int(s.Log2MaxPicOrderCntLsb), uint64(sh.PicOrderCntLsb))
	}
	w.U(24, 0xc0ffee) // the rest of the header and slice data
	w.Trailing()
	hdr := []byte{byte(sh.Type) << 1, sh.TemporalIDPlus1}
	return h264.AddEmulationPrevention(hdr, w.Bytes())
}

var (
	pocSPS = SPS{MaxSubLayers: 1, TemporalIDNesting: true, ProfileTierLevel: ProfileTierLevel{General: mainPTL},
		ChromaFormatIDC: 1, PicWidth: 320, PicHeight: 240, BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxPicOrderCntLsb: 4,
		SubLayerOrdering: []SubLayerOrdering{{MaxDecPicBufferingMinus1: 4, MaxNumReorderPics: 3}}}
	pocPPS = PPS{ID: 9, NumExtraSliceHeaderBits: 2, OutputFlagPresent: true}
)

func testParamSets(t *testing.T, s SPS, p PPS) *ParamSets {
	t.Helper()
	ps := &ParamSets{}
	for _, n := range [][]byte{encodeSPS(s), encodePPS(p)} {
		if err := ps.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

func TestParseSliceHeader(t *testing.T) {
	ps := testParamSets(t, pocSPS, pocPPS)
	for _, sh := range []SliceHeader{
		{Header: Header{Type: NALUIDRWRADL, TemporalIDPlus1: 1}, FirstSliceSegmentInPic: true, NoOutputOfPriorPics: true, PPSID: 9, SliceType: 2, PicOutput: true},
		{Header: Header{Type: NALUCRA, TemporalIDPlus1: 1}, FirstSliceSegmentInPic: true, PPSID: 9, SliceType: 2, PicOutput: true, PicOrderCntLsb: 12},
		{Header: Header{Type: NALUTrailN, TemporalIDPlus1: 3}, FirstSliceSegmentInPic: true, PPSID: 9, SliceType: 0, PicOrderCntLsb: 15},
	} {
		nalu := encodeSlice(sh, pocSPS, pocPPS)
		got, s, err := ParseSliceHeader(nalu, ps)
		if err != nil {
			t.Fatal(err)
		}
		if got != sh || s.Log2MaxPicOrderCntLsb != 4 {
			t.Errorf("got %+v\nwant %+v", got, sh)
		}
		for n := range len(nalu) {
			if _, _, err := ParseSliceHeader(nalu[:n], ps); err == nil && n <= 2 {
				t.Errorf("%d of %d bytes: no error", n, len(nalu))
			}
		}
	}
	p, err := ParsePPS(encodePPS(pocPPS))
	if err != nil || p != pocPPS {
		t.Errorf("ParsePPS: %+v, %v", p, err)
	}
	later := SliceHeader{Header: Header{Type: NALUTrailR, TemporalIDPlus1: 1}, PPSID: 9}
	for _, c := range []struct {
		name string
		nalu []byte
		ps   *ParamSets
		want error
	}{
		{"not first slice segment", encodeSlice(later, pocSPS, pocPPS), ps, ErrInvalidValue},
		{"no parameter sets", encodeSlice(SliceHeader{Header: later.Header, FirstSliceSegmentInPic: true, PPSID: 9}, pocSPS, pocPPS), &ParamSets{}, ErrMissingParameterSets},
		{"not a slice", encodePPS(pocPPS), ps, ErrNALType},
		{"short", []byte{0x02}, ps, ErrTruncated},
	} {
		if _, _, err := ParseSliceHeader(c.nalu, c.ps); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

type pic struct {
	t    NALUType
	tid  uint8 // TemporalId
	lsb  uint32
	eos  bool // an end of sequence NAL unit follows
	hide bool // pic_output_flag 0
	want int64
	seq  bool // begins a coded video sequence
	skip bool
}

func runPOC(t *testing.T, pics []pic) {
	t.Helper()
	var c POC
	s := pocSPS
	for i, p := range pics {
		sh := SliceHeader{Header: Header{Type: p.t, TemporalIDPlus1: p.tid + 1}, FirstSliceSegmentInPic: true, PicOutput: !p.hide, PicOrderCntLsb: p.lsb}
		got := c.Next(sh, &s)
		if want := (Picture{Order: p.want, NewSequence: p.seq, Skip: p.skip}); got != want {
			t.Fatalf("picture %d (%+v): got %+v, want %+v", i, p, got, want)
		}
		if p.eos {
			c.EndOfSequence()
		}
	}
}

// TestPOC follows order counts (16 lsb values) across wraps, sub-layer
// pictures that do not anchor the wrap, CRA pictures in and at the start of
// a stream and after an end of sequence, and IDR pictures.
func TestPOC(t *testing.T) {
	var pics []pic
	// A stream that starts at a CRA picture: counts from its lsb, its RASL
	// pictures are not output, its RADL pictures are.
	pics = append(pics, pic{t: NALUCRA, lsb: 8, want: 8, seq: true},
		pic{t: NALURASLN, tid: 1, lsb: 6, want: 6, skip: true}, pic{t: NALURADLN, tid: 1, lsb: 7, want: 7})
	// TRAIL_R at tid 0 anchor the wrap; TRAIL_N and tid 1 pictures do not.
	for k := int64(1); k <= 10; k++ {
		p := 8 + 6*k
		pics = append(pics, pic{t: NALUTrailR, lsb: uint32(p % 16), want: p},
			pic{t: NALUTrailN, tid: 0, lsb: uint32((p - 4) % 16), want: p - 4},
			pic{t: NALUTrailR, tid: 1, lsb: uint32((p - 2) % 16), want: p - 2})
	}
	// A CRA picture in the stream continues the counts; its RASL pictures
	// are output.
	pics = append(pics, pic{t: NALUCRA, lsb: 76 % 16, want: 76}, pic{t: NALURASLR, tid: 1, lsb: 74 % 16, want: 74},
		pic{t: NALUTrailR, lsb: 78 % 16, want: 78, hide: true, eos: true})
	// After an end of sequence a CRA picture begins a sequence again.
	pics = append(pics, pic{t: NALUCRA, lsb: 3, want: 3, seq: true}, pic{t: NALURASLN, tid: 1, lsb: 1, want: 1, skip: true},
		pic{t: NALUTrailR, lsb: 5, want: 5})
	// IDR and BLA pictures begin one too.
	pics = append(pics, pic{t: NALUIDRNLP, want: 0, seq: true}, pic{t: NALUTrailR, lsb: 7, want: 7},
		pic{t: NALUTrailR, lsb: 14, want: 14}, pic{t: NALUTrailR, lsb: 1, want: 17}, pic{t: NALUBLAWLP, lsb: 14, want: 14, seq: true},
		pic{t: NALURASLN, lsb: 12, want: 12, skip: true}, pic{t: NALUTrailR, lsb: 2, want: 18})
	runPOC(t, pics)
}
