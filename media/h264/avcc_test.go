package h264

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"kvskit/internal/testenv"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// avccCases drive both AVCConfig.Marshal and ParseAVCC.
func avccCases(t *testing.T) []struct {
	name   string
	cfg    AVCConfig
	record []byte
} {
	spsBase := testenv.MustHex(t, x264SPS[0].hex)
	spsHigh := testenv.MustHex(t, x264SPS[2].hex)
	ppsBase, ppsHigh := testenv.MustHex(t, "68ce0fc8"), testenv.MustHex(t, "68ef0fcb")
	return []struct {
		name   string
		cfg    AVCConfig
		record []byte
	}{
		{
			name: "baseline",
			cfg: AVCConfig{ProfileIDC: 66, ProfileCompatibility: 0xc0, LevelIDC: 13, NALULengthSize: 4,
				SPS: [][]byte{spsBase}, PPS: [][]byte{ppsBase}},
			record: cat(b(1, 66, 0xc0, 13, 0xff, 0xe1, 0, byte(len(spsBase))), spsBase, b(1, 0, 4), ppsBase),
		},
		{
			// The record ffmpeg 5.1 writes into Matroska for the libx264 High clip.
			name: "high",
			cfg: AVCConfig{ProfileIDC: 100, LevelIDC: 13, NALULengthSize: 4, SPS: [][]byte{spsHigh}, PPS: [][]byte{ppsHigh},
				HasExtension: true, ChromaFormat: 1},
			record: testenv.MustHex(t, "0164000dffe100186764000dacb40a0ff5580880000003008000001e078a1550010004"+"68ef0fcb"+"fdf8f800"),
		},
		{
			name: "high 4:2:2 10-bit, 2-byte lengths, several sets, SPS extension",
			cfg: AVCConfig{ProfileIDC: 122, ProfileCompatibility: 0x10, LevelIDC: 31, NALULengthSize: 2,
				SPS: [][]byte{{0x67, 1}, {0x67, 2, 3}}, PPS: [][]byte{{0x68, 4}, {0x68, 5}, {0x68, 6}},
				HasExtension: true, ChromaFormat: 2, BitDepthLumaMinus8: 2, BitDepthChromaMinus8: 2, SPSExt: [][]byte{{0x6d, 7}}},
			record: b(1, 122, 0x10, 31, 0xfd, 0xe2, 0, 2, 0x67, 1, 0, 3, 0x67, 2, 3, 3, 0, 2, 0x68, 4, 0, 2, 0x68, 5, 0, 2, 0x68, 6,
				0xfe, 0xfa, 0xfa, 1, 0, 2, 0x6d, 7),
		},
		{
			name: "high without extension, 1-byte lengths",
			cfg: AVCConfig{ProfileIDC: 100, LevelIDC: 40, NALULengthSize: 1,
				SPS: [][]byte{{0x67, 0x64}}, PPS: [][]byte{{0x68}}},
			record: b(1, 100, 0, 40, 0xfc, 0xe1, 0, 2, 0x67, 0x64, 1, 0, 1, 0x68),
		},
	}
}

func TestAVCCTable(t *testing.T) {
	for _, c := range avccCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cfg.Marshal()
			if err != nil || !bytes.Equal(got, c.record) {
				t.Errorf("Marshal = %x, %v\n          want %x", got, err, c.record)
			}
			cfg, err := ParseAVCC(c.record)
			if err != nil || !reflect.DeepEqual(cfg, c.cfg) {
				t.Errorf("ParseAVCC = %+v, %v\nwant %+v", cfg, err, c.cfg)
			}
			for n := range len(c.record) {
				if _, err := ParseAVCC(c.record[:n]); err == nil && !(c.cfg.HasExtension && n == len(c.record)-4-len(c.cfg.SPSExt)*4) {
					t.Errorf("ParseAVCC(first %d bytes) succeeded", n)
				} else if err != nil && !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseAVCC(first %d bytes): %v", n, err)
				}
			}
			// BuildAVCC derives the same record from the parameter sets when
			// they are real ones.
			if _, err := ParseSPS(c.cfg.SPS[0]); err == nil && c.cfg.NALULengthSize == 4 {
				got, err := BuildAVCC(c.cfg.SPS, c.cfg.PPS)
				if err != nil || !bytes.Equal(got, c.record) {
					t.Errorf("BuildAVCC = %x, %v\n           want %x", got, err, c.record)
				}
			}
		})
	}
}

func TestAVCCErrors(t *testing.T) {
	sps := testenv.MustHex(t, x264SPS[2].hex)
	pps := []byte{0x68, 0xef, 0x0f, 0xcb}
	build := []struct {
		name     string
		sps, pps [][]byte
		want     error
	}{
		{"no SPS", nil, [][]byte{pps}, ErrMissingParameterSets},
		{"no PPS", [][]byte{sps}, nil, ErrMissingParameterSets},
		{"bad SPS", [][]byte{sps[:5]}, [][]byte{pps}, ErrTruncated},
		{"PPS of wrong type", [][]byte{sps}, [][]byte{sps}, ErrNALType},
		{"second SPS of wrong type", [][]byte{sps, pps}, [][]byte{pps}, ErrNALType},
		{"32 SPS", [][]byte{sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps,
			sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps, sps}, [][]byte{pps}, ErrInvalidRecord},
		{"huge PPS", [][]byte{sps}, [][]byte{make([]byte, 70000)}, ErrInvalidRecord},
	}
	build[6].pps[0][0] = 0x68
	for _, c := range build {
		if _, err := BuildAVCC(c.sps, c.pps); !errors.Is(err, c.want) {
			t.Errorf("BuildAVCC %s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := (AVCConfig{NALULengthSize: 3}).Marshal(); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Marshal with length size 3: %v", err)
	}
	if _, err := (AVCConfig{NALULengthSize: 4, SPS: [][]byte{{}}}).Marshal(); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("Marshal with empty SPS: %v", err)
	}
	parse := []struct {
		name   string
		record []byte
		want   error
	}{
		{"version 0", b(0, 66, 0, 30, 0xff, 0xe0, 0), ErrInvalidRecord},
		{"length size 3", b(1, 66, 0, 30, 0xfe, 0xe0, 0), ErrInvalidRecord},
		{"SPS past end", b(1, 66, 0, 30, 0xff, 0xe1, 0, 9, 0x67), ErrTruncated},
		{"empty SPS", b(1, 66, 0, 30, 0xff, 0xe1, 0, 0, 0), ErrInvalidRecord},
		{"PPS count missing", b(1, 66, 0, 30, 0xff, 0xe1, 0, 1, 0x67), ErrTruncated},
	}
	for _, c := range parse {
		if _, err := ParseAVCC(c.record); !errors.Is(err, c.want) {
			t.Errorf("ParseAVCC %s: %v, want %v", c.name, err, c.want)
		}
	}
}
