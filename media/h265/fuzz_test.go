package h265

import (
	"errors"
	"reflect"
	"testing"

	"kvskit/internal/testenv"
)

func TestFuzzCorpus(t *testing.T) {
	var sps [][]byte
	for _, c := range spsCases {
		sps = append(sps, encodeSPS(c.sps))
	}
	for _, c := range x265SPS {
		sps = append(sps, testenv.MustHex(t, c.hex))
	}
	testenv.CheckCorpus(t, "FuzzParseSPS", sps)
	var records [][]byte
	for _, c := range hvccCases(t) {
		records = append(records, c.record)
	}
	testenv.CheckCorpus(t, "FuzzParseHVCC", records)
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
		if s.Width() <= 0 || s.Height() <= 0 || s.Width() > int(s.PicWidth) || s.Height() > int(s.PicHeight) {
			t.Fatalf("size %dx%d of %dx%d", s.Width(), s.Height(), s.PicWidth, s.PicHeight)
		}
		_ = s.ProfileTierLevel.General.CodecString()
		again, err := ParseSPS(encodeSPS(s))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("re-encoded SPS parses as %+v, %v; want %+v", again, err, s)
		}
	})
}

func FuzzParseHVCC(f *testing.F) {
	f.Fuzz(func(t *testing.T, record []byte) {
		c, err := ParseHVCC(record)
		if err != nil {
			return
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed record: %v", err)
		}
		again, err := ParseHVCC(b)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip = %+v, %v; want %+v", again, err, c)
		}
	})
}
