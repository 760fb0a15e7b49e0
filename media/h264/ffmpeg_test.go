package h264

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"kvskit/internal/testenv"
)

// TestFFmpegStreams encodes clips with libx264 and checks what this package
// reads from them against ffprobe, and the records it builds against the
// ones ffmpeg writes into Matroska.
func TestFFmpegStreams(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	cases := []struct {
		name      string
		size      string
		pixFmt    string
		args      []string
		profile   uint8
		ffProfile string
		chroma    uint32
		depth     int
		interlace bool
	}{
		{"baseline 1920x1080", "1920x1080", "yuv420p", []string{"-profile:v", "baseline"}, 66, "Constrained Baseline", 1, 8, false},
		{"main 318x238", "318x238", "yuv420p", []string{"-profile:v", "main", "-x264-params", "cabac=1"}, 77, "Main", 1, 8, false},
		{"high 1920x1080", "1920x1080", "yuv420p", []string{"-profile:v", "high", "-x264-params", "8x8dct=1"}, 100, "High", 1, 8, false},
		{"high 318x238", "318x238", "yuv420p", []string{"-profile:v", "high", "-x264-params", "8x8dct=1"}, 100, "High", 1, 8, false},
		{"high interlaced 1920x1080", "1920x1080", "yuv420p", []string{"-profile:v", "high", "-x264-params", "interlaced=1:8x8dct=1"}, 100, "High", 1, 8, true},
		{"high10 318x238", "318x238", "yuv420p10le", []string{"-profile:v", "high10"}, 110, "High 10", 1, 10, false},
		{"high422 318x238", "318x238", "yuv422p", []string{"-profile:v", "high422"}, 122, "High 4:2:2", 2, 8, false},
		{"high444 317x237", "317x237", "yuv444p", []string{"-profile:v", "high444"}, 244, "High 4:4:4 Predictive", 3, 8, false},
		{"monochrome 317x237", "317x237", "gray", []string{"-x264-params", "8x8dct=1"}, 100, "High", 0, 8, false},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".h264")
			args := []string{"-hide_banner", "-loglevel", "error", "-y",
				"-f", "lavfi", "-i", "testsrc2=size=" + c.size + ":rate=30,format=" + c.pixFmt, "-t", "1",
				"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "15"}
			args = append(append(args, c.args...), "-f", "h264", file)
			testenv.Run(t, "ffmpeg", args...)
			stream, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p := testenv.ProbeVideo(t, file, "-count_frames", "-show_streams", "-show_packets")
			st := p.Streams[0]
			if st.Profile != c.ffProfile {
				t.Errorf("ffprobe profile %q, want %q", st.Profile, c.ffProfile)
			}

			nalus := SplitAnnexB(stream)
			sps, pps := ParameterSets(nalus)
			if len(sps) == 0 || len(pps) == 0 {
				t.Fatalf("%d SPS, %d PPS", len(sps), len(pps))
			}
			s, err := ParseSPS(sps[0])
			if err != nil {
				t.Fatal(err)
			}
			if s.Width() != st.Width || s.Height() != st.Height {
				t.Errorf("SPS size %dx%d, ffprobe %dx%d", s.Width(), s.Height(), st.Width, st.Height)
			}
			if s.ProfileIDC != c.profile || s.ChromaFormatIDC != c.chroma || s.BitDepthLuma != c.depth || s.BitDepthChroma != c.depth {
				t.Errorf("SPS profile %d chroma %d depth %d/%d, want %d %d %d", s.ProfileIDC, s.ChromaFormatIDC, s.BitDepthLuma, s.BitDepthChroma, c.profile, c.chroma, c.depth)
			}
			if s.FrameMbsOnly == c.interlace {
				t.Errorf("frame_mbs_only_flag %v", s.FrameMbsOnly)
			}
			if s.FrameRate() != 30 {
				t.Errorf("frame rate %v", s.FrameRate())
			}

			// Pictures start with the slice whose first_mb_in_slice is 0;
			// with field coding, two fields make a frame.
			var pictures, idr int
			for _, n := range nalus {
				if NALType(n).IsVCL() && len(n) > 1 && n[1]&0x80 != 0 {
					pictures++
					if NALType(n) == NALUIDR {
						idr++
					}
				}
			}
			keys := 0
			for _, pk := range p.Packets {
				if strings.Contains(pk.Flags, "K") {
					keys++
				}
			}
			if want := st.NbReadFrames; want != strconv.Itoa(pictures) {
				t.Errorf("%d pictures, ffprobe read %s frames", pictures, want)
			}
			if idr != keys || keys < 2 {
				t.Errorf("%d IDR pictures, ffprobe %d key packets", idr, keys)
			}

			// Annex-B -> AVCC -> Annex-B keeps every NAL unit.
			avcc := AnnexBToAVCC(nil, stream)
			back, err := SplitAVCC(avcc)
			if err != nil || !reflect.DeepEqual(back, nalus) {
				t.Errorf("SplitAVCC(AnnexBToAVCC) differs: %v", err)
			}
			annexb, err := AVCCToAnnexB(nil, avcc)
			if err != nil || !reflect.DeepEqual(SplitAnnexB(annexb), nalus) {
				t.Errorf("AVCCToAnnexB round trip differs: %v", err)
			}

			// The record must match the CodecPrivate ffmpeg writes.
			mkv := filepath.Join(dir, strconv.Itoa(i)+".mkv")
			testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", file, "-c", "copy", mkv)
			want := testenv.ParseHexdump(t, testenv.ProbeVideo(t, mkv, "-show_streams", "-show_data").Streams[0].Extradata)
			got, err := BuildAVCC(sps[:1], pps[:1])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("BuildAVCC = %x\n  ffmpeg wrote %x", got, want)
			}
			cfg, err := ParseAVCC(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.SPS, sps[:1]) || !reflect.DeepEqual(cfg.PPS, pps[:1]) || cfg.NALULengthSize != 4 || cfg.ProfileIDC != c.profile {
				t.Errorf("ParseAVCC(ffmpeg's record) = %+v", cfg)
			}
		})
	}
}
