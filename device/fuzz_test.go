package device

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"kvskit/internal/testenv"
)

// drain reads a source to its end or first error, checking the invariants
// every source keeps, and never more than a bounded number of frames.
func drain(t *testing.T, s Source, err error) {
	t.Helper()
	if err != nil {
		if s != nil {
			t.Fatalf("error %v with a source", err)
		}
		return
	}
	defer s.Close()
	tracks := s.Tracks()
	if len(tracks) == 0 {
		t.Fatal("source without tracks")
	}
	for i, tr := range tracks {
		if tr.Number != uint64(i+1) {
			t.Fatalf("track %d numbered %d", i, tr.Number)
		}
		if !(&trackInfo{Track: tr}).ready() {
			t.Fatalf("track %d without configuration", tr.Number)
		}
	}
	var last int64
	for n := 0; n < 100000; n++ {
		f, err := s.ReadFrame()
		if err != nil {
			if _, again := s.ReadFrame(); again != err {
				t.Fatalf("error changed from %v to %v", err, again)
			}
			return
		}
		if f.Track < 1 || int(f.Track) > len(tracks) || len(f.Data) == 0 {
			t.Fatalf("frame %d: track %d, %d bytes", n, f.Track, len(f.Data))
		}
		if int64(f.DTS) < last || f.PTS < f.DTS || f.DTS < 0 {
			t.Fatalf("frame %d: pts %v dts %v after dts %v", n, f.PTS, f.DTS, last)
		}
		last = int64(f.DTS)
	}
}

// FuzzMP4 reads arbitrary bytes as MP4, as a stream and at random.
func FuzzMP4(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x08moov"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := OpenReader(bytes.NewReader(b), WithFormat(FormatMP4))
		drain(t, s, err)
		cfg, _ := newConfig(nil)
		d, err := newMP4FileDemuxer(bytes.NewReader(b), int64(len(b)), cfg)
		if err != nil {
			return
		}
		s, err = newSource(d, cfg, nil)
		if err != nil {
			d.close()
			return
		}
		drain(t, s, nil)
	})
}

// FuzzAnnexB reads arbitrary bytes as an H.264 or H.265 elementary stream.
func FuzzAnnexB(f *testing.F) {
	f.Add(annexB(nSPS, nPPS, nIDR, nP, nAUD, nP), false)
	f.Fuzz(func(t *testing.T, b []byte, h265 bool) {
		format := FormatH264
		if h265 {
			format = FormatH265
		}
		s, err := OpenReader(bytes.NewReader(b), WithFormat(format))
		drain(t, s, err)
	})
}

// FuzzTS reads arbitrary bytes as an MPEG transport stream.
func FuzzTS(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x47, 0x40, 0x00, 0x10}, 47))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := OpenReader(bytes.NewReader(b), WithFormat(FormatTS))
		drain(t, s, err)
	})
}

// FuzzDetect detects the format of arbitrary bytes and reads them as that.
func FuzzDetect(f *testing.F) {
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3})
	f.Add([]byte("\x00\x00\x00\x18ftypisom"))
	f.Fuzz(func(t *testing.T, b []byte) {
		format, err := Detect(b)
		if err == nil && !format.valid() {
			t.Fatalf("Detect returned %q", format)
		}
		if err != nil && format != "" {
			t.Fatalf("Detect returned %q with %v", format, err)
		}
		s, err := OpenReader(bytes.NewReader(b))
		drain(t, s, err)
	})
}

// TestWriteFuzzCorpus regenerates the seed corpora under testdata/fuzz from
// small ffmpeg clips and truncated variants of them. It runs only with
// DEVICE_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("DEVICE_WRITE_CORPUS") != "1" {
		t.Skip("set DEVICE_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	video := []string{"-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", "0.2"}
	ffmpeg(t, append(video, "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "3", "-c:a", "aac", "-b:a", "16k", p("a.mp4"))...)
	ffmpeg(t, append(video, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error:keyint=3", "-tag:v", "hvc1", "-c:a", "aac", "-b:a", "16k", p("b.mp4"))...)
	for _, c := range [][]string{
		{"a.mp4", "a_fs.mp4", "-movflags", "+faststart"},
		{"a.mp4", "a_frag.mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof"},
		{"a.mp4", "a.ts"},
		{"b.mp4", "b.ts"},
		{"a.mp4", "a.mkv"},
		{"a.mp4", "a.h264", "-map", "0:v", "-bsf:v", "h264_mp4toannexb", "-f", "h264"},
		{"b.mp4", "b.hevc", "-map", "0:v", "-bsf:v", "hevc_mp4toannexb", "-f", "hevc"},
	} {
		ffmpeg(t, append(append([]string{"-i", p(c[0]), "-c", "copy"}, c[2:]...), p(c[1]))...)
	}
	read := func(n string) []byte {
		b, err := os.ReadFile(p(n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	variants := func(b []byte) map[string][]byte {
		return map[string][]byte{"": b, "_half": b[:len(b)/2], "_third": b[:len(b)/3]}
	}
	write := func(fuzzer, name string, args ...any) { testenv.WriteSeed(t, fuzzer, name, args...) }
	for _, n := range []string{"a.mp4", "a_fs.mp4", "a_frag.mp4", "b.mp4"} {
		for suffix, b := range variants(read(n)) {
			write("FuzzMP4", n+suffix, b)
		}
	}
	for _, n := range []string{"a.ts", "b.ts"} {
		for suffix, b := range variants(read(n)) {
			write("FuzzTS", n+suffix, b)
		}
	}
	for suffix, b := range variants(read("a.h264")) {
		write("FuzzAnnexB", "a.h264"+suffix, b, false)
	}
	for suffix, b := range variants(read("b.hevc")) {
		write("FuzzAnnexB", "b.hevc"+suffix, b, true)
	}
	for _, n := range []string{"a.mkv", "a.ts", "a_frag.mp4", "a.h264", "b.hevc"} {
		b := read(n)
		write("FuzzDetect", n, b[:min(len(b), 2048)])
	}
}
