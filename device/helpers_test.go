package device

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"kvskit/internal/testenv"
	"kvskit/media"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(cleanupM{m})
}

// cleanupM removes the generated clips after the tests.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	for _, d := range []string{clipDir, benchDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	return code
}

// ffmpeg runs ffmpeg quietly, overwriting outputs.
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	testenv.Run(t, "ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
}

type probeStream struct {
	Index      int    `json:"index"`
	CodecType  string `json:"codec_type"`
	CodecName  string `json:"codec_name"`
	Profile    string `json:"profile"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	SampleRate string `json:"sample_rate"`
	Channels   int    `json:"channels"`
	Extradata  string `json:"extradata"`
}

type probePacket struct {
	StreamIndex int    `json:"stream_index"`
	PTSTime     string `json:"pts_time"`
	DTSTime     string `json:"dts_time"`
	Flags       string `json:"flags"`
	Data        string `json:"data"`
}

type probeResult struct {
	Streams []probeStream `json:"streams"`
	Packets []probePacket `json:"packets"`
}

// ffprobe returns the streams and packets ffprobe reads from file, with the
// packet data when withData is set.
func ffprobe(t testing.TB, file string, withData bool) probeResult {
	t.Helper()
	args := []string{"-v", "error", "-of", "json", "-show_streams", "-show_packets", "-show_data"}
	if !withData {
		args = []string{"-v", "error", "-of", "json", "-show_streams", "-show_packets",
			"-show_entries", "packet=stream_index,pts_time,dts_time,flags:stream=index,codec_type,codec_name,profile,width,height,sample_rate,channels,extradata", "-show_data"}
	}
	var p probeResult
	if err := json.Unmarshal(testenv.Run(t, "ffprobe", append(args, file)...), &p); err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	return p
}

// hexdump decodes ffprobe's -show_data dump ("00000000: 0164 000d ...  text").
func hexdump(t testing.TB, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(dump, "\n") {
		if len(line) < 10 {
			continue
		}
		h := strings.ReplaceAll(line[10:min(len(line), 49)], " ", "")
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("hexdump line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

// secs parses an ffprobe time; ok is false for N/A.
func secs(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// framemd5 returns the MD5 of each packet of the stream map selects, and of
// the stream's extradata ("" when it has none).
func framemd5(t testing.TB, file, stream string) (sums []string, extradata string) {
	t.Helper()
	out := testenv.Run(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-i", file, "-map", stream, "-c", "copy", "-f", "framemd5", "-")
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "#extradata") {
			f := strings.Split(line, ",")
			extradata = strings.TrimSpace(f[len(f)-1])
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		// stream, dts, pts, duration, size, hash[, side data...]
		f := strings.Split(line, ",")
		if len(f) < 6 {
			t.Fatalf("framemd5 line %q", line)
		}
		sums = append(sums, strings.TrimSpace(f[5]))
	}
	return sums, extradata
}

// readAll reads every frame of s, checking the invariants every source
// keeps: frames of known tracks, DTS non-decreasing across tracks, PTS and
// DTS not negative.
func readAll(t testing.TB, s Source) []media.Frame {
	t.Helper()
	var frames []media.Frame
	var last media.Frame
	for {
		f, err := s.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ReadFrame after %d frames: %v", len(frames), err)
		}
		if f.Track < 1 || int(f.Track) > len(s.Tracks()) {
			t.Fatalf("frame %d: track %d of %d", len(frames), f.Track, len(s.Tracks()))
		}
		if f.DTS < 0 || f.PTS < 0 {
			t.Fatalf("frame %d: negative timestamp pts=%v dts=%v", len(frames), f.PTS, f.DTS)
		}
		if len(frames) > 0 && f.DTS < last.DTS {
			t.Fatalf("frame %d (track %d): DTS %v after %v (track %d)", len(frames), f.Track, f.DTS, last.DTS, last.Track)
		}
		if len(f.Data) == 0 {
			t.Fatalf("frame %d: empty data", len(frames))
		}
		last = f
		frames = append(frames, f)
	}
	if _, err := s.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("ReadFrame after EOF: %v", err)
	}
	return frames
}

// byTrack splits frames per track number.
func byTrack(frames []media.Frame) map[uint64][]media.Frame {
	m := map[uint64][]media.Frame{}
	for _, f := range frames {
		m[f.Track] = append(m[f.Track], f)
	}
	return m
}

func openFile(t testing.TB, path string, opts ...Option) Source {
	t.Helper()
	s, err := OpenFile(path, opts...)
	if err != nil {
		t.Fatalf("OpenFile(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pipeReader returns a reader fed from the file through an io.Pipe, which is
// neither seekable nor a ReaderAt.
func pipeReader(t testing.TB, path string) io.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := io.Copy(pw, f)
		pw.CloseWithError(err)
	}()
	t.Cleanup(func() {
		pr.Close()
		<-done
		f.Close()
	})
	return pr
}
