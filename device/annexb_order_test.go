package device

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media"
	"kvskit/media/h265"
)

// orderClip is an elementary stream whose pictures ffmpeg reorders.
type orderClip struct {
	name   string
	format Format
	args   []string // ffmpeg encoding arguments after the input
	secs   string
}

var orderClips = []orderClip{
	// B-pyramid: a reordering depth of 2, POC type 0.
	{"bpyramid.h264", FormatH264, []string{"-c:v", "libx264", "-bf", "3", "-b-pyramid", "normal", "-g", "25", "-f", "h264"}, "3"},
	// A GOP of 300 frames with log2_max_pic_order_cnt_lsb 6: the order count
	// wraps every 32 frames.
	{"longgop.h264", FormatH264, []string{"-c:v", "libx264", "-bf", "3", "-x264-params", "keyint=300:min-keyint=300:scenecut=0", "-f", "h264"}, "12"},
	// No B-frames: POC type 2, output order is decoding order.
	{"poc2.h264", FormatH264, []string{"-c:v", "libx264", "-bf", "0", "-g", "25", "-f", "h264"}, "2"},
	// Open GOPs: CRA pictures with RASL pictures, B-pyramid.
	{"opengop.h265", FormatH265, []string{"-c:v", "libx265", "-x265-params", "log-level=error:keyint=24:bframes=4:b-pyramid=1", "-f", "hevc"}, "3"},
}

func makeOrderClip(t *testing.T, c orderClip) string {
	t.Helper()
	testenv.Tool(t, "ffprobe")
	p := filepath.Join(t.TempDir(), c.name)
	ffmpeg(t, append(append([]string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", c.secs, "-pix_fmt", "yuv420p"}, c.args...), p)...)
	return p
}

// outputOrder returns, for each packet ffprobe reads from the elementary
// stream at path (decoding order), its position in the order ffmpeg's
// decoder outputs the pictures, or -1 when the decoder does not output it.
func outputOrder(t *testing.T, path string, format Format) []int {
	t.Helper()
	f := "h264"
	if format == FormatH265 {
		f = "hevc"
	}
	var pr struct {
		Items []struct {
			Type   string `json:"type"`
			Pos    string `json:"pos"`
			PktPos string `json:"pkt_pos"`
		} `json:"packets_and_frames"`
	}
	out := testenv.Run(t, "ffprobe", "-v", "error", "-f", f, "-of", "json", "-show_packets", "-show_frames",
		"-show_entries", "packet=pos:frame=pkt_pos", path)
	if err := json.Unmarshal(out, &pr); err != nil {
		t.Fatal(err)
	}
	outAt := map[string]int{}
	var pos []string
	for _, it := range pr.Items {
		switch it.Type {
		case "frame":
			outAt[it.PktPos] = len(outAt)
		case "packet":
			pos = append(pos, it.Pos)
		}
	}
	order := make([]int, len(pos))
	for i, p := range pos {
		o, ok := outAt[p]
		if !ok {
			o = -1
		}
		order[i] = o
	}
	return order
}

// TestAnnexBOutputOrder reads elementary streams with reordered pictures
// from a file and from a pipe: the PTS of each picture is its position in
// ffmpeg's output order at the given frame rate, DTS increase and never
// follow PTS.
func TestAnnexBOutputOrder(t *testing.T) {
	const fps = 25
	for _, c := range orderClips {
		t.Run(c.name, func(t *testing.T) {
			path := makeOrderClip(t, c)
			order := outputOrder(t, path, c.format)
			var want []int
			reordered := false
			for i, o := range order {
				if o >= 0 {
					want = append(want, o)
					reordered = reordered || o != len(want)-1
				}
				_ = i
			}
			if wantReorder := c.name != "poc2.h264"; reordered != wantReorder {
				t.Fatalf("ffmpeg reorders the clip: %v, want %v", reordered, wantReorder)
			}
			for _, via := range []string{"file", "pipe"} {
				var s Source
				if via == "file" {
					s = openFile(t, path, WithFPS(fps))
				} else {
					var err error
					if s, err = OpenReader(pipeReader(t, path), WithFPS(fps), WithFormat(c.format)); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
				}
				frames := readAll(t, s)
				if len(frames) != len(want) {
					t.Fatalf("%s: %d frames, ffmpeg outputs %d", via, len(frames), len(want))
				}
				// PTS relative to the first picture in output order.
				var base time.Duration
				for i, f := range frames {
					if want[i] == 0 {
						base = f.PTS
					}
				}
				seen := map[time.Duration]bool{}
				for i, f := range frames {
					w := base + time.Duration(math.Round(float64(want[i])*1e9/fps))
					if f.PTS != w {
						t.Fatalf("%s: frame %d: pts %v, want %v (output position %d)", via, i, f.PTS, w, want[i])
					}
					if f.DTS > f.PTS || i > 0 && f.DTS <= frames[i-1].DTS {
						t.Fatalf("%s: frame %d: dts %v (previous %v), pts %v", via, i, f.DTS, frames[max(i-1, 0)].DTS, f.PTS)
					}
					if seen[f.PTS] {
						t.Fatalf("%s: frame %d: pts %v repeated", via, i, f.PTS)
					}
					seen[f.PTS] = true
				}
			}
		})
	}
}

// TestAnnexBStartsAtCRA cuts an open-GOP H.265 stream at a CRA picture: its
// RASL pictures, which reference pictures before the cut, are left out as
// ffmpeg's decoder leaves them out, and the others keep ffmpeg's order.
func TestAnnexBStartsAtCRA(t *testing.T) {
	full := makeOrderClip(t, orderClips[3])
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	// Cut at the second VPS (x265 repeats the parameter sets at each
	// IRAP picture); it must precede a CRA picture.
	cut := -1
	vps := 0
	units := splitAnnexB(b)
	off := 0
	for _, u := range units {
		i := bytes.Index(b[off:], u) + off
		off = i + len(u)
		if h265.NALType(u) == h265.NALUVPS {
			if vps++; vps == 2 {
				cut = bytes.LastIndex(b[:i], []byte{0, 0, 1})
				if cut > 0 && b[cut-1] == 0 {
					cut--
				}
				break
			}
		}
	}
	if cut <= 0 {
		t.Fatal("no second VPS in the clip")
	}
	path := filepath.Join(t.TempDir(), "cra.h265")
	if err := os.WriteFile(path, b[cut:], 0o644); err != nil {
		t.Fatal(err)
	}
	order := outputOrder(t, path, FormatH265)
	var want []int
	skipped := 0
	for _, o := range order {
		if o < 0 {
			skipped++
			continue
		}
		want = append(want, o)
	}
	if skipped == 0 {
		t.Fatal("ffmpeg outputs every picture of the cut stream: no RASL picture to leave out")
	}
	frames := readAll(t, openFile(t, path, WithFPS(25)))
	if len(frames) != len(want) {
		t.Fatalf("%d frames, ffmpeg outputs %d of %d", len(frames), len(want), len(order))
	}
	if !frames[0].Key {
		t.Fatal("first frame is not a key frame")
	}
	for i, f := range frames {
		if w := frames[0].PTS + time.Duration(want[i]-want[0])*40*time.Millisecond; f.PTS != w {
			t.Fatalf("frame %d: pts %v, want %v", i, f.PTS, w)
		}
	}
	_ = strconv.Itoa
	_ = media.MaxReorderFrames
}
