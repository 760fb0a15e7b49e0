package aac

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"kvskit/internal/testenv"
)

// probe is what ffprobe reports about the first stream of a file.
type probe struct {
	Streams []struct {
		Profile       string `json:"profile"`
		SampleRate    string `json:"sample_rate"`
		Channels      int    `json:"channels"`
		NbReadPackets string `json:"nb_read_packets"`
		Extradata     string `json:"extradata"`
	} `json:"streams"`
}

func ffprobe(t *testing.T, file string, args ...string) probe {
	t.Helper()
	args = append([]string{"-v", "error", "-of", "json", "-select_streams", "a:0"}, args...)
	var p probe
	if err := json.Unmarshal(testenv.Run(t, "ffprobe", append(args, file)...), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Streams) != 1 {
		t.Fatalf("ffprobe %s: %d streams", file, len(p.Streams))
	}
	return p
}

// TestFFmpegStreams encodes ADTS streams with ffmpeg's AAC encoder and checks
// what this package reads from them against ffprobe, and the configurations
// it derives against the ones ffmpeg writes into Matroska.
func TestFFmpegStreams(t *testing.T) {
	testenv.Tool(t, "ffmpeg")
	testenv.Tool(t, "ffprobe")
	cases := []struct {
		rate, channels int
	}{
		{44100, 1}, {44100, 2}, {48000, 1}, {48000, 2}, {8000, 1}, {8000, 2},
	}
	dir := t.TempDir()
	for _, c := range cases {
		name := strconv.Itoa(c.rate) + "Hz_" + strconv.Itoa(c.channels) + "ch"
		t.Run(name, func(t *testing.T) {
			source := []string{"-hide_banner", "-loglevel", "error", "-y",
				"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=" + strconv.Itoa(c.rate), "-ac", strconv.Itoa(c.channels), "-t", "1", "-c:a", "aac"}
			file := filepath.Join(dir, name+".aac")
			testenv.Run(t, "ffmpeg", append(source, "-f", "adts", file)...)
			stream, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			st := ffprobe(t, file, "-count_packets", "-show_streams").Streams[0]
			if st.Profile != "LC" || st.SampleRate != strconv.Itoa(c.rate) || st.Channels != c.channels {
				t.Fatalf("ffprobe: %+v", st)
			}

			frames, hdr, err := SplitADTS(stream)
			if err != nil {
				t.Fatal(err)
			}
			if strconv.Itoa(len(frames)) != st.NbReadPackets {
				t.Errorf("%d frames, ffprobe read %s packets", len(frames), st.NbReadPackets)
			}
			cfg := ConfigFromADTS(hdr)
			if cfg.ObjectType != ObjectTypeAACLC || cfg.SampleRate() != c.rate || cfg.Channels() != c.channels || hdr.HeaderLength() != 7 {
				t.Errorf("header %+v", hdr)
			}
			// AppendADTS writes exactly the headers ffmpeg does.
			var rebuilt []byte
			for _, f := range frames {
				rebuilt = AppendADTS(rebuilt, cfg, f)
			}
			if !bytes.Equal(rebuilt, stream) {
				t.Error("AppendADTS does not reproduce the stream")
			}

			// The configuration ffmpeg derives from ADTS when remuxing.
			remux := filepath.Join(dir, name+"-remux.mkv")
			testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", file, "-c", "copy", remux)
			want := testenv.ParseHexdump(t, ffprobe(t, remux, "-show_streams", "-show_data").Streams[0].Extradata)
			if got := cfg.Marshal(); !bytes.Equal(got, want) {
				t.Errorf("ConfigFromADTS(...).Marshal() = %x, ffmpeg wrote %x", got, want)
			}

			// The configuration ffmpeg's encoder writes (with an SBR sync
			// extension saying SBR is absent).
			direct := filepath.Join(dir, name+".mkv")
			testenv.Run(t, "ffmpeg", append(source, direct)...)
			enc := testenv.ParseHexdump(t, ffprobe(t, direct, "-show_streams", "-show_data").Streams[0].Extradata)
			ec, err := ParseAudioSpecificConfig(enc)
			if err != nil {
				t.Fatal(err)
			}
			if ec.ObjectType != cfg.ObjectType || ec.SampleRate() != c.rate || ec.OutputSampleRate() != c.rate || ec.Channels() != c.channels {
				t.Errorf("encoder's config %x = %+v", enc, ec)
			}
			if got := ec.Marshal(); !bytes.Equal(got, enc) {
				t.Errorf("Marshal = %x, encoder wrote %x", got, enc)
			}
		})
	}
}
