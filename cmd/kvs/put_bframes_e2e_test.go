package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
)

// decodedFrame is one picture as ffmpeg's decoder outputs it.
type decodedFrame struct {
	t   float64 // seconds
	md5 string
}

// decodeFrames decodes the first video stream of file with the frame rate
// mode passthrough (each picture keeps its own time) and returns its
// pictures in output order. inArgs go before -i (such as -framerate).
func decodeFrames(t *testing.T, file string, inArgs ...string) []decodedFrame {
	t.Helper()
	ff := testenv.Tool(t, "ffmpeg")
	args := append(append([]string{"-v", "error"}, inArgs...), "-i", file, "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-")
	out := run(t, ff, args...)
	tb := 0.0
	var frames []decodedFrame
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "#tb 0:") {
			num, den, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#tb 0:")), "/")
			n, err1 := strconv.ParseFloat(num, 64)
			d, err2 := strconv.ParseFloat(den, 64)
			if !ok || err1 != nil || err2 != nil || d == 0 {
				t.Fatalf("framemd5 time base %q", line)
			}
			tb = n / d
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		// stream, dts, pts, duration, size, hash
		f := strings.Split(line, ",")
		if len(f) < 6 || tb == 0 {
			t.Fatalf("framemd5 line %q", line)
		}
		pts, err := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err != nil {
			t.Fatalf("framemd5 line %q: %v", line, err)
		}
		frames = append(frames, decodedFrame{t: float64(pts) * tb, md5: strings.TrimSpace(f[5])})
	}
	return frames
}

// bestEffortTimes returns ffprobe's best_effort_timestamp of every decoded
// picture of the first video stream, in output order.
func bestEffortTimes(t *testing.T, file string) []float64 {
	t.Helper()
	var pr struct {
		Frames []struct {
			T string `json:"best_effort_timestamp_time"`
		} `json:"frames"`
	}
	out := run(t, testenv.Tool(t, "ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_frames",
		"-show_entries", "frame=best_effort_timestamp_time", "-of", "json", file)
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatal(err)
	}
	var ts []float64
	for i, f := range pr.Frames {
		v, err := strconv.ParseFloat(f.T, 64)
		if err != nil {
			t.Fatalf("frame %d: best_effort_timestamp_time %q", i, f.T)
		}
		ts = append(ts, v)
	}
	return ts
}

// TestPutBFrames uploads raw H.264 and H.265 streams whose pictures are
// coded out of order (B-frames), from a file and from stdin, reads them back
// with kvs get media and decodes both: the same pictures come out in the same
// order, at strictly increasing times that equal ffmpeg's reading of the
// source at the same frame rate.
func TestPutBFrames(t *testing.T) {
	const fps = 25
	dir := t.TempDir()
	src := "testsrc2=size=320x240:rate=25"
	clips := []struct{ name, file string }{
		// B-pyramid, pic_order_cnt_type 0; x264 codes the order counts in 6
		// bits, so they wrap within each 50-frame GOP.
		{"h264-bpyramid", ffmpegMake(t, filepath.Join(dir, "bpyramid.h264"), "-f", "lavfi", "-i", src, "-t", "4",
			"-c:v", "libx264", "-bf", "3", "-b-pyramid", "normal", "-g", "50", "-pix_fmt", "yuv420p", "-f", "h264")},
		// No B-frames: pic_order_cnt_type 2.
		{"h264-poc2", ffmpegMake(t, filepath.Join(dir, "poc2.h264"), "-f", "lavfi", "-i", src, "-t", "2",
			"-c:v", "libx264", "-bf", "0", "-g", "25", "-pix_fmt", "yuv420p", "-f", "h264")},
		// Open GOPs: CRA pictures with leading pictures, B-pyramid.
		{"h265-bframes", ffmpegMake(t, filepath.Join(dir, "bframes.h265"), "-f", "lavfi", "-i", src, "-t", "4",
			"-c:v", "libx265", "-x265-params", "log-level=error:keyint=25:bframes=4:b-pyramid=1", "-pix_fmt", "yuv420p", "-f", "hevc")},
	}
	p := startServe(t, filepath.Join(dir, "data"))
	for _, c := range clips {
		want := decodeFrames(t, c.file, "-framerate", strconv.Itoa(fps))
		if len(want) < 2*fps {
			t.Fatalf("%s: ffmpeg decodes %d pictures", c.name, len(want))
		}
		for _, via := range []string{"file", "stdin"} {
			name := c.name + "-" + via
			t.Run(name, func(t *testing.T) {
				start := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
				args := []string{"--stream", name, "--create-stream", "--start-time", start.Format(time.RFC3339), "--fps", strconv.Itoa(fps)}
				var stdin []byte
				if via == "stdin" {
					b, err := os.ReadFile(c.file)
					if err != nil {
						t.Fatal(err)
					}
					stdin = b
					args = append([]string{"-"}, args...)
				} else {
					args = append([]string{c.file}, args...)
				}
				if _, errOut, err := p.put(t, stdin, args...); err != nil {
					t.Fatalf("kvs put: %v\n%s", err, errOut)
				}
				var numbers []string
				for _, f := range p.fragmentsOf(t, name) {
					numbers = append(numbers, f.FragmentNumber)
				}
				if len(numbers) == 0 {
					t.Fatal("nothing persisted")
				}
				out := filepath.Join(dir, name+".mkv")
				if _, errOut, err := p.kvs(t, "get", "media", "--stream", name, "--fragments", strings.Join(numbers, ","), "-o", out); err != nil {
					t.Fatalf("get media: %v %s", err, errOut)
				}
				got := decodeFrames(t, out)
				if len(got) != len(want) {
					t.Fatalf("%d pictures decoded from the upload, %d from the source", len(got), len(want))
				}
				best := bestEffortTimes(t, out)
				if len(best) != len(got) {
					t.Fatalf("ffprobe shows %d frames, ffmpeg decodes %d", len(best), len(got))
				}
				for i := range got {
					if got[i].md5 != want[i].md5 {
						t.Fatalf("picture %d differs from the source's picture %d", i, i)
					}
					wantT := want[i].t - want[0].t
					if d := got[i].t - got[0].t - wantT; math.Abs(d) > 0.0015 {
						t.Fatalf("picture %d at %.3fs from the first, ffmpeg reads the source at %.3fs", i, got[i].t-got[0].t, wantT)
					}
					if d := best[i] - best[0] - wantT; math.Abs(d) > 0.0015 {
						t.Fatalf("picture %d: best_effort_timestamp %.3fs from the first, ffmpeg reads the source at %.3fs", i, best[i]-best[0], wantT)
					}
					if i > 0 && (got[i].t <= got[i-1].t || best[i] <= best[i-1]) {
						t.Fatalf("picture %d at %.3fs (best effort %.3fs), after %.3fs (%.3fs)", i, got[i].t, best[i], got[i-1].t, best[i-1])
					}
				}
			})
		}
	}
}
