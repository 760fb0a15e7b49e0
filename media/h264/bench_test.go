package h264

import (
	"bytes"
	"testing"

	"kvskit/internal/testenv"
)

// benchAccessUnit is a 64 KiB access unit shaped like an encoder's output:
// SPS, PPS, SEI and four slices behind 3- and 4-byte start codes.
func benchAccessUnit() []byte {
	var au []byte
	au = append(au, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x28, 0xac)
	au = append(au, 0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80)
	au = append(au, 0, 0, 1, 0x06, 0x05, 0x10, 0x80)
	slice := bytes.Repeat([]byte{0x9a, 0x21, 0x4c, 0x7f, 0x00, 0x00, 0x03, 0x01}, 2048)
	for range 4 {
		au = append(au, 0, 0, 1, 0x65)
		au = append(au, slice...)
	}
	return au
}

func BenchmarkAnnexBToAVCC(b *testing.B) {
	au := benchAccessUnit()
	dst := make([]byte, 0, len(au)*5/4)
	b.SetBytes(int64(len(au)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AnnexBToAVCC(dst[:0], au)
	}
}

func BenchmarkSplitAnnexB(b *testing.B) {
	au := benchAccessUnit()
	b.SetBytes(int64(len(au)))
	b.ReportAllocs()
	for b.Loop() {
		_ = SplitAnnexB(au)
	}
}

func BenchmarkParseSPS(b *testing.B) {
	sps := testenv.MustHex(b, x264SPS[3].hex)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSPS(sps); err != nil {
			b.Fatal(err)
		}
	}
}
