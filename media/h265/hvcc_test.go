package h265

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"kvskit/internal/testenv"
)

// ffmpegHVCC is the hvcC ffmpeg 5.1 writes into MP4 (tag hvc1) for a libx265
// Main 320x240 clip.
const ffmpegHVCC = "0101600000009000000000003cf000fcfdf8f800000f03" +
	"a00001001840010c01ffff01600000030090000003000003003cba0240" +
	"a1000100" + "28" + "42010101600000030090000003000003003ca00a080f165ba4a4c2f0168080000003008000000f04" +
	"a2000100064401c073c189"

// hvccCases drive both HEVCConfig.Marshal and ParseHVCC.
func hvccCases(t *testing.T) []struct {
	name   string
	cfg    HEVCConfig
	record []byte
} {
	rec := testenv.MustHex(t, ffmpegHVCC)
	vps, sps, pps := rec[28:28+24], rec[28+24+5:28+24+5+40], rec[len(rec)-6:]
	return []struct {
		name   string
		cfg    HEVCConfig
		record []byte
	}{
		{
			name: "libx265 main",
			cfg: HEVCConfig{General: mainPTL, ChromaFormat: 1, NumTemporalLayers: 1, TemporalIDNested: true, NALULengthSize: 4,
				Arrays: []NALUArray{
					{Complete: true, Type: NALUVPS, NALUs: [][]byte{vps}},
					{Complete: true, Type: NALUSPS, NALUs: [][]byte{sps}},
					{Complete: true, Type: NALUPPS, NALUs: [][]byte{pps}},
				}},
			record: rec,
		},
		{
			name: "every field set, incomplete arrays, SEI, 2-byte lengths",
			cfg: HEVCConfig{
				General:                   PTL{ProfileSpace: 2, HighTier: true, ProfileIDC: 31, CompatibilityFlags: 0x12345678, ConstraintFlags: 0xfedcba987654, LevelIDC: 186},
				MinSpatialSegmentationIDC: 0xabc, ParallelismType: 3, ChromaFormat: 2, BitDepthLumaMinus8: 7, BitDepthChromaMinus8: 2,
				AvgFrameRate: 7680, ConstantFrameRate: 2, NumTemporalLayers: 7, NALULengthSize: 2,
				Arrays: []NALUArray{
					{Type: NALUVPS, NALUs: [][]byte{{0x40, 0x01, 0xaa}}},
					{Type: NALUSPS, NALUs: [][]byte{{0x42, 0x01, 0xbb}, {0x42, 0x01, 0xcc, 0xdd}}},
					{Type: NALUPrefixSEI, NALUs: nil},
					{Complete: true, Type: NALUPrefixSEI, NALUs: [][]byte{{0x4e, 0x01, 0x05}}},
				}},
			record: []byte{1, 0x80 | 0x20 | 31, 0x12, 0x34, 0x56, 0x78, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 186,
				0xfa, 0xbc, 0xff, 0xfe, 0xff, 0xfa, 0x1e, 0x00, 2<<6 | 7<<3 | 1, 4,
				32, 0, 1, 0, 3, 0x40, 0x01, 0xaa,
				33, 0, 2, 0, 3, 0x42, 0x01, 0xbb, 0, 4, 0x42, 0x01, 0xcc, 0xdd,
				39, 0, 0,
				0x80 | 39, 0, 1, 0, 3, 0x4e, 0x01, 0x05},
		},
	}
}

func TestHVCCTable(t *testing.T) {
	for _, c := range hvccCases(t) {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cfg.Marshal()
			if err != nil || !bytes.Equal(got, c.record) {
				t.Errorf("Marshal = %x, %v\n          want %x", got, err, c.record)
			}
			cfg, err := ParseHVCC(c.record)
			if err != nil || !reflect.DeepEqual(cfg, c.cfg) {
				t.Errorf("ParseHVCC = %+v, %v\n          want %+v", cfg, err, c.cfg)
			}
			for n := range len(c.record) {
				if _, err := ParseHVCC(c.record[:n]); !errors.Is(err, ErrTruncated) {
					t.Errorf("ParseHVCC(first %d bytes): %v", n, err)
				}
			}
			vps, sps, pps := c.cfg.ParameterSets()
			if _, err := ParseSPS(sps[0]); err == nil {
				got, err := BuildHVCC(vps, sps, pps)
				if err != nil || !bytes.Equal(got, c.record) {
					t.Errorf("BuildHVCC = %x, %v\n           want %x", got, err, c.record)
				}
			}
		})
	}
}

func TestHVCCErrors(t *testing.T) {
	rec := testenv.MustHex(t, ffmpegHVCC)
	c, err := ParseHVCC(rec)
	if err != nil {
		t.Fatal(err)
	}
	vps, sps, pps := c.ParameterSets()
	build := []struct {
		name          string
		vps, sps, pps [][]byte
		want          error
	}{
		{"no VPS", nil, sps, pps, ErrMissingParameterSets},
		{"no SPS", vps, nil, pps, ErrMissingParameterSets},
		{"no PPS", vps, sps, nil, ErrMissingParameterSets},
		{"bad SPS", vps, [][]byte{sps[0][:8]}, pps, ErrTruncated},
		{"VPS of wrong type", pps, sps, pps, ErrNALType},
		{"PPS of wrong type", vps, sps, vps, ErrNALType},
	}
	for _, c := range build {
		if _, err := BuildHVCC(c.vps, c.sps, c.pps); !errors.Is(err, c.want) {
			t.Errorf("BuildHVCC %s: %v, want %v", c.name, err, c.want)
		}
	}
	for _, bad := range []HEVCConfig{
		{NALULengthSize: 3},
		{NALULengthSize: 4, General: PTL{ConstraintFlags: 1 << 48}},
		{NALULengthSize: 4, NumTemporalLayers: 8},
		{NALULengthSize: 4, Arrays: []NALUArray{{Type: 64}}},
		{NALULengthSize: 4, Arrays: []NALUArray{{Type: NALUSPS, NALUs: [][]byte{{}}}}},
	} {
		if _, err := bad.Marshal(); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("Marshal(%+v): %v", bad, err)
		}
	}
	version0 := bytes.Clone(rec)
	version0[0] = 0
	length3 := bytes.Clone(rec)
	length3[21] = length3[21]&^3 | 2
	empty := bytes.Clone(rec)
	empty[26], empty[27] = 0, 0
	for name, r := range map[string][]byte{"version 0": version0, "length size 3": length3, "empty NAL unit": empty} {
		if _, err := ParseHVCC(r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("ParseHVCC %s: %v", name, err)
		}
	}
}
