package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media/h264"
)

// putFile runs `kvs put` against p and returns stdout, stderr and the error.
func (p *serveProc) put(t *testing.T, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(kvsBin, append([]string{"put"}, args...)...)
	cmd.Env = append(p.Env(), "AWS_ENDPOINT_URL_KINESIS_VIDEO="+p.URL)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// decodedMD5 hashes every decoded picture of the first video stream.
func decodedMD5(t *testing.T, file string) []string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	out := run(t, ff, "-v", "error", "-i", file, "-map", "0:v:0", "-f", "framemd5", "-")
	var hashes []string
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		hashes = append(hashes, strings.TrimSpace(f[len(f)-1]))
	}
	return hashes
}

func ffmpegMake(t *testing.T, out string, args ...string) string {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	run(t, ff, append(append([]string{"-v", "error"}, args...), "-y", out)...)
	return out
}

// fragmentsOf lists the fragments of a stream with kvs get fragments.
func (p *serveProc) fragmentsOf(t *testing.T, stream string) []struct {
	FragmentNumber    string
	ProducerTimestamp string
} {
	t.Helper()
	out, errOut, err := p.kvs(t, "get", "fragments", "--stream", stream, "--output", "json")
	if err != nil {
		t.Fatalf("get fragments: %v %s", err, errOut)
	}
	var list []struct {
		FragmentNumber    string
		ProducerTimestamp string
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var f struct {
			FragmentNumber    string
			ProducerTimestamp string
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatal(err)
		}
		list = append(list, f)
	}
	return list
}

func TestPutRoundTrips(t *testing.T) {
	dir := t.TempDir()
	src := "testsrc2=size=320x240:rate=30"
	tone := "sine=frequency=440:sample_rate=48000"
	mp4 := ffmpegMake(t, filepath.Join(dir, "in.mp4"), "-f", "lavfi", "-i", src, "-f", "lavfi", "-i", tone, "-t", "5",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-c:a", "aac", "-movflags", "+faststart")
	mkv := ffmpegMake(t, filepath.Join(dir, "in.mkv"), "-f", "lavfi", "-i", src, "-f", "lavfi", "-i", tone, "-t", "5",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-c:a", "aac")
	merged := filepath.Join(dir, "merged.mkv")
	run(t, testenv.Tool(t, "mkvmerge"), "-q", "-o", merged, mkv)
	annexb := ffmpegMake(t, filepath.Join(dir, "in.h264"), "-f", "lavfi", "-i", src, "-t", "5",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-f", "h264")
	hevc := ffmpegMake(t, filepath.Join(dir, "in-hevc.mp4"), "-f", "lavfi", "-i", src, "-t", "5",
		"-c:v", "libx265", "-x265-params", "bframes=0:keyint=30:log-level=error", "-tag:v", "hvc1")

	p := startServe(t, filepath.Join(dir, "data"))
	cases := []struct {
		name, file string
		stdin      bool
		audio      bool
		extra      []string
	}{
		{"mp4-h264-aac", mp4, false, true, nil},
		{"mkvmerge", merged, false, true, nil},
		{"annexb-stdin", annexb, true, false, []string{"--fps", "30"}},
		{"h265", hevc, false, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
			args := []string{"--stream", tc.name, "--create-stream", "--start-time", start.Format(time.RFC3339), "--output", "json"}
			args = append(args, tc.extra...)
			var stdin []byte
			if tc.stdin {
				b, err := os.ReadFile(tc.file)
				if err != nil {
					t.Fatal(err)
				}
				stdin = b
				args = append([]string{"-"}, args...)
			} else {
				args = append([]string{tc.file}, args...)
			}
			_, errOut, err := p.put(t, stdin, args...)
			if err != nil {
				t.Fatalf("kvs put: %v\n%s", err, errOut)
			}
			if !strings.Contains(errOut, `"event":"done"`) {
				t.Errorf("no final JSON progress line:\n%s", errOut)
			}
			frags := p.fragmentsOf(t, tc.name)
			if len(frags) == 0 {
				t.Fatal("nothing persisted")
			}
			// Timestamps follow the file's own timeline from --start-time; the
			// first fragment starts at the file's first frame (audio ahead of
			// the first key frame leads it in).
			first, err := time.Parse(time.RFC3339Nano, frags[0].ProducerTimestamp)
			if d := first.Sub(start); err != nil || d < 0 || d > 50*time.Millisecond {
				t.Errorf("first producer timestamp %s, want %s (+ at most 50 ms)", frags[0].ProducerTimestamp, start)
			}
			var numbers []string
			for _, f := range frags {
				numbers = append(numbers, f.FragmentNumber)
			}
			got := filepath.Join(dir, tc.name+"-out.mkv")
			if _, errOut, err := p.kvs(t, "get", "media", "--stream", tc.name, "--fragments", strings.Join(numbers, ","), "-o", got); err != nil {
				t.Fatalf("get media: %v %s", err, errOut)
			}
			equalHashes(t, tc.name+" decoded pictures", decodedMD5(t, tc.file), decodedMD5(t, got))
			if tc.audio {
				// Audio that precedes the first picture leads the first
				// fragment in: every audio frame arrives.
				equalHashes(t, tc.name+" audio", framemd5(t, tc.file, "a:0"), framemd5(t, got, "a:0"))
			}
		})
	}
}

func TestPutBadInput(t *testing.T) {
	dir := t.TempDir()
	src := "testsrc2=size=320x240:rate=30"
	mp4 := ffmpegMake(t, filepath.Join(dir, "in.mp4"), "-f", "lavfi", "-i", src, "-t", "4",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-movflags", "+faststart")
	b, err := os.ReadFile(mp4)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.mp4")
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	annexb := ffmpegMake(t, filepath.Join(dir, "in.h264"), "-f", "lavfi", "-i", src, "-t", "2",
		"-c:v", "libx264", "-bf", "0", "-g", "30", "-f", "h264")
	raw, err := os.ReadFile(annexb)
	if err != nil {
		t.Fatal(err)
	}
	var noSPS []byte
	for _, n := range h264.SplitAnnexB(raw) {
		if h264.NALType(n) == h264.NALUSPS {
			continue
		}
		noSPS = append(append(noSPS, 0, 0, 0, 1), n...)
	}
	noSPSPath := filepath.Join(dir, "nosps.h264")
	if err := os.WriteFile(noSPSPath, noSPS, 0o644); err != nil {
		t.Fatal(err)
	}
	mkv := makeClip(t, dir, 3)
	mb, err := os.ReadFile(mkv)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), mb...)
	for i := len(corrupt) / 3; i < len(corrupt)/3+4096 && i < len(corrupt); i++ {
		corrupt[i] = 0xff
	}
	corruptPath := filepath.Join(dir, "corrupt.mkv")
	if err := os.WriteFile(corruptPath, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}

	p := startServe(t, filepath.Join(dir, "data"))
	cases := []struct{ name, file, want string }{
		{"truncated-mp4", truncated, "mp4"},
		{"no-sps", noSPSPath, "SPS"},
		{"corrupt-mkv", corruptPath, "mkv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := p.put(t, nil, tc.file, "--stream", tc.name, "--create-stream", "--fps", "30")
			if err == nil {
				t.Fatalf("kvs put of %s succeeded:\n%s", tc.name, errOut)
			}
			if !strings.Contains(strings.ToLower(errOut), strings.ToLower(tc.want)) {
				t.Errorf("error does not name the problem (%q):\n%s", tc.want, errOut)
			}
			// Whatever was persisted before the error is whole: it decodes
			// without errors. (Errors found while opening the input come
			// before the stream is even created.)
			if _, _, err := p.aws(t, "kinesisvideo", "describe-stream", "--stream-name", tc.name); err != nil {
				return
			}
			frags := p.fragmentsOf(t, tc.name)
			if len(frags) == 0 {
				return
			}
			var numbers []string
			for _, f := range frags {
				numbers = append(numbers, f.FragmentNumber)
			}
			got := filepath.Join(dir, tc.name+"-out.mkv")
			if _, errOut, err := p.kvs(t, "get", "media", "--stream", tc.name, "--fragments", strings.Join(numbers, ","), "-o", got); err != nil {
				t.Fatalf("get media: %v %s", err, errOut)
			}
			ff := testenv.Tool(t, "ffmpeg")
			if out, err := exec.Command(ff, "-v", "error", "-xerror", "-i", got, "-f", "null", "-").CombinedOutput(); err != nil {
				t.Fatalf("persisted fragments of %s do not decode cleanly: %v\n%s", tc.name, err, out)
			}
			t.Logf("%s: %d whole fragments persisted before the error", tc.name, len(frags))
		})
	}
}

// TestPutRetentionZero uploads into a stream that stores nothing: every
// fragment is received, kvs put exits 0 and says so, and nothing is listed.
func TestPutRetentionZero(t *testing.T) {
	dir := t.TempDir()
	clip := makeClip(t, dir, 6)
	p := startServe(t, filepath.Join(dir, "data"))
	_, errOut, err := p.put(t, nil, clip, "--stream", "live", "--create-stream", "--retention", "0")
	if err != nil {
		t.Fatalf("kvs put --retention 0: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "3 fragments received by live, which stores nothing (retention 0)") {
		t.Errorf("summary does not say what happened:\n%s", errOut)
	}
	if n := strings.Count(errOut, "level=WARN msg=\"the stream stores nothing"); n != 1 {
		t.Errorf("%d warnings that the stream stores nothing, want 1:\n%s", n, errOut)
	}
	if list := p.fragmentsOf(t, "live"); len(list) != 0 {
		t.Errorf("a stream with retention 0 lists %d fragments", len(list))
	}
}

// TestPutReportsSourceWarnings uploads an MPEG-TS file cut in the middle
// of a GOP, as a recording that began mid-stream: the reader drops the
// pictures before the first SPS, and kvs put says so on stderr instead of
// dropping them without a word.
func TestPutReportsSourceWarnings(t *testing.T) {
	dir := t.TempDir()
	ts := ffmpegMake(t, filepath.Join(dir, "in.ts"), "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "4",
		"-c:v", "libx264", "-bf", "0", "-g", "60", "-f", "mpegts")
	raw, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	cut := len(raw) / 188 / 6 * 188 // a sixth in: inside the first GOP
	path := filepath.Join(dir, "cut.ts")
	if err := os.WriteFile(path, raw[cut:], 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, filepath.Join(dir, "data"))
	_, errOut, err := p.put(t, nil, path, "--stream", "cut", "--create-stream")
	if err != nil {
		t.Fatalf("kvs put: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, "dropped frames before the decoder configuration") {
		t.Errorf("kvs put did not report the pictures the reader dropped:\n%s", errOut)
	}
}
