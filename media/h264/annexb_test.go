package h264

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func b(s ...byte) []byte { return s }

// annexBCases drive splitting and both conversion directions.
var annexBCases = []struct {
	name   string
	annexb []byte
	nalus  [][]byte
}{
	{"empty", nil, nil},
	{"no start code", b(0x65, 0x88, 0x84), nil},
	{"start code only", b(0, 0, 0, 1), nil},
	{"4-byte start codes", b(0, 0, 0, 1, 0x67, 0xaa, 0, 0, 0, 1, 0x68, 0xbb, 0, 0, 0, 1, 0x65, 0xcc),
		[][]byte{{0x67, 0xaa}, {0x68, 0xbb}, {0x65, 0xcc}}},
	{"3-byte start codes", b(0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a, 0x02),
		[][]byte{{0x09, 0xf0}, {0x41, 0x9a, 0x02}}},
	{"mixed start codes", b(0, 0, 1, 0x06, 0x05, 0, 0, 0, 1, 0x65, 0, 0, 1, 0x65, 0x01),
		[][]byte{{0x06, 0x05}, {0x65}, {0x65, 0x01}}},
	{"leading garbage", b(0xff, 0xee, 0x00, 0x00, 0, 0, 1, 0x09, 0x10), [][]byte{{0x09, 0x10}}},
	{"leading zeros", b(0, 0, 0, 0, 0, 0, 1, 0x67), [][]byte{{0x67}}},
	{"trailing zeros", b(0, 0, 1, 0x65, 0x88, 0, 0, 0, 0), [][]byte{{0x65, 0x88}}},
	{"empty NAL units", b(0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0x65, 0x10, 0, 0, 1), [][]byte{{0x65, 0x10}}},
	{"emulation prevention kept", b(0, 0, 1, 0x67, 0, 0, 3, 1, 0, 0, 3, 0), [][]byte{{0x67, 0, 0, 3, 1, 0, 0, 3}}},
	{"start code split across NAL end", b(0, 0, 1, 0x61, 0xe0, 0, 0, 0, 1, 0x61, 0xe1), [][]byte{{0x61, 0xe0}, {0x61, 0xe1}}},
}

func TestAnnexBTable(t *testing.T) {
	for _, c := range annexBCases {
		t.Run(c.name, func(t *testing.T) {
			if got := SplitAnnexB(c.annexb); !reflect.DeepEqual(got, c.nalus) {
				t.Errorf("SplitAnnexB = %x, want %x", got, c.nalus)
			}
			var iter [][]byte
			for nalu, rest := NextNALU(c.annexb); nalu != nil; nalu, rest = NextNALU(rest) {
				iter = append(iter, nalu)
			}
			if !reflect.DeepEqual(iter, c.nalus) {
				t.Errorf("NextNALU = %x, want %x", iter, c.nalus)
			}

			avcc := AppendLengthPrefixed(nil, c.nalus...)
			prefix := []byte("dst:")
			if got := AnnexBToAVCC(bytes.Clone(prefix), c.annexb); !bytes.Equal(got, append(bytes.Clone(prefix), avcc...)) {
				t.Errorf("AnnexBToAVCC = %x, want %x", got, avcc)
			}
			if got, err := SplitAVCC(avcc); err != nil || !reflect.DeepEqual(got, c.nalus) {
				t.Errorf("SplitAVCC = %x, %v, want %x", got, err, c.nalus)
			}
			annexb, err := AVCCToAnnexB(bytes.Clone(prefix), avcc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(annexb, prefix) {
				t.Fatalf("AVCCToAnnexB dropped dst: %x", annexb)
			}
			if got := SplitAnnexB(annexb[len(prefix):]); !reflect.DeepEqual(got, c.nalus) {
				t.Errorf("AVCCToAnnexB then SplitAnnexB = %x, want %x", got, c.nalus)
			}
		})
	}
}

func TestSplitLengthPrefixed(t *testing.T) {
	cases := []struct {
		in    []byte
		size  int
		nalus [][]byte
		err   string
	}{
		{b(0, 0, 0, 2, 0x67, 1, 0, 0, 0, 1, 0x68), 4, [][]byte{{0x67, 1}, {0x68}}, ""},
		{b(0, 0, 0, 0, 0, 0, 0, 1, 0x65), 4, [][]byte{{0x65}}, ""},
		{b(2, 0x67, 1, 1, 0x68), 1, [][]byte{{0x67, 1}, {0x68}}, ""},
		{b(0, 2, 0x67, 1), 2, [][]byte{{0x67, 1}}, ""},
		{b(0, 0, 1, 0x65), 3, [][]byte{{0x65}}, ""},
		{b(0, 0, 0), 4, nil, "offset 0: 3 bytes left for a 4-byte length"},
		{b(0, 0, 0, 5, 0x65), 4, nil, "offset 0: NAL unit length 5 exceeds the 1 bytes left"},
		{b(0, 0, 0, 1, 0x65, 0, 0), 4, nil, "offset 5: 2 bytes left for a 4-byte length"},
		{b(0xff, 0xff, 0xff, 0xff, 0x65), 4, nil, "NAL unit length 4294967295 exceeds"},
		{b(1, 0x65), 5, nil, "length size 5"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%x/%d", c.in, c.size), func(t *testing.T) {
			got, err := SplitLengthPrefixed(c.in, c.size)
			if c.err != "" {
				if !errors.Is(err, ErrInvalidLength) || !bytes.Contains([]byte(err.Error()), []byte(c.err)) {
					t.Fatalf("error %v, want ErrInvalidLength with %q", err, c.err)
				}
				if c.size == 4 {
					if _, err := AVCCToAnnexB(nil, c.in); !errors.Is(err, ErrInvalidLength) {
						t.Errorf("AVCCToAnnexB error %v", err)
					}
					if _, err := SplitAVCC(c.in); !errors.Is(err, ErrInvalidLength) {
						t.Errorf("SplitAVCC error %v", err)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.nalus) {
				t.Errorf("= %x, %v, want %x", got, err, c.nalus)
			}
		})
	}
}

func TestAnnexBToAVCCNoAlloc(t *testing.T) {
	in := bytes.Repeat(b(0, 0, 1, 0x41, 0x9a, 0x20, 0x10, 0, 0, 0, 1, 0x41, 0x9a), 100)
	dst := make([]byte, 0, len(in)+len(in)/4)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AnnexBToAVCC(dst[:0], in)
	})
	if allocs != 0 {
		t.Errorf("AnnexBToAVCC allocated %v times per run", allocs)
	}
	if len(dst) > len(in)+100 {
		t.Errorf("output %d bytes for %d input bytes", len(dst), len(in))
	}
}

func TestNALUnits(t *testing.T) {
	au := [][]byte{{0x09, 0xf0}, {0x67, 1}, {0x68, 2}, {0x06, 5}, {0x68, 3}, {0x65, 0x88}}
	sps, pps := ParameterSets(au)
	if !reflect.DeepEqual(sps, [][]byte{{0x67, 1}}) || !reflect.DeepEqual(pps, [][]byte{{0x68, 2}, {0x68, 3}}) {
		t.Errorf("ParameterSets = %x, %x", sps, pps)
	}
	if !IsKeyFrame(au) || IsKeyFrame([][]byte{{0x41, 0x9a}}) || IsKeyFrame(nil) {
		t.Error("IsKeyFrame")
	}
	types := []struct {
		n    []byte
		want NALUType
		name string
		vcl  bool
	}{
		{nil, NALUUnspecified, "Unspecified", false},
		{b(0x65), NALUIDR, "IDR", true},
		{b(0x41), NALUNonIDR, "NonIDR", true},
		{b(0x67), NALUSPS, "SPS", false},
		{b(0x68), NALUPPS, "PPS", false},
		{b(0x09), NALUAUD, "AUD", false},
		{b(0x06), NALUSEI, "SEI", false},
		{b(0x74), NALUSliceExt, "SliceExt", true},
		{b(0x1f), 31, "NALUType(31)", false},
	}
	for _, c := range types {
		got := NALType(c.n)
		if got != c.want || got.String() != c.name || got.IsVCL() != c.vcl {
			t.Errorf("NALType(%x) = %v (vcl %v), want %v (vcl %v)", c.n, got, got.IsVCL(), c.name, c.vcl)
		}
	}
}
