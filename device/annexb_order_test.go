package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kvskit/internal/testenv"
	"kvskit/media/h264"
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
	// Interlaced MBAFF frames: frame_mbs_only_flag 0, field order counts
	// of each frame.
	{"mbaff.h264", FormatH264, []string{"-c:v", "libx264", "-bf", "2", "-flags", "+ildct+ilme", "-x264-params", "tff=1", "-g", "25", "-f", "h264"}, "2"},
	// Open GOPs (recovery points with leading B-frames), four slices per
	// picture, weighted B prediction.
	{"opengop.h264", FormatH264, []string{"-c:v", "libx264", "-slices", "4", "-bf", "5", "-x264-params", "open-gop=1:b-adapt=2:weightb=1", "-g", "30", "-f", "h264"}, "4"},
	// No B-frames: POC type 2, output order is decoding order.
	{"poc2.h264", FormatH264, []string{"-c:v", "libx264", "-bf", "0", "-g", "25", "-f", "h264"}, "2"},
	// Open GOPs: CRA pictures with RASL pictures, B-pyramid.
	{"opengop.h265", FormatH265, []string{"-c:v", "libx265", "-x265-params", "log-level=error:keyint=24:bframes=4:b-pyramid=1", "-f", "hevc"}, "3"},
}

// namedClip returns the clip of orderClips with the given name.
func namedClip(t *testing.T, name string) orderClip {
	t.Helper()
	for _, c := range orderClips {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no clip %s", name)
	return orderClip{}
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
			for _, o := range order {
				if o >= 0 {
					want = append(want, o)
					reordered = reordered || o != len(want)-1
				}
			}
			if wantReorder := c.name != "poc2.h264"; reordered != wantReorder {
				t.Fatalf("ffmpeg reorders the clip: %v, want %v", reordered, wantReorder)
			}
			if c.format == FormatH264 {
				// x264 codes order counts as type 0 with B-frames, type 2
				// without.
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range splitAnnexB(b) {
					if h264.NALType(u) == h264.NALUSPS {
						s, err := h264.ParseSPS(u)
						if err != nil {
							t.Fatal(err)
						}
						if want := map[bool]uint32{true: 0, false: 2}[reordered]; s.PicOrderCntType != want {
							t.Fatalf("pic_order_cnt_type %d, want %d", s.PicOrderCntType, want)
						}
						break
					}
				}
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
	full := makeOrderClip(t, namedClip(t, "opengop.h265"))
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
}

// bits writes an RBSP for the hand-made parameter sets and slices of the
// tests below.
type bits struct {
	b []byte
	n int
}

func (w *bits) u(n int, v uint64) {
	for i := n - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

func (w *bits) flag(f bool) {
	v := uint64(0)
	if f {
		v = 1
	}
	w.u(1, v)
}

func (w *bits) ue(v uint32) {
	x := uint64(v) + 1
	n := 0
	for y := x; y > 1; y >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, x)
}

// nal ends the RBSP and returns it as a NAL unit after header.
func (w *bits) nal(header ...byte) []byte {
	w.u(1, 1)
	for w.n%8 != 0 {
		w.u(1, 0)
	}
	return h264.AddEmulationPrevention(header, w.b)
}

// writeSPS writes an H.264 SPS with the fields of s that a slice header
// depends on and no VUI (and so no reordering depth).
func writeSPS(s h264.SPS) []byte {
	w := &bits{}
	w.u(8, uint64(s.ProfileIDC))
	w.u(8, uint64(s.ConstraintFlags))
	w.u(8, uint64(s.LevelIDC))
	w.ue(s.ID)
	if h264.HasChromaInfo(s.ProfileIDC) {
		w.ue(s.ChromaFormatIDC)
		if s.ChromaFormatIDC == 3 {
			w.flag(s.SeparateColourPlane)
		}
		w.ue(uint32(s.BitDepthLuma - 8))
		w.ue(uint32(s.BitDepthChroma - 8))
		w.flag(s.TransformBypass)
		w.flag(false) // seq_scaling_matrix_present_flag
	}
	w.ue(s.Log2MaxFrameNum - 4)
	w.ue(s.PicOrderCntType)
	if s.PicOrderCntType == 0 {
		w.ue(s.Log2MaxPicOrderCntLsb - 4)
	}
	w.ue(s.MaxNumRefFrames)
	w.flag(s.GapsInFrameNumAllowed)
	w.ue(s.PicWidthInMbs - 1)
	w.ue(s.PicHeightInMapUnits - 1)
	w.flag(s.FrameMbsOnly)
	if !s.FrameMbsOnly {
		w.flag(s.MbAdaptiveFrameField)
	}
	w.flag(s.Direct8x8Inference)
	w.flag(s.FrameCropping)
	if s.FrameCropping {
		w.ue(s.FrameCropLeft)
		w.ue(s.FrameCropRight)
		w.ue(s.FrameCropTop)
		w.ue(s.FrameCropBottom)
	}
	w.flag(false) // vui_parameters_present_flag
	return w.nal(0x67)
}

// TestAnnexBUnknownDepth replaces the SPS of an x264 B-pyramid stream with
// one without VUI, which does not give the reordering depth: the source
// looks ahead and still gives every picture its place in the output order
// of the original stream, with DTS increasing and never after the PTS.
func TestAnnexBUnknownDepth(t *testing.T) {
	path := makeOrderClip(t, namedClip(t, "bpyramid.h264"))
	order := outputOrder(t, path, FormatH264)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	replaced := 0
	for _, u := range splitAnnexB(b) {
		if h264.NALType(u) == h264.NALUSPS {
			s, err := h264.ParseSPS(u)
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := s.ReorderFrames(); !ok || n == 0 {
				t.Fatalf("x264's SPS gives a depth of %d (%v)", n, ok)
			}
			u = writeSPS(s)
			again, err := h264.ParseSPS(u)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := again.ReorderFrames(); ok || again.Width() != s.Width() {
				t.Fatalf("rewritten SPS %+v still gives a depth", again)
			}
			replaced++
		}
		out = append(append(out, 0, 0, 0, 1), u...)
	}
	if replaced == 0 {
		t.Fatal("no SPS in the clip")
	}
	s, err := OpenReader(bytes.NewReader(out), WithFPS(25))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	frames := readAll(t, s)
	if len(frames) != len(order) {
		t.Fatalf("%d frames, ffmpeg %d", len(frames), len(order))
	}
	for i, f := range frames {
		if w := frames[0].PTS + time.Duration(order[i])*40*time.Millisecond; f.PTS != w {
			t.Fatalf("frame %d: pts %v, want %v", i, f.PTS, w)
		}
		if f.DTS > f.PTS || i > 0 && f.DTS <= frames[i-1].DTS {
			t.Fatalf("frame %d: dts %v (previous %v), pts %v", i, f.DTS, frames[max(i-1, 0)].DTS, f.PTS)
		}
	}
}

// TestAnnexBFieldPictures: a stream of field-coded pictures (whose order a
// frame's pair of fields makes) ends with a clear error.
func TestAnnexBFieldPictures(t *testing.T) {
	sps := writeSPS(h264.SPS{ProfileIDC: 77, LevelIDC: 30, Log2MaxFrameNum: 4, PicOrderCntType: 0, Log2MaxPicOrderCntLsb: 5,
		MaxNumRefFrames: 2, PicWidthInMbs: 10, PicHeightInMapUnits: 4, FrameMbsOnly: false, Direct8x8Inference: true})
	pw := &bits{}
	pw.ue(0)       // pic_parameter_set_id
	pw.ue(0)       // seq_parameter_set_id
	pw.u(2, 0)     // entropy_coding_mode_flag, bottom_field_pic_order_in_frame_present_flag
	pw.ue(0)       // num_slice_groups_minus1
	pw.ue(0)       // num_ref_idx_l0_default_active_minus1
	pw.ue(0)       // num_ref_idx_l1_default_active_minus1
	pw.u(3, 0)     // weighted_pred_flag, weighted_bipred_idc
	pw.ue(0)       // pic_init_qp_minus26 (se 0)
	pw.ue(0)       // pic_init_qs_minus26
	pw.ue(0)       // chroma_qp_index_offset
	pw.u(3, 0b100) // deblocking_filter_control_present_flag, constrained_intra_pred_flag, redundant_pic_cnt_present_flag
	pps := pw.nal(0x68)
	field := func(bottom bool) []byte {
		w := &bits{}
		w.ue(0) // first_mb_in_slice
		w.ue(7) // slice_type I
		w.ue(0) // pic_parameter_set_id
		w.u(4, 0)
		w.flag(true) // field_pic_flag
		w.flag(bottom)
		w.ue(0) // idr_pic_id
		w.u(5, map[bool]uint64{false: 0, true: 1}[bottom])
		w.u(2, 0) // no_output_of_prior_pics_flag, long_term_reference_flag
		w.ue(0)   // slice_qp_delta
		w.u(16, 0xabcd)
		return w.nal(0x65)
	}
	stream := annexB(sps, pps, field(false), field(true))
	if _, err := h264.ParseSPS(sps); err != nil {
		t.Fatal(err)
	}
	_, err := OpenReader(bytes.NewReader(stream), WithFormat(FormatH264))
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, h264.ErrFieldPicture) || !strings.Contains(err.Error(), "field") {
		t.Fatalf("field pictures: %v", err)
	}
}

// TestAnnexBJoined reads streams joined one after the other: the first
// without B-frames (its SPS rules reordering out), the second with B-frames
// and a reordering depth of 1, the third with a depth of 2. Each one's
// pictures are ordered from its SPS on.
func TestAnnexBJoined(t *testing.T) {
	var joined []byte
	bf1 := orderClip{"bf1.h264", FormatH264, []string{"-c:v", "libx264", "-bf", "1", "-g", "25", "-f", "h264"}, "2"}
	for _, c := range []orderClip{namedClip(t, "poc2.h264"), bf1, namedClip(t, "bpyramid.h264")} {
		b, err := os.ReadFile(makeOrderClip(t, c))
		if err != nil {
			t.Fatal(err)
		}
		joined = append(joined, b...)
	}
	path := filepath.Join(t.TempDir(), "joined.h264")
	if err := os.WriteFile(path, joined, 0o644); err != nil {
		t.Fatal(err)
	}
	order := outputOrder(t, path, FormatH264)
	frames := readAll(t, openFile(t, path, WithFPS(25)))
	if len(frames) != len(order) {
		t.Fatalf("%d frames, ffmpeg %d", len(frames), len(order))
	}
	reordered := false
	for i, f := range frames {
		reordered = reordered || order[i] != i
		if w := frames[0].PTS + time.Duration(order[i])*40*time.Millisecond; f.PTS != w {
			t.Fatalf("frame %d: pts %v, want %v", i, f.PTS, w)
		}
		if f.DTS > f.PTS || i > 0 && f.DTS <= frames[i-1].DTS {
			t.Fatalf("frame %d: dts %v (previous %v), pts %v", i, f.DTS, frames[max(i-1, 0)].DTS, f.PTS)
		}
	}
	if !reordered {
		t.Fatal("ffmpeg does not reorder the joined stream")
	}
}
