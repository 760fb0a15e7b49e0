package h265

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"kvskit/internal/testenv"
	"kvskit/media/h264"
)

// TestFFmpegStreams encodes clips with libx265 and checks what this package
// reads from them against ffprobe, and the records it builds against the
// ones ffmpeg writes into MP4 and Matroska.
func TestFFmpegStreams(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	cases := []struct {
		name      string
		size      string
		pixFmt    string
		params    string
		profile   uint8
		ffProfile string
		chroma    uint32
		depth     int
		subLayers uint8
	}{
		{"main 1920x1080", "1920x1080", "yuv420p", "", 1, "Main", 1, 8, 1},
		{"main 320x240", "320x240", "yuv420p", "", 1, "Main", 1, 8, 1},
		{"main 318x238 B-frames, temporal layers", "318x238", "yuv420p", "bframes=3:b-pyramid=0:temporal-layers=1", 1, "Main", 1, 8, 2},
		{"main10 318x238", "318x238", "yuv420p10le", "", 2, "Main 10", 1, 10, 1},
		{"rext 4:4:4 317x237", "317x237", "yuv444p", "", 4, "Rext", 3, 8, 1},
		{"rext 4:2:2 10-bit 318x238", "318x238", "yuv422p10le", "", 4, "Rext", 2, 10, 1},
	}
	dir := t.TempDir()
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, strconv.Itoa(i)+".h265")
			params := "keyint=15:min-keyint=15:log-level=error"
			if c.params == "" {
				params += ":bframes=0"
			} else {
				params += ":" + c.params
			}
			testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
				"-f", "lavfi", "-i", "testsrc2=size="+c.size+":rate=30,format="+c.pixFmt, "-t", "1",
				"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params, "-f", "hevc", file)
			stream, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p := testenv.ProbeVideo(t, file, "-count_frames", "-show_streams", "-show_packets")
			st := p.Streams[0]
			if st.Profile != c.ffProfile {
				t.Errorf("ffprobe profile %q, want %q", st.Profile, c.ffProfile)
			}

			nalus := h264.SplitAnnexB(stream)
			vps, sps, pps := ParameterSets(nalus)
			if len(vps) == 0 || len(sps) == 0 || len(pps) == 0 {
				t.Fatalf("%d VPS, %d SPS, %d PPS", len(vps), len(sps), len(pps))
			}
			s, err := ParseSPS(sps[0])
			if err != nil {
				t.Fatal(err)
			}
			if s.Width() != st.Width || s.Height() != st.Height {
				t.Errorf("SPS size %dx%d, ffprobe %dx%d", s.Width(), s.Height(), st.Width, st.Height)
			}
			g := s.ProfileTierLevel.General
			if g.ProfileIDC != c.profile || s.ChromaFormatIDC != c.chroma || s.BitDepthLuma != c.depth || s.BitDepthChroma != c.depth || s.MaxSubLayers != c.subLayers {
				t.Errorf("SPS profile %d chroma %d depth %d/%d sub-layers %d, want %d %d %d %d",
					g.ProfileIDC, s.ChromaFormatIDC, s.BitDepthLuma, s.BitDepthChroma, s.MaxSubLayers, c.profile, c.chroma, c.depth, c.subLayers)
			}
			if reorder := s.MaxNumReorderPics(); (reorder > 0) != (c.params != "") {
				t.Errorf("sps_max_num_reorder_pics %d", reorder)
			}

			// A picture starts with the slice segment whose
			// first_slice_segment_in_pic_flag is set.
			var pictures, irap int
			for _, n := range nalus {
				if t := NALType(n); t.IsVCL() && len(n) > 2 && n[2]&0x80 != 0 {
					pictures++
					if t.IsIRAP() {
						irap++
					}
				}
			}
			keys := 0
			for _, pk := range p.Packets {
				if strings.Contains(pk.Flags, "K") {
					keys++
				}
			}
			if strconv.Itoa(pictures) != st.NbReadFrames {
				t.Errorf("%d pictures, ffprobe read %s frames", pictures, st.NbReadFrames)
			}
			if irap != keys || keys < 2 {
				t.Errorf("%d IRAP pictures, ffprobe %d key packets", irap, keys)
			}

			got, err := BuildHVCC(vps[:1], sps[:1], pps[:1])
			if err != nil {
				t.Fatal(err)
			}
			// MP4 with sample entry hvc1 carries complete arrays, as
			// BuildHVCC does: the bytes must match.
			mp4 := filepath.Join(dir, strconv.Itoa(i)+".mp4")
			testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", file, "-c", "copy", "-tag:v", "hvc1", mp4)
			want := testenv.ParseHexdump(t, testenv.ProbeVideo(t, mp4, "-show_streams", "-show_data").Streams[0].Extradata)
			if !bytes.Equal(got, want) {
				t.Errorf("BuildHVCC = %x\n  ffmpeg wrote %x", got, want)
			}
			// ffmpeg's Matroska muxer clears array_completeness; otherwise
			// the record is the same. (Raw streams with B-frames lack the
			// timestamps Matroska needs; those go through the MP4.)
			mkv, src := filepath.Join(dir, strconv.Itoa(i)+".mkv"), file
			if s.MaxNumReorderPics() > 0 {
				src = mp4
			}
			testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", src, "-c", "copy", mkv)
			cfg, err := ParseHVCC(testenv.ParseHexdump(t, testenv.ProbeVideo(t, mkv, "-show_streams", "-show_data").Streams[0].Extradata))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := ParseHVCC(got)
			if err != nil {
				t.Fatal(err)
			}
			for i := range cfg.Arrays {
				cfg.Arrays[i].Complete = true
			}
			if !reflect.DeepEqual(cfg, ours) {
				t.Errorf("Matroska record %+v\n          ours %+v", cfg, ours)
			}
			if cfg.CodecString() != g.CodecString() {
				t.Errorf("CodecString %q vs %q", cfg.CodecString(), g.CodecString())
			}
		})
	}
}
