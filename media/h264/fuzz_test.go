package h264

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"kvskit/internal/testenv"
)

func realStreamSeed(t *testing.T) []byte {
	var s []byte
	for _, n := range [][]byte{testenv.MustHex(t, x264SPS[2].hex), testenv.MustHex(t, "68ef0fcb"), testenv.MustHex(t, "06050102"), testenv.MustHex(t, "65888400fe00000301")} {
		s = append(append(s, 0, 0, 0, 1), n...)
	}
	return s
}

func TestFuzzCorpus(t *testing.T) {
	var sps [][]byte
	for _, c := range spsCases {
		sps = append(sps, encodeSPS(c.sps, c.scaling))
	}
	for _, c := range x264SPS {
		sps = append(sps, testenv.MustHex(t, c.hex))
	}
	testenv.CheckCorpus(t, "FuzzParseSPS", sps)

	annexb := [][]byte{realStreamSeed(t)}
	for _, c := range annexBCases {
		if len(c.annexb) > 0 {
			annexb = append(annexb, c.annexb)
		}
	}
	testenv.CheckCorpus(t, "FuzzSplitAnnexB", annexb)
	testenv.CheckCorpus(t, "FuzzAnnexBToAVCC", annexb)

	var records [][]byte
	for _, c := range avccCases(t) {
		records = append(records, c.record)
	}
	testenv.CheckCorpus(t, "FuzzParseAVCC", records)
}

func FuzzParseSPS(f *testing.F) {
	f.Fuzz(func(t *testing.T, nalu []byte) {
		s, err := ParseSPS(nalu)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrNALType) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if s.Width() <= 0 || s.Height() <= 0 || s.Width() > s.CodedWidth() || s.Height() > s.CodedHeight() {
			t.Fatalf("size %dx%d of coded %dx%d", s.Width(), s.Height(), s.CodedWidth(), s.CodedHeight())
		}
		if s.ScalingMatrix {
			return // the lists are skipped, so they cannot be written back
		}
		again, err := ParseSPS(encodeSPS(s, nil))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoded SPS parses as %+v, %v; want %+v", again, err, s)
		}
	})
}

func FuzzSplitAnnexB(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		nalus := SplitAnnexB(data)
		i := 0
		for nalu, rest := NextNALU(data); nalu != nil; nalu, rest = NextNALU(rest) {
			if i >= len(nalus) || !bytes.Equal(nalu, nalus[i]) {
				t.Fatalf("NextNALU and SplitAnnexB disagree at NAL unit %d", i)
			}
			i++
		}
		if i != len(nalus) {
			t.Fatalf("NextNALU found %d NAL units, SplitAnnexB %d", i, len(nalus))
		}
		for _, n := range nalus {
			if len(n) == 0 || n[len(n)-1] == 0 || bytes.Contains(n, startCode) {
				t.Fatalf("bad NAL unit %x", n)
			}
		}
	})
}

func FuzzAnnexBToAVCC(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		nalus := SplitAnnexB(data)
		avcc := AnnexBToAVCC(nil, data)
		if len(avcc) > len(data)*5/4 {
			t.Fatalf("AVCC of %d bytes from %d bytes", len(avcc), len(data))
		}
		back, err := SplitAVCC(avcc)
		if err != nil || !reflect.DeepEqual(back, nalus) {
			t.Fatalf("SplitAVCC(AnnexBToAVCC) = %x, %v; want %x", back, err, nalus)
		}
		annexb, err := AVCCToAnnexB(nil, avcc)
		if err != nil {
			t.Fatal(err)
		}
		if again := SplitAnnexB(annexb); !reflect.DeepEqual(again, nalus) {
			t.Fatalf("Annex-B round trip = %x, want %x", again, nalus)
		}
		// Arbitrary input read as AVCC either fails cleanly or converts.
		if split, err := SplitAVCC(data); err == nil {
			if _, err := AVCCToAnnexB(nil, data); err != nil {
				t.Fatalf("SplitAVCC accepts what AVCCToAnnexB rejects: %v", err)
			}
			if got := AppendLengthPrefixed(nil, split...); len(got) > len(data) {
				t.Fatal("re-encoding grew")
			}
		} else if !errors.Is(err, ErrInvalidLength) {
			t.Fatal(err)
		}
	})
}

func FuzzParseAVCC(f *testing.F) {
	f.Fuzz(func(t *testing.T, record []byte) {
		c, err := ParseAVCC(record)
		if err != nil {
			return
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed record: %v", err)
		}
		again, err := ParseAVCC(b)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip = %+v, %v; want %+v", again, err, c)
		}
	})
}
